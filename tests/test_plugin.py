"""End-to-end tests of the pytest plugin, with pytester (serial and under pytest-xdist)."""

from __future__ import annotations

import textwrap

import pytest

from pytest_parity.summary import GATE_FAILED_EXIT

from .conftest import XDIST, esc, parity_lines, run

# -- dormant / enabled ------------------------------------------------------------------


def test_dormant_without_registry_and_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(): pass")
    result = run(pytester, "-p", "no:cacheprovider")
    assert result.ret == 0
    assert "= parity =" not in result.stdout.str()
    written = {p.name for p in pytester.path.iterdir()} - {"__pycache__"}  # Python's own
    assert written == {"test_dormant_without_registry_and_markers.py"}


@XDIST
def test_marker_without_registry_fails_before_any_test(
    pytester: pytest.Pytester, xdist: bool
) -> None:
    pytester.makepyfile(
        """
        import pytest
        def test_first(): pass
        @pytest.mark.parity("RUNKEY-01")
        def test_tagged(): pass
        """
    )
    result = run(pytester, xdist=xdist)
    # serially pytest stops with "Interrupted: 1 error during collection" (2); pytest-xdist
    # reports collection errors of its workers as errors (1). Either way nothing runs.
    assert result.ret == (pytest.ExitCode.TESTS_FAILED if xdist else pytest.ExitCode.INTERRUPTED)
    result.stdout.fnmatch_lines(
        ["*test_tagged: @pytest.mark.parity is used but no pytest-parity registry was found*"]
    )
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    result.assert_outcomes(errors=1)


@pytest.mark.parametrize("pyproject", ["file", "directory"])
def test_dormant_with_a_pyproject_that_declares_no_registry(
    pytester: pytest.Pytester, pyproject: str
) -> None:
    if pyproject == "file":
        pytester.makepyprojecttoml('[tool.other]\nname = "x"\n')
    else:  # unreadable as a file: the cheap probe defers to find_registry, which says "none"
        pytester.mkdir("pyproject.toml")
    pytester.makepyfile("def test_a(): pass")
    result = run(pytester)
    assert result.ret == 0
    assert "= parity =" not in result.stdout.str()


