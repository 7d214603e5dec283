"""The ``pytest-parity`` console script: ``check``, ``merge`` and ``matrix``.

A thin adapter over the pure modules: it reads evidence reports (:func:`read_report`),
merges their per-test records (:func:`~pytest_parity.model.merge_records`), re-evaluates
every invariant from those per-test outcomes (:func:`~pytest_parity.evidence.evaluate`;
statuses stored in the reports are never trusted), and then prints, writes or renders.

Exit codes: 0 success (``check``: the gate holds), 1 ``check``: the gate fails /
``matrix --check``: the document is out of date, 2 bad input or usage (one line on
stderr, ``pytest-parity: error: ...``, nothing written).
"""

from __future__ import annotations

import argparse
import difflib
import io
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import __version__
from .evidence import decide_gate, evaluate
from .files import atomic_write
from .matrix import render_json, render_markdown, render_step_summary, replace_block
from .model import (
    FLAKY_POLICIES,
    Evidence,
    FlakyPolicy,
    GateResult,
    ParityError,
    Registry,
    TestRecord,
    merge_records,
)
from .report import LoadedReport, read_report, write_report
from .summary import render_summary

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Sequence

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "MergedEvidence", "load_evidence", "main"]

PROG = "pytest-parity"
EXIT_OK = 0
#: ``check``: the gate fails; ``matrix --check``: the document is out of date
EXIT_FAILED = 1
#: bad input (unreadable or corrupt report, undeclared gate scope, ...) or a usage error
EXIT_BAD_INPUT = 2

MIXED_FLAG = "--allow-mixed-registries"
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


# -- loading and merging ------------------------------------------------------------------


@dataclass(frozen=True)
class MergedEvidence:
    """Reports read, merged and re-evaluated."""

    reports: tuple[LoadedReport, ...]
    evidence: Evidence
    #: the first gate scope a report recorded (in the order given), ``None`` if none did
    recorded_gate: str | None

    @property
    def distinct(self) -> int:
        """How many different reports were given (one shard downloaded twice is one)."""
        return len({report.content_sha256 for report in self.reports})

    def ran_in_none(self) -> list[str]:
        """Tagged tests that no report ran (each shard deselected or never reached them)."""
        if len(self.reports) < 2:
            return []
        return [nodeid for nodeid, rec in self.evidence.records.items() if rec.outcome == "not-run"]


def _short_sha(sha: str) -> str:
    return sha[:12] + "…"


def _check_registries(reports: Sequence[LoadedReport]) -> None:
    first = reports[0]
    for other in reports[1:]:
        if other.registry_sha256 != first.registry_sha256:
            raise ParityError(
                f"reports were built from different registries: {first.path} "
                f"(sha {_short_sha(first.registry_sha256)}) vs {other.path} "
                f"(sha {_short_sha(other.registry_sha256)}); pass {MIXED_FLAG} to merge them "
                f"anyway"
            )


