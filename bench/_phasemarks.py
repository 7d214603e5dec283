"""pytest plugin for ``bench/phases.py``: marks phase boundaries for callgrind.

Each mark calls ``os.getppid()`` (callgrind, run with ``--dump-before=getppid``, dumps its
counter there) and records the name of the phase that just ended; the names are written to
``$PHASEMARKS_OUT`` as JSON at exit.
"""

from __future__ import annotations

import atexit
import json
import os
from collections.abc import Generator
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


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems() -> Generator[None, object, object]:
    _mark("collect")
    try:
        return (yield)
    finally:
        _mark("modifyitems (tagging)")


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop() -> Generator[None, object, object]:
    _mark("collection finish")
    try:
        return (yield)
    finally:
        _mark("run tests (per-report hook)")


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish() -> Generator[None, object, object]:
    _mark("between")
    try:
        return (yield)
    finally:
        _mark("sessionfinish (evidence, gate, report)")


@pytest.hookimpl(wrapper=True)
def pytest_unconfigure() -> Generator[None, object, object]:
    _mark("terminal summary")
    try:
        return (yield)
    finally:
        _mark("unconfigure")
