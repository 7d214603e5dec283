"""Reading evidence reports back (the console script): hardened, streaming, strict.

Only the first suite's ``parity.*`` properties are read (the registry and the per-test
records; :mod:`pytest_parity.report` writes them). Anything that is not such a report is
refused with one :class:`ParityError` line naming the file, in bounded time and memory:
no DTD is ever processed (so no XML bomb or external entity), and files over
:data:`MAX_REPORT_BYTES` are refused.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, NoReturn
from xml.parsers import expat

from .files import os_reason
from .model import FLAKY_POLICIES, OUTCOMES, FlakyPolicy, ParityError, Registry, TestRecord
from .registry import registry_from_data
from .report import (
    P_FLAKY,
    P_GATE,
    P_GATE_RESULT,
    P_INCOMPLETE,
    P_INGESTED,
    P_INVARIANTS,
    P_REGISTRY,
    P_REGISTRY_FILE,
    P_SHA,
    P_TAGS_LOST,
    P_TEST,
    P_TESTS,
    P_TIMESTAMP,
    P_TITLE,
    P_VERSION,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MAX_REPORT_BYTES", "LoadedReport", "Refused", "hardened_parser", "read_report"]

#: Reading refuses larger files (a report of a million tests is about 200 MiB).
MAX_REPORT_BYTES = 512 * 1024 * 1024

_REQUIRED = (P_VERSION, P_SHA, P_GATE, P_GATE_RESULT, P_FLAKY, P_REGISTRY)
_GATE_RESULTS = ("passed", "failed", "not-evaluated", "none")


@dataclass(frozen=True, slots=True)
class LoadedReport:
    """What an evidence report carries."""

    path: str
    #: rebuilt from the embedded registry (whose hash was checked)
    registry: Registry
    registry_sha256: str
    #: every tagged test, sorted by node ID
    records: tuple[TestRecord, ...]
    #: the ``--parity-flaky`` policy of the run
    flaky: FlakyPolicy
    #: the gate scope of the run, ``None`` if it had no gate
    gate: str | None
    #: the pytest-parity version that wrote the report
    version: str
    #: when the run was (ISO 8601, UTC), as the report says
    timestamp: str = ""
    #: why the run that wrote it was incomplete, else ``None``
    incomplete: str | None = None
    #: the run could not tell which tests name which invariant
    tags_lost: bool = False
    #: sha256 of the file's bytes: two copies of one report are one report
    content_sha256: str = ""
    #: the runner files ``pytest-parity ingest`` made it from (none for a pytest run)
    ingested: tuple[str, ...] = ()


class Refused(Exception):
    """Raised inside expat handlers; turned into a ParityError naming the file."""


class _Properties:
    """expat handlers that collect the first suite's ``parity.*`` properties."""

    def __init__(self) -> None:
        self.path: list[str] = []
        self.suites = 0
        self.single: dict[str, str] = {}
        #: the values of the properties that may repeat: format 1's parity.test (one per
        #: test), format 2's parity.tests (one per chunk of tests)
        self.tests: list[str] = []
        self.test_chunks: list[str] = []

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.path.append(name)
        depth = len(self.path)
        if depth == 1 and name != "testsuites":
            raise Refused(f"the root element is <{name}>, not <testsuites>")
        if depth == 2 and name == "testsuite":
            self.suites += 1
        elif depth == 4 and self.path[1:] == ["testsuite", "properties", "property"]:
            self._property(attrs.get("name", ""), attrs.get("value"))

    def _property(self, name: str, value: str | None) -> None:
        if not name.startswith("parity."):
            return
        if value is None:
            raise Refused(f"corrupt evidence report: property {name} has no value")
        if self.suites > 1:  # later suites repeat the first one's provenance, and only that
            first_only = (P_TEST, P_TESTS, P_REGISTRY, P_INVARIANTS, P_REGISTRY_FILE, P_INGESTED)
            if name != P_TITLE and (name in first_only or self.single.get(name) != value):
                raise Refused(
                    f"corrupt evidence report: its suites disagree on {name} (several reports "
                    "joined into one file by a JUnit tool? merge them with `pytest-parity merge`)"
                )
        elif name == P_TEST:
            self.tests.append(value)
        elif name == P_TESTS:
            self.test_chunks.append(value)
        elif name in self.single:
            raise Refused(f"corrupt evidence report: property {name} appears twice")
        else:
            self.single[name] = value

    def end(self, name: str) -> None:
        self.path.pop()