def test_class_marker_without_registry_is_found(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        def test_plain(): pass
        @pytest.mark.parity("X")
        class TestTagged:
            def test_one(self): pass
            def test_two(self): pass
        """
    )
    result = run(pytester)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*::TestTagged::test_one: @pytest.mark.parity is used but*"])


@pytest.mark.parametrize("opt", ["--parity-gate=all", "--parity-report=r.xml"])
def test_gate_or_report_without_registry_is_usage_error(
    pytester: pytest.Pytester, opt: str
) -> None:
    pytester.makepyfile("def test_a(): pass")
    result = run(pytester, opt)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*is set but no pytest-parity registry was found*"])


def test_plugin_can_be_disabled(reg: pytest.Pytester) -> None:
    reg.makepyfile("def test_a(): pass")
    result = run(reg, "-p", "no:parity")
    assert result.ret == 0
    assert "= parity =" not in result.stdout.str()


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.parity(*invariant_ids, milestone=None):*"])


def test_options_in_one_group(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--help")
    result.stdout.fnmatch_lines(
        [
            "pytest-parity: CI-gated invariant proofs:",
            "*--parity-registry=PATH*",
            "*--parity-gate=*SCOPE*",
            "*--parity-report=PATH*",
            "*--parity-flaky=fail|allow*",
        ]
    )
    result.stdout.fnmatch_lines(["*parity_registry (string)*", "*parity_gate (string)*"])


# -- proof policy -----------------------------------------------------------------------


def test_plugins_are_unregistered_when_the_run_ends(reg: pytest.Pytester) -> None:
    reg.makepyfile(
        """
        import pytest
        @pytest.mark.parity("RUNKEY-01")
        def test_a(): pass
        """
    )
    recorder = reg.inline_run("-p", "no:randomly")
    recorder.assertoutcome(passed=1)
    config = recorder.getcall("pytest_sessionfinish").session.config
    evidence = recorder.getcall("pytest_parity_evidence").evidence
    assert evidence.records  # it saw the test ...
    ours = {
        call.plugin
        for call in recorder.getcalls("pytest_plugin_registered")
        if type(call.plugin).__module__.startswith("pytest_parity.")
    }
    assert len(ours) == 3  # ... with its collector, fixture watch and controller ...
    assert not any(config.pluginmanager.is_registered(plugin) for plugin in ours)  # ... gone


@XDIST
def test_proven_and_gate_passes(reg: pytest.Pytester, xdist: bool) -> None:
    reg.makepyfile(
        """
        import pytest
        @pytest.mark.parity("RUNKEY-01", "RUNKEY-02")
        def test_a(): pass
        @pytest.mark.parity("timer.dedupe")
        def test_b(): pass
        """
    )
    result = run(reg, "--parity-gate", "all", xdist=xdist)
    assert result.ret == 0
    result.assert_outcomes(passed=2)
    assert parity_lines(result)[-1] == "parity gate (all): PASSED"
    result.stdout.fnmatch_lines(["M1 (Execution): 2 proven", "M2: 1 proven", "M3: no invariants"])


@XDIST
def test_gate_fails_with_own_exit_code_when_tests_pass(reg: pytest.Pytester, xdist: bool) -> None:
    reg.makepyfile(
        """
        import pytest
        @pytest.mark.parity("RUNKEY-01")
        def test_a(): pass
        """
    )
    result = run(reg, "--parity-gate", "all", xdist=xdist)
    assert result.ret == GATE_FAILED_EXIT
    lines = parity_lines(result)
    assert "MISSING RUNKEY-02 [M1]: no collected test names it" in lines
    assert lines[-1] == "parity gate (all): FAILED, 2 invariants not proven"


def test_gate_scope_is_cumulative(reg: pytest.Pytester) -> None:
    reg.makepyfile(
        """
        import pytest
        @pytest.mark.parity("RUNKEY-01", "RUNKEY-02")
        def test_a(): pass
        """
    )
    assert run(reg, "--parity-gate", "M1").ret == 0
    assert run(reg, "--parity-gate", "M2").ret == GATE_FAILED_EXIT


def test_without_gate_exit_code_is_untouched(reg: pytest.Pytester) -> None:
    reg.makepyfile("def test_a(): pass")
    result = run(reg)
    assert result.ret == 0
    assert parity_lines(result)[-1].startswith("parity gate: off")


@XDIST
def test_failing_test_keeps_pytest_exit_code(reg: pytest.Pytester, xdist: bool) -> None:
    reg.makepyfile(
        """
        import pytest
        @pytest.mark.parity("RUNKEY-01")
        def test_a(): assert False
        """
    )
    result = run(reg, "--parity-gate", "all", xdist=xdist)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [esc("FAILED  RUNKEY-01 [M1]: 1 test failed") + "*test_*.py::test_a"]
    )


@XDIST
def test_only_clean_passes_prove(reg: pytest.Pytester, xdist: bool) -> None:
    reg.makepyfile(
        """
        import pytest

        @pytest.fixture
        def broken_teardown():
            yield
            raise RuntimeError("teardown")

        @pytest.mark.parity("RUNKEY-01")
        def test_teardown_error(broken_teardown): pass

        @pytest.mark.parity("RUNKEY-02")
        @pytest.mark.xfail(reason="known", strict=False)
        def test_xpass(): pass

        @pytest.mark.parity("RUNKEY-02")
        @pytest.mark.xfail(reason="known")
        def test_xfail(): assert False

        @pytest.mark.parity("RUNKEY-02")
        def test_skip(): pytest.skip("no")

        @pytest.mark.parity("timer.dedupe")
        @pytest.mark.xfail(reason="known", strict=True)
        def test_strict_xpass(): pass
        """
    )
    result = run(reg, "-rA", "--parity-gate=all", xdist=xdist)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    lines = parity_lines(result)
    assert any(line.startswith("FAILED  RUNKEY-01") for line in lines)
    assert any(line.startswith("NOT-RUN RUNKEY-02") for line in lines)
    assert any(
        line.startswith("FAILED  timer.dedupe") and "test_strict_xpass" in line for line in lines
    )


def test_setup_failure_fails(reg: pytest.Pytester) -> None:
    reg.makepyfile(
        """
        import pytest
        @pytest.fixture
        def boom(): raise RuntimeError("x")
        @pytest.mark.parity("RUNKEY-01")
        def test_a(boom): pass
        """
    )
    result = run(reg)
    result.stdout.fnmatch_lines([esc("FAILED  RUNKEY-01 [M1]: 1 test failed") + "*"])


def test_min_tests_and_parametrized_instances(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".toml",
        parity="""
        milestones = ["M1"]
        [invariants.A]
        milestone = "M1"
        title = "a"
        min_tests = 3
        [invariants.B]
        milestone = "M1"
        title = "b"
        min_tests = 2
        """,
    )
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.parity("A")
        @pytest.mark.parametrize("x", [1, 2, 3])
        def test_a(x): pass

        @pytest.mark.parity("B")
        def test_b(): pass
        """
    )
    result = run(pytester, "--parity-gate=all")
    assert result.ret == GATE_FAILED_EXIT
    lines = parity_lines(result)
    assert not any(" A [" in line for line in lines if not line.startswith("M1"))
    assert any(
        line.startswith("NOT-RUN B [M1]: 1 of the 2 passing tests it needs") for line in lines
    )


