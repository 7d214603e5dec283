"""The parity summary: what pytest prints at the end of a run, and ``pytest-parity check``.

Quiet unless something matters: counts per milestone, every failed invariant (a broken
proof is always news), what the gate is blocked by, and one hint line for the rest.
``-q`` keeps only what fails and the gate; ``-v`` lists every invariant with its tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .evidence import status_counts
from .model import STATUSES, grouped, plural, visible

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from .model import Evidence, GateResult, InvariantResult

#: the exit code of a run whose tests passed but whose parity gate failed (or could not
#: be evaluated)
GATE_FAILED_EXIT = 8

#: control characters (every summary line stays one line) and lone surrogates (no output
#: encoding can write one), shown visibly
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")

_LABEL = {"failed": "FAILED", "missing": "MISSING", "not-run": "NOT-RUN", "waived": "WAIVED"}
_COLOR = {"failed": "red", "missing": "red", "not-run": "red", "waived": "yellow"}


@dataclass(frozen=True, slots=True)
class Line:
    """One summary line and the colour a terminal shows it in (``None``: plain)."""

    text: str
    color: str | None = None


def printable(text: str) -> str:
    """``text`` with what a terminal would act on (control characters, line breaks) or
    cannot show (lone surrogates) written as ``\\xNN`` / ``\\uNNNN``."""
    return _UNPRINTABLE.sub(visible, text)


def _line(text: str, color: str | None = None) -> Line:
    return Line(printable(text), color)


def gate_line(gate: GateResult | None) -> Line:
    if gate is None:
        return _line("parity gate: off (use --parity-gate SCOPE to enforce)")
    where = f"parity gate ({gate.scope})"
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


def _status_line(result: InvariantResult, text: str) -> Line:
    inv = result.invariant
    return _line(
        f"{_LABEL[result.status]:<7} {inv.id} [{inv.milestone}]: {text}", _COLOR[result.status]
    )


def _stale(evidence: Evidence, inv_id: str, glob: str, hint: str = "") -> Line:
    milestone = evidence.registry.invariants[inv_id].milestone
    text = f"STALE   {inv_id} [{milestone}]: `tests` glob {glob!r} matches no collected test"
    return _line(text + hint, "yellow")


def _tests(result: InvariantResult) -> list[Line]:
    return [
        _line(f"    {t.outcome:<7} {t.nodeid}" + (f"  ({t.reason})" if t.reason else ""))
        for t in result.tests
    ]


def render_summary(
    evidence: Evidence,
    gate: GateResult | None,
    verbosity: int = 0,
    *,
    source: str | None = None,
    glob_hints: Mapping[str, str] | None = None,
) -> list[Line]:
    """The lines of the parity summary; ``source`` names the registry (default: its
    path), ``glob_hints`` what a stale ``tests`` glob may have meant."""
    registry = evidence.registry
    lines: list[Line] = []
    if verbosity >= 0:
        n_inv, n_ms = len(registry.invariants), len(registry.milestones)
        lines.append(
            _line(
                f"registry {source or registry.source}: {plural(n_inv, 'invariant')} in "
                f"{plural(n_ms, 'milestone')}"
            )
        )
        for milestone, counts in zip(
            registry.milestones, status_counts(evidence).values(), strict=True
        ):
            parts = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
            title = f" ({milestone.title})" if milestone.title else ""
            lines.append(_line(f"{milestone.id}{title}: {parts or 'no invariants'}"))
    in_scope = set(gate.milestones) if gate is not None else set()
    flaky = [rec for rec in evidence.records.values() if rec.outcome == "flaky"]
    flaky_ids = {inv_id for rec in flaky for inv_id in rec.invariants}
    hidden = 0
    for result in evidence.results.values():
        inv = result.invariant
        if verbosity > 0:  # everything, with every test
            if result.status == "proven":
                flag = " [flaky]" if inv.id in flaky_ids else ""
                lines.append(_line(f"PROVEN  {inv.id} [{inv.milestone}]{flag}: {inv.title}"))
            else:
                lines.append(_status_line(result, f"{result.reason}"))
                lines.append(_line(f"    {inv.title}"))
            lines += _tests(result)
        elif result.status == "failed":
            lines.append(_status_line(result, result.reason))
        elif result.status == "proven" and inv.id in flaky_ids and verbosity == 0:
            lines.append(
                _line(f"PROVEN  {inv.id} [{inv.milestone}] [flaky]: {result.reason}", "yellow")
            )
        elif (
            result.status != "proven" and inv.milestone in in_scope and evidence.incomplete is None
        ):
            if result.status != "waived" or verbosity == 0:
                note = f"; {result.waiver_note}" if result.waiver_note else ""
                lines.append(_status_line(result, result.reason + note))
                continue  # the waiver's note is said
        elif result.status in ("missing", "not-run"):
            hidden += 1
        if result.waiver_note and verbosity >= 0:
            lines.append(
                _line(f"WAIVER  {inv.id} [{inv.milestone}]: {result.waiver_note}", "yellow")
            )
    if hidden and verbosity == 0 and evidence.incomplete is None:
        where = "outside the gate's scope " if gate is not None else ""
        judge = "" if gate is not None else "; --parity-gate judges them"
        lines.append(
            _line(f"{plural(hidden, 'invariant')} {where}not proven: -v lists them{judge}")
        )
    if gate is not None or verbosity > 0:
        # the rot this tool exists to catch: a glob whose tests were renamed or deleted
        hints = glob_hints or {}
        lines += [
            _stale(evidence, i, glob, hints.get(glob, "")) for i, glob in evidence.stale_globs
        ]
    if gate is not None:
        for rec in gate.failed_suite_tests:
            suite = "/".join(rec.milestones)
            lines.append(
                _line(f"FAILED  milestone {suite} suite test: {rec.nodeid} ({rec.outcome})", "red")
            )
    if flaky and verbosity >= 0:
        policy = "counted as failed" if evidence.flaky == "fail" else "allowed to prove"
        names = grouped(sorted(flaky, key=lambda r: r.nodeid), list(evidence.records.values()))
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        lines.append(
            _line(
                f"flaky: {plural(len(flaky), 'test')} passed only on rerun ({policy}, "
                f"--parity-flaky={evidence.flaky}): {', '.join(names[:5])}{more}",
                "yellow",
            )
        )
    if evidence.incomplete is not None and gate is None:
        lines.append(_line(f"parity: incomplete run, {evidence.incomplete}", "yellow"))
    lines.append(gate_line(gate))
    return lines


def _ids(ids: list[str]) -> str:
    return ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


def render_plan(
    evidence: Evidence,
    by_glob: Mapping[str, set[str]],
    selected: Collection[str],
    verbosity: int = 0,
    glob_hints: Mapping[str, str] | None = None,
) -> list[Line]:
    """What ``--collect-only`` shows: which selected tests would prove which invariant,
    and which invariants only deselected tests name (this run would not prove them)."""
    registry = evidence.registry
    all_tests = list(evidence.records.values())
    lines: list[Line] = []
    unnamed: list[str] = []
    deselected_only: list[str] = []
    for result in evidence.results.values():
        inv = result.invariant
        chosen = [t for t in result.tests if t.nodeid in selected]
        left_out = len(result.tests) - len(chosen)
        globbed = sum(1 for t in chosen if inv.id in by_glob.get(t.nodeid, ()))
        where = f"{inv.id} [{inv.milestone}]"
        # a waived invariant needs no test yet: said, so that the plan and the run agree
        note, color = "", "red"
        if result.status == "waived" and inv.waiver is not None:
            note, color = f" (waived until {inv.waiver.until})", "yellow"
        if not result.tests:
            unnamed.append(inv.id)
            line = _line(f"MISSING {where}: no collected test names it{note}", color)
        elif not chosen:
            deselected_only.append(inv.id)
            line = _line(
                f"NOT-RUN {where}: only deselected tests name it ({left_out}){note}", color
            )
        else:
            how = f"{len(chosen) - globbed} by marker, {globbed} by glob"
            also = f"; {left_out} deselected" if left_out else ""
            line = _line(f"PLAN    {where}: {plural(len(chosen), 'selected test')} ({how}){also}")
        if verbosity >= 0:
            lines.append(line)
        if verbosity > 0:
            lines += [_line(f"    {name}") for name in grouped(chosen, all_tests)]
    if verbosity >= 0:
        hints = glob_hints or {}
        lines += [
            _stale(evidence, inv_id, glob, hints.get(glob, ""))
            for inv_id, glob in evidence.stale_globs
        ]
    n_selected = sum(1 for nodeid in evidence.records if nodeid in selected)
    named = len(registry.invariants) - len(unnamed) - len(deselected_only)
    summary = (
        f"plan: {named} of {plural(len(registry.invariants), 'invariant')} named by "
        f"{plural(n_selected, 'selected test')}"
    )
    if deselected_only:
        summary += f"; only deselected tests name {_ids(deselected_only)}"
    if unnamed:
        summary += f"; no test names {_ids(unnamed)}"
    if evidence.stale_globs:
        summary += f"; {plural(len(evidence.stale_globs), 'stale glob')}"
    lines.append(_line(summary, "yellow" if unnamed or deselected_only else None))
    return lines
