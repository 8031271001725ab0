"""Celery entry points for tickets.collaboration: thin wrappers over services."""
