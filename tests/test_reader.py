"""Reading evidence reports back: round trips, and hostile or wrong input refused cleanly."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import socket
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_parity import __version__, reader
from pytest_parity.model import Evidence, GateResult, Invariant, Milestone, ParityError, Registry
from pytest_parity.reader import LoadedReport, Refused, _parse, read_report
from pytest_parity.report import write_report

from .conftest import (
    TS,
    as_format_1,
    billion_laughs,
    build,
    first_prop,
    gate,
    mixed_evidence,
    mixed_records,
    mutated,
    parse,
    read_error,
    rec,
    res,
    write,
)

if TYPE_CHECKING:
    from collections.abc import Callable

# -- reading back --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("g", "expected"), [(None, None), (gate(), "M2"), (gate(not_evaluated="-x"), "M2")]
)
def test_round_trip(tmp_path: Path, g: GateResult | None, expected: str | None) -> None:
    evidence = mixed_evidence()
    evidence.registry.file = "conf/parity.toml"
    path = write(tmp_path, evidence, g)
    loaded = read_report(path)
    assert isinstance(loaded, LoadedReport)
    assert loaded.path == str(path)
    assert loaded.registry.to_data() == evidence.registry.to_data()
    assert loaded.registry.source == str(path)
    assert loaded.registry_sha256 == evidence.registry.sha256() == loaded.registry.sha256()
    assert loaded.records == tuple(sorted(mixed_records(), key=lambda r: r.nodeid))
    assert loaded.flaky == "allow"
    assert loaded.gate == expected
    assert loaded.version == __version__
    assert loaded.incomplete is None
    assert loaded.registry.file == "conf/parity.toml"
    assert loaded.timestamp == "2024-05-06T07:08:09+00:00"


def test_round_trip_of_an_incomplete_run(tmp_path: Path) -> None:
    reg = Registry([Milestone("M1")])
    g = GateResult("M1", ("M1",), False, (), (), not_evaluated="collect-only")
    evidence = Evidence(reg, {}, {}, flaky="fail", incomplete="collect-only")
    loaded = read_report(write(tmp_path, evidence, g))
    assert loaded.gate == "M1"
    assert loaded.flaky == "fail"
    assert loaded.incomplete == "collect-only"
    assert loaded.records == ()


def test_round_trip_of_a_large_report(tmp_path: Path) -> None:
    reg = Registry([Milestone("M1")])
    reg.add(Invariant("BIG", "M1", "many tests"))
    records = [rec(f"t.py::test_p[{i}]", "passed", "BIG") for i in range(5000)]
    result = res(reg, "BIG", "proven", "proven", records)
    evidence = Evidence(reg, {"BIG": result}, {r.nodeid: r for r in records})
    path = write(tmp_path, evidence)
    loaded = read_report(path)
    assert loaded.records == tuple(sorted(records, key=lambda r: r.nodeid))
    # the records come in chunks: no attribute value grows with the size of the suite
    # (libxml2 refuses one over 10 MB)
    chunks = ET.parse(path).getroot().findall("testsuite/properties/property[@name='parity.tests']")
    assert [len(json.loads(c.get("value", ""))) for c in chunks] == [1000] * 5


def test_read_ignores_unrelated_suites_and_properties(tmp_path: Path) -> None:
    def change(root: ET.Element) -> None:
        extra = ET.SubElement(root, "testsuite", name="other", tests="0", failures="0")
        props = ET.SubElement(extra, "properties")
        ET.SubElement(props, "property", name="foo", value="bar")
        first = root[0].find("properties")
        assert first is not None
        ET.SubElement(first, "property", name="ci.job", value="42")
        ET.SubElement(root, "system-out").text = "not a suite"
        # a testcase-level property is not a suite property
        tc_props = ET.SubElement(root[0][1], "properties")
        ET.SubElement(tc_props, "property", name="parity.gate", value="twice?")

    loaded = read_report(mutated(tmp_path, change))
    assert loaded.records == tuple(sorted(mixed_records(), key=lambda r: r.nodeid))


# -- reading hostile or wrong input ------------------------------------------------------------


def test_read_missing_file(tmp_path: Path) -> None:
    assert "cannot read: No such file or directory" in read_error(tmp_path / "nope.xml")


def test_read_path_with_a_nul_byte() -> None:
    with pytest.raises(ParityError) as info:
        read_report("bad\x00.xml")
    # the OS error's wording differs between Python versions
    assert str(info.value).startswith("bad\x00.xml: cannot read: ")
    assert "null" in str(info.value)


def test_write_path_with_a_nul_byte() -> None:
    with pytest.raises(ParityError) as info:
        write_report("bad\x00.xml", mixed_evidence(), None, timestamp=TS)
    assert str(info.value).startswith("bad\x00.xml: cannot write the evidence report: ")
    assert "null" in str(info.value)


def test_read_directory(tmp_path: Path) -> None:
    assert "is a directory" in read_error(tmp_path)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_read_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # running as root
            pytest.skip("cannot make a file unreadable for this user")
        assert "cannot read: Permission denied" in read_error(path)
    finally:
        path.chmod(0o644)


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs UNIX sockets")
def test_read_a_socket(tmp_path: Path) -> None:
    # it exists, but cannot be opened as a file
    path = tmp_path / "r.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        assert "cannot read: " in read_error(path)


def test_read_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.xml"
    path.write_bytes(b"")
    assert read_error(path) == f"{path}: the file is empty"


@pytest.mark.parametrize(
    "content",
    [
        b"   \n",
        b"hello, world\n",
        b"\x00\xff\xfe\x00 garbage",
        b'{"json": true}',
        b"<testsuites><testsuite>",
        b"<testsuites>&foo;</testsuites>",
        b"<testsuites>&#0;</testsuites>",
        b"<testsuites/><second/>",
    ],
)
def test_read_not_xml(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.xml"
    path.write_bytes(content)
    assert "not well-formed XML (truncated, or not XML at all): " in read_error(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.99])
def test_read_truncated_report(tmp_path: Path, keep: float) -> None:
    data = build()
    path = tmp_path / "truncated.xml"
    path.write_bytes(data[: int(len(data) * keep)])
    assert "not well-formed XML" in read_error(path)


def test_read_unknown_encoding(tmp_path: Path) -> None:
    path = tmp_path / "enc.xml"
    path.write_bytes(b'<?xml version="1.0" encoding="x-bogus"?><testsuites/>')
    assert "cannot parse as XML: unknown encoding: x-bogus" in read_error(path)


PLAIN_PYTEST = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="0" skipped="0"
 tests="1" time="0.013" timestamp="2024-05-06T07:08:09.123456+00:00" hostname="ci">
<properties><property name="build" value="42"/></properties>
<testcase classname="tests.test_a" name="test_a" time="0.001"/></testsuite></testsuites>
"""


