"""The JUnit-XML evidence report: write it (plugin, ``merge``) and read it back (CLI).

The document (one ``<testsuite>`` per declared milestone, one ``<testcase>`` per declared
invariant) is valid against junit-10.xsd, the schema pytest and Jenkins' xunit plugin use.
The first suite's ``<properties>`` also carry the machine-readable evidence: the registry
as JSON (``parity.registry``) and one ``parity.test`` property per tagged test. Reading
needs only those, so reports can be merged and re-evaluated without the test run. The
format is described for users in the README ("The evidence report").

Writing is deterministic (same inputs and timestamp, same bytes), linear in the number of
tests and invariants, and atomic. Reading refuses anything that is not such a report with
one :class:`~pytest_parity.model.ParityError` line naming the file, in bounded time and
memory: no DTD is ever processed, and files over :data:`MAX_REPORT_BYTES` are refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import stat
from itertools import chain, compress, repeat
from operator import is_
from typing import IO, TYPE_CHECKING, Any, NamedTuple, NoReturn

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
from .files import atomic_write, os_reason
from .model import (
    FLAKY_POLICIES,
    OUTCOMES,
    Evidence,
    FlakyPolicy,
    GateResult,
    InvariantResult,
    ParityError,
    Registry,
    TestRecord,
    Waiver,
    by_nodeid,
    gc_paused,
    outcome_of,
    visible,
)
from .registry import registry_from_data

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = [
    "MAX_REPORT_BYTES",
    "LoadedReport",
    "build_report_xml",
    "read_report",
    "report_timestamp",
    "write_report",
    "xml_safe",
]

#: Reading refuses larger files (a real report of a million tests is ~200 MiB).
MAX_REPORT_BYTES = 512 * 1024 * 1024

_XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
_SUITE_PREFIX = "parity."
#: the ``<testsuite>`` that carries the properties when no milestone is declared
_NO_MILESTONE_SUITE = "parity"
_GATE_RESULTS = ("passed", "failed", "not-evaluated", "none")
_FAILING = ("failed", "missing", "not-run")
_READ_CHUNK = 1 << 20

# Properties every suite carries, and those only the first suite carries.
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
_REQUIRED = (P_VERSION, P_SHA, P_GATE, P_GATE_RESULT, P_FLAKY, P_REGISTRY)

# -- XML safety ---------------------------------------------------------------------------

#: Characters XML 1.0 does not allow anywhere, not even as character references. In a
#: Python ``str`` every surrogate code point is a lone surrogate (UTF-8 cannot encode it).
#: (compiled by ``re`` on first use: most reports never need it)
_FORBIDDEN = "[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]"
#: the forbidden characters an ASCII text can hold
_FORBIDDEN_ASCII = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids replaced by ``\\xNN`` / ``\\uNNNN``."""
    # fast path for ASCII text (the usual report), several times quicker than the regex
    if text.isascii() and not _has_ascii_forbidden(text):
        return text
    if re.search(_FORBIDDEN, text) is None:
        return text
    return re.sub(_FORBIDDEN, visible, text)


def _has_ascii_forbidden(text: str) -> bool:
    data = text.encode("ascii")
    return len(data.translate(None, _FORBIDDEN_ASCII)) != len(data)


def _escape_text(text: str) -> str:
    """Escape markup characters (``text`` is XML-safe already: see :func:`xml_safe`)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:  # also keeps "]]>" out of character data
        text = text.replace(">", "&gt;")
    if "\r" in text:  # a raw CR would be read back as LF
        text = text.replace("\r", "&#13;")
    return text


def _escape_attr(text: str) -> str:
    text = _escape_text(text)
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "\n" in text:  # raw whitespace in attributes is normalized to spaces by parsers
        text = text.replace("\n", "&#10;")
    if "\t" in text:
        text = text.replace("\t", "&#9;")
    return text


# -- timestamps ---------------------------------------------------------------------------


def report_timestamp() -> dt.datetime:
    """Now, in UTC; or ``SOURCE_DATE_EPOCH`` (seconds since the epoch) when it is set.

    An empty ``SOURCE_DATE_EPOCH`` counts as unset; any other value that is not a
    non-negative integer is a :class:`ParityError`.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not raw:
        return dt.datetime.now(dt.timezone.utc)
    value = raw.strip()
    try:
        if not value.isascii() or not value.isdigit():
            raise ValueError(value)
        return dt.datetime.fromtimestamp(int(value), tz=dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise ParityError(
            f"SOURCE_DATE_EPOCH: expected a non-negative integer number of seconds since "
            f"1970-01-01 UTC, got {raw!r}"
        ) from None


def _format_timestamp(timestamp: dt.datetime) -> str:
    """ISO 8601 in UTC to the second; a naive ``timestamp`` is taken to be UTC."""
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=dt.timezone.utc)
    return timestamp.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat()


