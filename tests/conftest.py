"""Helpers shared by the test modules: pytester runs and reading their parity section."""

from __future__ import annotations

import re

import pytest

#: three milestones, two invariants in M1, one in M2, none in M3
REGISTRY = """
milestones = [{ id = "M1", title = "Execution" }, "M2", "M3"]

[invariants.RUNKEY-01]
milestone = "M1"
title = "A duplicate run_key returns the existing run"

[invariants.RUNKEY-02]
milestone = "M1"
title = "A fingerprint mismatch is a conflict"

[invariants."timer.dedupe"]
milestone = "M2"
title = "Timer events are deduplicated by timer_id"
"""

#: one milestone, one invariant: the smallest registry a false green can hide in
ONE_INVARIANT = """
milestones = ["M1"]
[invariants.A]
milestone = "M1"
title = "a"
"""

XDIST = pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])


def run(pytester: pytest.Pytester, *args: str, xdist: bool = False) -> pytest.RunResult:
    """``pytest ARGS`` in-process, in collection order (``-n 2`` with ``xdist``)."""
    extra = ("-n", "2") if xdist else ()
    return pytester.runpytest(*extra, "-p", "no:randomly", *args)


@pytest.fixture
def reg(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", parity=REGISTRY)
    return pytester


@pytest.fixture
def one(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", parity=ONE_INVARIANT)
    return pytester


def esc(text: str) -> str:
    """Escape fnmatch's character classes: ``[`` is literal in our summary lines."""
    return text.replace("[", "[[]")


def parity_lines(result: pytest.RunResult) -> list[str]:
    """The lines of the parity section of the terminal summary."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.match(r"^=+ parity =+$", line))
    out = []
    for line in lines[start + 1 :]:
        if line.startswith("==="):
            break
        out.append(line)
    return out