@pytest.mark.parametrize(
    "content",
    [
        PLAIN_PYTEST,
        PLAIN_PYTEST.replace(b'<properties><property name="build" value="42"/></properties>', b""),
        b"<testsuites/>",
        b'<testsuites><testsuite name="x" tests="0" failures="0" errors="0"/></testsuites>',
    ],
)
def test_read_plain_junit_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junit.xml"
    path.write_bytes(content)
    assert "not a pytest-parity evidence report" in read_error(path)


def test_read_other_root(tmp_path: Path) -> None:
    path = tmp_path / "suite.xml"
    path.write_bytes(b'<testsuite name="pytest" tests="0"/>')
    message = read_error(path)
    assert message == f"{path}: the root element is <testsuite>, not <testsuites>"


BILLION_LAUGHS = billion_laughs('<testsuites name="&lol9;"/>\n').encode()


@pytest.mark.parametrize(
    "content",
    [
        BILLION_LAUGHS,
        b'<?xml version="1.0"?>\n<!DOCTYPE testsuites [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"\n<testsuites>&xxe;</testsuites>",
        b'<!DOCTYPE testsuites SYSTEM "http://example.invalid/junit.dtd"><testsuites/>',
        b'<!DOCTYPE testsuites [<!ENTITY % p SYSTEM "http://example.invalid/p.dtd"> %p;]>'
        b"<testsuites/>",
        b"<!DOCTYPE testsuites><testsuites/>",
    ],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity", "doctype"],
)
def test_read_refuses_any_dtd(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "evil.xml"
    path.write_bytes(content)
    message = read_error(path)
    assert message == (f"{path}: refusing a document with a DTD (DOCTYPE or entity declarations)")


def test_read_refuses_a_dtd_in_an_otherwise_valid_report(tmp_path: Path) -> None:
    data = build().replace(
        b"\n<testsuites", b'\n<!DOCTYPE testsuites [<!ENTITY e "x">]>\n<testsuites', 1
    )
    path = tmp_path / "dtd.xml"
    path.write_bytes(data)
    assert "refusing a document with a DTD" in read_error(path)


def test_read_refuses_an_oversized_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path)
    monkeypatch.setattr(reader, "MAX_REPORT_BYTES", 1000)
    assert read_error(path) == f"{path}: refusing a file larger than 1000 bytes"


def test_streaming_stops_at_the_size_limit() -> None:
    # a stream (a pipe, a file still growing) is cut off while it is read
    class Endless(io.RawIOBase):
        reads = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
            self.reads += 1
            data = b"<testsuites>" if self.reads == 1 else b" " * len(buffer)
            buffer[: len(data)] = data
            return len(data)

    stream = Endless()
    with pytest.raises(Refused, match="larger than 3000000 bytes"):
        _parse(io.BufferedReader(stream), 3_000_000)
    assert stream.reads < 10