def _refuse_dtd(*args: object) -> NoReturn:
    raise Refused("refusing a document with a DTD (DOCTYPE or entity declarations)")


def hardened_parser() -> Any:
    """An expat parser that refuses any DTD, so that no entity is ever expanded (no XML
    bomb, no external entity): its handlers raise :class:`Refused`."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.UnparsedEntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    return parser


def _parse(fh: IO[bytes], limit: int) -> tuple[_Properties, str]:
    """Stream ``fh`` through expat: its properties and the sha256 of its bytes."""
    found = _Properties()
    parser = hardened_parser()
    parser.StartElementHandler = found.start
    parser.EndElementHandler = found.end
    digest = hashlib.sha256()
    size = 0
    while chunk := fh.read(1 << 20):
        size += len(chunk)
        if size > limit:
            raise Refused(f"refusing a file larger than {limit} bytes")
        digest.update(chunk)
        parser.Parse(chunk, False)
    if size == 0:
        raise Refused("the file is empty")
    parser.Parse(b"", True)
    return found, digest.hexdigest()


def _corrupt(path: str, what: str) -> ParityError:
    return ParityError(f"{path}: corrupt evidence report: {what}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _json(path: str, what: str, text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise _corrupt(path, f"{what} is not valid JSON: {_short(text)}") from None


#: per format, how many fields a test record has, and their order
_SHAPES = {
    1: (4, "[nodeid, outcome, [invariants], [milestones]]"),
    2: (7, "[nodeid, outcome, [invariants], [milestones], reason, file, line]"),
}


def _entries(path: str, found: _Properties) -> tuple[int, Callable[[int], str], list[Any]]:
    """The report's format, how to name its N-th test record, and the records (raw JSON)."""
    if found.test_chunks and found.tests:
        raise _corrupt(path, f"it has both {P_TESTS} and {P_TEST} properties")
    if found.test_chunks:  # format 2: JSON arrays of arrays, in chunks, in order
        entries = []
        for text in found.test_chunks:
            chunk = _json(path, P_TESTS, text)
            if not isinstance(chunk, list):
                raise _corrupt(path, f"{P_TESTS} is not a JSON array")
            entries.extend(chunk)
        return 2, lambda index: f"{P_TESTS}[{index}]", entries
    # format 1: a parity.test property per test
    texts = enumerate(found.tests, 1)
    entries = [_json(path, f"{P_TEST} #{n}", text) for n, text in texts]
    return 1, lambda index: f"{P_TEST} #{index + 1}", entries


def _records(path: str, registry: Registry, found: _Properties) -> tuple[TestRecord, ...]:
    milestones = registry.milestone_ids()
    records: dict[str, TestRecord] = {}
    version, name, entries = _entries(path, found)
    fields, shape = _SHAPES[version]
    for index, entry in enumerate(entries):
        if not (isinstance(entry, list) and len(entry) == fields):
            raise _corrupt(path, f"{name(index)} is not {shape}: {_short(entry)}")
        nodeid, outcome, ids, tagged, *rest = entry
        reason, file, line = rest or ("", None, None)
        if not (
            isinstance(nodeid, str)
            and nodeid
            and isinstance(outcome, str)
            and isinstance(ids, list)
            and isinstance(tagged, list)
            and all(isinstance(i, str) for i in [*ids, *tagged])
            and isinstance(reason, str)
            and (file is None or isinstance(file, str))
            and (line is None or type(line) is int)
        ):
            raise _corrupt(path, f"{name(index)} is not {shape}: {_short(entry)}")
        if outcome not in OUTCOMES:
            raise _corrupt(path, f"{name(index)} ({nodeid}): unknown outcome {_short(outcome)}")
        for ident in ids:
            if ident not in registry.invariants:
                raise _corrupt(
                    path, f"{name(index)} ({nodeid}): undeclared invariant {_short(ident)}"
                )
        for ident in tagged:
            if ident not in milestones:
                raise _corrupt(
                    path, f"{name(index)} ({nodeid}): undeclared milestone {_short(ident)}"
                )
        if nodeid in records:
            raise _corrupt(path, f"{name(index)}: test {nodeid} appears twice")
        records[nodeid] = TestRecord(nodeid, outcome, tuple(ids), tuple(tagged), reason, file, line)
    return tuple(records[nodeid] for nodeid in sorted(records))


