"""``pytest-parity ingest``: evidence from other test runners' JUnit XML.

The parser tests read committed outputs of real runners (tests/data/junit/); the
``real_*`` tests run the runners themselves where they are installed (they skip, saying
why, where not; with ``PARITY_REQUIRE_RUNNERS=1``, as ``.ci/run`` sets, they fail).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_parity import ingest as ingest_module
from pytest_parity.cli import main
from pytest_parity.ingest import IdFormat, ingest, read_junit
from pytest_parity.model import ParityError
from pytest_parity.reader import read_report
from pytest_parity.registry import load_registry

from .conftest import billion_laughs

if TYPE_CHECKING:
    from pytest_parity.ingest import RunnerFile

DATA = Path(__file__).parent / "data" / "junit"
ROOT = Path(__file__).resolve().parent.parent
POLYGLOT = ROOT / "examples" / "polyglot" / "parity.toml"
REQUIRED = os.environ.get("PARITY_REQUIRE_RUNNERS", "") not in ("", "0")

REGISTRY = """
milestones = ["M1", "M2"]
[invariants.A]
milestone = "M1"
title = "a"
tests = ["suite::a*"]
[invariants.B]
milestone = "M2"
title = "b"
tests = ["suite::b"]
"""


def need(tool: str, hint: str) -> str:
    """The tool's path, or a skip (a failure with PARITY_REQUIRE_RUNNERS=1) saying why."""
    found = shutil.which(tool)
    if found is None:
        message = f"{tool} is not installed ({hint})"
        if REQUIRED:
            pytest.fail(message + "; PARITY_REQUIRE_RUNNERS is set")
        pytest.skip(message)
    return found


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    path = tmp_path / "parity.toml"
    path.write_text(REGISTRY, encoding="utf-8")
    return path