def set_value(name: str, value: str, index: int = 0) -> Callable[[ET.Element], None]:
    def change(root: ET.Element) -> None:
        first_prop(root, name, index).set("value", value)

    return change


def set_everywhere(name: str, value: str) -> Callable[[ET.Element], None]:
    def change(root: ET.Element) -> None:
        for prop in root.findall(f"testsuite/properties/property[@name='{name}']"):
            prop.set("value", value)

    return change


def remove(name: str) -> Callable[[ET.Element], None]:
    def change(root: ET.Element) -> None:
        props = root[0].find("properties")
        assert props is not None
        props.remove(first_prop(root, name))

    return change


def add_prop(name: str, **attrs: str) -> Callable[[ET.Element], None]:
    def change(root: ET.Element) -> None:
        props = root[0].find("properties")
        assert props is not None
        ET.SubElement(props, "property", {"name": name, **attrs})

    return change


def change_registry(root: ET.Element) -> None:
    prop = first_prop(root, "parity.registry")
    data = json.loads(prop.get("value", ""))
    data["invariants"][0]["title"] = "edited"
    prop.set("value", json.dumps(data))


def v1(change: Callable[[ET.Element], None]) -> Callable[[ET.Element], None]:
    """``change`` applied to the report written as format 1 wrote it."""

    def changed(root: ET.Element) -> None:
        as_format_1(root)
        change(root)

    return changed


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            set_value("parity.registry", "{"),
            "corrupt evidence report: parity.registry is not valid JSON",
        ),
        (set_value("parity.registry", "[" * 100_000), "parity.registry is not valid JSON: '[[[["),
        (
            set_value("parity.registry", "[]"),
            "corrupt evidence report: parity.registry: expected a JSON object",
        ),
        (
            set_value("parity.registry", '{"milestones": 1}'),
            "parity.registry: invariants: expected",
        ),
        (
            set_value(
                "parity.registry",
                '{"milestones": [{"id": "M1", "title": ""}], '
                '"invariants": [{"id": "A", "milestone": "M9", "title": "t", "min_tests": 1, '
                '"tests": [], "waiver": null}]}',
            ),
            "'M9' is not a declared milestone",
        ),
        (
            change_registry,
            "corrupt evidence report: the embedded registry does not match its sha256",
        ),
        (
            set_everywhere("parity.registry.sha256", "0" * 64),
            "does not match its sha256 (stored '0000",
        ),
        (
            set_value("parity.registry.sha256", "1" * 64, 1),
            "its suites disagree on parity.registry.sha256",
        ),
        (remove("parity.version"), "its suites disagree on parity.version"),
        (remove("parity.registry"), "property parity.registry is missing"),
        (remove("parity.registry.sha256"), "its suites disagree on parity.registry.sha256"),
        (add_prop("parity.gate", value="all"), "property parity.gate appears twice"),
        (add_prop("parity.flaky"), "property parity.flaky has no value"),
        (
            set_everywhere("parity.flaky", "maybe"),
            "parity.flaky is 'maybe', not one of ('fail', 'allow')",
        ),
        (set_everywhere("parity.gate.result", "green"), "parity.gate.result is 'green'"),
        (v1(set_value("parity.test", "[1, 2")), "parity.test #1 is not valid JSON: '[1, 2'"),
        (
            v1(set_value("parity.test", "{}", 2)),
            "parity.test #3 is not [nodeid, outcome, [invariants], [milestones]]",
        ),
        (v1(set_value("parity.test", '["t.py::x", "passed", []]')), "is not [nodeid, outcome"),
        (v1(set_value("parity.test", '[1, "passed", [], []]')), "is not [nodeid, outcome"),
        (v1(set_value("parity.test", '["", "passed", [], []]')), "is not [nodeid, outcome"),
        (v1(set_value("parity.test", '["t.py::x", 3, [], []]')), "is not [nodeid, outcome"),
        (
            v1(set_value("parity.test", '["t.py::x", "passed", "P-1", []]')),
            "is not [nodeid, outcome",
        ),
        (v1(set_value("parity.test", '["t.py::x", "passed", [1], []]')), "is not [nodeid, outcome"),
        (
            v1(set_value("parity.test", '["t.py::x", "passed", [], null]')),
            "is not [nodeid, outcome",
        ),
        (
            v1(set_value("parity.test", '["t.py::x", "exploded", [], []]')),
            "parity.test #1 (t.py::x): unknown outcome 'exploded'",
        ),
        (
            v1(set_value("parity.test", '["t.py::x", "passed", ["NOPE"], []]')),
            "(t.py::x): undeclared invariant 'NOPE'",
        ),
        (
            v1(set_value("parity.test", '["t.py::x", "passed", [], ["M9"]]')),
            "(t.py::x): undeclared milestone 'M9'",
        ),
        (
            v1(set_value("parity.test", '["tests/test_f.py::test_good", "passed", [], []]')),
            "parity.test #3: test tests/test_f.py::test_good appears twice",
        ),
    ],
)
def test_read_corrupt_report(
    tmp_path: Path, change: Callable[[ET.Element], None], expected: str
) -> None:
    message = read_error(mutated(tmp_path, change))
    assert expected in message
    assert len(message) < 400


