"""Django admin for tickets.customers."""
