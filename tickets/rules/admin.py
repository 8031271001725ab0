"""Django admin for tickets.rules."""