# -- building -----------------------------------------------------------------------------


_JSON = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
#: JSON string literal, ASCII only (the C implementation json.dumps uses for str)
_json_str: Any = getattr(json.encoder, "c_encode_basestring_ascii", None) or (
    json.encoder.py_encode_basestring_ascii
)


#: records rendered per chunk of the test block: big enough to amortize each pass, small
#: enough for the chunk's strings to stay in the CPU cache (passes over one string of a
#: 100,000-test block made building superlinear)
_TEST_CHUNK = 1024
#: the ASCII characters that ASCII JSON escapes (controls, DEL, quote, backslash) and the
#: markup ones: an ASCII node ID without any of them is written as it is, between ``&quot;``
_PLAIN_UNSAFE = bytes(range(0x20)) + b'\x7f"\\&<>'


def _test_properties(records: list[TestRecord], indent: str) -> Iterator[str]:
    """The ``<property name="parity.test" .../>`` lines of ``records``, one per record,
    in chunks of :data:`_TEST_CHUNK` records.

    The value is ``[nodeid, outcome, [ids], [milestones]]`` exactly as ``_JSON`` would
    write it, escaped for a double-quoted attribute. This is the bulk of a big report, so
    it is rendered without an element per test, and the usual chunk without a Python step
    per test: when no node ID of the chunk needs escaping (ASCII, no control character,
    quote, backslash or markup character), each line is the node ID between a constant
    head and the rendered rest of its record, the rest rendered once per distinct
    (outcome, IDs, milestones), and the chunk is one C-level join. Other chunks go
    through :func:`_test_properties_escaped`.
    """
    head = f'{indent}<property name="{P_TEST}" value="[&quot;'
    json_str = _json_str
    lists: dict[tuple[str, ...], str] = {}

    def json_list(items: tuple[str, ...]) -> str:
        """``items`` as a JSON list, escaped for the attribute (shared by many tests)."""
        found = lists.get(items)
        if found is None:
            found = lists[items] = _escape_attr(f"[{','.join(map(json_str, items))}]")
        return found

    def rest(outcome: str, ids: tuple[str, ...], ms: tuple[str, ...]) -> str:
        """A line after its node ID."""
        return f'&quot;,{_escape_attr(json_str(outcome))},{json_list(ids)},{json_list(ms)}]"/>\n'

    # the rest of a line by (outcome, IDs, milestones); and by IDs, for each outcome, for
    # chunks of one outcome without milestone= tags (nearly all: the IDs tuples are shared
    # by the tests of one marker, so looking them up is mostly an identity check)
    rests: dict[tuple[str, tuple[str, ...], tuple[str, ...]], str] = {}
    rests_by_ids: dict[str, dict[tuple[str, ...], str]] = {}
    for start in range(0, len(records), _TEST_CHUNK):
        chunk = records[start : start + _TEST_CHUNK]
        nodeids, outcomes, invariants, milestones = zip(*chunk, strict=True)
        plain = " ".join(nodeids)
        if not plain.isascii() or len(plain.encode().translate(None, _PLAIN_UNSAFE)) != len(plain):
            yield _test_properties_escaped(chunk, indent)
            continue
        outcome = outcomes[0]
        table: dict[Any, str]
        keys: Iterable[Any]
        if outcomes.count(outcome) == len(chunk) and milestones.count(()) == len(chunk):
            keys = invariants
            table = rests_by_ids.setdefault(outcome, {})
        else:
            keys = list(zip(outcomes, invariants, milestones, strict=True))
            table = rests
        # one lookup per record; the keys not rendered yet (first seen in this chunk) are
        # rendered, and the chunk looked up again
        found: list[Any] = list(map(table.get, keys))
        if None in found:
            for key in set(compress(keys, map(is_, found, repeat(None)))):
                table[key] = rest(outcome, key, ()) if table is not rests else rest(*key)
            found = list(map(table.__getitem__, keys))
        yield "".join(chain.from_iterable(zip(repeat(head), nodeids, found)))


