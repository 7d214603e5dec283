"""The ``pytest-parity`` console script: its command line, and the entry point.

Subcommands: ``check``, ``merge``, ``matrix``, ``html``, ``diff`` and ``ingest``; what
each does is in :mod:`.commands`.

Exit codes: 0 success (``check``: the gate holds); 1 ``check``: the gate fails or an
invariant regressed against ``--baseline``, ``merge``: reports are missing, ``matrix
--check``: the document is out of date, ``diff``: what ``--fail-on`` names happened; 2 bad
input or usage (one line on stderr, ``pytest-parity: error: ...``, nothing written).
"""

from __future__ import annotations

import argparse
import io
import sys
from typing import TYPE_CHECKING

from . import __version__
from .commands import (
    EXIT_BAD_INPUT,
    PROG,
    cmd_check,
    cmd_diff,
    cmd_html,
    cmd_ingest,
    cmd_matrix,
    cmd_merge,
    stdout_to_devnull,
)
from .ingest import DEFAULT_ID, ID_FIELDS
from .links import SHA_VARIABLES
from .merge import MIXED_FLAG, MergedEvidence, load_evidence
from .model import FLAKY_POLICIES, ParityError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    #: what ``add_subparsers`` returns (argparse names no public type for it)
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]


__all__ = ["MergedEvidence", "load_evidence", "main"]


# -- the parser -----------------------------------------------------------------------------


def _suite(value: str) -> tuple[str, str]:
    """``--suite M=GLOB``."""
    milestone, sep, glob = value.partition("=")
    if not (sep and milestone and glob):
        raise argparse.ArgumentTypeError(f"expected M=GLOB, got {value!r}")
    return milestone, glob


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
        description="Re-check, merge, tabulate, compare and render pytest-parity evidence "
        "reports, and make them from other test runners' JUnit XML.",
        epilog="exit codes: 0 ok, 1 gate failed or an invariant regressed (check), reports "
        "missing (merge), document out of date (matrix --check), a regression (diff), 2 bad "
        "input or usage error",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_check(subs)
    _add_merge(subs)
    _add_matrix(subs)
    _add_html(subs)
    _add_diff(subs)
    _add_ingest(subs)
    return parser


def _add_check(subs: Subcommands) -> None:
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


def _add_merge(subs: Subcommands) -> None:
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


def _add_matrix(subs: Subcommands) -> None:
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


def _add_html(subs: Subcommands) -> None:
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


def _add_diff(subs: Subcommands) -> None:
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


def _add_ingest(subs: Subcommands) -> None:
    runner = subs.add_parser(
        "ingest",
        help="an evidence report from any test runner's JUnit XML",
        description="Write an evidence report from other test runners' JUnit XML files "
        "(cargo, node, GoogleTest, pytest --junitxml, ...): each test case is named by "
        "--id, matched against the registry's `tests` globs (and --suite globs), and "
        "recorded with its outcome. The report merges with pytest's (merge, check, "
        "matrix, diff, html). Exit 0 when it is written, 2 on bad input.",
    )
    runner.add_argument(
        "junit", nargs="+", metavar="JUNIT", help="a JUnit XML file (one or more documents)"
    )
    runner.add_argument(
        "--registry", required=True, metavar="PATH", help="the registry (TOML) to map onto"
    )
    runner.add_argument("-o", "--output", required=True, metavar="EVIDENCE", help="report to write")
    runner.add_argument(
        "--id",
        default=DEFAULT_ID,
        metavar="FORMAT",
        help=f"how a test case is named, from {', '.join('{' + f + '}' for f in ID_FIELDS)} "
        f"(default: {DEFAULT_ID})",
    )
    runner.add_argument(
        "--prefix",
        default="",
        metavar="TEXT",
        help="put before every ID (e.g. rust/), so that IDs of different runners cannot collide",
    )
    runner.add_argument(
        "--suite",
        action="append",
        default=[],
        type=_suite,
        metavar="M=GLOB",
        help="test cases whose ID matches GLOB are milestone M's gate suite (repeatable)",
    )
    runner.add_argument(
        "--expect-documents",
        type=_report_count,
        default=0,
        metavar="N",
        help="the JUnit documents there must be (cargo: one per test binary); fewer make "
        "the evidence incomplete (a test binary that crashed writes none)",
    )
    runner.add_argument(
        "--flaky",
        choices=FLAKY_POLICIES,
        default=None,
        help="the policy the report records for tests that passed only on a rerun (default: fail)",
    )
    runner.set_defaults(handler=cmd_ingest)


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
        stdout_to_devnull()
    return code
