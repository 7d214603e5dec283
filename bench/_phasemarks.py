"""pytest plugin for ``bench/phases.py``: marks phase boundaries for callgrind.

Each mark calls ``os.getppid()`` (callgrind, run with ``--dump-before=getppid``, dumps its
counter there) and records the name of the phase that just ended; the names are written to
``$PHASEMARKS_OUT`` as JSON at exit.
"""

from __future__ import annotations

import atexit
import json
import os
from collections.abc import Callable, Generator
from typing import Any

import pytest

_LABELS: list[str] = []


def _mark(label: str) -> None:
    _LABELS.append(label)
    os.getppid()


def _dump() -> None:
    _mark("pytest.main returns")
    with open(os.environ["PHASEMARKS_OUT"], "w", encoding="utf-8") as fh:
        json.dump(_LABELS, fh)


atexit.register(_dump)
_mark("interpreter, import pytest")


def pytest_plugin_registered(plugin: Any, manager: Any) -> None:
    if getattr(plugin, "__name__", "") == "pytest_parity.plugin":
        _mark("load pytest-parity (import, options)")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    _mark("load plugins, conftests")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:  # historic: no wrapper
    _mark("cmdline main")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart() -> None:
    _mark("configure (registry)")


def _around(before: str, after: str) -> Callable[[], Generator[None, object, object]]:
    """A hook wrapper that marks the end of phase ``before`` when the hook starts and the
    end of phase ``after`` when it returns."""

    @pytest.hookimpl(wrapper=True)
    def wrapper() -> Generator[None, object, object]:
        _mark(before)
        try:
            return (yield)
        finally:
            _mark(after)

    return wrapper


pytest_collection_modifyitems = _around("collect", "modifyitems (tagging)")
pytest_runtestloop = _around("collection finish", "run tests (per-report hook)")
pytest_sessionfinish = _around("between", "sessionfinish (evidence, gate, report)")
pytest_unconfigure = _around("terminal summary", "unconfigure")
