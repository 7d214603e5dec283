"""What CI shows agrees with the gate, and the summary says what matters, once."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from pytest_parity.cli import main
from pytest_parity.summary import GATE_FAILED_EXIT

from .conftest import XDIST, RunAndParse, esc, parity_lines, run

SUITE = """
import pytest

@pytest.mark.parity("RUNKEY-01")
@pytest.mark.parametrize("i", range(3))
def test_runs(i): pass

@pytest.mark.parity("RUNKEY-02")
def test_trio(): pytest.skip("trio not installed")

@pytest.mark.parity("timer.dedupe")
def test_timer(): assert 1 == 2, "the timer fired twice"
"""


@XDIST
def test_the_report_fails_only_what_the_gate_fails_on(
    reg: pytest.Pytester, run_and_parse: RunAndParse, xdist: bool
) -> None:
    reg.makepyfile(test_ci=SUITE.replace('assert 1 == 2, "the timer fired twice"', "pass"))
    result, report = run_and_parse("--parity-gate=M1", xdist=xdist)
    assert result.ret == GATE_FAILED_EXIT
    root = ET.parse(reg.path / "parity-report.xml").getroot()
    # RUNKEY-02 (M1, skipped) fails the gate; nothing in M2 or M3 is a failure
    assert [(s.get("name"), s.get("failures"), s.get("skipped")) for s in root] == [
        ("parity.M1", "1", "0"),
        ("parity.M2", "0", "0"),
        ("parity.M3", "0", "0"),
        ("parity.gate", "1", "0"),
    ]
    gate_case = root.find("testsuite[@name='parity.gate']/testcase")
    assert gate_case is not None
    assert (gate_case.get("classname"), gate_case.get("name")) == ("parity.gate", "M1")
    failure = gate_case.find("failure")
    assert failure is not None
    assert "RUNKEY-02 [M1] not-run: 1 test skipped (trio not installed)" in (failure.text or "")
    records = {rec.nodeid.split("::")[1]: rec for rec in report.records}
    assert records["test_trio"].reason == "trio not installed"
    assert records["test_trio"].file == "test_ci.py"
    assert records["test_trio"].line == 7  # pytest's location: the first decorator
    assert report.registry.file == "parity.toml"
    assert [inv.line for inv in report.registry.invariants.values()][:2] == [3, 7]


@XDIST
def test_a_test_that_never_ran_is_located_by_its_node_id(
    reg: pytest.Pytester, run_and_parse: RunAndParse, xdist: bool
) -> None:
    reg.makepyfile(test_ci=SUITE)
    _, report = run_and_parse("-k", "not timer", xdist=xdist)
    records = {rec.nodeid.split("::")[1]: rec for rec in report.records}
    assert (records["test_timer"].outcome, records["test_timer"].file) == ("not-run", "test_ci.py")
    assert records["test_timer"].line is None  # deselected: pytest never located it
    assert (records["test_trio"].file, records["test_trio"].line) == ("test_ci.py", 7)


def test_without_a_gate_nothing_is_a_failure(
    reg: pytest.Pytester, run_and_parse: RunAndParse
) -> None:
    reg.makepyfile(test_ci=SUITE)
    result, _ = run_and_parse()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    root = ET.parse(reg.path / "parity-report.xml").getroot()
    assert root.get("failures") == "0"
    skipped = root.find("testsuite/testcase[@name='timer.dedupe']/skipped")
    assert skipped is not None
    assert skipped.get("type") == "parity.failed"
    assert skipped.get("message", "").startswith("not gated: 1 test failed (AssertionError: ")
    assert [s.get("name") for s in root] == ["parity.M1", "parity.M2", "parity.M3"]
    lines = parity_lines(result)
    assert lines[4].startswith(
        "FAILED  timer.dedupe [M2]: 1 test failed (AssertionError: the timer"
    )
    assert lines[5] == "1 invariant not proven: -v lists them; --parity-gate judges them"


def test_the_last_line_counts_a_failed_gate(reg: pytest.Pytester) -> None:
    reg.makepyfile(test_ci=SUITE.replace('assert 1 == 2, "the timer fired twice"', "pass"))
    result = run(reg, "--parity-gate=all")
    assert result.ret == GATE_FAILED_EXIT
    result.stdout.fnmatch_lines(["*= 4 passed, 1 skipped, 1 parity gate failed in *"])


def test_parametrized_instances_are_grouped_and_reasons_shown(reg: pytest.Pytester) -> None:
    reg.makepyfile(
        test_ci="""
        import pytest
        @pytest.mark.parity("RUNKEY-01")
        @pytest.mark.parametrize("i", range(13))
        def test_required(i): pytest.skip("trio not installed")
        """
    )
    result = run(reg, "--parity-gate=M1")
    result.stdout.fnmatch_lines(
        [
            esc("NOT-RUN RUNKEY-01 [M1]: 13 tests skipped (trio not installed): ")
            + esc("test_ci.py::test_required[*] (13 of 13)")
        ]
    )


def test_gate_none_turns_an_ini_gate_off(reg: pytest.Pytester) -> None:
    reg.makeini("[pytest]\nparity_gate = all\n")
    reg.makepyfile("def test_a(): pass")
    assert run(reg).ret == GATE_FAILED_EXIT
    result = run(reg, "--parity-gate=none")
    assert result.ret == 0
    assert parity_lines(result)[-1].startswith("parity gate: off")
    assert run(reg, "-o", "parity_gate=none").ret == 0


def test_gate_without_a_value_lists_the_scopes(reg: pytest.Pytester) -> None:
    reg.makepyfile("def test_a(): pass")
    result = run(reg, "--parity-gate")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --parity-gate needs a SCOPE, one of: all, M1, M2, M3, none"]
    )


@pytest.mark.parametrize("word", ["all", "none"])
def test_gate_words_cannot_be_milestones(pytester: pytest.Pytester, word: str) -> None:
    pytester.makefile(".toml", parity=f'milestones = ["M1", "{word}"]\n')
    pytester.makepyfile("def test_a(): pass")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *milestones[[]1]: '{word}' cannot be a milestone ID*"])


@XDIST
def test_m_parity_selects_tests_mapped_by_globs_too(pytester: pytest.Pytester, xdist: bool) -> None:
    pytester.makefile(
        ".toml",
        parity="""
        milestones = ["M1"]
        [invariants.A]
        milestone = "M1"
        title = "a"
        tests = ["test_m.py::test_globbed"]
        """,
    )
    pytester.makepyfile(
        test_m="""
        import pytest
        @pytest.mark.parity("A")
        def test_marked(): pass
        def test_globbed(): pass
        def test_other(): pass
        """
    )
    result = run(pytester, "-m", "parity", xdist=xdist)
    result.assert_outcomes(passed=2, deselected=0 if xdist else 1)


def test_collect_only_shows_the_plan(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".toml",
        parity="""
        milestones = ["M1"]
        [invariants.A]
        milestone = "M1"
        title = "a"
        tests = ["test_p.py::test_globbed", "test_p.py::test_param"]
        [invariants.B]
        milestone = "M1"
        title = "b"
        [invariants.C]
        milestone = "M1"
        title = "c"
        """,
    )
    pytester.makepyfile(
        test_p="""
        import pytest
        @pytest.mark.parity("A")
        def test_marked(): pass
        def test_globbed(): pass
        @pytest.mark.parametrize("i", [1, 2])
        def test_param(i): pass
        @pytest.mark.parity("A", "C")
        @pytest.mark.parametrize("i", range(30))
        def test_stress(i): pass
        """
    )
    result = run(
        pytester, "--collect-only", "--parity-gate=all", "--deselect=test_p.py::test_stress"
    )
    assert result.ret == 0
    assert parity_lines(result) == [
        "PLAN    A [M1]: 2 selected tests (1 by marker, 1 by glob); 30 deselected",
        "MISSING B [M1]: no collected test names it",
        "NOT-RUN C [M1]: only deselected tests name it (30)",
        "STALE   A [M1]: `tests` glob 'test_p.py::test_param' matches no collected test "
        "(its parametrized instances would match 'test_p.py::test_param[*]')",
        "plan: 1 of 3 invariants named by 2 selected tests; only deselected tests name C; "
        "no test names B; 1 stale glob",
        "parity gate (all): NOT EVALUATED, --collect-only: no test ran",
    ]
    verbose = parity_lines(run(pytester, "--collect-only", "-v"))
    assert "    test_p.py::test_stress[*] (30 of 30)" in verbose
    assert len(verbose) < 15
    quiet = parity_lines(run(pytester, "--collect-only", "-q", "-k", "globbed"))
    assert quiet[0].startswith("plan: 1 of 3 invariants named by 1 selected test; ")


def test_a_stale_glob_says_what_it_may_have_meant(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".toml",
        parity="""
        milestones = ["M1"]
        [invariants.A]
        milestone = "M1"
        title = "a"
        tests = ["test_h.py::test_param", "test_h.py::test_tpyo", "test_h.py::test_.*",
                 "test_x.py::test_param[*]"]
        """,
    )
    pytester.mkpydir("sub")
    (pytester.path / "sub" / "test_x.py").write_text("def test_param(): pass\n")
    pytester.makepyfile(
        test_h="""
        import pytest
        @pytest.mark.parametrize("i", [1, 2])
        def test_param(i): pass
        def test_typo(): pass
        """
    )
    lines = parity_lines(run(pytester, "--parity-gate=all"))
    assert any(
        "'test_h.py::test_param' matches no collected test (its parametrized" in line
        for line in lines
    )
    assert any("(did you mean 'test_h.py::test_typo'?)" in line for line in lines)
    assert any("(globs are not regular expressions" in line for line in lines)
    assert any("(node IDs are relative to the rootdir: 'sub/test_x.py'?)" in line for line in lines)
    # under pytest-xdist the workers collect: the controller hints from what they sent
    lines = parity_lines(run(pytester, "--parity-gate=all", xdist=True))
    assert any("(did you mean 'test_h.py::test_typo'?)" in line for line in lines)


def test_a_waiver_about_to_expire_or_no_longer_needed_is_noted(pytester: pytest.Pytester) -> None:
    soon = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=3)
    pytester.makefile(
        ".toml",
        parity=f"""
        milestones = ["M1"]
        [invariants.SOON]
        milestone = "M1"
        title = "s"
        waiver = {{ reason = "ADR-3", until = {soon} }}
        [invariants.DONE]
        milestone = "M1"
        title = "d"
        waiver = {{ reason = "ADR-4", until = 2999-01-01 }}
        """,
    )
    pytester.makepyfile("import pytest\n@pytest.mark.parity('DONE')\ndef test_a(): pass")
    lines = parity_lines(run(pytester, "--parity-gate=all"))
    assert (
        f"WAIVED  SOON [M1]: waived: ADR-3 (until {soon}); the waiver expires on {soon} (in 3 days)"
        in lines
    )
    assert "WAIVER  DONE [M1]: proven anyway: the waiver (ADR-4, until 2999-01-01) can go" in lines


@XDIST
def test_a_bad_marker_on_a_parametrized_test_is_one_error(
    reg: pytest.Pytester, xdist: bool
) -> None:
    reg.makepyfile(
        """
        import pytest
        @pytest.mark.parity("RUNKEY-1")
        @pytest.mark.parametrize("i", range(78))
        def test_many(i): pass
        """
    )
    result = run(reg, xdist=xdist)
    # pytest repeats the error in its short summary (untruncated under CI=true);
    # the report section above it must carry it once, not once per instance
    report = result.stdout.str().split("short test summary info")[0]
    assert report.count("unknown invariant ID 'RUNKEY-1'") == 1  # not 78 times
    result.stdout.fnmatch_lines(["*::test_many[[]*] (78 tests): @pytest.mark.parity: unknown*"])


@pytest.mark.parametrize(
    ("env", "colored"),
    [({"FORCE_COLOR": "1"}, True), ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, True), ({}, False)],
)
def test_check_colours_its_lines_on_request(
    reg: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    colored: bool,
) -> None:
    reg.makepyfile("import pytest\n@pytest.mark.parity('RUNKEY-01')\ndef test_a(): assert 0")
    run(reg, "--parity-report=r.xml")
    capsys.readouterr()
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["check", str(reg.path / "r.xml")]) == 1
    out = capsys.readouterr().out
    assert ("\x1b[31mFAILED  RUNKEY-01" in out) is colored
    assert "registry (embedded in " in out
