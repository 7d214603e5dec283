"""Durable timers are deduplicated by timer_id (a module-level marker: every test here)."""

from __future__ import annotations

import pytest
from engine import Engine, EngineError, TimerFired, TimerScheduled

pytestmark = pytest.mark.parity("timer.dedupe")


def test_rescheduling_a_timer_id_is_a_no_op(engine: Engine, run_id: str) -> None:
    engine.deliver(TimerScheduled("s1", run_id, "t-1", fire_at=60.0))

    receipt = engine.deliver(TimerScheduled("s2", run_id, "t-1", fire_at=90.0))

    assert receipt.status == "duplicate"
    assert engine.state.timers["t-1"].fire_at == 60.0


def test_a_timer_fires_once(engine: Engine, run_id: str) -> None:
    engine.deliver(TimerScheduled("s1", run_id, "t-1", fire_at=60.0))

    first = engine.deliver(TimerFired("f1", "t-1"))
    second = engine.deliver(TimerFired("f2", "t-1"))

    assert (first.status, second.status) == ("applied", "duplicate")
    assert engine.state.timers["t-1"].fired


def test_unknown_timers_and_runs_are_refused(engine: Engine) -> None:
    with pytest.raises(EngineError, match="unknown timer 't-9'"):
        engine.deliver(TimerFired("f1", "t-9"))
    with pytest.raises(EngineError, match="unknown run 'run-9'"):
        engine.deliver(TimerScheduled("s1", "run-9", "t-1", fire_at=1.0))