@XDIST
def test_deselected_counts_as_not_run(reg: pytest.Pytester, xdist: bool) -> None:
    reg.makepyfile(
        """
        import pytest
        @pytest.mark.parity("RUNKEY-01")
        def test_a(): pass
        @pytest.mark.parity("RUNKEY-02")
        def test_b(): pass
        """
    )
    result = run(reg, "-k", "RUNKEY-01", "--parity-gate=all", xdist=xdist)
    result.assert_outcomes(passed=1)
    lines = parity_lines(result)
    assert any(line.startswith("NOT-RUN RUNKEY-02") and "not run" in line for line in lines)
    assert any(line.startswith("MISSING timer.dedupe") for line in lines)


def test_keywords_select_by_invariant_and_milestone(reg: pytest.Pytester) -> None:
    reg.makepyfile(
        """
        import pytest
        @pytest.mark.parity("RUNKEY-01")
        def test_a(): pass
        @pytest.mark.parity("timer.dedupe")
        def test_b(): pass
        @pytest.mark.parity(milestone="M3")
        def test_c(): pass
        @pytest.mark.parity("RUNKEY-02", milestone=None)
        def test_d(): pass
        @pytest.mark.parity("RUNKEY-02")
        def test_e(): pass  # the same tag as test_d: its keywords are reused
        def test_untagged(): pass
        """
    )
    run(reg, "-k", "M1").assert_outcomes(passed=3, deselected=3)
    run(reg, "-k", "M2 or M3").assert_outcomes(passed=2, deselected=4)
    run(reg, "-k", "timer.dedupe").assert_outcomes(passed=1, deselected=5)
    run(reg, "-k", "RUNKEY-02").assert_outcomes(passed=2, deselected=4)


def test_class_and_module_markers_are_combined(reg: pytest.Pytester) -> None:
    reg.makepyfile(
        """
        import pytest
        pytestmark = pytest.mark.parity("RUNKEY-01")

        @pytest.mark.parity("RUNKEY-02")
        class TestRuns:
            @pytest.mark.parity("timer.dedupe")
            def test_a(self): pass
        """
    )
    result = run(reg, "--parity-gate=all", "-v")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [esc("PROVEN  timer.dedupe [M2]: ") + "*", "    passed  *::TestRuns::test_a"]
    )


def test_registry_globs_prove_without_marker(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".toml",
        parity="""
        milestones = ["M1"]
        [invariants.A]
        milestone = "M1"
        title = "a"
        min_tests = 2
        tests = ["test_globs.py::test_y[*]", "test_globs.py::test_y[*]"]
        """,
    )
    pytester.makepyfile(
        test_globs="""
        import pytest
        @pytest.mark.parity("A")
        @pytest.mark.parametrize("x", [1, 2])
        def test_y(x): pass
        def test_yy(): assert False
        """
    )
    result = run(pytester, "--parity-gate=all", "-v", "--deselect", "test_globs.py::test_yy")
    assert result.ret == 0
    assert not any(line.startswith("STALE") for line in parity_lines(result))
    result.stdout.fnmatch_lines(
        [esc("PROVEN  A [M1]: a"), esc("    passed  test_globs.py::test_y[1]")]
    )


def test_waivers(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".toml",
        parity="""
        milestones = ["M1"]
        [invariants.LATER]
        milestone = "M1"
        title = "later"
        waiver = { reason = "ADR-12", until = 2999-01-31 }
        [invariants.OLD]
        milestone = "M1"
        title = "old"
        waiver = { reason = "ADR-1", until = 2001-01-31 }
        """,
    )
    pytester.makepyfile("def test_a(): pass")
    result = run(pytester, "--parity-gate=all")
    assert result.ret == GATE_FAILED_EXIT
    result.stdout.fnmatch_lines(
        [
            esc("WAIVED  LATER [M1]: waived: ADR-12 (until 2999-01-31)"),
            esc(
                "MISSING OLD [M1]: no collected test names it; waiver expired on 2001-01-31 (ADR-1)"
            ),
        ]
    )


