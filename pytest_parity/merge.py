"""Evidence reports read, merged and re-evaluated: what ``check``, ``merge``, ``matrix`` and
``diff`` start from.

Pure: statuses stored in the reports are never trusted; every invariant is re-evaluated
from the merged per-test outcomes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .evidence import decide_gate, evaluate
from .model import ParityError, merge_records, plural
from .reader import read_report

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from .model import Evidence, FlakyPolicy, GateResult, Registry, TestRecord
    from .reader import LoadedReport

__all__ = ["MIXED_FLAG", "MergedEvidence", "fewer_reports", "gate_for", "load_evidence"]

MIXED_FLAG = "--allow-mixed-registries"


@dataclass(frozen=True)
class MergedEvidence:
    """Reports read, merged and re-evaluated."""

    reports: tuple[LoadedReport, ...]
    evidence: Evidence
    #: the widest gate scope the reports recorded, ``None`` if none did
    recorded_gate: str | None
    #: how many different reports were given (one shard downloaded twice is one)
    distinct: int

    def ran_in_none(self) -> list[TestRecord]:
        """Tagged tests that no report ran (each shard deselected or never reached them)."""
        if len(self.reports) < 2:
            return []
        return [rec for rec in self.evidence.records.values() if rec.outcome == "not-run"]


def load_evidence(
    paths: Sequence[str],
    *,
    flaky: FlakyPolicy | None = None,
    allow_mixed_registries: bool = False,
    today: dt.date | None = None,
    expect_reports: int = 1,
) -> MergedEvidence:
    """Read evidence reports, merge them and re-evaluate every invariant.

    - All reports must embed the same registry (same sha256). With
      ``allow_mixed_registries`` the registry of the *last* report is used and what the
      records name that it does not declare is dropped.
    - A test seen in several reports takes the outcome that says least in its favour.
    - ``flaky``: the ``--parity-flaky`` policy; ``None`` means ``fail`` if any report was
      written with ``fail``, else ``allow``.
    - A report of an incomplete run, or fewer distinct reports (by content) than
      ``expect_reports``, make the merged evidence incomplete: no gate passes on it.
    - ``today`` (for waiver expiry) defaults to today in UTC.

    Raises ParityError (one line, naming the file) on any bad input.
    """
    if not paths:
        raise ParityError("no evidence report given")
    reports = tuple(read_report(path) for path in paths)
    first = reports[0]
    for other in reports[1:]:
        if other.registry_sha256 != first.registry_sha256 and not allow_mixed_registries:
            raise ParityError(
                f"reports were built from different registries: {first.path} "
                f"(sha {first.registry_sha256[:12]}…) vs {other.path} "
                f"(sha {other.registry_sha256[:12]}…); pass {MIXED_FLAG} to merge them anyway"
            )
    registry = reports[-1].registry
    records = merge_records([list(report.records) for report in reports])
    if allow_mixed_registries:
        milestones = registry.milestone_ids()
        records = {
            nodeid: dataclasses.replace(
                rec,
                invariants=tuple(i for i in rec.invariants if i in registry.invariants),
                milestones=tuple(m for m in rec.milestones if m in milestones),
            )
            for nodeid, rec in records.items()
        }
    if flaky is None:
        flaky = "fail" if any(report.flaky == "fail" for report in reports) else "allow"
    incomplete = next((f"{r.path}: {r.incomplete}" for r in reports if r.incomplete), None)
    distinct = len({report.content_sha256 for report in reports})
    if distinct < expect_reports:
        incomplete = fewer_reports(distinct, expect_reports)
    evidence = evaluate(
        registry,
        records,
        flaky=flaky,
        today=today,
        incomplete=incomplete,
        tags_lost=any(report.tags_lost for report in reports),
    )
    return MergedEvidence(reports, evidence, _widest([r.gate for r in reports], registry), distinct)


def _widest(scopes: list[str | None], registry: Registry) -> str | None:
    """The widest of the gate scopes reports recorded (``all``, else the latest milestone),
    whatever the order the reports are given in."""
    order = registry.milestone_ids()
    recorded = [scope for scope in scopes if scope is not None]
    if "all" in recorded:
        return "all"
    known = [scope for scope in recorded if scope in order]
    unknown = [scope for scope in recorded if scope not in order]
    if unknown:  # from another registry: decide_gate says so
        return unknown[0]
    return max(known, key=order.index, default=None)


def fewer_reports(found: int, expected: int) -> str:
    return (
        f"{plural(found, 'distinct report')} given, {expected} expected: "
        "a missing shard proves nothing"
    )


def gate_for(merged: MergedEvidence, scope: str | None) -> GateResult | None:
    """The gate for ``--gate SCOPE`` if given (``none``: no gate), else for the widest
    scope the reports recorded, else none."""
    if scope == "none":
        return None
    if scope is not None:
        return decide_gate(merged.evidence, scope, "--gate")
    if merged.recorded_gate is not None:
        return decide_gate(
            merged.evidence, merged.recorded_gate, "the gate scope the reports recorded"
        )
    return None