def junit(tmp_path: Path, text: str, name: str = "runner.xml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def cases(found: RunnerFile) -> list[tuple[str, str, str]]:
    ids = IdFormat()
    return [(ids.of(case), case.outcome, case.reason) for case in found.cases]


# -- outcomes ------------------------------------------------------------------------------


def test_outcomes_of_every_kind(tmp_path: Path) -> None:
    found = read_junit(
        junit(
            tmp_path,
            """<?xml version="1.0"?>
            <testsuites><testsuite name="s">
              <testcase classname="suite" name="pass"/>
              <testcase classname="suite" name="fail"><failure message="boom&#10;more"/></testcase>
              <testcase classname="suite" name="error"><error>traceback line 1
                line 2</error></testcase>
              <testcase classname="suite" name="skip"><skipped message="not on linux"/></testcase>
              <testcase classname="suite" name="notrun" status="notrun" result="suppressed"/>
              <testcase classname="suite" name="gskip" status="run" result="skipped"/>
              <testcase classname="suite" name="flaky"><flakyFailure message="once"/></testcase>
              <testcase classname="suite" name="rerun-fail">
                <rerunFailure message="1"/><failure message="for good"/></testcase>
              <testcase classname="suite" name="skip-then-fail">
                <skipped/><failure message="x"/></testcase>
              <testcase classname="suite" name="rerun-then-skip">
                <flakyFailure message="1"/><skipped message="gave up"/></testcase>
              <testcase classname="suite" name="notrun-rerun" status="notrun"><rerunFailure/>
              </testcase>
            </testsuite></testsuites>""",
        )
    )
    assert cases(found) == [
        ("suite::pass", "passed", ""),
        ("suite::fail", "failed", "boom"),
        ("suite::error", "failed", "traceback line 1"),
        ("suite::skip", "skipped", "not on linux"),
        ("suite::notrun", "skipped", ""),
        ("suite::gskip", "skipped", ""),
        ("suite::flaky", "flaky", "once"),
        ("suite::rerun-fail", "failed", "for good"),
        ("suite::skip-then-fail", "failed", "x"),
        # a rerun and then a skip never passed: skipped, not flaky
        ("suite::rerun-then-skip", "skipped", "gave up"),
        ("suite::notrun-rerun", "skipped", ""),
    ]
    assert found.documents == 1
    assert found.truncated is None


def test_several_documents_and_a_truncated_one(tmp_path: Path) -> None:
    doc = '<?xml version="1.0" encoding="UTF-8"?><testsuites><testsuite name="{0}">'
    doc += '<testcase classname="suite" name="{0}"/></testsuite></testsuites>\n'
    text = doc.format("a1") + doc.format("b") + doc.format("a2")[:-40]
    found = read_junit(junit(tmp_path, text))
    assert [c[0] for c in cases(found)] == ["suite::a1", "suite::b"]
    assert found.documents == 3
    assert found.truncated is not None
    assert "document 3 ends too soon" in found.truncated
    # without XML declarations, and with blank lines between them
    bare = "<testsuite><testcase classname='suite' name='b'/></testsuite>\n\n" * 2
    assert read_junit(junit(tmp_path, bare, "bare.xml")).documents == 2


def test_a_truncated_document_makes_the_evidence_incomplete(tmp_path: Path, registry: Path) -> None:
    text = '<testsuites><testsuite><testcase classname="suite" name="a"/>'
    out = tmp_path / "e.xml"
    path = junit(tmp_path, text)
    assert main(["ingest", str(path), "--registry", str(registry), "-o", str(out)]) == 0
    report = read_report(out)
    assert report.incomplete is not None
    assert "ends too soon" in report.incomplete
    assert main(["check", str(out), "-q"]) == 1


def test_the_same_test_twice_counts_as_its_worst(tmp_path: Path, registry: Path) -> None:
    first = junit(tmp_path, '<testsuite><testcase classname="suite" name="a1"/></testsuite>')
    second = junit(
        tmp_path,
        '<testsuite><testcase classname="suite" name="a1"><failure message="no"/></testcase>'
        "</testsuite>",
        "again.xml",
    )
    result = ingest(
        [read_junit(first), read_junit(second)],
        load_registry(registry),
        ids=IdFormat(),
        suites=[],
    )
    (record,) = result.evidence.records.values()
    assert (record.outcome, record.reason) == ("failed", "no")
    assert result.evidence.results["A"].status == "failed"


# -- IDs, prefixes, suites -----------------------------------------------------------------


def test_ids_prefixes_and_gate_suites(
    tmp_path: Path, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = junit(
        tmp_path,
        """<testsuites><testsuite name="engine">
          <testcase classname="m" name="a_one" file="src/a.rs" line="12"/>
          <testcase classname="m" name="b"/>
          <testcase classname="m" name="parity_m2_gate"><failure message="bad"/></testcase>
          <testcase classname="m" name="unrelated"/>
        </testsuite></testsuites>""",
    )
    out = tmp_path / "e.xml"
    args = ["ingest", str(path), "--registry", str(registry), "-o", str(out)]
    args += ["--id", "{suite}::{name}", "--prefix", "rs/", "--suite", "M2=rs/*::parity_m2_*"]
    # the registry's globs name "suite::...": with this --id and --prefix nothing matches A/B
    assert main(args) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith(f"wrote {out}: 1 tagged test of 4 test cases")
    report = read_report(out)
    assert [(r.nodeid, r.outcome, r.milestones) for r in report.records] == [
        ("rs/engine::parity_m2_gate", "failed", ("M2",))
    ]
    assert report.ingested == (str(path),)
    assert main(["check", str(out), "--gate", "M2", "-q"]) == 1
    assert "FAILED  milestone M2 suite test: rs/engine::parity_m2_gate" in capsys.readouterr().out
    # the file and line the runner wrote are kept
    registry.write_text(REGISTRY.replace('"suite::a*"', '"rs/engine::a_*"'), encoding="utf-8")
    assert main(args) == 0
    capsys.readouterr()
    (a_one,) = [r for r in read_report(out).records if r.nodeid == "rs/engine::a_one"]
    assert (a_one.file, a_one.line) == ("src/a.rs", 12)


def test_a_file_that_proves_nothing_is_said(
    tmp_path: Path, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = junit(tmp_path, '<testsuite><testcase classname="x.y" name="a1"/></testsuite>')
    out = tmp_path / "e.xml"
    assert main(["ingest", str(path), "--registry", str(registry), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "none of its 1 test case matches a `tests` glob or --suite" in err
    assert "'x.y::a1'" in err
    empty = junit(tmp_path, '<testsuite name="none"/>', "empty.xml")
    assert main(["ingest", str(empty), "--registry", str(registry), "-o", str(out)]) == 0
    assert f"{empty}: it holds no test case" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--id", "{module}::{name}"], "--id: '{module}::{name}' must name some of"),
        (["--id", "static"], "must name some of"),
        (["--id", "{name}}"], "a lone brace"),
        (["--suite", "M9=*"], "'M9' is not a declared milestone"),
        (["--suite", "M1"], "expected M=GLOB"),
        (["--registry", "missing.toml"], "missing.toml"),
    ],
)
def test_bad_options_are_one_line(
    tmp_path: Path,
    registry: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    path = junit(tmp_path, '<testsuite><testcase classname="suite" name="a"/></testsuite>')
    out = tmp_path / "e.xml"
    assert main(["ingest", str(path), "--registry", str(registry), "-o", str(out), *extra]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # argparse: after its usage
    assert message in last
    assert not out.exists()


# -- hostile input -------------------------------------------------------------------------

BOMB = billion_laughs('<testsuite><testcase classname="suite" name="&lol9;"/></testsuite>')
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<testsuite><testcase classname="suite" name="&x;"/></testsuite>"""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("   \n", "the file is empty"),
        ("not xml at all", "not well-formed XML (document 1, line 1"),
        ("<html><body/></html>", "not JUnit XML (its root element is <html>)"),
        (BOMB, "refusing a document with a DTD"),
        (EXTERNAL, "refusing a document with a DTD"),
        ('<?xml version="1.0" encoding="klingon"?><testsuite/>', "klingon"),
        ("<testsuite></testsuite>\n<junk>", "document 2"),
    ],
)
def test_hostile_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(ParityError) as excinfo:
        read_junit(junit(tmp_path, content))
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_a_huge_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_module, "MAX_REPORT_BYTES", 100)
    path = junit(tmp_path, "<testsuite>" + " " * 200 + "</testsuite>")
    with pytest.raises(ParityError, match="refusing a file larger than 100 bytes"):
        read_junit(path)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ParityError, match="cannot read"):
        read_junit(tmp_path / "nope.xml")
    with pytest.raises(ParityError, match="is a directory"):
        read_junit(tmp_path)


# -- committed outputs of real runners -----------------------------------------------------


def test_cargo_libtest_output() -> None:
    found = read_junit(DATA / "cargo.xml")  # examples/engine-rs
    assert found.documents == 3  # one per test binary: unit tests, tests/parity.rs, doc-tests
    ids = {test_id for test_id, _, _ in cases(found)}
    assert "integration::parity_m1_duplicate_delivery_is_a_noop" in ids
    assert len(ids) == 6
    assert all(outcome == "passed" for _, outcome, _ in cases(found))


def test_cargo_libtest_failure_reads_its_reason_from_the_output() -> None:
    # a unit test module: libtest's classname is the module path; an #[ignore]d test is
    # left out of its JUnit output altogether
    found = read_junit(DATA / "cargo-failing.xml")
    assert cases(found)[0] == ("tests::parity_m1_duplicate_delivery_is_a_noop", "passed", "")
    test_id, outcome, reason = cases(found)[1]
    assert (test_id, outcome) == ("tests::parity_m2_a_timer_fires_once", "failed")
    assert reason.startswith("thread 'tests::parity_m2_a_timer_fires_once'")
    assert "panicked at src/lib.rs:6:41" in reason
    assert "(" not in reason  # the thread's OS ID, different on every run, is left out
    assert len(found.cases) == 2


def test_node_test_runner_output() -> None:
    found = read_junit(DATA / "node.xml")
    outcomes = {name: outcome for name, outcome, _ in cases(found)}
    assert outcomes["test::duplicate delivery is a no-op"] == "passed"
    assert outcomes["test::a timer fires once"] == "failed"
    assert outcomes["test::cancel a run"] == "skipped"
    reasons = {name: reason for name, _, reason in cases(found)}
    assert reasons["test::a timer fires once"] == "the timer fired twice2 !== 1"
    assert reasons["test::cancel a run"] == "lands with the operator console"


def test_googletest_output() -> None:
    found = read_junit(DATA / "gtest.xml")
    outcomes = {name: outcome for name, outcome, _ in cases(found)}
    assert outcomes["Engine::DuplicateDeliveryIsANoop"] == "passed"
    assert outcomes["Engine::TimerFiresOnce"] == "failed"
    assert outcomes["Engine::DISABLED_CancelARun"] == "skipped"  # status="notrun"
    assert outcomes["Engine::SkippedOnThisPlatform"] == "skipped"  # GTEST_SKIP()
    timer = next(case for case in found.cases if case.fields["name"] == "TimerFiresOnce")
    assert (timer.fields["file"], timer.line, timer.reason) == (
        "engine_test.cc",
        10,
        "engine_test.cc:12",
    )


def test_pytest_junitxml_output() -> None:
    found = read_junit(DATA / "pytest.xml")
    outcomes = {name: outcome for name, outcome, _ in cases(found)}
    assert outcomes["test_engine::test_duplicate_delivery"] == "passed"
    assert outcomes["test_engine::test_timer"] == "failed"
    assert outcomes["test_engine::test_cancel"] == "skipped"


# -- real runners, run now -----------------------------------------------------------------


def test_real_cargo_and_pytest_merge_into_one_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example: the Rust port's cargo tests and the Python engine's pytest run prove
    the polyglot registry's invariants together, and one gate judges both."""
    cargo = need("cargo", "install a Rust toolchain: apt-get install cargo, or rustup")
    crate = tmp_path / "engine-rs"
    shutil.copytree(ROOT / "examples" / "engine-rs", crate, ignore=shutil.ignore_patterns("target"))
    env = {**os.environ, "RUSTC_BOOTSTRAP": "1", "CARGO_TERM_COLOR": "never"}
    proc = subprocess.run(
        [cargo, "test", "--offline", "--no-fail-fast", "--", "-Z", "unstable-options",
         "--format", "junit"],
        cwd=crate, env=env, capture_output=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    rust_junit = tmp_path / "cargo.xml"
    rust_junit.write_bytes(proc.stdout)
    rust = tmp_path / "rust.xml"
    args = ["ingest", str(rust_junit), "--registry", str(POLYGLOT), "-o", str(rust)]
    args += ["--prefix", "rust/", "--suite", "M1=rust/*::parity_m1_*"]
    args += ["--suite", "M2=rust/*::parity_m2_*", "--expect-documents", "3"]
    assert main(args) == 0
    assert capsys.readouterr().err.startswith(f"wrote {rust}: 5 tagged tests of 6 test cases")
    python = tmp_path / "python.xml"
    pytest_run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         f"--parity-registry={POLYGLOT}", f"--parity-report={python}"],
        cwd=ROOT / "examples" / "engine", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert pytest_run.returncode == 0, pytest_run.stdout[-2000:]
    assert main(["check", str(python), str(rust), "--gate", "all", "--expect-reports", "2"]) == 0
    out = capsys.readouterr().out
    assert "parity gate (all): PASSED" in out
    assert main(["matrix", str(python), str(rust)]) == 0
    matrix = capsys.readouterr().out
    assert "`rust/integration::parity_m2_duplicate_run_key_returns_the_existing_run`" in matrix


def test_real_node_test_runner(tmp_path: Path, registry: Path) -> None:
    node = need("node", "apt-get install nodejs (20.11 or newer has the junit reporter)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major, minor = (int(part) for part in version.stdout.strip().lstrip("v").split(".")[:2])
    if (major, minor) < (20, 11):
        message = f"node {version.stdout.strip()} has no junit reporter (20.11 or newer)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    (tmp_path / "engine.test.mjs").write_text(
        "import test from 'node:test';\nimport assert from 'node:assert';\n"
        "test('a1 passes', () => {});\n"
        "test('b', () => { assert.strictEqual(1, 2); });\n",
        encoding="utf-8",
    )
    out = tmp_path / "node.xml"
    subprocess.run(
        [node, "--test", "--test-reporter=junit", f"--test-reporter-destination={out}",
         "engine.test.mjs"],
        cwd=tmp_path, capture_output=True, check=False,
    )  # fmt: skip
    found = read_junit(out)
    ids = IdFormat("suite::{name}")
    outcomes = {ids.of(case): case.outcome for case in found.cases}
    assert outcomes == {"suite::a1 passes": "passed", "suite::b": "failed"}
    result = ingest([found], load_registry(registry), ids=ids, suites=[])
    assert result.evidence.results["A"].status == "proven"
    assert result.evidence.results["B"].status == "failed"


def test_real_googletest(tmp_path: Path, registry: Path) -> None:
    compiler = need("g++", "apt-get install g++")
    if not Path("/usr/include/gtest/gtest.h").exists():
        message = "GoogleTest is not installed (apt-get install libgtest-dev)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    (tmp_path / "t.cc").write_text(
        "#include <gtest/gtest.h>\n"
        "TEST(suite, a1) { EXPECT_EQ(1, 1); }\n"
        'TEST(suite, b) { EXPECT_EQ(1, 2) << "one is not two"; }\n'
        "TEST(suite, DISABLED_c) {}\n",
        encoding="utf-8",
    )
    subprocess.run(
        [compiler, "t.cc", "-o", "t", "-lgtest", "-lgtest_main", "-pthread"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    out = tmp_path / "gtest.xml"
    subprocess.run(
        [str(tmp_path / "t"), f"--gtest_output=xml:{out}"], capture_output=True, check=False
    )
    found = read_junit(out)
    outcomes = {IdFormat().of(case): case.outcome for case in found.cases}
    assert outcomes == {"suite::a1": "passed", "suite::b": "failed", "suite::DISABLED_c": "skipped"}
    result = ingest([found], load_registry(registry), ids=IdFormat(), suites=[])
    assert result.evidence.results["B"].status == "failed"


def test_real_pytest_junitxml(pytester: pytest.Pytester, registry: Path) -> None:
    pytester.makepyfile(
        suite="""
        import pytest
        def test_a1(): pass
        def test_b(): pytest.skip("later")
        """
    )
    pytester.runpytest_subprocess(
        "suite.py", "-p", "no:parity", "-p", "no:randomly", "--junitxml=j.xml"
    )
    found = read_junit(pytester.path / "j.xml")
    outcomes = {IdFormat().of(case): case.outcome for case in found.cases}
    assert outcomes == {"suite::test_a1": "passed", "suite::test_b": "skipped"}
    registry.write_text(
        REGISTRY.replace("suite::a*", "suite::test_a*").replace("suite::b", "suite::test_b"),
        encoding="utf-8",
    )
    result = ingest([found], load_registry(registry), ids=IdFormat(), suites=[])
    assert result.evidence.results["A"].status == "proven"
    assert result.evidence.results["B"].status == "not-run"  # skipped proves nothing


# -- what a run cannot vouch for ------------------------------------------------------------

DOC = '<?xml version="1.0" encoding="UTF-8"?><testsuites><testsuite name="test">'
DOC += "{}</testsuite></testsuites>"


def test_a_document_cut_after_its_declaration_is_incomplete(tmp_path: Path, registry: Path) -> None:
    # libtest writes the XML declaration first: a test calling process::exit leaves only it
    first = DOC.format('<testcase classname="suite" name="a1"/>')
    cut = '<?xml version="1.0" encoding="UTF-8"?>'
    last = DOC.format('<testcase classname="suite" name="b"/>')
    found = read_junit(junit(tmp_path, f"{first}\n{cut}\n{last}\n"))
    assert found.documents == 3
    assert found.truncated is not None
    assert "document 2 ends too soon" in found.truncated
    assert [c[0] for c in cases(found)] == ["suite::a1", "suite::b"]
    # and one cut inside its root element, with the next one right after it
    found = read_junit(
        junit(tmp_path, first[: -len("</testsuite></testsuites>")] + last, "mid.xml")
    )
    assert (found.documents, found.truncated is not None) == (2, True)
    result = ingest([found], load_registry(registry), ids=IdFormat(), suites=[])
    assert result.evidence.incomplete is not None


@pytest.mark.parametrize(
    "body",
    [
        # GoogleTest's global environment failing: a test case without a name
        '<testcase classname="" name=""><failure message="env teardown"/></testcase>',
        # a suite's own error, outside every test case
        '<error message="the fixture of the whole suite failed"/>',
    ],
)
def test_a_failure_no_test_owns_makes_the_evidence_incomplete(
    tmp_path: Path, registry: Path, body: str
) -> None:
    text = DOC.format('<testcase classname="suite" name="a1"/>' + body)
    result = ingest(
        [read_junit(junit(tmp_path, text))],
        load_registry(registry),
        ids=IdFormat(),
        suites=[("M1", "*")],
    )
    assert result.evidence.records.keys() == {"suite::a1"}  # nothing recorded for it
    assert result.evidence.incomplete is not None
    assert "a failure no test case owns" in result.evidence.incomplete


def test_an_unnamed_passing_test_case_and_an_empty_id_are_not_tests(
    tmp_path: Path, registry: Path
) -> None:
    text = DOC.format('<testcase classname="" name=""/><testcase classname="" name="x"/>')
    found = read_junit(junit(tmp_path, text))
    result = ingest(
        [found], load_registry(registry), ids=IdFormat("{classname}"), suites=[("M1", "*")]
    )
    assert result.evidence.records == {}
    assert result.evidence.incomplete is None


def test_fields_a_runner_does_not_write_are_empty(tmp_path: Path) -> None:
    # node: a top-level test has no <testsuite>; GoogleTest's environment has no file
    found = read_junit(
        junit(tmp_path, '<testsuites><testcase classname="test" name="top"/></testsuites>')
    )
    assert IdFormat("{suite}::{name}").of(found.cases[0]) == "::top"
    assert IdFormat("{file}:{name}").of(found.cases[0]) == ":top"


def test_expect_documents(
    tmp_path: Path, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a test binary that crashes (abort, a signal, a timeout) writes no document at all
    path = junit(tmp_path, DOC.format('<testcase classname="suite" name="a1"/>'))
    out = tmp_path / "e.xml"
    args = ["ingest", str(path), "--registry", str(registry), "-o", str(out)]
    assert main([*args, "--expect-documents", "1"]) == 0
    assert read_report(out).incomplete is None
    assert main([*args, "--expect-documents", "2"]) == 0
    assert "1 JUnit document read, 2 expected" in capsys.readouterr().err
    assert read_report(out).incomplete is not None
    assert main(["check", str(out), "-q"]) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            DOC.format('<testcase classname="a" name="b"><testcase name="c"/></testcase>'),
            "a <testcase> inside a <testcase>",
        ),
        (
            '<testsuites><testsuite><properties><property name="parity.version" value="1"/>'
            "</properties></testsuite></testsuites>",
            "an evidence report, not a test runner's JUnit XML",
        ),
    ],
)
def test_not_a_runners_junit(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(ParityError, match="not") as excinfo:
        read_junit(junit(tmp_path, content))
    assert message in str(excinfo.value)


def test_an_output_never_replaces_an_input(
    tmp_path: Path, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = junit(tmp_path, DOC.format('<testcase classname="suite" name="a1"/>'))
    before = (path.read_bytes(), registry.read_bytes())
    for output in (path, registry):
        assert main(["ingest", str(path), "--registry", str(registry), "-o", str(output)]) == 2
        assert "is also an input" in capsys.readouterr().err
    assert (path.read_bytes(), registry.read_bytes()) == before
    report = tmp_path / "e.xml"
    assert main(["ingest", str(path), "--registry", str(registry), "-o", str(report)]) == 0
    for command in (["html", str(report)], ["merge", str(report)], ["matrix", str(report)]):
        assert main([*command, "-o", str(report)]) == 2
    assert main(["diff", "--base", str(report), str(report), "-o", str(report)]) == 2
    assert read_report(report).records  # still the evidence


def test_dev_stdout_as_the_output_when_stdout_is_a_pipe(tmp_path: Path, registry: Path) -> None:
    path = junit(tmp_path, DOC.format('<testcase classname="suite" name="a1"/>'))
    command = [sys.executable, "-m", "pytest_parity", "ingest", str(path)]
    command += ["--registry", str(registry), "-o", "/dev/stdout"]
    proc = subprocess.run(command, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"<?xml")  # the report, and only the report
    assert b"wrote /dev/stdout" in proc.stderr


def test_the_registry_file_is_recorded_relative(
    tmp_path: Path, registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = junit(tmp_path, DOC.format('<testcase classname="suite" name="a1"/>'))
    monkeypatch.chdir(tmp_path)
    assert main(["ingest", str(path), "--registry", str(registry), "-o", "e.xml"]) == 0
    assert read_report(tmp_path / "e.xml").registry.file == "parity.toml"
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")  # the registry is not below: no links to it
    assert main(["ingest", str(path), "--registry", str(registry), "-o", "f.xml"]) == 0
    assert read_report(tmp_path / "sub" / "f.xml").registry.file is None


def test_a_failure_outside_every_suite_is_owned_by_none(tmp_path: Path, registry: Path) -> None:
    text = '<testsuites><testcase classname="suite" name="a1"/><failure message="x"/></testsuites>'
    result = ingest(
        [read_junit(junit(tmp_path, text))], load_registry(registry), ids=IdFormat(), suites=[]
    )
    assert result.evidence.incomplete is not None
    assert "a failure no test case owns (<failure> in suite '': x)" in result.evidence.incomplete
