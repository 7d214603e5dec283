"""The ``pytest-parity`` console script: ``check``, ``merge``, ``matrix`` and ``diff``.

A thin adapter over the pure modules: it loads evidence reports (:mod:`.merge`: read,
merged, re-evaluated; statuses stored in the reports are never trusted), and then prints,
writes or renders.

Exit codes: 0 success (``check``: the gate holds); 1 ``check``: the gate fails or an
invariant regressed against ``--baseline``, ``merge``: reports are missing, ``matrix
--check``: the document is out of date, ``diff``: what ``--fail-on`` names happened; 2 bad
input or usage (one line on stderr, ``pytest-parity: error: ...``, nothing written).
"""

from __future__ import annotations

import argparse
import difflib
import io
import os
import sys
from typing import TYPE_CHECKING

from . import __version__, diff
from .evidence import decide_gate
from .files import atomic_write
from .links import SHA_VARIABLES, SourceLinks, commit_from_env
from .matrix import render_json, render_markdown, render_step_summary, replace_block
from .merge import MIXED_FLAG, MergedEvidence, fewer_reports, gate_for, load_evidence
from .model import FLAKY_POLICIES, ParityError, grouped, plural
from .page import PageInfo, write_page
from .report import write_report
from .summary import Line, render_summary

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


__all__ = ["MergedEvidence", "load_evidence", "main"]

PROG = "pytest-parity"
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

# -- output ---------------------------------------------------------------------------------


def _out(text: str = "", end: str = "\n") -> None:
    """Print to stdout; once the reader is gone (``| head``), print nothing more."""
    try:
        sys.stdout.write(text + end)
    except BrokenPipeError:
        _stdout_to_devnull()


def _stdout_to_devnull() -> None:
    # as Python's documentation advises for SIGPIPE: the rest (and the flush at exit) goes
    # nowhere, and the command still returns its verdict
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


_ANSI = {"red": "31", "green": "32", "yellow": "33"}


def _colored(line: Line) -> str:
    """The line, coloured on a terminal (``NO_COLOR`` turns colour off, ``FORCE_COLOR`` on)."""
    force = os.environ.get("FORCE_COLOR", "") not in ("", "0")
    tty = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    if line.color is None or not (force or tty):
        return line.text
    return f"\x1b[{_ANSI[line.color]}m{line.text}\x1b[0m"


def _out_ran_in_none(merged: MergedEvidence) -> None:
    lost = merged.ran_in_none()
    if lost:
        names = grouped(lost, list(merged.evidence.records.values()))
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        _out(
            f"{plural(len(lost), 'tagged test')} ran in none of the {len(merged.reports)} "
            f"reports: {', '.join(names[:5])}{more}"
        )


def _append_to_step_summary(text: str) -> None:
    """On GitHub Actions, add the text (Markdown) to the run's summary page."""
    path = os.environ.get("GITHUB_STEP_SUMMARY", "")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8", errors="backslashreplace", newline="\n") as fh:
            fh.write(text)
    except OSError as exc:  # the verdict is the gate's: a summary that cannot be written warns
        print(
            f"{PROG}: warning: GITHUB_STEP_SUMMARY={path}: cannot append: {exc.strerror or exc}",
            file=sys.stderr,
        )


# -- commands -------------------------------------------------------------------------------


def _load(
    args: argparse.Namespace, reports: list[str] | None = None, expect: int | None = None
) -> MergedEvidence:
    return load_evidence(
        args.reports if reports is None else reports,
        flaky=args.flaky,
        allow_mixed_registries=args.allow_mixed_registries,
        expect_reports=getattr(args, "expect_reports", 1) if expect is None else expect,
    )


def _diff(base: MergedEvidence, head: MergedEvidence) -> diff.Diff:
    def side(merged: MergedEvidence) -> diff.Side:
        sha = merged.reports[-1].registry_sha256
        return diff.Side(sha, merged.recorded_gate, merged.evidence.incomplete)

    return diff.compare(base.evidence, side(base), head.evidence, side(head))


def cmd_check(args: argparse.Namespace) -> int:
    merged = _load(args)
    evidence = merged.evidence
    if args.gate == "none":
        raise ParityError("--gate none judges nothing: check needs 'all' or a milestone")
    gate = gate_for(merged, args.gate) or decide_gate(evidence, "all", "--gate")
    # the baseline is read before anything is printed: bad input there is one error line
    baseline = _load(args, args.baseline, args.expect_baseline_reports) if args.baseline else None
    verbosity = args.verbose - args.quiet
    if verbosity >= 0:
        names = ", ".join(r.path for r in merged.reports)
        _out(
            f"evidence from {plural(len(merged.reports), 'report')} ({names}): "
            f"{plural(len(evidence.records), 'tagged test')}"
        )
    _out_ran_in_none(merged)
    source = f"(embedded in {merged.reports[-1].path})"
    for line in render_summary(evidence, gate, verbosity, source=source):
        _out(_colored(line))
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        _append_to_step_summary(render_step_summary(evidence, gate))
    ratchet_holds = True
    if baseline is not None:
        changes = _diff(baseline, merged)
        for line in diff.ratchet_lines(changes, ", ".join(args.baseline)):
            _out(_colored(line))
        ratchet_holds = changes.base.incomplete is None and not changes.of("regressed")
    return EXIT_OK if gate.passed and ratchet_holds else EXIT_FAILED