def _test_properties_escaped(records: list[TestRecord], indent: str) -> str:
    """:func:`_test_properties` for a chunk with node IDs that need escaping: each value
    rendered as JSON, the chunk's values joined by newlines (ASCII JSON never holds a raw
    one), escaped for a double-quoted attribute in one pass per markup character, and the
    newlines become the markup between the properties."""
    head = f'{indent}<property name="{P_TEST}" value="'
    end = '"/>\n'
    json_str = _json_str
    values = [
        f"[{json_str(nodeid)},{_JSON(outcome)},{_JSON(ids)},{_JSON(ms)}]"
        for nodeid, outcome, ids, ms in records
    ]
    body = "\n".join(values)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        if char in body:
            body = body.replace(char, entity)
    return head + body.replace("\n", end + head) + end


#: how each invariant's JSON object starts (to_data puts "id" first); in
#: ``_JSON(invariants)``, "," + this is where one ends and the next begins: a JSON
#: string never holds an unescaped quote, so no string can spell it
_INVARIANT_START = '{"id":'
_NEXT_INVARIANT = "," + _INVARIANT_START


def _registry_json_and_sha256(data: dict[str, Any]) -> tuple[str, str]:
    """``_JSON(data)`` and ``data_sha256(data)`` (for ``Registry.to_data()``), from one
    JSON encoding: the canonical form the hash covers is the same objects (to_data sorts
    their keys) with the invariants sorted by ID, so it is assembled from the pieces of
    the declared-order encoding instead of encoding the registry a second time."""
    milestones = _JSON(data["milestones"])
    invariants = _JSON(data["invariants"])
    pieces = invariants[1:-1].split(_NEXT_INVARIANT) if data["invariants"] else []
    objects = pieces[:1] + [_INVARIANT_START + piece for piece in pieces[1:]]
    by_id = sorted(zip((inv["id"] for inv in data["invariants"]), objects, strict=True))
    canonical = f'{{"invariants":[{",".join(o for _, o in by_id)}],"milestones":{milestones}}}'
    return (
        f'{{"milestones":{milestones},"invariants":{invariants}}}',
        hashlib.sha256(canonical.encode("ascii")).hexdigest(),
    )


def _gate_result(gate: GateResult | None) -> str:
    if gate is None:
        return "none"
    if gate.not_evaluated is not None:
        return "not-evaluated"
    return "passed" if gate.passed else "failed"


#: ``"  passed  "``: how a test's line in an invariant's text starts, by outcome
_LINE_PREFIX = {outcome: f"  {outcome:<8}" for outcome in OUTCOMES}


_PASSED_LINE = _LINE_PREFIX["passed"]
_PASSED_LINES = "\n" + _PASSED_LINE


def _test_lines(records: Iterable[TestRecord]) -> list[str]:
    return [_LINE_PREFIX[rec.outcome] + rec.nodeid for rec in records]


def _waiver_text(waiver: Waiver) -> str:
    return f"{waiver.reason} (until {waiver.until.isoformat()})"


