"""Project-level Celery tasks."""

from celery import shared_task

from helpdesk.heartbeat import worker_heartbeat_record


# A heartbeat that waited in the queue longer than a minute says nothing about the workers now.
@shared_task(name="helpdesk.tasks.worker_heartbeat", ignore_result=True, expires=60)
def worker_heartbeat() -> None:
    worker_heartbeat_record()
