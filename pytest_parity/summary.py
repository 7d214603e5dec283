"""The parity summary: what pytest prints at the end of a run, and ``pytest-parity check``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .evidence import status_counts
from .model import STATUSES, plural, visible

if TYPE_CHECKING:
    from .model import Evidence, GateResult

#: the exit code of a run whose tests passed but whose parity gate failed (or could not
#: be evaluated)
GATE_FAILED_EXIT = 8

#: control characters (every summary line stays one line) and lone surrogates (no output
#: encoding can write one), shown visibly
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")

_LABEL = {"failed": "FAILED", "missing": "MISSING", "not-run": "NOT-RUN", "waived": "WAIVED"}
_COLOR = {"failed": "red", "missing": "red", "not-run": "red", "waived": "yellow", "proven": None}


@dataclass(frozen=True, slots=True)
class Line:
    """One summary line and the colour a terminal shows it in (``None``: plain)."""

    text: str
    color: str | None = None


def _line(text: str, color: str | None = None) -> Line:
    return Line(_UNPRINTABLE.sub(visible, text), color)


def gate_line(gate: GateResult | None) -> Line:
    if gate is None:
        return _line("parity gate: off (use --parity-gate SCOPE to enforce)")
    where = f"parity gate ({gate.scope}: {', '.join(gate.milestones)})"
    if gate.not_evaluated is not None:
        return _line(f"{where}: NOT EVALUATED, {gate.not_evaluated}", "yellow")
    if gate.passed:
        return _line(f"{where}: PASSED", "green")
    problems = []
    if gate.blocking:
        problems.append(f"{plural(len(gate.blocking), 'invariant')} not proven")
    if gate.failed_suite_tests:
        problems.append(f"{plural(len(gate.failed_suite_tests), 'milestone suite test')} failed")
    return _line(f"{where}: FAILED, {', '.join(problems)}", "red")


def render_summary(evidence: Evidence, gate: GateResult | None, verbosity: int = 0) -> list[Line]:
    """The lines of the parity summary.

    Always: one line per invariant that is not proven (status and why), and the gate line
    last. Default verbosity adds the registry and the counts per milestone; ``-v`` adds
    every proven invariant with the tests that proved it; ``-q`` (verbosity < 0) keeps
    only what is not proven.
    """
    registry = evidence.registry
    lines: list[Line] = []
    if verbosity >= 0:
        lines.append(
            _line(
                f"registry {registry.source}: {plural(len(registry.invariants), 'invariant')} "
                f"in {plural(len(registry.milestones), 'milestone')}"
            )
        )
        for milestone, counts in zip(
            registry.milestones, status_counts(evidence).values(), strict=True
        ):
            parts = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
            title = f" ({milestone.title})" if milestone.title else ""
            lines.append(_line(f"{milestone.id}{title}: {parts or 'no invariants'}"))
    flaky = [rec.nodeid for rec in evidence.records.values() if rec.outcome == "flaky"]
    flaky_proofs = {
        i for rec in evidence.records.values() if rec.outcome == "flaky" for i in rec.invariants
    }
    for result in evidence.results.values():
        inv = result.invariant
        where = f"{inv.id} [{inv.milestone}]"
        if result.status == "proven":
            flag = " [flaky]" if inv.id in flaky_proofs else ""
            if verbosity > 0:
                lines.append(_line(f"PROVEN  {where}{flag}: {inv.title}"))
                lines.extend(_line(f"    {t.outcome:<7} {t.nodeid}") for t in result.tests)
            elif flag:
                lines.append(_line(f"PROVEN  {where}{flag}: {result.reason}", "yellow"))
            continue
        if result.status == "waived" and verbosity < 0:
            continue
        color = _COLOR[result.status]
        lines.append(_line(f"{_LABEL[result.status]:<7} {where}: {result.reason}", color))
        if verbosity > 0:
            lines.append(_line(f"    {inv.title}"))
            lines.extend(_line(f"    {t.outcome:<7} {t.nodeid}") for t in result.tests)
    if gate is not None or verbosity > 0:
        # the rot this tool exists to catch: a glob whose tests were renamed or deleted
        lines.extend(
            _line(
                f"STALE   {inv_id} [{registry.invariants[inv_id].milestone}]: `tests` glob "
                f"{glob!r} matches no collected test",
                "yellow",
            )
            for inv_id, glob in evidence.stale_globs
        )
    if gate is not None:
        lines.extend(
            _line(
                f"FAILED  milestone {'/'.join(rec.milestones)} suite test: {rec.nodeid} "
                f"({rec.outcome})",
                "red",
            )
            for rec in gate.failed_suite_tests
        )
    if flaky and verbosity >= 0:
        policy = "counted as failed" if evidence.flaky == "fail" else "allowed to prove"
        more = f" and {len(flaky) - 5} more" if len(flaky) > 5 else ""
        lines.append(
            _line(
                f"flaky: {plural(len(flaky), 'test')} passed only on rerun ({policy}, "
                f"--parity-flaky={evidence.flaky}): {', '.join(sorted(flaky)[:5])}{more}",
                "yellow",
            )
        )
    if evidence.incomplete is not None and gate is None:
        lines.append(_line(f"parity: incomplete run, {evidence.incomplete}", "yellow"))
    lines.append(gate_line(gate))
    return lines
