"""Celery entry points for tickets.customers: thin wrappers over services."""
