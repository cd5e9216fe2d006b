"""The work queue: Redis Streams consumer groups, and the workers that drain them.

Slow work (Whisper over a call recording, intent scoring) never runs in the webhook path: it is
added to a stream, and any number of ``warmline worker`` processes on any number of machines
drain it through one consumer group. Delivery is at least once; results are made idempotent with
:class:`ResultStore`, so a job that is delivered twice still counts once. See ``docs/jobs.md``.
"""

from __future__ import annotations

from ivr.jobs.backoff import Backoff
from ivr.jobs.job import DeadLetter, Job, PermanentJobError
from ivr.jobs.queue import Failure, JobQueue, QueueStats
from ivr.jobs.results import ResultStore
from ivr.jobs.runner import DEFAULT_GROUP, default_consumer_name, job_stats, run_worker
from ivr.jobs.worker import RECORDING_KIND, Handler, Worker, blocking_handler
from ivr.telephony.recording_events import RECORDINGS_STREAM

__all__ = [
    "DEFAULT_GROUP",
    "RECORDINGS_STREAM",
    "RECORDING_KIND",
    "Backoff",
    "DeadLetter",
    "Failure",
    "Handler",
    "Job",
    "JobQueue",
    "PermanentJobError",
    "QueueStats",
    "ResultStore",
    "Worker",
    "blocking_handler",
    "default_consumer_name",
    "job_stats",
    "run_worker",
]
