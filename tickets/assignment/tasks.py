"""Celery entry points for tickets.assignment: thin wrappers over services."""
