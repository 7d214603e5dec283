"""The parity summary printed at the end of a run and by ``pytest-parity check``."""

from __future__ import annotations

import re

from .evidence import status_counts
from .model import STATUSES, Evidence, GateResult, by_nodeid, outcome_of, visible

#: the exit code of a run whose tests passed but whose parity gate failed
GATE_FAILED_EXIT = 8

_LABEL = {
    "failed": "FAILED",
    "missing": "MISSING",
    "not-run": "NOT-RUN",
    "waived": "WAIVED",
    "proven": "PROVEN",
}


#: control characters (so that every summary line stays one line) and lone surrogates (which
#: no output encoding can write), shown visibly
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")


def _one_line(text: str) -> str:
    return _UNPRINTABLE.sub(visible, text)


def gate_line(gate: GateResult | None) -> str:
    if gate is None:
        return "parity gate: off (use --parity-gate SCOPE to enforce)"
    where = f"parity gate ({gate.scope}: {', '.join(gate.milestones)})"
    if gate.not_evaluated is not None:
        return f"{where}: NOT EVALUATED, {gate.not_evaluated}"
    if gate.passed:
        return f"{where}: PASSED"
    problems = []
    if gate.blocking:
        n = len(gate.blocking)
        problems.append(f"{n} invariant{'s' if n != 1 else ''} not proven")
    if gate.failed_suite_tests:
        n = len(gate.failed_suite_tests)
        problems.append(f"{n} milestone suite test{'s' if n != 1 else ''} failed")
    return f"{where}: FAILED, {', '.join(problems)}"


def render_summary(evidence: Evidence, gate: GateResult | None, verbosity: int = 0) -> list[str]:
    """Lines of the parity summary.

    Always: one line per invariant that is not proven (status and why), and the gate line.
    Default verbosity adds the counts per milestone; ``-v`` adds every proven invariant with
    the tests that proved it. ``-q`` (verbosity < 0) keeps only what is not proven.
    """
    registry = evidence.registry
    lines: list[str] = []
    if verbosity >= 0:
        n_inv, n_ms = len(registry.invariants), len(registry.milestones)
        lines.append(
            f"registry {registry.source}: {n_inv} invariant{'s' if n_inv != 1 else ''} in "
            f"{n_ms} milestone{'s' if n_ms != 1 else ''}"
        )
        titles = {m.id: m.title for m in registry.milestones}
        for milestone, counts in status_counts(evidence).items():
            parts = [f"{counts[s]} {s}" for s in STATUSES if counts[s]]
            title = f" ({titles[milestone]})" if titles[milestone] else ""
            lines.append(f"{milestone}{title}: {', '.join(parts) or 'no invariants'}")
    records = evidence.records.values()
    # usually none: looked for in C before a pass in Python
    flaky_records = (
        [rec for rec in records if rec.outcome == "flaky"]
        if "flaky" in map(outcome_of, records)
        else []
    )
    flaky_proofs = {inv_id for rec in flaky_records for inv_id in rec.invariants}
    for result in evidence.results.values():
        inv = result.invariant
        flaky_flag = " [flaky]" if inv.id in flaky_proofs else ""
        if result.status == "proven":
            if verbosity <= 0 and not flaky_flag:
                continue
            if verbosity <= 0:
                lines.append(f"PROVEN  {inv.id} [{inv.milestone}]{flaky_flag}: {result.reason}")
                continue
            lines.append(f"PROVEN  {inv.id} [{inv.milestone}]{flaky_flag}: {inv.title}")
            lines.extend(f"    {t.outcome:<7} {t.nodeid}" for t in result.tests)
            continue
        if result.status == "waived" and verbosity < 0:
            continue
        lines.append(f"{_LABEL[result.status]:<7} {inv.id} [{inv.milestone}]: {result.reason}")
        if verbosity > 0:
            lines.append(f"    {inv.title}")
            lines.extend(f"    {t.outcome:<7} {t.nodeid}" for t in result.tests)
    if gate is not None or verbosity > 0:
        # the rot this tool exists to catch: a registry glob whose tests were renamed or
        # deleted (informational: it changes no status)
        lines.extend(
            f"STALE   {inv_id} [{registry.invariants[inv_id].milestone}]: `tests` glob "
            f"{glob!r} matches no collected test"
            for inv_id, glob in evidence.stale_globs
        )
    if gate is not None:
        lines.extend(
            f"FAILED  milestone {'/'.join(rec.milestones)} suite test: {rec.nodeid} ({rec.outcome})"
            for rec in gate.failed_suite_tests
        )
    flaky = sorted(map(by_nodeid, flaky_records))
    if flaky and verbosity >= 0:
        policy = "counted as failed" if evidence.flaky == "fail" else "allowed to prove"
        lines.append(
            f"flaky: {len(flaky)} test{'s' if len(flaky) != 1 else ''} passed only on rerun "
            f"({policy}, --parity-flaky={evidence.flaky}): {', '.join(flaky[:5])}"
            + (f" and {len(flaky) - 5} more" if len(flaky) > 5 else "")
        )
    if evidence.incomplete is not None and gate is None:
        lines.append(f"parity: incomplete run, {evidence.incomplete}")
    lines.append(gate_line(gate))
    return [_one_line(line) for line in lines]
