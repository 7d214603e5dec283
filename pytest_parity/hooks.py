"""Hook specifications that pytest-parity adds to pytest.

Implement them in a ``conftest.py`` or a plugin, like any pytest hook::

    def pytest_parity_registry_loaded(registry):
        registry.add(Invariant(id="EXTRA-01", milestone="M1", title="..."))

    def pytest_parity_evidence(evidence):
        for result in evidence.results.values():
            ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .model import Evidence, Registry

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_parity_registry_loaded(registry: Registry) -> None:
    """Called once the registry is loaded and validated, before any test is collected.

    Implementations may inspect it or declare more invariants with ``registry.add(...)``.
    Runs in the controller and in every pytest-xdist worker.
    """


@hookspec
def pytest_parity_evidence(evidence: Evidence) -> None:
    """Called with the final per-invariant evidence, before the gate decides and the report
    is written. Runs in the controller only (never in a pytest-xdist worker)."""
