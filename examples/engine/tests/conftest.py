from __future__ import annotations

import pytest
from engine import Engine, RunRequested


@pytest.fixture
def engine() -> Engine:
    return Engine()


@pytest.fixture
def run_id(engine: Engine) -> str:
    """A run that already exists in ``engine``."""
    receipt = engine.deliver(RunRequested("req-1", run_key="nightly", fingerprint="sha-a"))
    assert receipt.run_id is not None
    return receipt.run_id