def _with_lines(registry: Registry, invariants_text: str | None) -> Registry:
    """The registry with each invariant's declaration line, as format 2 records them."""
    if invariants_text is None:
        return registry
    try:
        data = json.loads(invariants_text)
    except (ValueError, RecursionError):
        raise ParityError(f"{P_INVARIANTS} is not valid JSON: {_short(invariants_text)}") from None
    lines = {
        inv_id: meta.get("line")
        for inv_id, meta in (data.items() if isinstance(data, dict) else ())
        if isinstance(meta, dict) and type(meta.get("line")) is int
    }
    invariants = {
        inv_id: dataclasses.replace(inv, line=lines.get(inv_id))
        for inv_id, inv in registry.invariants.items()
    }
    return dataclasses.replace(registry, invariants=invariants)


@functools.lru_cache(maxsize=4)
def _embedded_registry(text: str, invariants_text: str | None) -> tuple[Registry, str]:
    """The registry a report embeds, checked like a TOML one, with the declaration lines
    it records, and the sha256 of the registry (shard reports of one run embed the same
    registry: it is checked once)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ParityError(f"{P_REGISTRY} is not valid JSON: {_short(text)}") from None
    registry = registry_from_data(data, P_REGISTRY)
    return _with_lines(registry, invariants_text), registry.sha256()


def read_report(path: str | os.PathLike[str]) -> LoadedReport:
    """Read an evidence report; any bad input raises a one-line ParityError naming the file."""
    name = os.fspath(path)
    try:
        if stat.S_ISDIR(os.stat(name).st_mode):
            raise ParityError(f"{name}: is a directory, not an evidence report")
        fh = open(name, "rb")  # noqa: SIM115  # closed by the with block below
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ParityError(f"{name}: cannot read: {os_reason(exc)}") from None
    with fh:
        try:
            found, content_sha256 = _parse(fh, MAX_REPORT_BYTES)
        except OSError as exc:
            raise ParityError(f"{name}: cannot read: {os_reason(exc)}") from None
        except Refused as exc:
            raise ParityError(f"{name}: {exc}") from None
        except expat.ExpatError as exc:
            raise ParityError(
                f"{name}: not well-formed XML (truncated, or not XML at all): "
                f"{expat.ErrorString(exc.code)} at line {exc.lineno}, column {exc.offset}"
            ) from None
        except (ValueError, LookupError) as exc:  # e.g. an unknown encoding declaration
            raise ParityError(f"{name}: cannot parse as XML: {exc}") from None
    props = found.single
    if not props and not found.tests:  # format 1 reports put tests in parity.test
        raise ParityError(
            f"{name}: not a pytest-parity evidence report (no parity.* properties in its "
            "first <testsuite>; a plain pytest --junitxml file?)"
        )
    for key in _REQUIRED:
        if key not in props:
            raise _corrupt(name, f"property {key} is missing")
    try:
        registry, sha256 = _embedded_registry(props[P_REGISTRY], props.get(P_INVARIANTS))
    except ParityError as exc:
        raise _corrupt(name, str(exc)) from None
    if props[P_SHA] != sha256:
        raise _corrupt(
            name,
            f"the embedded registry does not match its sha256 "
            f"(stored {_short(props[P_SHA])}, computed {sha256})",
        )
    registry = dataclasses.replace(registry, source=name, file=props.get(P_REGISTRY_FILE))
    if props[P_FLAKY] not in FLAKY_POLICIES:
        raise _corrupt(name, f"{P_FLAKY} is {_short(props[P_FLAKY])}, not one of {FLAKY_POLICIES}")
    if props[P_GATE_RESULT] not in _GATE_RESULTS:
        raise _corrupt(name, f"{P_GATE_RESULT} is {_short(props[P_GATE_RESULT])}")
    return LoadedReport(
        path=name,
        registry=registry,
        registry_sha256=props[P_SHA],
        records=_records(name, registry, found),
        flaky="allow" if props[P_FLAKY] == "allow" else "fail",
        gate=None if props[P_GATE_RESULT] == "none" else props[P_GATE],
        version=props[P_VERSION],
        timestamp=props.get(P_TIMESTAMP, ""),
        incomplete=props.get(P_INCOMPLETE),
        tags_lost=props.get(P_TAGS_LOST) == "true",
        content_sha256=content_sha256,
        ingested=_ingested(name, props.get(P_INGESTED)),
    )


def _ingested(path: str, text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    data = _json(path, P_INGESTED, text)
    if not (isinstance(data, list) and all(isinstance(d, dict) for d in data)):
        raise _corrupt(path, f"{P_INGESTED} is not a JSON array of objects")
    return tuple(str(d.get("file", "?")) for d in data)
