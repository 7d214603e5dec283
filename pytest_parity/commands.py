"""What each ``pytest-parity`` subcommand does (:mod:`.cli` parses the command line).

A thin adapter over the pure modules: commands load evidence reports (:mod:`.merge`:
read, merged, re-evaluated; statuses stored in the reports are never trusted), then
print, write or render. Each returns its exit code; bad input raises ParityError.
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import diff
from .evidence import decide_gate
from .files import atomic_write
from .ingest import IdFormat, ingest, read_junit
from .links import SourceLinks, commit_from_env, repo_path
from .matrix import render_json, render_markdown, render_step_summary, replace_block
from .merge import MergedEvidence, fewer_reports, gate_for, load_evidence
from .model import ParityError, grouped, plural
from .page import PageInfo, write_page
from .registry import load_registry
from .report import write_report
from .summary import Line, render_summary

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "PROG", "stdout_to_devnull"]

PROG = "pytest-parity"
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


# -- output ---------------------------------------------------------------------------------


def _out(text: str = "", end: str = "\n") -> None:
    """Print to stdout; once the reader is gone (``| head``), print nothing more."""
    try:
        sys.stdout.write(text + end)
    except BrokenPipeError:
        stdout_to_devnull()


def _note(text: str) -> None:
    """What a command that writes a file says about it: on stderr, since that file may
    be stdout (``-o /dev/stdout``)."""
    print(text, file=sys.stderr)


def stdout_to_devnull() -> None:
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


def _out_ran_in_none(merged: MergedEvidence, say: Callable[[str], None] = _out) -> None:
    lost = merged.ran_in_none()
    if lost:
        names = grouped(lost, list(merged.evidence.records.values()))
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        say(
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


def _refuse_overwriting(output: str | None, inputs: list[str]) -> None:
    """An output at the path of an input (the registry, a report, a runner file) would
    replace what the command reads: refused before anything is read."""
    if output is None:
        return
    for name in inputs:
        try:
            same = os.path.samefile(output, name) and os.path.isfile(name)
        except (OSError, ValueError):  # either does not exist (yet)
            continue
        if same:
            raise ParityError(f"{output}: is also an input ({name}); write the output elsewhere")


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
    _refuse_overwriting(args.output, args.reports)
    merged = _load(args)
    stamp = max(report.timestamp for report in merged.reports)
    info = PageInfo(stamp, len(merged.reports), links)
    write_page(args.output, merged.evidence, gate_for(merged, args.gate), info)
    _note(f"wrote {args.output}: {plural(len(merged.evidence.results), 'invariant')}")
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    _refuse_overwriting(args.output, [*args.base, *args.reports])
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
    _refuse_overwriting(args.output, args.reports)
    merged = _load(args)
    if merged.distinct < args.expect_reports:
        print(
            f"{PROG}: {fewer_reports(merged.distinct, args.expect_reports)}; nothing written",
            file=sys.stderr,
        )
        return EXIT_FAILED
    evidence = merged.evidence
    write_report(args.output, evidence, gate_for(merged, args.gate))
    _out_ran_in_none(merged, _note)
    _note(
        f"wrote {args.output}: {plural(len(evidence.results), 'invariant')}, "
        f"{plural(len(evidence.records), 'tagged test')} "
        f"from {plural(len(merged.reports), 'report')}"
    )
    return EXIT_OK


def cmd_matrix(args: argparse.Namespace) -> int:
    _refuse_overwriting(args.output, args.reports)
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


def cmd_ingest(args: argparse.Namespace) -> int:
    ids = IdFormat(args.id, args.prefix)
    _refuse_overwriting(args.output, [args.registry, *args.junit])
    registry = load_registry(Path(args.registry))
    registry.file = repo_path(args.registry, os.curdir)
    runner_files = [read_junit(path) for path in args.junit]
    result = ingest(
        runner_files,
        registry,
        ids=ids,
        suites=args.suite,
        flaky=args.flaky or "fail",
        expect_documents=args.expect_documents,
    )
    for warning in result.warnings():
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    evidence = result.evidence
    write_report(args.output, evidence, None, ingested=result.provenance())
    cases = sum(len(found.cases) for found in runner_files)
    documents = sum(found.documents for found in runner_files)
    _note(
        f"wrote {args.output}: {plural(len(evidence.records), 'tagged test')} of "
        f"{plural(cases, 'test case')} in {plural(documents, 'document')} of "
        f"{plural(len(runner_files), 'file')}"
    )
    if evidence.incomplete is not None:
        _note(f"incomplete: {evidence.incomplete}")
    return EXIT_OK