def test_read_value_is_shortened_in_messages(tmp_path: Path) -> None:
    message = read_error(mutated(tmp_path, set_everywhere("parity.flaky", "x" * 1000)))
    assert "'xxxx" in message
    assert "x" * 100 not in message


def test_reports_joined_by_a_junit_tool_are_refused(tmp_path: Path) -> None:
    # e.g. `junitparser merge a.xml b.xml`: the second report's tests would be ignored
    first = parse(build())
    second = parse(build(mixed_evidence(incomplete="stopped early (-x)")))
    first.extend(list(second))
    path = tmp_path / "joined.xml"
    path.write_bytes(ET.tostring(first, encoding="utf-8"))
    message = read_error(path)
    assert "its suites disagree on parity.incomplete (several reports joined" in message


def set_tests(value: str) -> Callable[[ET.Element], None]:
    return set_value("parity.tests", value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (set_tests("[1, 2"), "parity.tests is not valid JSON: '[1, 2'"),
        (set_tests("{}"), "parity.tests is not a JSON array"),
        (set_tests("[3]"), "parity.tests[0] is not [nodeid, outcome, [invariants], [mile"),
        (set_tests('[["t.py::x"]]'), "parity.tests[0] is not [nodeid, outcome"),
        (
            set_tests('[["t.py::x", "passed", [], [], "", null, true]]'),
            "parity.tests[0] is not [nodeid, outcome",
        ),
        (
            set_tests('[["t.py::x", "passed", [], [], "", null, 1, "red"]]'),
            "parity.tests[0] is not [nodeid, outcome",
        ),
        (
            set_tests('[["t.py::x", "passed", [], [], 3, null, null]]'),
            "parity.tests[0] is not [nodeid, outcome",
        ),
        (
            set_tests('[["t.py::x", "gone", [], [], "", null, null]]'),
            "parity.tests[0] (t.py::x): unknown outcome 'gone'",
        ),
    ],
)
def test_read_corrupt_test_records(
    tmp_path: Path, change: Callable[[ET.Element], None], message: str
) -> None:
    assert message in read_error(mutated(tmp_path, change))


def test_format_1_reports_are_read(tmp_path: Path) -> None:
    loaded = read_report(mutated(tmp_path, as_format_1))
    by_id = {rec.nodeid: rec for rec in loaded.records}
    assert {rec.nodeid for rec in mixed_records()} == set(by_id)
    assert all(rec.reason == "" and rec.file is None for rec in loaded.records)
    assert all(inv.line is None for inv in loaded.registry.invariants.values())


def test_format_2_keeps_reasons_locations_and_declaration_lines(tmp_path: Path) -> None:
    evidence = mixed_evidence()
    reg = evidence.registry
    reg.invariants["P-1"] = dataclasses.replace(reg.invariants["P-1"], line=12)
    rec = dataclasses.replace(
        evidence.records["tests/test_p.py::test_skip"],
        reason="Skipped: no trio \u00e9",
        file="tests/test_p.py",
        line=41,
    )
    evidence.records[rec.nodeid] = rec
    loaded = read_report(write(tmp_path, evidence))
    assert {r.nodeid: r for r in loaded.records}[rec.nodeid] == rec
    assert loaded.registry.invariants["P-1"].line == 12
    assert loaded.registry.invariants["P-FLAKY"].line is None


def add_property(name: str, value: str) -> Callable[[ET.Element], None]:
    def change(root: ET.Element) -> None:
        properties = root.find("testsuite/properties")
        assert properties is not None
        ET.SubElement(properties, "property", name=name, value=value)

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (add_property("parity.test", '["t.py::x", "passed", [], []]'), "both parity.tests and"),
        (set_value("parity.invariants", "{nope"), "parity.invariants is not valid JSON"),
        (add_property("parity.ingested", '{"file": "x"}'), "parity.ingested is not a JSON array"),
    ],
)
def test_read_corrupt_provenance(
    tmp_path: Path, change: Callable[[ET.Element], None], message: str
) -> None:
    assert message in read_error(mutated(tmp_path, change))


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs Linux's /proc")
def test_a_file_that_cannot_be_read_through() -> None:
    # opening /proc/self/mem works; reading it from offset 0 fails (EIO)
    assert "cannot read" in read_error(Path("/proc/self/mem"))