def test_stale_glob_is_flagged(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".toml",
        parity="""
        milestones = ["M1"]
        [invariants.A]
        milestone = "M1"
        title = "a"
        tests = ["test_stale.py::test_a", "test_stale.py::test_renamed*"]
        """,
    )
    pytester.makepyfile(test_stale="def test_a(): pass")
    result = run(pytester, "--parity-gate=all")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            esc("STALE   A [M1]: `tests` glob 'test_stale.py::test_renamed*' ")
            + "matches no collected test*"
        ]
    )


# -- marker errors ----------------------------------------------------------------------


@XDIST
@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('"RUNKEY-1"', "unknown invariant ID 'RUNKEY-1' (did you mean 'RUNKEY-01'*"),
        ("42", "invariant IDs must be non-empty strings, got 42"),
        ('""', "invariant IDs must be non-empty strings, got ''"),
        ('"RUNKEY-01", owner="me"', "unknown keyword argument owner='me'*"),
        ('milestone="M9"', "milestone='M9' is not a declared milestone (declared: M1, M2, M3)*"),
        ("", "needs at least one invariant ID or milestone="),
        ('["RUNKEY-01"]', "invariant IDs must be non-empty strings, got ['RUNKEY-01']"),
    ],
)
def test_bad_marker_fails_cleanly_before_tests(
    reg: pytest.Pytester, xdist: bool, marker: str, message: str
) -> None:
    reg.makepyfile(
        f"""
        import pytest
        def test_ok(): pass
        @pytest.mark.parity({marker})
        def test_bad(): pass
        """
    )
    result = run(reg, xdist=xdist)
    assert result.ret == (pytest.ExitCode.TESTS_FAILED if xdist else pytest.ExitCode.INTERRUPTED)
    assert "parity: incomplete run, 1 error during collection" in parity_lines(result)
    result.stdout.fnmatch_lines([f"*::test_bad: @pytest.mark.parity*{esc(message)}"])
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    result.stdout.no_fnmatch_line("*Traceback*")
    result.assert_outcomes(errors=1)


# -- incomplete runs never pass the gate ------------------------------------------------


def test_collect_only_is_not_evaluated(reg: pytest.Pytester) -> None:
    reg.makepyfile(
        """
        import pytest
        @pytest.mark.parity("RUNKEY-01", "RUNKEY-02", "timer.dedupe")
        def test_a(): pass
        """
    )
    result = run(reg, "--collect-only", "--parity-gate=all")
    assert result.ret == 0
    assert parity_lines(result)[-1] == (
        "parity gate (all): NOT EVALUATED, --collect-only: no test ran"
    )


@XDIST
def test_early_stop_is_not_evaluated(reg: pytest.Pytester, xdist: bool) -> None:
    reg.makepyfile(
        """
        import pytest
        @pytest.mark.parity("RUNKEY-01", "RUNKEY-02", "timer.dedupe")
        def test_a(): pass
        def test_b(): assert False
        """
    )
    result = run(reg, "-x", "--parity-gate=all", xdist=xdist)
    assert result.ret in (pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED)
    assert "NOT EVALUATED" in parity_lines(result)[-1]


def test_collection_error_is_not_evaluated(reg: pytest.Pytester) -> None:
    reg.makepyfile(
        test_ok="""
        import pytest
        @pytest.mark.parity("RUNKEY-01", "RUNKEY-02", "timer.dedupe")
        def test_a(): pass
        """,
        test_broken="import nonexistent_module_xyz",
    )
    result = run(reg, "--parity-gate=all", "--continue-on-collection-errors")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert parity_lines(result)[-1].endswith("NOT EVALUATED, 1 error during collection")


@XDIST
def test_usage_error_run_is_not_evaluated(reg: pytest.Pytester, xdist: bool) -> None:
    reg.makepyfile("def test_a(): pass")
    result = run(reg, "--parity-gate=all", "--parity-report=r.xml", "no_such_dir", xdist=xdist)
    assert result.ret in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED)
    assert "NOT EVALUATED" in parity_lines(result)[-1]
    assert "parity.incomplete" in (reg.path / "r.xml").read_text()


# -- registry problems are usage errors -------------------------------------------------


def test_malformed_registry_is_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", parity='milestones = ["M1"\n[invariants.A]\n')
    pytester.makepyfile("def test_a(): pass")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *parity.toml:*:*: invalid TOML*"])
    assert "Traceback" not in result.stderr.str()