def _links(args: argparse.Namespace) -> SourceLinks | None:
    if args.source_url is None:
        return None
    return SourceLinks.parse(args.source_url, args.source_sha or commit_from_env(), "--source-url")


def cmd_html(args: argparse.Namespace) -> int:
    links = _links(args)
    merged = _load(args)
    stamp = max(report.timestamp for report in merged.reports)
    info = PageInfo(stamp, len(merged.reports), links)
    write_page(args.output, merged.evidence, gate_for(merged, args.gate), info)
    _out(f"wrote {args.output}: {plural(len(merged.evidence.results), 'invariant')}")
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    base = _load(args, args.base, args.expect_base_reports)
    head = _load(args)
    changes = _diff(base, head)
    if args.format == "json":
        text = diff.render_json(changes)
    elif args.format == "markdown":
        text = diff.render_markdown(changes)
        _append_to_step_summary(text)  # does nothing unless GITHUB_STEP_SUMMARY is set
    else:
        text = diff.render_text(changes)
    if args.output is not None:
        atomic_write(args.output, text.encode("utf-8"))
    else:
        _out(text, end="")
    if args.fail_on == "never":
        return EXIT_OK
    failed = changes.incomplete or changes.of("regressed")
    if args.fail_on == "any":
        failed = failed or changes.changes
    return EXIT_FAILED if failed else EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    merged = _load(args)
    if merged.distinct < args.expect_reports:
        print(
            f"{PROG}: {fewer_reports(merged.distinct, args.expect_reports)}; nothing written",
            file=sys.stderr,
        )
        return EXIT_FAILED
    evidence = merged.evidence
    write_report(args.output, evidence, gate_for(merged, args.gate))
    _out_ran_in_none(merged)
    _out(
        f"wrote {args.output}: {plural(len(evidence.results), 'invariant')}, "
        f"{plural(len(evidence.records), 'tagged test')} "
        f"from {plural(len(merged.reports), 'report')}"
    )
    return EXIT_OK


def cmd_matrix(args: argparse.Namespace) -> int:
    doc = args.update if args.update is not None else args.check
    if doc is not None and args.format != "markdown":
        option = "--update" if args.update is not None else "--check"
        raise ParityError(f"{option} works on Markdown documents only, not with --format json")
    links = _links(args)
    if doc is not None and links is not None and links.changes_with_each_commit:
        raise ParityError(
            "--source-url: a template naming {sha} or {line} would put the document out "
            "of date with every commit; --update and --check need one that does not "
            "(e.g. https://github.com/OWNER/REPO/blob/main/{path})"
        )
    merged = _load(args)
    gate = gate_for(merged, args.gate)
    if args.format == "json":
        text = render_json(merged.evidence, gate)
    else:
        text = render_markdown(merged.evidence, links)
    if doc is not None:
        try:
            with open(doc, "rb") as fh:
                # surrogateescape: bytes that are not UTF-8 survive the round trip unchanged
                current = fh.read().decode("utf-8", "surrogateescape")
        except OSError as exc:
            raise ParityError(f"{doc}: cannot read: {exc.strerror or exc}") from None
        expected = replace_block(current, "\n" + text + "\n", source=doc)
    if args.output is not None:
        atomic_write(args.output, text.encode("utf-8"))
    elif doc is None:
        _out(text, end="")
    if doc is None:
        return EXIT_OK
    if expected == current:
        _out(f"{doc}: parity matrix is up to date")
        return EXIT_OK
    if args.update is not None:
        atomic_write(doc, expected.encode("utf-8", "surrogateescape"))
        _out(f"{doc}: parity matrix updated")
        return EXIT_OK
    _out(
        f"{doc}: parity matrix is out of date; regenerate it with "
        f"`{PROG} matrix REPORT... --update {doc}`"
    )
    for line in difflib.unified_diff(
        current.splitlines(),
        expected.splitlines(),
        f"{doc} (current)",
        f"{doc} (expected)",
        lineterm="",
    ):
        _out(line)
    return EXIT_FAILED


# -- the parser -----------------------------------------------------------------------------


