"""Celery entry points for tickets.rules: thin wrappers over services."""
