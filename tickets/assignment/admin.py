"""Django admin for tickets.assignment."""
