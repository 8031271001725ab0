"""Django admin for tickets.macros."""