def _testcase(result: InvariantResult, classname: str) -> Any:
    """The junitparser ``TestCase`` of one invariant (``classname``: XML-safe)."""
    inv = result.invariant
    waiver = inv.waiver
    expired = waiver if result.waiver_expired else None
    case: Any = TestCase(xml_safe(inv.id), classname)  # junitparser is untyped
    case.time = 0
    lines = [f"{inv.id}: {inv.title}"]
    if result.reason:
        lines.append(result.reason)
    if expired is not None:
        lines.append(f"waiver expired: {_waiver_text(expired)}")
    status = result.status
    if status == "proven":
        tests = result.tests
        if tests and list(map(outcome_of, tests)).count("passed") == len(tests):
            # the usual proof, every test passed: its lines in one C-level join
            lines.append(f"proving tests ({len(tests)}):")
            lines.append(_PASSED_LINE + _PASSED_LINES.join(map(by_nodeid, tests)))
        else:
            proving = result.proving
            flaky = sum(1 for t in proving if t.outcome == "flaky")
            if flaky:
                lines.append(f"note: {flaky} flaky proof(s): passed only on a rerun")
            lines.append(f"proving tests ({len(proving)}):")
            lines.extend(_test_lines(proving))
            others = [t for t in tests if t.outcome not in ("passed", "flaky")]
            if others:
                lines.append(f"other tests naming it ({len(others)}):")
                lines.extend(_test_lines(others))
        case.append(SystemOut(xml_safe("\n".join(lines))))  # a new case: no child yet
        return case
    if status == "waived":
        text = result.reason if waiver is None else _waiver_text(waiver)
        skipped = Skipped(xml_safe(f"waived: {text}"))
        if result.tests:
            lines.append(f"tests naming it ({len(result.tests)}):")
            lines.extend(_test_lines(result.tests))
        skipped.text = xml_safe("\n".join(lines))
        case.append(skipped)
        return case
    # failed, missing, not-run (a waiver that expired waives nothing: it lands here)
    message = result.reason or status
    if expired is not None and "expired" not in message:
        message += f" (waiver expired on {expired.until.isoformat()})"
    if not result.tests:
        if not result.reason.startswith("no collected test names it"):
            lines.append("no collected test names it")
        if inv.tests:
            lines.append("`tests` globs that matched nothing:")
            lines.extend(f"  {glob}" for glob in inv.tests)
    else:
        # the tests that kept it from being proven first, then the passing ones
        bad = [t for t in result.tests if t.outcome != "passed"]
        good = [t for t in result.tests if t.outcome == "passed"]
        lines.append(f"tests naming it ({len(result.tests)}, min_tests = {inv.min_tests}):")
        lines.extend(_test_lines(bad))
        lines.extend(_test_lines(good))
    failure = Failure(xml_safe(message), f"parity.{status}")
    failure.text = xml_safe("\n".join(lines))
    case.append(failure)
    return case


def _properties(common: list[tuple[str, str]], extra: Iterable[tuple[str, str]]) -> Any:
    props: Any = Properties()  # type: ignore[no-untyped-call]
    for name, value in common:
        props.append(Property(name, xml_safe(value)))
    for name, value in extra:
        props.append(Property(name, xml_safe(value)))
    return props


def build_report_xml(
    evidence: Evidence, gate: GateResult | None, *, timestamp: dt.datetime
) -> bytes:
    """The evidence report document (exactly the bytes :func:`write_report` writes)."""
    with gc_paused():
        pieces = _report_pieces(evidence, gate, timestamp)
        return b"".join([piece.encode() for piece in pieces])


#: lines of the document (mostly a ``<testcase>`` each) handed on as one piece
_PIECE_LINES = 256


def _report_pieces(
    evidence: Evidence, gate: GateResult | None, timestamp: dt.datetime
) -> Iterator[str]:
    """The report document, in pieces of a few hundred lines or one chunk of the test
    block each, rendered as they are consumed. The evidence is checked, and every element
    but the test cases built, here: an error is raised before any piece, not while they
    are being written.

    A report is built and written a piece at a time, so it never exists whole in memory:
    each ``<testcase>`` is rendered as soon as it is built and each piece is written as
    soon as it is rendered. Held whole (every element, their lines, the joined document
    and its bytes), a 100,000-test report (22 MB) added 75 MiB to the run's peak memory;
    written in pieces, 11 MiB.
    """
    registry = evidence.registry
    by_milestone: dict[str, list[InvariantResult]] = {m: [] for m in registry.milestone_ids()}
    for inv_id, inv in registry.invariants.items():
        result = evidence.results.get(inv_id)
        if result is None:
            raise ParityError(f"the evidence has no result for invariant {inv_id!r}")
        by_milestone[inv.milestone].append(result)
    stamp = _format_timestamp(timestamp)
    registry_json, registry_sha = _registry_json_and_sha256(registry.to_data())
    common: list[tuple[str, str]] = [
        (P_VERSION, __version__),
        (P_SHA, registry_sha),
        (P_GATE, "none" if gate is None else gate.scope),
        (P_GATE_RESULT, _gate_result(gate)),
        (P_FLAKY, evidence.flaky),
        (P_TIMESTAMP, stamp),
    ]
    # (suite name, milestone title, invariant results); with no milestone declared, one
    # empty suite still carries the properties
    groups = [(_SUITE_PREFIX + m.id, m.title, by_milestone[m.id]) for m in registry.milestones] or [
        (_NO_MILESTONE_SUITE, "", [])
    ]
    # every element but the test cases first: the opening tags carry the counts, which the
    # statuses give before any case is built
    root: Any = JUnitXml("pytest-parity")
    suites: list[tuple[Any, Any, str, list[InvariantResult]]] = []
    total_tests = total_failures = 0
    for index, (name, title, results) in enumerate(groups):
        classname = xml_safe(name)
        suite: Any = TestSuite(classname)
        statuses: list[str] = [result.status for result in results]
        failures = sum(map(statuses.count, _FAILING))
        suite.tests = len(results)
        suite.failures = failures
        suite.errors = 0
        suite.skipped = statuses.count("waived")
        suite.time = 0
        suite.timestamp = stamp
        extra: list[tuple[str, str]] = [(P_TITLE, title)]
        if evidence.incomplete is not None:
            extra.append((P_INCOMPLETE, evidence.incomplete))
        if evidence.tags_lost:
            extra.append((P_TAGS_LOST, "true"))
        if index == 0:
            extra.append((P_REGISTRY, registry_json))
        suites.append((suite._elem, _properties(common, extra)._elem, classname, results))
        total_tests += len(results)
        total_failures += failures
    root.tests = total_tests
    root.failures = total_failures
    root.errors = 0
    return _pieces(root._elem, suites, evidence.records)


