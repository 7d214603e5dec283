"""Task attempts: out-of-order dispatches (DISPATCH-01) and stale finishes (STALE-01)."""

from __future__ import annotations

import pytest
from engine import Engine, EngineError, TaskDispatched, TaskFinished


@pytest.mark.parity("DISPATCH-01")
def test_out_of_order_attempts_are_both_kept(engine: Engine, run_id: str) -> None:
    assert engine.deliver(TaskDispatched("d2", run_id, "build", attempt=2)).status == "applied"
    assert engine.deliver(TaskDispatched("d1", run_id, "build", attempt=1)).status == "stale"

    task = engine.task(run_id, "build")
    assert sorted(task.attempts) == [1, 2]
    assert task.current == 2


@pytest.mark.parity("DISPATCH-01")
def test_interleaved_tasks_keep_their_own_attempts(engine: Engine, run_id: str) -> None:
    engine.deliver(TaskDispatched("d1", run_id, "test", attempt=2))
    engine.deliver(TaskDispatched("d2", run_id, "build", attempt=1))
    engine.deliver(TaskDispatched("d3", run_id, "test", attempt=1))

    assert sorted(engine.task(run_id, "build").attempts) == [1]
    assert sorted(engine.task(run_id, "test").attempts) == [1, 2]
    assert engine.task(run_id, "test").current == 2


@pytest.mark.parity("DISPATCH-01")
def test_dispatch_for_an_unknown_run_is_refused(engine: Engine) -> None:
    with pytest.raises(EngineError, match="unknown run 'run-9'"):
        engine.deliver(TaskDispatched("d1", "run-9", "build", attempt=1))
    with pytest.raises(EngineError, match="unknown task 'build'"):
        engine.task("run-9", "build")
    assert len(engine.log) == 0


@pytest.mark.parity("STALE-01")
class TestStaleFinish:
    """Every test in this class proves STALE-01 (a class-level marker)."""

    def test_late_failure_of_an_old_attempt(self, engine: Engine, run_id: str) -> None:
        engine.deliver(TaskDispatched("d1", run_id, "build", attempt=1))
        engine.deliver(TaskDispatched("d2", run_id, "build", attempt=2))
        engine.deliver(TaskFinished("f2", run_id, "build", attempt=2, result="succeeded"))

        receipt = engine.deliver(TaskFinished("f1", run_id, "build", 1, result="failed"))

        task = engine.task(run_id, "build")
        assert receipt.status == "stale"
        assert task.status == "succeeded"
        assert task.attempts == {1: "failed", 2: "succeeded"}

    def test_old_attempt_cannot_finish_a_running_retry(self, engine: Engine, run_id: str) -> None:
        engine.deliver(TaskDispatched("d1", run_id, "build", attempt=1))
        engine.deliver(TaskDispatched("d2", run_id, "build", attempt=2))

        engine.deliver(TaskFinished("f1", run_id, "build", attempt=1, result="succeeded"))

        assert engine.task(run_id, "build").status == "running"

    def test_late_dispatch_does_not_reopen_a_finish(self, engine: Engine, run_id: str) -> None:
        engine.deliver(TaskFinished("f1", run_id, "build", attempt=1, result="failed"))

        receipt = engine.deliver(TaskDispatched("d1", run_id, "build", attempt=1))

        assert receipt.status == "duplicate"
        assert engine.task(run_id, "build").status == "failed"

    def test_a_finished_attempt_finishes_once(self, engine: Engine, run_id: str) -> None:
        engine.deliver(TaskFinished("f1", run_id, "build", attempt=1, result="succeeded"))

        receipt = engine.deliver(TaskFinished("f1b", run_id, "build", 1, result="failed"))

        assert receipt.status == "duplicate"
        assert engine.task(run_id, "build").status == "succeeded"
