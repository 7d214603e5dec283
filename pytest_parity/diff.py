"""What a change does to the invariants: the evidence of a base compared with a head.

Pure: it compares two :class:`~pytest_parity.model.Evidence` (each merged from one or more
reports) invariant by invariant, by ID, so the two registries may differ: a pull request
may add, remove, move or redefine invariants in the same change that breaks a proof.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .matrix import code_span, markdown_cell
from .model import grouped, plural
from .summary import Line, printable

if TYPE_CHECKING:
    from .model import Evidence, InvariantResult, TestRecord

__all__ = [
    "KINDS",
    "Change",
    "Diff",
    "Side",
    "compare",
    "ratchet_lines",
    "render_json",
    "render_markdown",
    "render_text",
]

#: the kinds of change, in the order they are shown (what hurts first)
KINDS = ("regressed", "improved", "added", "removed", "moved", "redefined", "proof_changed")
_TITLES = {
    "regressed": "Regressed",
    "improved": "Improved",
    "added": "Added",
    "removed": "Removed",
    "moved": "Moved to another milestone",
    "redefined": "Redefined",
    "proof_changed": "Proof changed",
}
#: GitHub refuses a comment longer than 65,536 characters; the Markdown stays below this
MARKDOWN_LIMIT = 65_000


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    id: str
    #: the milestone in HEAD (in BASE for a removed invariant)
    milestone: str
    before: str | None
    after: str | None
    #: why, in a few words: HEAD's reason, the old milestone, what was redefined
    detail: str = ""
    #: proof changed: the tests that stopped proving it, and those that started to
    lost: tuple[str, ...] = ()
    gained: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Side:
    registry_sha256: str
    gate: str | None
    incomplete: str | None


@dataclass(frozen=True)
class Diff:
    base: Side
    head: Side
    changes: list[Change] = field(default_factory=list)
    #: per milestone (HEAD's order, then those only BASE has): proven/total before, after
    milestones: list[tuple[str, tuple[int, int] | None, tuple[int, int] | None]] = field(
        default_factory=list
    )

    def of(self, kind: str) -> list[Change]:
        return [change for change in self.changes if change.kind == kind]

    @property
    def incomplete(self) -> list[str]:
        """Why either side cannot vouch for its evidence."""
        return [
            f"{name}: {side.incomplete}"
            for name, side in (("base", self.base), ("head", self.head))
            if side.incomplete is not None
        ]


def _redefined(before: InvariantResult, after: InvariantResult) -> str:
    a, b = before.invariant, after.invariant
    what = [
        name
        for name, old, new in (
            ("title", a.title, b.title),
            ("min_tests", a.min_tests, b.min_tests),
            ("tests", a.tests, b.tests),
            ("waiver", a.waiver, b.waiver),
        )
        if old != new
    ]
    return ", ".join(what) + " changed"


def _proving(result: InvariantResult) -> set[str]:
    return {t.nodeid for t in result.proving}


def _names(nodeids: set[str], tests: tuple[TestRecord, ...]) -> tuple[str, ...]:
    """Node IDs, grouped by parametrized function (``test_x[*] (3 of 5)``)."""
    among = {t.nodeid: t for t in tests}
    records = [among[n] for n in sorted(nodeids) if n in among]
    stand_ins = [n for n in sorted(nodeids) if n not in among]
    return tuple(grouped(records, list(tests))) + tuple(stand_ins)


def compare(base: Evidence, base_side: Side, head: Evidence, head_side: Side) -> Diff:
    """Per invariant ID, what changed between BASE and HEAD."""
    diff = Diff(base_side, head_side)
    old, new = base.results, head.results
    for inv_id, after in new.items():
        before = old.get(inv_id)
        inv = after.invariant
        if before is None:
            diff.changes.append(
                Change("added", inv_id, inv.milestone, None, after.status, after.reason)
            )
            continue
        if before.invariant.milestone != inv.milestone:
            detail = f"from {before.invariant.milestone} to {inv.milestone}"
            diff.changes.append(
                Change("moved", inv_id, inv.milestone, before.status, after.status, detail)
            )
        if before.invariant.content_sha256 != inv.content_sha256:
            detail = _redefined(before, after)
            diff.changes.append(
                Change("redefined", inv_id, inv.milestone, before.status, after.status, detail)
            )
        was, now = before.status, after.status
        if (was == "proven" and now != "proven") or (
            was == "waived" and now not in ("proven", "waived")
        ):
            diff.changes.append(Change("regressed", inv_id, inv.milestone, was, now, after.reason))
        elif was != "proven" and now == "proven":
            diff.changes.append(Change("improved", inv_id, inv.milestone, was, now, after.reason))
        elif was == now == "proven" and _proving(before) != _proving(after):
            lost = _names(_proving(before) - _proving(after), before.tests)
            gained = _names(_proving(after) - _proving(before), after.tests)
            change = Change("proof_changed", inv_id, inv.milestone, was, now, "", lost, gained)
            diff.changes.append(change)
    for inv_id, before in old.items():
        if inv_id not in new:
            inv = before.invariant
            diff.changes.append(Change("removed", inv_id, inv.milestone, before.status, None))
    diff.changes.sort(key=lambda change: KINDS.index(change.kind))
    counts_before, counts_after = _proven_counts(base), _proven_counts(head)
    for milestone in [*counts_after, *(m for m in counts_before if m not in counts_after)]:
        diff.milestones.append(
            (milestone, counts_before.get(milestone), counts_after.get(milestone))
        )
    return diff


def _proven_counts(evidence: Evidence) -> dict[str, tuple[int, int]]:
    counts = {m: (0, 0) for m in evidence.registry.milestone_ids()}
    for result in evidence.results.values():
        proven, total = counts[result.invariant.milestone]
        counts[result.invariant.milestone] = (proven + (result.status == "proven"), total + 1)
    return counts


def _fraction(counts: tuple[int, int] | None) -> str:
    return "-" if counts is None else f"{counts[0]}/{counts[1]}"


def verdict(diff: Diff) -> str:
    """The one-line verdict."""
    if diff.incomplete:
        return f"cannot vouch: {'; '.join(diff.incomplete)}"
    regressed = diff.of("regressed")
    others = len(diff.changes) - len(regressed)
    if regressed:
        return f"{plural(len(regressed), 'invariant')} regressed; {plural(others, 'other change')}"
    if others:
        return f"no regressions; {plural(others, 'change')}"
    return "no change to any invariant"


def _describe(change: Change) -> str:
    if change.kind == "proof_changed":
        parts = []
        if change.lost:
            parts.append(f"no longer proven by {', '.join(change.lost)}")
        if change.gained:
            parts.append(f"now also proven by {', '.join(change.gained)}")
        return "; ".join(parts)
    return change.detail


def _change_line(change: Change, width: int) -> str:
    label = change.kind.upper().replace("_", " ")
    states = f"{change.before or '-'} -> {change.after or '-'}"
    detail = _describe(change)
    return f"{label:<{width}} {change.id} [{change.milestone}]: {states}" + (
        f": {detail}" if detail else ""
    )


def render_text(diff: Diff) -> str:
    lines = [f"parity diff: {verdict(diff)}"]
    lines += [_change_line(change, 13) for kind in KINDS for change in diff.of(kind)]
    lines += [
        f"{milestone}: {_fraction(before)} proven -> {_fraction(after)}"
        for milestone, before, after in diff.milestones
    ]
    return "".join(printable(line) + "\n" for line in lines)


def ratchet_lines(diff: Diff, baseline: str) -> list[Line]:
    """``check --baseline``: each regression, then the verdict (what fails it: any
    regression, or a baseline that cannot vouch for itself)."""
    where = f"parity ratchet (against {baseline})"
    if diff.base.incomplete is not None:
        why = f"the baseline cannot vouch for itself: {diff.base.incomplete}"
        return [Line(printable(f"{where}: NOT EVALUATED, {why}"), "red")]
    regressed = diff.of("regressed")
    lines = [Line(printable(_change_line(change, 9)), "red") for change in regressed]
    if regressed:
        return [
            *lines,
            Line(f"{where}: FAILED, {plural(len(regressed), 'invariant')} regressed", "red"),
        ]
    return [Line(printable(f"{where}: PASSED, no regressions"), "green")]


def render_markdown(diff: Diff, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment: the verdict, then short tables (what regressed first),
    safe for any text, cut (and saying so) to stay under ``limit`` characters."""
    lines = [f"### pytest-parity: {markdown_cell(verdict(diff))}", ""]
    lines += ["| Milestone | Proven before | Proven after |", "| --- | --- | --- |"]
    lines += [
        f"| {markdown_cell(m)} | {_fraction(before)} | {_fraction(after)} |"
        for m, before, after in diff.milestones
    ]
    rows: list[tuple[str | None, str]] = []  # (the table's heading, for its first row; row)
    for kind in KINDS:
        changes = diff.of(kind)
        title = (
            f"\n**{_TITLES[kind]}** ({len(changes)})\n\n"
            "| Invariant | Milestone | Before | After | Detail |\n| --- | --- | --- | --- | --- |"
        )
        for index, change in enumerate(changes):
            row = (
                f"| {code_span(change.id)} | {markdown_cell(change.milestone)} | "
                f"{change.before or '-'} | {change.after or '-'} | "
                f"{markdown_cell(_describe(change))} |"
            )
            rows.append((title if index == 0 else None, row))
    size = sum(len(line) + 1 for line in lines)
    for shown, (heading, row) in enumerate(rows):
        added = len(row) + 1 + (len(heading) + 1 if heading else 0)
        if size + added > limit - 300:  # room for the note below
            lines.append(
                f"\n_{len(rows) - shown} more rows cut to stay under {limit:,} characters: "
                "`pytest-parity diff --format json` lists them all._"
            )
            break
        lines += [heading, row] if heading else [row]
        size += added
    return "\n".join(lines) + "\n"


def render_json(diff: Diff) -> str:
    def side(s: Side) -> dict[str, Any]:
        return {"registry_sha256": s.registry_sha256, "gate": s.gate, "incomplete": s.incomplete}

    data: dict[str, Any] = {
        "base": side(diff.base),
        "head": side(diff.head),
        "verdict": verdict(diff),
        "milestones": [
            {
                "milestone": m,
                "before": None if before is None else {"proven": before[0], "total": before[1]},
                "after": None if after is None else {"proven": after[0], "total": after[1]},
            }
            for m, before, after in diff.milestones
        ],
    }
    for kind in KINDS:
        data[kind] = [
            {
                "id": change.id,
                "milestone": change.milestone,
                "before": change.before,
                "after": change.after,
                "detail": change.detail,
                **(
                    {"lost": list(change.lost), "gained": list(change.gained)}
                    if kind == "proof_changed"
                    else {}
                ),
            }
            for change in diff.of(kind)
        ]
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=True) + "\n"
