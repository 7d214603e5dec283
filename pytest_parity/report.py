"""The JUnit-XML evidence report: build it from the evidence, and write it.

The document is valid against junit-10.xsd (the schema pytest and Jenkins' xunit plugin
validate against): one ``<testsuite>`` per declared milestone, one ``<testcase>`` per
declared invariant, so every CI system shows the invariants like tests. The first
suite's ``<properties>`` also carry the machine-readable evidence (the registry, and one
``parity.test`` per tagged test) that :mod:`pytest_parity.reader` reads back. The README
("The evidence report") describes the format for users.

Built with junitparser and serialized once; deterministic (the same evidence and
timestamp give the same bytes).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from typing import TYPE_CHECKING, Any

from junitparser import (
    Failure,
    JUnitXml,
    Properties,
    Property,
    Skipped,
    SystemOut,
    TestCase,
    TestSuite,
)

from . import __version__
from .files import atomic_output
from .model import Grouping, report_timestamp, visible
from .summary import gate_line

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .model import Evidence, GateResult, InvariantResult, TestRecord

__all__ = ["build_report", "write_report", "xml_safe"]

#: the version of the machine-readable part (1: one ``parity.test`` per test; 2: below)
FORMAT = "2"

# The properties every suite carries, and (registry, invariants, tests) those only the
# first one carries.
P_FORMAT = "parity.format"
P_VERSION = "parity.version"
P_SHA = "parity.registry.sha256"
P_GATE = "parity.gate"
P_GATE_RESULT = "parity.gate.result"
P_FLAKY = "parity.flaky"
P_TIMESTAMP = "parity.timestamp"
P_TITLE = "parity.milestone.title"
P_INCOMPLETE = "parity.incomplete"
P_TAGS_LOST = "parity.tags-lost"
P_REGISTRY = "parity.registry"
P_INVARIANTS = "parity.invariants"
P_TESTS = "parity.tests"
P_REGISTRY_FILE = "parity.registry.file"
#: the runner files a report of ``pytest-parity ingest`` was made from
P_INGESTED = "parity.ingested"
#: how many tests one ``parity.tests`` property holds at most
TESTS_PER_PROPERTY = 1000
#: format 1's one property per test, ``[nodeid, outcome, [invariants], [milestones]]``;
#: format 2's ``parity.tests`` holds one such array per test, with reason, file and line added
P_TEST = "parity.test"

#: characters XML 1.0 does not allow anywhere, not even as character references (in a
#: Python str every surrogate code point is a lone surrogate)
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

#: JSON as the report embeds it: compact and ASCII, so it is XML-safe and reads back exactly
_json = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids replaced by ``\\xNN`` / ``\\uNNNN``."""
    return _FORBIDDEN.sub(visible, text)


def _test_data(rec: TestRecord) -> tuple[Any, ...]:
    # an array, not an object: the keys repeated 100,000 times (each quote escaped in the
    # XML attribute) would make up half the report (tuples encode as JSON arrays)
    return (rec.nodeid, rec.outcome, rec.invariants, rec.milestones, rec.reason, rec.file, rec.line)


def test_lines(records: Sequence[TestRecord], among: Sequence[TestRecord]) -> list[str]:
    """``  <outcome>  <node ID>  (<reason>)`` per test, parametrized instances of one
    function with the same outcome and reason grouped (``test_y[*] (3 of 5)``)."""
    groups: dict[tuple[str, str], list[TestRecord]] = {}
    for rec in records:
        groups.setdefault((rec.outcome, rec.reason), []).append(rec)
    lines = []
    grouping = Grouping(among)
    for (outcome, reason), members in groups.items():
        for name in grouping.names(members):
            lines.append(f"  {outcome:<8}{name}" + (f"  ({reason})" if reason else ""))
    return lines


def _testcase(result: InvariantResult, classname: str, gated: bool) -> Any:
    """The ``<testcase>`` of one invariant: passing when it is proven, ``<failure>`` when
    the gate fails on it, ``<skipped>`` otherwise (waived, or not gated); the text says
    why and lists the tests naming it."""
    inv = result.invariant
    case: Any = TestCase(xml_safe(inv.id), classname)
    case.time = 0
    tests = result.tests
    lines = [f"{inv.id}: {inv.title}", *([result.reason] if result.reason else [])]
    if inv.waiver is not None and result.waiver_expired:
        lines.append(f"waiver expired: {inv.waiver.reason} (until {inv.waiver.until})")
    if result.waiver_note:
        lines.append(f"note: {result.waiver_note}")
    if result.status == "proven":
        proving = result.proving
        if any(t.outcome == "flaky" for t in proving):
            lines.append("note: a proof marked flaky passed only on a rerun")
        lines += [f"proving tests ({len(proving)}):", *test_lines(proving, tests)]
        others = [t for t in tests if t.outcome not in ("passed", "flaky")]
        if others:
            lines += [f"other tests naming it ({len(others)}):", *test_lines(others, tests)]
        case.append(SystemOut(xml_safe("\n".join(lines))))
        return case
    element: Skipped | Failure
    if result.status == "waived":
        why = (
            result.reason
            if inv.waiver is None
            else f"{inv.waiver.reason} (until {inv.waiver.until})"
        )
        element = Skipped(xml_safe(f"waived: {why.removeprefix('waived: ')}"), "parity.waived")
    else:  # failed, missing, not-run; an expired waiver waives nothing and lands here
        message = result.reason or result.status
        if inv.waiver is not None and result.waiver_expired and "expired" not in message:
            message += f" (waiver expired on {inv.waiver.until})"
        if gated:
            element = Failure(xml_safe(message), f"parity.{result.status}")
        else:
            element = Skipped(xml_safe(f"not gated: {message}"), f"parity.{result.status}")
        if not tests and not result.reason.startswith("no collected test names it"):
            lines.append("no collected test names it")
        if not tests and inv.tests:
            lines += ["`tests` globs that matched nothing:", *(f"  {glob}" for glob in inv.tests)]
    if tests:
        # the tests that kept it from being proven first, then the passing ones
        bad = [t for t in tests if t.outcome != "passed"]
        good = [t for t in tests if t.outcome == "passed"]
        lines.append(f"tests naming it ({len(tests)}, min_tests = {inv.min_tests}):")
        lines += test_lines(bad, tests) + test_lines(good, tests)
    element.text = xml_safe("\n".join(lines))
    case.append(element)
    return case


