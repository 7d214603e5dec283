"""Run requests: run_key deduplication (RUNKEY-01) and fingerprint conflicts (RUNKEY-02).

The ``test_run_key_conflict*`` tests carry no marker: ``parity.toml`` names them with a
``tests`` glob for RUNKEY-02.
"""

from __future__ import annotations

import pytest
from engine import (
    Engine,
    Receipt,
    RunKeyConflict,
    RunRequested,
    TaskDispatched,
    TimerScheduled,
)


@pytest.mark.parity("RUNKEY-01")
def test_duplicate_run_key_returns_the_existing_run(engine: Engine) -> None:
    first = engine.deliver(RunRequested("req-1", run_key="nightly", fingerprint="sha-a"))
    second = engine.deliver(RunRequested("req-2", run_key="nightly", fingerprint="sha-a"))

    assert first == Receipt("applied", "run-1")
    assert second == Receipt("duplicate", "run-1")
    assert list(engine.state.runs) == ["run-1"]
    assert len(engine.log) == 1


@pytest.mark.parity("RUNKEY-01")
def test_distinct_run_keys_start_distinct_runs(engine: Engine) -> None:
    a = engine.deliver(RunRequested("req-1", run_key="nightly", fingerprint="sha-a"))
    b = engine.deliver(RunRequested("req-2", run_key="hourly", fingerprint="sha-a"))
    assert a.run_id != b.run_id


def test_run_key_conflict_raises(engine: Engine) -> None:
    engine.deliver(RunRequested("req-1", run_key="nightly", fingerprint="sha-a"))

    with pytest.raises(RunKeyConflict) as excinfo:
        engine.deliver(RunRequested("req-2", run_key="nightly", fingerprint="sha-b"))

    assert (excinfo.value.existing, excinfo.value.requested) == ("sha-a", "sha-b")
    assert "run_key 'nightly'" in str(excinfo.value)


def test_run_key_conflict_changes_nothing(engine: Engine) -> None:
    engine.deliver(RunRequested("req-1", run_key="nightly", fingerprint="sha-a"))

    with pytest.raises(RunKeyConflict):
        engine.deliver(RunRequested("req-2", run_key="nightly", fingerprint="sha-b"))

    assert engine.state.runs["run-1"].fingerprint == "sha-a"
    assert len(engine.log) == 1
    # The rejected request was not logged, so a corrected retry of it is still possible.
    retry = engine.deliver(RunRequested("req-2", run_key="weekly", fingerprint="sha-b"))
    assert retry.status == "applied"


@pytest.mark.parity(milestone="M2")
def test_scheduling_smoke(engine: Engine, run_id: str) -> None:
    """Part of the M2 gate suite without proving a single invariant."""
    assert engine.deliver(TaskDispatched("d1", run_id, "build", attempt=1)).status == "applied"
    assert engine.deliver(TimerScheduled("t1", run_id, "retry", fire_at=5.0)).status == "applied"
    assert len(engine.log) == 3