def _pieces(
    root: Any,
    suites: list[tuple[Any, Any, str, list[InvariantResult]]],
    records: dict[str, TestRecord],
) -> Iterator[str]:
    """:func:`_report_pieces` once everything but the test cases and the test block is
    built: ``root`` and each suite's element carry their attributes, and each suite its
    properties element, XML-safe classname and invariant results.

    Pretty, deterministic XML: attributes keep the order they were set in; an element has
    either text or children (the report never mixes them). Text and attribute values are
    made XML-safe (:func:`xml_safe`) as the elements are built; only markup characters
    are escaped here. Linear in the size of the document.
    """
    attrs = _AttributeRenderer()

    out: list[str] = [_XML_DECLARATION, f"<{root.tag}{attrs(root)}>\n"]
    for index, (suite, props, classname, results) in enumerate(suites):
        out.append(f"  <{suite.tag}{attrs(suite)}>\n    <properties>\n")
        for prop in props:
            out.append(
                f'      <property name="{attrs.value(prop.get("name"))}" '
                f'value="{_escape_attr(prop.get("value"))}"/>\n'
            )
        if index == 0 and records:
            # the bulk of a big report: root > testsuite > properties > property
            yield "".join(out)
            out = []
            yield from _test_properties(sorted(records.values(), key=by_nodeid), "      ")
        out.append("    </properties>\n")
        for result in results:
            _render(out, _testcase(result, classname)._elem, "    ", attrs)
            if len(out) >= _PIECE_LINES:
                yield "".join(out)
                out = []
        out.append(f"  </{suite.tag}>\n")
    out.append(f"</{root.tag}>\n")
    yield "".join(out)


class _AttributeRenderer:
    """An element's attributes as markup (`` name="value"`` each, in the order they were
    set), each distinct value escaped once: they repeat (classnames, "0", property
    names)."""

    def __init__(self) -> None:
        self._escaped: dict[str, str] = {}

    def value(self, value: str) -> str:
        found = self._escaped.get(value)
        if found is None:
            found = self._escaped[value] = _escape_attr(value)
        return found

    def __call__(self, elem: Any) -> str:
        items = elem.items()
        if not items:
            return ""
        value = self.value
        return "".join([f' {name}="{value(text)}"' for name, text in items])


def _render(out: list[str], elem: Any, indent: str, attrs: _AttributeRenderer) -> None:
    """Append the lines of an ElementTree element (and its children) to ``out``: text on
    the element's line, children on lines of their own, ``<tag/>`` when it has neither."""
    children = list(elem)
    if children:
        out.append(f"{indent}<{elem.tag}{attrs(elem)}>\n")
        for child in children:
            _render(out, child, indent + "  ", attrs)
        out.append(f"{indent}</{elem.tag}>\n")
    elif elem.text:
        out.append(f"{indent}<{elem.tag}{attrs(elem)}>{_escape_text(elem.text)}</{elem.tag}>\n")
    else:
        out.append(f"{indent}<{elem.tag}{attrs(elem)}/>\n")


# -- writing ------------------------------------------------------------------------------