def _gate_case(gate: GateResult) -> Any:
    """The gate verdict as a test case of its own, so that the CI view agrees with it."""
    case: Any = TestCase(xml_safe(gate.scope), "parity.gate")
    case.time = 0
    verdict = gate_line(gate).text
    if gate.not_evaluated is not None:
        case.append(Skipped(xml_safe(gate.not_evaluated), "parity.not-evaluated"))
    elif gate.passed:
        scope = ", ".join(gate.milestones)
        case.append(
            SystemOut(xml_safe(f"{verdict}: every invariant of {scope} is proven or waived"))
        )
    else:
        lines = [
            f"{r.invariant.id} [{r.invariant.milestone}] {r.status}: {r.reason}"
            for r in gate.blocking
        ]
        lines += [
            f"milestone {'/'.join(rec.milestones)} suite test {rec.outcome}: {rec.nodeid}"
            for rec in gate.failed_suite_tests
        ]
        failure = Failure(xml_safe(verdict.partition("FAILED, ")[2]), "parity.gate")
        failure.text = xml_safe("\n".join(lines))
        case.append(failure)
    return case


def build_report(
    evidence: Evidence,
    gate: GateResult | None,
    timestamp: dt.datetime,
    ingested: Sequence[Mapping[str, Any]] = (),
) -> Any:
    """The evidence report as a junitparser ``JUnitXml`` document; ``ingested`` names the
    runner files ``pytest-parity ingest`` read it from."""
    registry = evidence.registry
    if timestamp.tzinfo is None:  # a naive timestamp is taken to be UTC
        timestamp = timestamp.replace(tzinfo=dt.timezone.utc)
    stamp = timestamp.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat()
    common = [
        (P_FORMAT, FORMAT),
        (P_VERSION, __version__),
        (P_SHA, registry.sha256()),
        (P_GATE, "none" if gate is None else gate.scope),
        (P_GATE_RESULT, "none" if gate is None else gate.verdict),
        (P_FLAKY, evidence.flaky),
        (P_TIMESTAMP, stamp),
    ]
    run = [(P_INCOMPLETE, evidence.incomplete)] if evidence.incomplete is not None else []
    if evidence.tags_lost:
        run.append((P_TAGS_LOST, "true"))
    gated = set(gate.milestones) if gate is not None else set()
    root: Any = JUnitXml("pytest-parity")
    root.tests = root.failures = root.errors = 0
    suites = [(f"parity.{m.id}", m.title) for m in registry.milestones]
    for index, (name, title) in enumerate([*suites, *([("parity.gate", "")] if gate else [])]):
        suite: Any = TestSuite(xml_safe(name))
        properties: Any = Properties()  # type: ignore[no-untyped-call]
        extra = [] if name == "parity.gate" else [(P_TITLE, title)]
        for key, value in [*common, *extra, *run]:
            properties.append(Property(key, xml_safe(value)))
        if index == 0:
            properties.append(Property(P_REGISTRY, _json(registry.to_data())))
            invariants = {
                inv.id: {"sha256": inv.content_sha256, "line": inv.line}
                for inv in registry.invariants.values()
            }
            properties.append(Property(P_INVARIANTS, _json(invariants)))
            tests = sorted(evidence.records)
            # in chunks: libxml2 (lxml, xmllint, many CI servers) refuses an attribute
            # value over 10 MB unless told otherwise
            for start in range(0, len(tests), TESTS_PER_PROPERTY):
                chunk = tests[start : start + TESTS_PER_PROPERTY]
                data = [_test_data(evidence.records[nodeid]) for nodeid in chunk]
                properties.append(Property(P_TESTS, _json(data)))
            if registry.file is not None:
                properties.append(Property(P_REGISTRY_FILE, xml_safe(registry.file)))
            if ingested:
                properties.append(Property(P_INGESTED, _json(list(ingested))))
        suite.append(properties)
        if name == "parity.gate":
            assert gate is not None
            cases = [_gate_case(gate)]
        else:
            milestone = registry.milestones[index].id
            results = [r for r in evidence.results.values() if r.invariant.milestone == milestone]
            cases = [_testcase(r, suite.name, milestone in gated) for r in results]
        for case in cases:
            suite.append(case)
        suite.tests = len(cases)
        suite.failures = sum(1 for c in cases for r in c if isinstance(r, Failure))
        suite.errors = 0
        suite.skipped = sum(1 for c in cases for r in c if isinstance(r, Skipped))
        suite.time = 0
        suite.timestamp = stamp
        root.append(suite)
        root.tests += suite.tests
        root.failures += suite.failures
    return root


def write_report(
    path: str | os.PathLike[str],
    evidence: Evidence,
    gate: GateResult | None,
    *,
    timestamp: dt.datetime | None = None,
    ingested: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Write the evidence report to ``path`` (see :func:`~pytest_parity.files.atomic_output`).

    ``timestamp`` defaults to :func:`report_timestamp`.
    """
    if timestamp is None:
        timestamp = report_timestamp()
    document = build_report(evidence, gate, timestamp, ingested)
    with atomic_output(path, what="the evidence report") as fh:
        document.write(fh)
