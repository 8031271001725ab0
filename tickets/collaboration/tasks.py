"""Celery entry points for tickets.collaboration: thin wrappers over services."""

# Side conversations' tasks live in their own module; imported here so Celery's autodiscovery
# (which reads tasks.py only) registers them.
from tickets.collaboration import side_conversation_tasks  # noqa: E402, F401