def write_report(
    path: str | os.PathLike[str],
    evidence: Evidence,
    gate: GateResult | None,
    *,
    timestamp: dt.datetime | None = None,
) -> None:
    """Write the evidence report to ``path`` atomically (see :func:`atomic_write`).

    ``timestamp`` defaults to :func:`report_timestamp`.
    """
    if timestamp is None:
        timestamp = report_timestamp()
    with gc_paused():
        pieces = _report_pieces(evidence, gate, timestamp)
        atomic_write(path, map(str.encode, pieces), what="the evidence report")


# -- reading ------------------------------------------------------------------------------


class LoadedReport(NamedTuple):
    """What an evidence report carries, as :func:`read_report` gives it back."""

    path: str
    #: rebuilt from the embedded registry
    registry: Registry
    #: as stored; verified equal to ``registry.sha256()``
    registry_sha256: str
    #: every tagged test, sorted by node ID
    records: tuple[TestRecord, ...]
    #: the ``--parity-flaky`` policy of the run
    flaky: FlakyPolicy
    #: the gate scope of the run, ``None`` if it had no gate
    gate: str | None
    #: the pytest-parity version that wrote the report
    version: str
    #: why the run that wrote it was incomplete (``Evidence.incomplete``), else ``None``
    incomplete: str | None = None
    #: sha256 of the file's bytes: two copies of one report are one report
    content_sha256: str = ""
    #: the run could not tell which tests name which invariant (``Evidence.tags_lost``)
    tags_lost: bool = False


class _Refused(Exception):
    """Raised inside expat handlers; turned into a ParityError naming the file."""


