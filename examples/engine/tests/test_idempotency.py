"""IDEMP-01: at-least-once delivery. Redelivering an event (same idempotency key) is a no-op."""

from __future__ import annotations

import copy

import pytest
from engine import (
    Engine,
    Event,
    RunRequested,
    TaskDispatched,
    TaskFinished,
    TimerFired,
    TimerScheduled,
)

HISTORY: list[Event] = [
    RunRequested("e1", run_key="nightly", fingerprint="sha-a"),
    TaskDispatched("e2", run_id="run-1", task_id="build", attempt=1),
    TaskFinished("e3", run_id="run-1", task_id="build", attempt=1, result="succeeded"),
    TimerScheduled("e4", run_id="run-1", timer_id="t-1", fire_at=60.0),
    TimerFired("e5", timer_id="t-1"),
]


@pytest.mark.parity("IDEMP-01")
@pytest.mark.parametrize("index", range(len(HISTORY)), ids=lambda i: type(HISTORY[i]).__name__)
def test_redelivery_is_a_no_op(engine: Engine, index: int) -> None:
    for event in HISTORY[: index + 1]:
        assert engine.deliver(event).status == "applied"
    before = copy.deepcopy(engine.state)

    receipt = engine.deliver(HISTORY[index])

    assert receipt.status == "duplicate"
    assert engine.state == before
    assert len(engine.log) == index + 1


@pytest.mark.parity("IDEMP-01")
def test_redelivered_run_request_returns_the_same_run(engine: Engine) -> None:
    first = engine.deliver(HISTORY[0])
    again = engine.deliver(HISTORY[0])
    assert (first.status, again.status) == ("applied", "duplicate")
    assert again.run_id == first.run_id == "run-1"
    assert len(engine.state.runs) == 1


@pytest.mark.parity("IDEMP-01")
def test_a_new_key_is_not_a_duplicate(engine: Engine, run_id: str) -> None:
    engine.deliver(TaskDispatched("d1", run_id, task_id="build", attempt=1))
    receipt = engine.deliver(TaskDispatched("d2", run_id, task_id="build", attempt=2))
    assert receipt.status == "applied"
    assert engine.task(run_id, "build").current == 2
