"""Scheduled job runs counted by job and result (beforeservice_scheduler_jobs_total), from APScheduler's events.

Deadline reminders are one job per offer and deadline: they are counted under one name, never by their id.
"""

from __future__ import annotations

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent, JobExecutionEvent
from apscheduler.schedulers.base import BaseScheduler

from beforeservice import metrics
from notifiers.reminders import JOB_PREFIX

FIXED_JOBS = frozenset(
    {"expire_offers", "emit_milestones", "plan_reminders", "prune_devices", "notification_fallback", "scheduler_lease"}
)
REMINDER = "deadline_reminder"


def job_name(job_id: str) -> str:
    """The job's label: its fixed id, "deadline_reminder" for any reminder, "other" for anything else."""
    if job_id in FIXED_JOBS:
        return job_id
    return REMINDER if job_id.startswith(JOB_PREFIX) else "other"


def record(event: JobEvent) -> None:
    if event.code == EVENT_JOB_MISSED:
        result = "missed"
    else:
        result = "error" if isinstance(event, JobExecutionEvent) and event.exception is not None else "ok"
    metrics.SCHEDULER_JOBS.labels(job=job_name(event.job_id), result=result).inc()


def count_job_results(scheduler: BaseScheduler) -> None:
    scheduler.add_listener(record, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