class _Collector:
    """Streaming extraction of the suites' ``parity.*`` properties (expat handlers)."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.suites = 0
        #: single-valued ``parity.*`` properties of the first suite
        self.props: dict[str, str] = {}
        #: ``parity.test`` values of the first suite, in document order
        self.tests: list[str] = []

    def start(self, name: str, attrs: dict[str, str]) -> None:
        stack = self.stack
        stack.append(name)
        depth = len(stack)
        if depth == 1:
            if name != "testsuites":
                raise _Refused(f"the root element is <{name}>, not <testsuites>")
        elif depth == 2:
            if name == "testsuite":
                self.suites += 1
        elif depth == 4 and name == "property" and stack[1:3] == ["testsuite", "properties"]:
            self._property(attrs)

    def _property(self, attrs: dict[str, str]) -> None:
        key = attrs.get("name", "")
        if not key.startswith("parity."):
            return
        value = attrs.get("value")
        if value is None:
            raise _Refused(f"corrupt evidence report: property {key} has no value")
        if self.suites > 1:
            # later suites repeat the provenance; they must agree on the registry
            first = self.props.get(P_SHA)
            if key == P_SHA and first is not None and value != first:
                raise _Refused("corrupt evidence report: its suites disagree on the registry hash")
        elif key == P_TEST:
            self.tests.append(value)
        elif key in self.props:
            raise _Refused(f"corrupt evidence report: property {key} appears twice")
        else:
            self.props[key] = value

    def end(self, name: str) -> None:
        self.stack.pop()


def _refuse_dtd(*args: object) -> NoReturn:
    raise _Refused("refusing a document with a DTD (DOCTYPE or entity declarations)")


def _parse(fh: IO[bytes], limit: int) -> tuple[_Collector, str]:
    """Stream ``fh`` through expat; the properties found and the sha256 of the bytes.
    Raises _Refused or expat.ExpatError."""
    from xml.parsers import expat

    collector = _Collector()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.UnparsedEntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    parser.StartElementHandler = collector.start
    parser.EndElementHandler = collector.end
    total = 0
    digest = hashlib.sha256()
    while chunk := fh.read(_READ_CHUNK):
        total += len(chunk)
        if total > limit:
            raise _Refused(f"refusing a file larger than {limit} bytes")
        digest.update(chunk)
        parser.Parse(chunk, False)
    if total == 0:
        raise _Refused("the file is empty")
    parser.Parse(b"", True)
    return collector, digest.hexdigest()


def _corrupt(path: str, what: str) -> ParityError:
    return ParityError(f"{path}: corrupt evidence report: {what}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _load_json(path: str, what: str, text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise _corrupt(path, f"{what} is not valid JSON: {_short(text)}") from None


def _str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _records(path: str, registry: Registry, values: list[str]) -> tuple[TestRecord, ...]:
    milestones = set(registry.milestone_ids())
    seen: dict[str, TestRecord] = {}
    for number, text in enumerate(values, 1):
        what = f"{P_TEST} #{number}"
        data = _load_json(path, what, text)
        if not (
            isinstance(data, list)
            and len(data) == 4
            and isinstance(data[0], str)
            and data[0]
            and isinstance(data[1], str)
            and _str_list(data[2])
            and _str_list(data[3])
        ):
            raise _corrupt(
                path, f"{what} is not [nodeid, outcome, [invariants], [milestones]]: {_short(text)}"
            )
        nodeid, outcome, invariants, tagged = data
        if outcome not in OUTCOMES:
            raise _corrupt(path, f"{what} ({nodeid}): unknown outcome {_short(outcome)}")
        for inv_id in invariants:
            if inv_id not in registry.invariants:
                raise _corrupt(path, f"{what} ({nodeid}): undeclared invariant {_short(inv_id)}")
        for milestone in tagged:
            if milestone not in milestones:
                raise _corrupt(path, f"{what} ({nodeid}): undeclared milestone {_short(milestone)}")
        if nodeid in seen:
            raise _corrupt(path, f"{what}: test {nodeid} appears twice")
        seen[nodeid] = TestRecord(nodeid, outcome, tuple(invariants), tuple(tagged))
    return tuple(seen[nodeid] for nodeid in sorted(seen))


def read_report(path: str | os.PathLike[str]) -> LoadedReport:
    """Read an evidence report written by :func:`write_report`.

    Any bad input (missing, unreadable, empty, truncated, not XML, with a DTD, too large,
    not an evidence report, corrupt) raises a :class:`ParityError` with one line that
    names the file.
    """
    # only reading needs expat: the plugin, which only writes, does not load it
    from xml.parsers import expat

    name = os.fspath(path)
    try:
        info = os.stat(name)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ParityError(f"{name}: cannot read: {os_reason(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ParityError(f"{name}: is a directory, not an evidence report")
    if info.st_size > MAX_REPORT_BYTES:
        raise ParityError(f"{name}: refusing a file larger than {MAX_REPORT_BYTES} bytes")
    try:
        with open(name, "rb") as fh:
            collector, content_sha256 = _parse(fh, MAX_REPORT_BYTES)
    except OSError as exc:
        raise ParityError(f"{name}: cannot read: {os_reason(exc)}") from None
    except _Refused as exc:
        raise ParityError(f"{name}: {exc}") from None
    except expat.ExpatError as exc:
        raise ParityError(
            f"{name}: not well-formed XML (truncated, or not XML at all): "
            f"{expat.ErrorString(exc.code)} at line {exc.lineno}, column {exc.offset}"
        ) from None
    except (ValueError, LookupError) as exc:  # e.g. an unknown encoding declaration
        raise ParityError(f"{name}: cannot parse as XML: {exc}") from None

    props = collector.props
    if not props and not collector.tests:
        raise ParityError(
            f"{name}: not a pytest-parity evidence report (no parity.* properties in its "
            f"first <testsuite>; a plain pytest --junitxml file?)"
        )
    for key in _REQUIRED:
        if key not in props:
            raise _corrupt(name, f"property {key} is missing")
    data = _load_json(name, P_REGISTRY, props[P_REGISTRY])
    registry = registry_from_data(data, f"{name}: corrupt evidence report: {P_REGISTRY}")
    registry.source = name
    stored = props[P_SHA]
    actual = registry.sha256()
    if stored != actual:
        raise _corrupt(
            name,
            f"the embedded registry does not match its sha256 "
            f"(stored {_short(stored)}, computed {actual})",
        )
    flaky = props[P_FLAKY]
    if flaky not in FLAKY_POLICIES:
        raise _corrupt(name, f"{P_FLAKY} is {_short(flaky)}, not one of {FLAKY_POLICIES}")
    gate_result = props[P_GATE_RESULT]
    if gate_result not in _GATE_RESULTS:
        raise _corrupt(name, f"{P_GATE_RESULT} is {_short(gate_result)}")
    return LoadedReport(
        path=name,
        registry=registry,
        registry_sha256=stored,
        records=_records(name, registry, collector.tests),
        flaky=flaky,
        gate=None if gate_result == "none" else props[P_GATE],
        version=props[P_VERSION],
        incomplete=props.get(P_INCOMPLETE),
        content_sha256=content_sha256,
        tags_lost=props.get(P_TAGS_LOST) == "true",
    )