def test_ambiguous_registry_is_usage_error(reg: pytest.Pytester) -> None:
    reg.makepyprojecttoml('[tool.parity]\nmilestones = ["M1"]\n')
    reg.makepyfile("def test_a(): pass")
    result = run(reg)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *parity.toml*pyproject.toml*"])


def test_explicit_registry_wins(reg: pytest.Pytester) -> None:
    reg.makepyprojecttoml('[tool.parity]\nmilestones = ["M1"]\n')
    other = reg.mkdir("conf") / "other.toml"
    other.write_text('milestones = ["X1"]\n[invariants.ONLY]\nmilestone = "X1"\ntitle = "o"\n')
    reg.makepyfile("def test_a(): pass")
    result = run(reg, f"--parity-registry={other}", "--parity-gate=all")
    assert result.ret == GATE_FAILED_EXIT
    result.stdout.fnmatch_lines([esc("MISSING ONLY [X1]: ") + "*"])


def test_bad_gate_scope_is_usage_error(reg: pytest.Pytester) -> None:
    reg.makepyfile("def test_a(): pass")
    result = run(reg, "--parity-gate", "tests/")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --parity-gate: 'tests/' is neither 'all' nor*"])


def test_report_path_that_is_a_directory_is_usage_error(reg: pytest.Pytester) -> None:
    reg.makepyfile("def test_a(): pass")
    reg.mkdir("out")
    result = run(reg, "--parity-report=out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --parity-report: out is a directory"])


def test_unwritable_report_fails_a_green_run_and_says_why(reg: pytest.Pytester) -> None:
    reg.makepyfile(
        """
        import pytest
        @pytest.mark.parity("RUNKEY-01", "RUNKEY-02", "timer.dedupe")
        def test_a(): pass
        """
    )
    (reg.path / "afile").write_text("not a directory")
    result = run(reg, "--parity-gate=all", "--parity-report=afile/r.xml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["ERROR: parity report not written: afile/r.xml: *"])
    assert (reg.path / "afile").read_text() == "not a directory"


def test_ini_twins(reg: pytest.Pytester) -> None:
    reg.makeini(
        """
        [pytest]
        parity_gate = M1
        parity_flaky = allow
        parity_report = out/r.xml
        """
    )
    reg.makepyfile(
        """
        import pytest
        @pytest.mark.parity("RUNKEY-01")
        def test_a(): pass
        """
    )
    result = run(reg)
    assert result.ret == GATE_FAILED_EXIT
    assert parity_lines(result)[-1].startswith("parity gate (M1): FAILED")
    assert (reg.path / "out" / "r.xml").is_file()


def test_bad_ini_flaky_is_usage_error(reg: pytest.Pytester) -> None:
    reg.makeini("[pytest]\nparity_flaky = sometimes\n")
    reg.makepyfile("def test_a(): pass")
    result = run(reg)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: parity_flaky: 'sometimes' is not one of fail, allow"])


# -- hooks --------------------------------------------------------------------------------


def test_hooks_extend_registry_and_see_evidence(reg: pytest.Pytester) -> None:
    reg.makeconftest(
        """
        from pytest_parity.model import Invariant

        def pytest_parity_registry_loaded(registry):
            registry.add(Invariant(id="EXTRA-01", milestone="M3", title="added by a hook"))

        def pytest_parity_evidence(evidence):
            print("evidence-hook:", sorted(
                (k, r.status) for k, r in evidence.results.items()))
        """
    )
    reg.makepyfile(
        """
        import pytest
        @pytest.mark.parity("EXTRA-01")
        def test_a(): pass
        """
    )
    result = run(reg, "-s")
    result.stdout.fnmatch_lines(["*evidence-hook: *('EXTRA-01', 'proven')*"])


def test_serial_and_xdist_agree(reg: pytest.Pytester) -> None:
    reg.makepyfile(
        textwrap.dedent(
            """
            import pytest
            @pytest.mark.parity("RUNKEY-01")
            @pytest.mark.parametrize("i", range(6))
            def test_a(i): pass
            @pytest.mark.parity("RUNKEY-02")
            @pytest.mark.parametrize("i", range(4))
            def test_b(i): assert i != 2
            @pytest.mark.parity("timer.dedupe")
            def test_c(): pytest.skip("later")
            """
        )
    )
    serial = parity_lines(run(reg, "--parity-gate=all"))
    for dist in ("load", "loadfile", "loadscope", "worksteal", "each"):
        assert parity_lines(run(reg, "--parity-gate=all", "--dist", dist, xdist=True)) == serial
