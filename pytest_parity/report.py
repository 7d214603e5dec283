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
from .model import report_timestamp, visible

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .model import Evidence, GateResult, InvariantResult, TestRecord

__all__ = ["build_report", "write_report", "xml_safe"]

# The properties every suite carries, and (registry, tests) those only the first carries.
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
P_TEST = "parity.test"

#: characters XML 1.0 does not allow anywhere, not even as character references (in a
#: Python str every surrogate code point is a lone surrogate)
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

#: JSON as the report embeds it: compact and ASCII, so it is XML-safe and reads back exactly
_json = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids replaced by ``\\xNN`` / ``\\uNNNN``."""
    return _FORBIDDEN.sub(visible, text)


def _test_lines(records: Iterable[TestRecord]) -> list[str]:
    return [f"  {rec.outcome:<8}{rec.nodeid}" for rec in records]


def _testcase(result: InvariantResult, classname: str) -> Any:
    """The ``<testcase>`` of one invariant: passing when it is proven, ``<skipped>`` when
    waived, ``<failure>`` otherwise; the text says why and lists the tests naming it."""
    inv = result.invariant
    case: Any = TestCase(xml_safe(inv.id), classname)
    case.time = 0
    lines = [f"{inv.id}: {inv.title}", *([result.reason] if result.reason else [])]
    if inv.waiver is not None and result.waiver_expired:
        lines.append(f"waiver expired: {inv.waiver.reason} (until {inv.waiver.until})")
    if result.status == "proven":
        proving = result.proving
        flaky = sum(1 for t in proving if t.outcome == "flaky")
        if flaky:
            lines.append(f"note: {flaky} flaky proof(s): passed only on a rerun")
        lines += [f"proving tests ({len(proving)}):", *_test_lines(proving)]
        others = [t for t in result.tests if t.outcome not in ("passed", "flaky")]
        if others:
            lines += [f"other tests naming it ({len(others)}):", *_test_lines(others)]
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
        if result.tests:
            lines += [f"tests naming it ({len(result.tests)}):", *_test_lines(result.tests)]
    else:  # failed, missing, not-run; an expired waiver waives nothing and lands here
        message = result.reason or result.status
        if inv.waiver is not None and result.waiver_expired and "expired" not in message:
            message += f" (waiver expired on {inv.waiver.until})"
        element = Failure(xml_safe(message), f"parity.{result.status}")
        if result.tests:
            # the tests that kept it from being proven first, then the passing ones
            bad = [t for t in result.tests if t.outcome != "passed"]
            good = [t for t in result.tests if t.outcome == "passed"]
            lines.append(f"tests naming it ({len(result.tests)}, min_tests = {inv.min_tests}):")
            lines += _test_lines(bad) + _test_lines(good)
        else:
            if not result.reason.startswith("no collected test names it"):
                lines.append("no collected test names it")
            if inv.tests:
                lines.append("`tests` globs that matched nothing:")
                lines += [f"  {glob}" for glob in inv.tests]
    element.text = xml_safe("\n".join(lines))
    case.append(element)
    return case


def build_report(evidence: Evidence, gate: GateResult | None, timestamp: dt.datetime) -> Any:
    """The evidence report as a junitparser ``JUnitXml`` document."""
    registry = evidence.registry
    if timestamp.tzinfo is None:  # a naive timestamp is taken to be UTC
        timestamp = timestamp.replace(tzinfo=dt.timezone.utc)
    stamp = timestamp.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat()
    common = [
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
    root: Any = JUnitXml("pytest-parity")
    root.tests = root.failures = root.errors = 0
    for index, milestone in enumerate(registry.milestones):
        results = [r for r in evidence.results.values() if r.invariant.milestone == milestone.id]
        suite: Any = TestSuite(xml_safe(f"parity.{milestone.id}"))
        suite.tests = len(results)
        suite.failures = sum(1 for r in results if r.status not in ("proven", "waived"))
        suite.errors = 0
        suite.skipped = sum(1 for r in results if r.status == "waived")
        suite.time = 0
        suite.timestamp = stamp
        properties: Any = Properties()  # type: ignore[no-untyped-call]
        for name, value in [*common, (P_TITLE, milestone.title), *run]:
            properties.append(Property(name, xml_safe(value)))
        if index == 0:
            properties.append(Property(P_REGISTRY, _json(registry.to_data())))
            for _, rec in sorted(evidence.records.items()):
                test = [rec.nodeid, rec.outcome, list(rec.invariants), list(rec.milestones)]
                properties.append(Property(P_TEST, _json(test)))
        suite.append(properties)
        for result in results:
            suite.append(_testcase(result, suite.name))
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
) -> None:
    """Write the evidence report to ``path`` (see :func:`~pytest_parity.files.atomic_output`).

    ``timestamp`` defaults to :func:`report_timestamp`.
    """
    if timestamp is None:
        timestamp = report_timestamp()
    document = build_report(evidence, gate, timestamp)
    with atomic_output(path, what="the evidence report") as fh:
        document.write(fh)
