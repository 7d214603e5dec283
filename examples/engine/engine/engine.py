"""The engine: applies events to its state and appends the ones that changed it.

Receipts: ``applied`` (the state changed), ``duplicate`` (a no-op: the idempotency key,
run_key, attempt or timer_id was already seen) and ``stale`` (an older attempt's event,
recorded in its history, that never changes the task's status). Duplicates are not
appended, so replaying the log into a fresh engine rebuilds the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from engine.events import (
    Event,
    RunRequested,
    TaskDispatched,
    TaskFinished,
    TimerFired,
    TimerScheduled,
)
from engine.store import EventLog

if TYPE_CHECKING:
    from collections.abc import Iterable

Status = Literal["applied", "duplicate", "stale"]
TaskStatus = Literal["running", "succeeded", "failed"]


class EngineError(Exception):
    """An event refers to something the engine does not know."""


class RunKeyConflict(EngineError):
    """A ``run_key`` was requested again with a different fingerprint."""

    def __init__(self, run_key: str, existing: str, requested: str) -> None:
        super().__init__(
            f"run_key {run_key!r} belongs to fingerprint {existing!r}, not {requested!r}"
        )
        self.run_key = run_key
        self.existing = existing
        self.requested = requested


@dataclass(frozen=True)
class Receipt:
    """What delivering one event did. ``run_id`` is set for ``RunRequested``."""

    status: Status
    run_id: str | None = None


@dataclass
class Run:
    run_id: str
    run_key: str
    fingerprint: str


@dataclass
class Task:
    """One task of a run: every attempt seen, keyed by attempt number."""

    attempts: dict[int, TaskStatus] = field(default_factory=dict)

    @property
    def current(self) -> int:
        """The newest attempt; only it decides the task's status."""
        return max(self.attempts)

    @property
    def status(self) -> TaskStatus:
        return self.attempts[self.current]


@dataclass
class Timer:
    run_id: str
    fire_at: float
    fired: bool = False


@dataclass
class State:
    runs: dict[str, Run] = field(default_factory=dict)
    run_keys: dict[str, str] = field(default_factory=dict)
    tasks: dict[tuple[str, str], Task] = field(default_factory=dict)
    timers: dict[str, Timer] = field(default_factory=dict)


class Engine:
    def __init__(self) -> None:
        self.log = EventLog()
        self.state = State()

    @classmethod
    def replay(cls, events: Iterable[Event]) -> Engine:
        """A fresh engine rebuilt from a log; no logged event may be a duplicate."""
        engine = cls()
        for event in events:
            if engine.deliver(event).status == "duplicate":
                raise EngineError(f"replay: {event!r} is a duplicate")
        return engine

    def deliver(self, event: Event) -> Receipt:
        """Apply one event (at-least-once delivery: duplicates are no-ops)."""
        if self.log.seen(event.idempotency_key):
            run_id = None
            if isinstance(event, RunRequested):
                run_id = self.state.run_keys[event.run_key]
            return Receipt("duplicate", run_id)
        if isinstance(event, RunRequested):
            receipt = self._request_run(event)
        elif isinstance(event, TaskDispatched):
            receipt = self._dispatch(event)
        elif isinstance(event, TaskFinished):
            receipt = self._finish(event)
        elif isinstance(event, TimerScheduled):
            receipt = self._schedule(event)
        else:
            receipt = self._fire(event)
        if receipt.status != "duplicate":
            self.log.append(event)
        return receipt

    def task(self, run_id: str, task_id: str) -> Task:
        try:
            return self.state.tasks[(run_id, task_id)]
        except KeyError:
            raise EngineError(f"unknown task {task_id!r} of run {run_id!r}") from None

    # -- one method per event type --------------------------------------------------------

    def _request_run(self, event: RunRequested) -> Receipt:
        existing = self.state.run_keys.get(event.run_key)
        if existing is not None:
            run = self.state.runs[existing]
            if run.fingerprint != event.fingerprint:
                raise RunKeyConflict(event.run_key, run.fingerprint, event.fingerprint)
            return Receipt("duplicate", existing)
        run_id = f"run-{len(self.state.runs) + 1}"
        self.state.runs[run_id] = Run(run_id, event.run_key, event.fingerprint)
        self.state.run_keys[event.run_key] = run_id
        return Receipt("applied", run_id)

    def _task(self, run_id: str, task_id: str) -> Task:
        if run_id not in self.state.runs:
            raise EngineError(f"unknown run {run_id!r}")
        return self.state.tasks.setdefault((run_id, task_id), Task())

    def _dispatch(self, event: TaskDispatched) -> Receipt:
        task = self._task(event.run_id, event.task_id)
        if event.attempt in task.attempts:
            # Already dispatched, or already finished (the finish overtook the dispatch).
            return Receipt("duplicate")
        stale = bool(task.attempts) and event.attempt < task.current
        task.attempts[event.attempt] = "running"
        return Receipt("stale" if stale else "applied")

    def _finish(self, event: TaskFinished) -> Receipt:
        task = self._task(event.run_id, event.task_id)
        if task.attempts.get(event.attempt, "running") != "running":
            return Receipt("duplicate")
        stale = bool(task.attempts) and event.attempt < task.current
        task.attempts[event.attempt] = event.result
        return Receipt("stale" if stale else "applied")

    def _schedule(self, event: TimerScheduled) -> Receipt:
        if event.run_id not in self.state.runs:
            raise EngineError(f"unknown run {event.run_id!r}")
        if event.timer_id in self.state.timers:
            return Receipt("duplicate")
        self.state.timers[event.timer_id] = Timer(event.run_id, event.fire_at)
        return Receipt("applied")

    def _fire(self, event: TimerFired) -> Receipt:
        timer = self.state.timers.get(event.timer_id)
        if timer is None:
            raise EngineError(f"unknown timer {event.timer_id!r}")
        if timer.fired:
            return Receipt("duplicate")
        timer.fired = True
        return Receipt("applied")
