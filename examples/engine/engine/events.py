"""The events the engine consumes.

Every event carries an ``idempotency_key``: delivering the same key twice is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Result = Literal["succeeded", "failed"]


@dataclass(frozen=True)
class RunRequested:
    """Start a run. ``run_key`` dedupes requests; ``fingerprint`` identifies its input."""

    idempotency_key: str
    run_key: str
    fingerprint: str


@dataclass(frozen=True)
class TaskDispatched:
    """Attempt ``attempt`` (1, 2, ...) of task ``task_id`` was handed to a worker."""

    idempotency_key: str
    run_id: str
    task_id: str
    attempt: int


@dataclass(frozen=True)
class TaskFinished:
    """Attempt ``attempt`` of task ``task_id`` finished with ``result``."""

    idempotency_key: str
    run_id: str
    task_id: str
    attempt: int
    result: Result


@dataclass(frozen=True)
class TimerScheduled:
    """A durable timer ``timer_id`` of a run, due at ``fire_at`` (seconds)."""

    idempotency_key: str
    run_id: str
    timer_id: str
    fire_at: float


@dataclass(frozen=True)
class TimerFired:
    """Timer ``timer_id`` fired."""

    idempotency_key: str
    timer_id: str


Event = RunRequested | TaskDispatched | TaskFinished | TimerScheduled | TimerFired
