"""REPLAY-01: the log is the source of truth; replaying it rebuilds the same state."""

from __future__ import annotations

import pytest
from engine import (
    Engine,
    EngineError,
    Event,
    RunRequested,
    TaskDispatched,
    TaskFinished,
    TimerFired,
    TimerScheduled,
)


@pytest.mark.parity("REPLAY-01", "IDEMP-01")
def test_replay_rebuilds_state_despite_redelivery(engine: Engine) -> None:
    events: list[Event] = [
        RunRequested("e1", "nightly", "sha-a"),
        TaskDispatched("e2", "run-1", "build", 2),
        TaskDispatched("e2", "run-1", "build", 2),  # redelivered
        TaskDispatched("e3", "run-1", "build", 1),  # out of order
        TaskFinished("e4", "run-1", "build", 2, "succeeded"),
        TaskFinished("e5", "run-1", "build", 1, "failed"),  # stale
        TimerScheduled("e6", "run-1", "t-1", 60.0),
        TimerFired("e7", "t-1"),
        TimerFired("e8", "t-1"),  # a second fire of the same timer
    ]
    for event in events:
        engine.deliver(event)

    rebuilt = Engine.replay(engine.log)

    assert rebuilt.state == engine.state
    assert list(rebuilt.log) == list(engine.log)
    assert len(engine.log) == 7


@pytest.mark.parity("REPLAY-01")
def test_replay_refuses_a_log_with_duplicates() -> None:
    event = RunRequested("e1", "nightly", "sha-a")
    with pytest.raises(EngineError, match="is a duplicate"):
        Engine.replay([event, event])
