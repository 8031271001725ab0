"""Django admin for tickets.collaboration."""