def _declared_only(registry: Registry, records: dict[str, TestRecord]) -> dict[str, TestRecord]:
    """Records with the invariant and milestone IDs ``registry`` does not declare dropped."""
    invariants = registry.invariants
    milestones = set(registry.milestone_ids())
    return {
        nodeid: TestRecord(
            nodeid,
            rec.outcome,
            tuple(i for i in rec.invariants if i in invariants),
            tuple(m for m in rec.milestones if m in milestones),
        )
        for nodeid, rec in records.items()
    }


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
      ``allow_mixed_registries`` the registry of the *last* report is used and record
      references to invariants or milestones it does not declare are dropped.
    - Records are merged by node ID; a test seen in several reports takes the outcome
      that says least in its favour (any failure wins; passed beats not-run).
    - ``flaky``: the ``--parity-flaky`` policy; ``None`` means ``fail`` if any report
      was written with ``fail``, else ``allow``.
    - A report written by an incomplete run makes the merged evidence incomplete, so no
      gate can pass on it.
    - ``today`` (for waiver expiry) defaults to today in UTC.
    - ``expect_reports``: fewer distinct reports (by content) than this make the
      merged evidence incomplete: a shard whose report is missing can prove nothing.

    Raises ParityError (one line, naming the file) on any bad input.
    """
    if not paths:
        raise ParityError("no evidence report given")
    reports = tuple(read_report(path) for path in paths)
    if not allow_mixed_registries:
        _check_registries(reports)
    registry = reports[-1].registry
    records = merge_records(report.records for report in reports)
    if allow_mixed_registries:
        records = _declared_only(registry, records)
    if flaky is None:
        flaky = "fail" if any(report.flaky == "fail" for report in reports) else "allow"
    incomplete = next(
        (f"{r.path}: {r.incomplete}" for r in reports if r.incomplete is not None), None
    )
    distinct = len({report.content_sha256 for report in reports})
    if distinct < expect_reports:
        incomplete = _fewer_reports(distinct, expect_reports)
    evidence = evaluate(
        registry,
        records,
        flaky=flaky,
        today=today,
        incomplete=incomplete,
        tags_lost=any(r.tags_lost for r in reports),
    )
    recorded = next((r.gate for r in reports if r.gate is not None), None)
    return MergedEvidence(reports, evidence, recorded)


def _fewer_reports(found: int, expected: int) -> str:
    return (
        f"{found} distinct report{'s' if found != 1 else ''} given, {expected} expected "
        "(--expect-reports): a missing shard proves nothing"
    )


def _check_scope(registry: Registry, scope: str, option: str) -> str:
    ids = registry.milestone_ids()
    if scope != "all" and scope not in ids:
        declared = ", ".join(ids) if ids else "none declared"
        raise ParityError(
            f"{option}: {scope!r} is neither 'all' nor a declared milestone ({declared})"
        )
    return scope


def _load(args: argparse.Namespace) -> MergedEvidence:
    return load_evidence(
        args.reports,
        flaky=args.flaky,
        allow_mixed_registries=args.allow_mixed_registries,
        expect_reports=getattr(args, "expect_reports", 1),
    )


# -- files --------------------------------------------------------------------------------


def _read_doc(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ParityError(f"{path}: cannot read: {exc.strerror or exc}") from None
    # surrogateescape: bytes that are not UTF-8 survive the round trip unchanged
    return raw.decode("utf-8", "surrogateescape")


def _encode_doc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# -- subcommands --------------------------------------------------------------------------


def _out(text: str = "", end: str = "\n") -> None:
    """Print to stdout; once the reader is gone (``| head``), print nothing more."""
    try:
        sys.stdout.write(text + end)
    except BrokenPipeError:
        _stdout_to_devnull()


def _stdout_to_devnull() -> None:
    # what Python's documentation advises for SIGPIPE: the rest (and the flush at exit)
    # goes nowhere, and the command still returns its verdict
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _append_step_summary(evidence: Evidence, gate: GateResult) -> None:
    path = os.environ.get(STEP_SUMMARY_ENV, "")
    if not path:
        return
    text = render_step_summary(evidence, gate)
    try:
        with open(path, "a", encoding="utf-8", errors="backslashreplace", newline="\n") as fh:
            fh.write(text)
    except OSError as exc:
        # the verdict is the gate's; a summary that cannot be written only warns
        print(
            f"{PROG}: warning: {STEP_SUMMARY_ENV}={path}: cannot append: {exc.strerror or exc}",
            file=sys.stderr,
        )


def cmd_check(args: argparse.Namespace) -> int:
    merged = _load(args)
    evidence = merged.evidence
    scope = _check_scope(evidence.registry, args.gate, "--gate")
    gate = decide_gate(evidence, scope)
    verbosity = args.verbose - args.quiet
    if verbosity >= 0:
        reports = merged.reports
        names = ", ".join(r.path for r in reports)
        _out(
            f"evidence from {len(reports)} report{'s' if len(reports) != 1 else ''} "
            f"({names}): {len(evidence.records)} tagged tests"
        )
    _out_ran_in_none(merged)
    for line in render_summary(evidence, gate, verbosity):
        _out(line)
    _append_step_summary(evidence, gate)
    return EXIT_OK if gate.passed else EXIT_FAILED


def _out_ran_in_none(merged: MergedEvidence) -> None:
    lost = merged.ran_in_none()
    if lost:
        shown = ", ".join(lost[:5]) + (f" and {len(lost) - 5} more" if len(lost) > 5 else "")
        _out(
            f"{len(lost)} tagged test{' ran' if len(lost) == 1 else 's ran'} in none of the "
            f"{len(merged.reports)} reports: {shown}"
        )


def cmd_merge(args: argparse.Namespace) -> int:
    merged = _load(args)
    if merged.distinct < args.expect_reports:
        print(
            f"{PROG}: {_fewer_reports(merged.distinct, args.expect_reports)}; nothing written",
            file=sys.stderr,
        )
        return EXIT_FAILED
    evidence = merged.evidence
    scope = args.gate if args.gate is not None else merged.recorded_gate
    gate = None
    if scope is not None:
        option = "--gate" if args.gate is not None else "the gate scope the reports recorded"
        gate = decide_gate(evidence, _check_scope(evidence.registry, scope, option))
    write_report(args.output, evidence, gate)
    _out_ran_in_none(merged)
    _out(
        f"wrote {args.output}: {len(evidence.results)} invariants, "
        f"{len(evidence.records)} tagged tests from {len(merged.reports)} reports"
    )
    return EXIT_OK


def _diff(old: str, new: str, path: str) -> list[str]:
    return list(
        difflib.unified_diff(
            old.splitlines(),
            new.splitlines(),
            f"{path} (current)",
            f"{path} (expected)",
            lineterm="",
        )
    )


def cmd_matrix(args: argparse.Namespace) -> int:
    doc = args.update if args.update is not None else args.check
    if doc is not None and args.format != "markdown":
        option = "--update" if args.update is not None else "--check"
        raise ParityError(f"{option} works on Markdown documents only, not with --format json")
    merged = _load(args)
    evidence = merged.evidence
    if args.format == "json":
        scope = args.gate if args.gate is not None else merged.recorded_gate
        if scope is not None:
            option = "--gate" if args.gate is not None else "the gate scope the reports recorded"
            _check_scope(evidence.registry, scope, option)
        text = render_json(evidence, scope)
    else:
        if args.gate is not None:
            _check_scope(evidence.registry, args.gate, "--gate")
        text = render_markdown(evidence)
    if doc is None:
        if args.output is None:
            _out(text, end="")
        else:
            atomic_write(args.output, text.encode("utf-8"))
        return EXIT_OK
    current = _read_doc(doc)
    expected = replace_block(current, "\n" + text + "\n", source=doc)
    if args.output is not None:
        atomic_write(args.output, text.encode("utf-8"))
    if expected == current:
        _out(f"{doc}: parity matrix is up to date")
        return EXIT_OK
    if args.update is not None:
        atomic_write(doc, _encode_doc(expected))
        _out(f"{doc}: parity matrix updated")
        return EXIT_OK
    _out(
        f"{doc}: parity matrix is out of date; regenerate it with "
        f"`{PROG} matrix REPORT... --update {doc}`"
    )
    for line in _diff(current, expected, doc):
        _out(line)
    return EXIT_FAILED


# -- the parser ---------------------------------------------------------------------------


def _report_count(value: str) -> int:
    """``--expect-reports``: a whole number of at least 1."""
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return count


def _expect_reports(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--expect-reports",
        type=_report_count,
        default=1,
        metavar="N",
        help="the number of shard reports there must be: fewer distinct ones (by content) "
        "fail (a shard that crashed before writing its report proves nothing)",
    )


def _common(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "reports",
        nargs="+",
        metavar="REPORT",
        help="evidence report written with --parity-report (or by `pytest-parity merge`)",
    )
    sub.add_argument(
        "--flaky",
        choices=FLAKY_POLICIES,
        default=None,
        help="may a test that passed only on a rerun prove an invariant? (default: 'fail' "
        "if any report was written with --parity-flaky=fail, else 'allow')",
    )
    sub.add_argument(
        MIXED_FLAG,
        action="store_true",
        help="merge reports built from different registries; the registry of the LAST "
        "report is used and references to anything it does not declare are dropped",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Re-check, merge and tabulate pytest-parity evidence reports.",
        epilog="exit codes: 0 ok, 1 gate failed (check) or document out of date "
        "(matrix --check), 2 bad input or usage error",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = subs.add_parser(
        "check",
        help="merge reports in memory, re-evaluate, print the summary, judge the gate",
        description="Merge the reports in memory, re-evaluate every invariant from the "
        "per-test outcomes and print the parity summary. Exit 0 when the gate holds, 1 "
        "when it fails, 2 on bad input.",
    )
    _common(check)
    _expect_reports(check)
    check.add_argument(
        "--gate",
        default="all",
        metavar="SCOPE",
        help="'all' (default) or a milestone: the gate covers it and every earlier milestone",
    )
    check.add_argument("-v", "--verbose", action="count", default=0, help="list proven invariants")
    check.add_argument(
        "-q", "--quiet", action="count", default=0, help="only what is not proven, and the gate"
    )
    check.set_defaults(handler=cmd_check)

    merge = subs.add_parser(
        "merge",
        help="merge shard reports into one evidence report",
        description="Merge shard reports into one evidence report (a test seen in several "
        "shards: any failure wins). The output is itself an evidence report. It records the "
        "gate scope given with --gate, else the first one the inputs recorded, and that "
        "gate's verdict; merge itself exits 0 whatever the verdict (use check).",
    )
    _common(merge)
    _expect_reports(merge)
    merge.add_argument("-o", "--output", required=True, metavar="OUT", help="report to write")
    merge.add_argument(
        "--gate", default=None, metavar="SCOPE", help="gate scope to record (see above)"
    )
    merge.set_defaults(handler=cmd_merge)

    matrix = subs.add_parser(
        "matrix",
        help="render the parity matrix (Markdown or JSON); keep a document's copy current",
        description="Render the parity matrix: one row per declared invariant with its "
        "milestone, ID, title, status and evidence. Exit 0 whatever the statuses.",
    )
    _common(matrix)
    matrix.add_argument(
        "--format", choices=("markdown", "json"), default="markdown", help="default: markdown"
    )
    matrix.add_argument(
        "-o", "--output", default=None, metavar="FILE", help="write here instead of stdout"
    )
    matrix.add_argument(
        "--gate",
        default=None,
        metavar="SCOPE",
        help="JSON: the gate scope to report (default: the first one the inputs recorded)",
    )
    doc = matrix.add_mutually_exclusive_group()
    doc.add_argument(
        "--update",
        metavar="DOC",
        default=None,
        help="rewrite the block between <!-- parity-matrix:begin --> and "
        "<!-- parity-matrix:end --> in the Markdown file DOC",
    )
    doc.add_argument(
        "--check",
        metavar="DOC",
        default=None,
        help="exit 1 if that block of DOC differs from what --update would write",
    )
    matrix.set_defaults(handler=cmd_matrix)
    return parser


def _one_line(message: str) -> str:
    return " ".join(message.split("\n")).replace("\r", " ")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console script; returns the exit code (never raises for user errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_BAD_INPUT)
    handler: Callable[[argparse.Namespace], int] = args.handler
    # any text a report holds (lone surrogates too) prints, on any stdout encoding
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        code = handler(args)
    except ParityError as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        code = EXIT_BAD_INPUT
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
    return code