def _report_count(value: str) -> int:
    """``--expect-reports``: a whole number of at least 1."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def _add_common(sub: argparse.ArgumentParser, *, expect_reports: bool = False) -> None:
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
    if expect_reports:
        sub.add_argument(
            "--expect-reports",
            type=_report_count,
            default=1,
            metavar="N",
            help="the number of shard reports there must be: fewer distinct ones (by "
            "content) fail (a shard that crashed before writing its report proves nothing)",
        )


def _add_links(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--source-url",
        metavar="TEMPLATE",
        default=None,
        help="link tests and invariants to the source: a URL naming {path}, and maybe "
        "{line} and {sha}, e.g. https://github.com/OWNER/REPO/blob/{sha}/{path}#L{line}",
    )
    sub.add_argument(
        "--source-sha",
        metavar="SHA",
        default=None,
        help=f"the commit for {{sha}} (default: ${', $'.join(SHA_VARIABLES)}, the first set)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Re-check, merge and tabulate pytest-parity evidence reports.",
        epilog="exit codes: 0 ok, 1 gate failed or an invariant regressed (check), reports "
        "missing (merge), document out of date (matrix --check), a regression (diff), 2 bad "
        "input or usage error",
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
    _add_common(check, expect_reports=True)
    check.add_argument(
        "--gate",
        default=None,
        metavar="SCOPE",
        help="'all' or a milestone (it and every earlier one); default: the widest scope "
        "the reports recorded, else 'all'",
    )
    check.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="BASE",
        help="the ratchet: also fail when any invariant proven (or waived) in these "
        "evidence reports (e.g. the main branch's) is no longer, in or out of the gate's "
        "scope; repeat for shards",
    )
    check.add_argument(
        "--expect-baseline-reports",
        type=_report_count,
        default=1,
        metavar="N",
        help="as --expect-reports, for the --baseline reports",
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
        "gate scope given with --gate, else the widest one the inputs recorded, and that "
        "gate's verdict; merge itself exits 0 whatever the verdict (use check).",
    )
    _add_common(merge, expect_reports=True)
    merge.add_argument("-o", "--output", required=True, metavar="OUT", help="report to write")
    merge.add_argument(
        "--gate", default=None, metavar="SCOPE", help="gate scope to record, or 'none'"
    )
    merge.set_defaults(handler=cmd_merge)

    matrix = subs.add_parser(
        "matrix",
        help="render the parity matrix (Markdown or JSON); keep a document's copy current",
        description="Render the parity matrix: one row per declared invariant with its "
        "milestone, ID, title, status and evidence. Exit 0 whatever the statuses.",
    )
    _add_common(matrix)
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
        help="JSON: the gate scope to report, or 'none' (default: the widest one the "
        "reports recorded)",
    )
    _add_links(matrix)
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

    page = subs.add_parser(
        "html",
        help="write the parity page: one self-contained HTML file",
        description="Write the parity page: one self-contained HTML file (nothing loaded "
        "from anywhere) with the gate, per-milestone progress and every invariant's "
        "evidence, filterable, linked to the source with --source-url. Exit 0 whatever "
        "the statuses.",
    )
    _add_common(page)
    page.add_argument("-o", "--output", required=True, metavar="PAGE", help="page to write")
    page.add_argument(
        "--gate",
        default=None,
        metavar="SCOPE",
        help="the gate to show, or 'none' (default: the widest scope the reports recorded)",
    )
    _add_links(page)
    page.set_defaults(handler=cmd_html)

    compare = subs.add_parser(
        "diff",
        help="what a change does to the invariants: BASE evidence against HEAD evidence",
        description="Compare the evidence of BASE (--base) with that of HEAD (the "
        "positional reports), invariant by invariant: regressed, improved, added, removed, "
        "moved, redefined, proof changed; and proven/total per milestone. The two sides may "
        "come from different registries. Exit 1 when what --fail-on names happened (or "
        "either side cannot vouch for its evidence), else 0; 2 on bad input.",
    )
    _add_common(compare, expect_reports=True)
    compare.add_argument(
        "--base",
        action="append",
        required=True,
        metavar="BASE",
        help="an evidence report of the base (e.g. the main branch); repeat for shards",
    )
    compare.add_argument(
        "--expect-base-reports",
        type=_report_count,
        default=1,
        metavar="N",
        help="as --expect-reports, for the --base reports",
    )
    compare.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="default: text; markdown is a pull-request comment, also appended to "
        "$GITHUB_STEP_SUMMARY when that is set",
    )
    compare.add_argument(
        "-o", "--output", default=None, metavar="FILE", help="write here instead of stdout"
    )
    compare.add_argument(
        "--fail-on",
        choices=("regression", "any", "never"),
        default="regression",
        help="exit 1 on a regression (default), on any change, or never",
    )
    compare.set_defaults(handler=cmd_diff)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console script; returns the exit code (never raises for user errors)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    handler: Callable[[argparse.Namespace], int] = args.handler
    # any text a report holds (lone surrogates too) prints, on any stdout encoding
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        code = handler(args)
    except ParityError as exc:
        message = " ".join(str(exc).splitlines())
        print(f"{PROG}: error: {message}", file=sys.stderr)
        code = EXIT_BAD_INPUT
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
    return code
