"""A small model of an event-sourced orchestration engine's reliability invariants."""

from __future__ import annotations

from engine.engine import Engine, EngineError, Receipt, RunKeyConflict
from engine.events import (
    Event,
    RunRequested,
    TaskDispatched,
    TaskFinished,
    TimerFired,
    TimerScheduled,
)
from engine.store import EventLog

__all__ = [
    "Engine",
    "EngineError",
    "Event",
    "EventLog",
    "Receipt",
    "RunKeyConflict",
    "RunRequested",
    "TaskDispatched",
    "TaskFinished",
    "TimerFired",
    "TimerScheduled",
]
