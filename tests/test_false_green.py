"""No false green: runs that cannot vouch for a proof never pass a gate.

Each scenario here once made the gate (or ``pytest-parity check``) say PASSED without a
clean proof: early exits, lost pytest-xdist workers, markers added late, shared fixtures
whose teardown failed, hook-made invariants, and more.
"""

from __future__ import annotations

import os
import socket
import stat
import sys

import pytest

from pytest_parity.cli import main
from pytest_parity.reader import read_report
from pytest_parity.summary import GATE_FAILED_EXIT

from .conftest import XDIST, esc, parity_lines, run

# -- runs that stop early -----------------------------------------------------------------

EXIT_IN_A_TEST = """
import pytest

@pytest.mark.parity("A")
def test_a_passes(): pass

def test_b_stops(): pytest.exit("stop here", returncode={code})

@pytest.mark.parity("A")
def test_c_fails(): assert False
"""


def assert_not_evaluated(one: pytest.Pytester, result: pytest.RunResult) -> None:
    """The gate is NOT EVALUATED, the report says why, and ``check`` cannot pass on it."""
    assert "NOT EVALUATED" in parity_lines(result)[-1]
    assert "PASSED" not in "\n".join(parity_lines(result))
    report = read_report(one.path / "r.xml")
    assert report.incomplete
    assert main(["check", str(one.path / "r.xml"), "-q"]) == 1


@pytest.mark.parametrize("code", [0, 1, 5])
def test_pytest_exit_in_a_test_is_incomplete(one: pytest.Pytester, code: int) -> None:
    one.makepyfile(EXIT_IN_A_TEST.format(code=code))
    result = run(one, "--parity-gate=all", "--parity-report=r.xml")
    # pytest's own non-zero code stands; where it would be 0, the unjudged gate makes it 8
    assert result.ret == (code or GATE_FAILED_EXIT)
    assert_not_evaluated(one, result)
    assert "pytest.exit" in parity_lines(result)[-1]


@pytest.mark.parametrize("code", [0, 1, 5])
@pytest.mark.parametrize(
    "hook",
    [
        "def pytest_runtest_setup(item):\n    name = item.nodeid",
        "def pytest_runtest_logreport(report):\n    name = report.nodeid",
    ],
    ids=["setup", "logreport"],
)
def test_pytest_exit_from_a_hook_is_incomplete(one: pytest.Pytester, hook: str, code: int) -> None:
    one.makeconftest(
        f"import pytest\n{hook}\n"
        f"    if name.endswith('test_c_fails'):\n"
        f"        pytest.exit('hook stop', returncode={code})\n"
    )
    one.makepyfile(EXIT_IN_A_TEST.format(code=0).replace("pytest.exit", "print"))
    result = run(one, "--parity-gate=all", "--parity-report=r.xml")
    assert result.ret == (code or GATE_FAILED_EXIT)
    assert_not_evaluated(one, result)


def test_a_test_never_reached_makes_the_run_incomplete(one: pytest.Pytester) -> None:
    # a plugin that ends the run loop early, without pytest.exit or -x: the last test is
    # never reached, and its invariant must not count as proven by the first
    one.makeconftest(
        """
        import pytest
        @pytest.hookimpl(tryfirst=True)
        def pytest_runtestloop(session):
            item = session.items[0]
            item.ihook.pytest_runtest_protocol(item=item, nextitem=None)
            return True
        """
    )
    one.makepyfile(
        """
        import pytest
        @pytest.mark.parity("A")
        def test_a_passes(): pass
        @pytest.mark.parity("A")
        def test_b_fails(): assert False
        """
    )
    result = run(one, "--parity-gate=all", "--parity-report=r.xml")
    assert result.ret == GATE_FAILED_EXIT
    assert_not_evaluated(one, result)
    assert "1 selected test never ran" in parity_lines(result)[-1]


def test_deselected_tests_do_not_make_the_run_incomplete(one: pytest.Pytester) -> None:
    one.makepyfile(
        """
        import pytest
        @pytest.mark.parity("A")
        def test_a_passes(): pass
        @pytest.mark.parity("A")
        def test_b_other(): pass
        """
    )
    result = run(
        one,
        "--parity-gate=all",
        "--deselect",
        "test_deselected_tests_do_not_make_the_run_incomplete.py::test_b_other",
    )
    assert result.ret == 0
    assert parity_lines(result)[-1].endswith("PASSED")


# -- pytest-xdist losing its workers ------------------------------------------------------


def test_xdist_giving_up_on_a_crashed_worker_is_incomplete(one: pytest.Pytester) -> None:
    # --dist loadfile: one worker gets the file that crashes, the other proves A; the
    # failing test behind the crash is never reached
    one.makepyfile(
        test_crashes="""
        import os
        import pytest
        def test_crash(): os._exit(1)
        @pytest.mark.parity("A")
        def test_fails(): assert False
        """,
        test_proves="""
        import pytest
        @pytest.mark.parity("A")
        def test_passes(): pass
        """,
    )
    result = run(
        one,
        "--parity-gate=all",
        "--parity-report=r.xml",
        "--dist=loadfile",
        "--max-worker-restart=0",
        xdist=True,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert_not_evaluated(one, result)


def test_xdist_every_worker_dead_means_lost_tags_not_missing(one: pytest.Pytester) -> None:
    one.makepyfile(
        """
        import os
        import pytest
        @pytest.mark.parity("A")
        def test_crash(): os._exit(1)
        @pytest.mark.parity("A")
        def test_after(): pass
        """
    )
    result = one.runpytest(
        "-n",
        "1",
        "-p",
        "no:randomly",
        "--max-worker-restart=0",
        "--parity-gate=all",
        "--parity-report=r.xml",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    lines = parity_lines(result)
    assert not any(line.startswith("MISSING") for line in lines)
    assert "tags were lost" in lines[-1]
    assert_not_evaluated(one, result)


# -- markers added late ------------------------------------------------------------------

LATE_MARKER = """
import pytest

@pytest.hookimpl({order})
def pytest_collection_modifyitems(items):
    for item in items:
        if item.name == "test_late":
            item.add_marker(pytest.mark.parity({ids}))
"""


@XDIST
@pytest.mark.parametrize("order", ["", "tryfirst=True", "trylast=True"])
def test_markers_added_by_any_modifyitems_count(
    one: pytest.Pytester, order: str, xdist: bool
) -> None:
    one.makeconftest(LATE_MARKER.format(order=order, ids='"A"'))
    one.makepyfile(
        """
        import pytest
        @pytest.mark.parity("A")
        def test_proves(): pass
        def test_late(): assert False
        """
    )
    result = run(one, "--parity-gate=all", xdist=xdist)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([esc("FAILED  A [M1]: 1 test failed") + "*::test_late"])


@XDIST
@pytest.mark.parametrize("order", ["", "trylast=True"])
def test_late_markers_are_validated(one: pytest.Pytester, order: str, xdist: bool) -> None:
    one.makeconftest(LATE_MARKER.format(order=order, ids='"NOPE"'))
    one.makepyfile("def test_late(): pass\ndef test_other(): pass")
    result = run(one, "--parity-gate=all", xdist=xdist)
    assert result.ret in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.TESTS_FAILED)
    result.stdout.fnmatch_lines(["*::test_late: @pytest.mark.parity: unknown invariant ID 'NOPE'*"])
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    result.assert_outcomes(errors=1)


def test_markers_added_before_deselection_select_by_keyword(reg: pytest.Pytester) -> None:
    reg.makeconftest(LATE_MARKER.format(order="", ids='"RUNKEY-01"'))
    reg.makepyfile(test_k="def test_late(): pass\ndef test_other(): pass")
    run(reg, "-k", "RUNKEY-01").assert_outcomes(passed=1, deselected=1)
    run(reg, "-k", "M1").assert_outcomes(passed=1, deselected=1)


def test_late_marker_on_a_deselected_test_counts_as_not_run(one: pytest.Pytester) -> None:
    one.makeconftest(LATE_MARKER.format(order="", ids='"A"'))
    one.makepyfile("def test_late(): pass\ndef test_other(): pass")
    result = run(one, "--parity-gate=all", "-k", "other")
    assert result.ret == GATE_FAILED_EXIT
    result.stdout.fnmatch_lines([esc("NOT-RUN A [M1]: ") + "*test_late*"])


# -- shared fixtures whose teardown fails -------------------------------------------------

SHARED_FIXTURE = """
import pytest

@pytest.fixture(scope="{scope}")
def res():
    yield 1
    raise RuntimeError("teardown failed")

{tests}
"""

PROVES_FIRST = """
@pytest.mark.parity("A")
def test_proves(res): pass

def test_untagged_last(): pass
"""

PROVES_LAST = """
def test_untagged_first(res): pass

@pytest.mark.parity("A")
def test_proves(res): pass
"""

IN_A_CLASS = """
class TestShared:
    @pytest.mark.parity("A")
    def test_proves(self, res): pass

    def test_untagged_last(self): pass
"""


@XDIST
@pytest.mark.parametrize("scope", ["class", "module", "package", "session"])
@pytest.mark.parametrize(
    "tests", [PROVES_FIRST, PROVES_LAST, IN_A_CLASS], ids=["first", "last", "class"]
)
def test_shared_fixture_teardown_error_fails_every_user(
    one: pytest.Pytester, scope: str, tests: str, xdist: bool
) -> None:
    pkg = one.mkpydir("pkg")
    (pkg / "test_shared.py").write_text(SHARED_FIXTURE.format(scope=scope, tests=tests))
    result = run(one, "--parity-gate=all", "--parity-report=r.xml", xdist=xdist)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([esc("FAILED  A [M1]: 1 test failed") + "*::test_proves*"])
    (record,) = [r for r in read_report(one.path / "r.xml").records if "test_proves" in r.nodeid]
    assert record.outcome == "failed"


def test_shared_fixture_teardown_does_not_fail_tests_that_did_not_use_it(
    one: pytest.Pytester,
) -> None:
    one.makepyfile(
        """
        import pytest
        @pytest.fixture(scope="module")
        def res():
            yield 1
            raise RuntimeError("teardown failed")
        @pytest.mark.parity("A")
        def test_proves(): pass
        def test_uses(res): pass
        """
    )
    result = run(one, "--parity-gate=all")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert parity_lines(result)[-1].endswith("PASSED")


@XDIST
@pytest.mark.parametrize(
    "last",
    [
        '@pytest.mark.xfail(reason="known bug")\ndef test_last(res): assert False',
        "def test_last(res): pass",
    ],
    ids=["xfail-absorbs-it", "plain"],
)
@pytest.mark.parametrize("teardown", ["raise RuntimeError('leak')", "pytest.skip('unverified')"])
def test_a_shared_teardown_that_is_not_clean_fails_its_users_whatever_absorbs_it(
    one: pytest.Pytester, last: str, teardown: str, xdist: bool
) -> None:
    source = (
        "import pytest\n"
        '@pytest.fixture(scope="module")\n'
        f"def res():\n    yield 1\n    {teardown}\n"
        '@pytest.mark.parity("A")\n'
        "def test_first(res): pass\n"
    )
    one.makepyfile(source + last)
    result = run(one, "--parity-gate=all", xdist=xdist)
    assert result.ret != 0
    result.stdout.fnmatch_lines([esc("FAILED  A [M1]: 1 test failed") + "*::test_first"])


def test_a_rerun_does_not_absorb_a_shared_teardown_error(one: pytest.Pytester) -> None:
    one.makepyfile(
        """
        import pytest
        TORN = []
        @pytest.fixture(scope="module")
        def res():
            yield 1
            TORN.append(1)
            if len(TORN) == 1:
                raise RuntimeError("module teardown failed, the first time")
        @pytest.mark.parity("A")
        def test_first(res): pass
        def test_second(res): pass
        """
    )
    result = run(one, "--parity-gate=all", "--reruns=1")
    assert result.ret == GATE_FAILED_EXIT
    result.stdout.fnmatch_lines([esc("FAILED  A [M1]: 1 test failed") + "*::test_first"])


def test_a_shared_fixture_never_torn_down_proves_nothing(one: pytest.Pytester) -> None:
    # the worker dies before the module fixture's teardown: test_first's proof is unfinished
    one.makepyfile(
        """
        import os
        import pytest
        @pytest.fixture(scope="module")
        def res():
            yield 1
        @pytest.mark.parity("A")
        def test_first(res): pass
        def test_crash(res): os._exit(1)
        """
    )
    result = one.runpytest("-n", "1", "-p", "no:randomly", "--parity-gate=all")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([esc("FAILED  A [M1]: 1 test failed") + "*::test_first"])


UNITTEST_SHARED = """
import unittest
import pytest

{module_level}

@pytest.mark.parity("A")
class TestShared(unittest.TestCase):
    {class_level}
    def test_proves(self): pass

class TestAfter(unittest.TestCase):
    def test_untagged(self): pass
"""


@XDIST
@pytest.mark.parametrize(
    ("module_level", "class_level"),
    [
        ("", "@classmethod\n    def tearDownClass(cls): raise RuntimeError('class')\n"),
        ("def tearDownModule(): raise RuntimeError('module')", ""),
    ],
    ids=["tearDownClass", "tearDownModule"],
)
def test_unittest_class_and_module_teardown_errors_fail_the_tests(
    one: pytest.Pytester, module_level: str, class_level: str, xdist: bool
) -> None:
    one.makepyfile(UNITTEST_SHARED.format(module_level=module_level, class_level=class_level))
    result = run(one, "--parity-gate=all", xdist=xdist)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([esc("FAILED  A [M1]: 1 test failed") + "*::test_proves"])


# -- hook-made registries ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("invariant", "message"),
    [
        ('Invariant("G", "M1", "g", tests="test_*")', "invariants.G.tests: expected an array*"),
        (
            'Invariant("G", "M1", "g", min_tests=0)',
            "invariants.G.min_tests: expected an integer >= 1*",
        ),
        (
            'Invariant("G", "M1", "g", min_tests=True)',
            "invariants.G.min_tests: expected an integer*",
        ),
        ('Invariant("G", "M1", " ")', "invariants.G.title: must not be empty*"),
        (
            'Invariant("G", "M1", "g", tests=("t", 1))',
            "invariants.G.tests[[]1]: expected a non-empty*",
        ),
        (
            'Invariant("G", "M1", "g", waiver=Waiver("r", dt.datetime(2099, 1, 1)))',
            "invariants.G.waiver.until: expected a date*",
        ),
        (
            'Invariant("G", "M1", "g", waiver=Waiver("r", "2099-01-01x"))',
            "invariants.G.waiver.until: expected a date*",
        ),
        ('Invariant("G", "M9", "g")', "invariants.G.milestone: 'M9' is not a declared milestone*"),
        ('Invariant("H", "M1", "h")', "registry.invariants[[]'G'] holds invariant 'H'*"),
        ('"not an invariant"', "invariants.G: expected a table*"),
        ('Invariant("G", "M1", "g", waiver={"reason": "r"})', "invariants.G.waiver*"),
    ],
)
def test_hook_made_invariants_are_validated(
    one: pytest.Pytester, invariant: str, message: str
) -> None:
    one.makeconftest(
        f"""
        import datetime as dt
        from pytest_parity.model import Invariant, Waiver

        def pytest_parity_registry_loaded(registry):
            registry.invariants["G"] = {invariant}
        """
    )
    one.makepyfile("def test_a(): pass")
    result = run(one, "--parity-gate=all")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *pytest_parity_registry_loaded*{message}"])
    assert "Traceback" not in result.stderr.str()


def test_a_hook_that_replaces_the_registry_tables_is_refused(one: pytest.Pytester) -> None:
    one.makeconftest(
        """
        def pytest_parity_registry_loaded(registry):
            registry.invariants = []
        """
    )
    one.makepyfile("def test_a(): pass")
    result = run(one)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *registry.invariants must be a dict*"])


def test_a_bad_marker_is_one_error_when_selecting_by_keyword(one: pytest.Pytester) -> None:
    one.makepyfile(
        """
        import pytest
        @pytest.mark.parity("NOPE")
        def test_bad(): pass
        def test_good(): pass
        """
    )
    result = run(one, "-k", "test_")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    report = result.stdout.str().split("short test summary info")[0]
    assert report.count("unknown invariant ID 'NOPE'") == 1


def test_a_socket_at_the_report_path_is_refused_before_any_test_runs(
    one: pytest.Pytester,
) -> None:
    path = one.path / "r.xml"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind("r.xml")  # relative: a socket's path has a short limit
    finally:
        server.close()  # the socket file stays
    one.makepyfile("def test_a(): pass")
    result = run(one, f"--parity-report={path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --parity-report: *r.xml is not a regular file*"])
    assert stat.S_ISSOCK(path.lstat().st_mode)  # left as it was
    result.stdout.no_fnmatch_line("*passed*")  # no test ran


@pytest.mark.skipif(not os.path.isfile("/proc/self/status"), reason="needs Linux's /proc")
def test_an_existing_report_that_cannot_be_replaced_stops_the_run_first(
    one: pytest.Pytester,
) -> None:
    # an earlier report is replaced at session start; if that fails, no test runs
    one.makepyfile("def test_a(): pass")
    result = run(one, "--parity-report=/proc/self/status")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: /proc/self/status: cannot write*"])
    result.stdout.no_fnmatch_line("*passed*")


def test_a_hook_made_string_waiver_date_is_read_like_toml(one: pytest.Pytester) -> None:
    one.makeconftest(
        """
        from pytest_parity.model import Invariant, Waiver

        def pytest_parity_registry_loaded(registry):
            registry.add(Invariant("G", "M1", "g", waiver=Waiver("later", "2999-01-01")))
        """
    )
    one.makepyfile("import pytest\n@pytest.mark.parity('A')\ndef test_a(): pass")
    result = run(one, "--parity-gate=all")
    assert result.ret == 0
    result.stdout.fnmatch_lines([esc("WAIVED  G [M1]: waived: later (until 2999-01-01)")])


def test_hook_made_reserved_or_duplicate_milestones_are_refused(one: pytest.Pytester) -> None:
    one.makeconftest(
        """
        from pytest_parity.model import Milestone

        def pytest_parity_registry_loaded(registry):
            registry.milestones.append(Milestone("M1"))
        """
    )
    one.makepyfile("def test_a(): pass")
    result = run(one)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *milestones[[]1]: milestone 'M1' is declared twice*"])


def test_a_hook_made_title_with_a_lone_surrogate_is_shown_safely(one: pytest.Pytester) -> None:
    one.makeconftest(
        """
        from pytest_parity.model import Invariant

        def pytest_parity_registry_loaded(registry):
            registry.add(Invariant("G", "M1", "bad \\udc80 text"))
        """
    )
    one.makepyfile("import pytest\n@pytest.mark.parity('A')\ndef test_a(): pass")
    result = run(one, "--parity-gate=all", "--parity-report=r.xml", "-v")
    assert result.ret == GATE_FAILED_EXIT
    assert read_report(one.path / "r.xml").registry.invariants["G"].title == "bad \udc80 text"


# -- modes that run no test, clashing outputs --------------------------------------------


@pytest.mark.parametrize("mode", ["--fixtures", "--fixtures-per-test", "--markers"])
def test_modes_that_run_no_test_judge_nothing(one: pytest.Pytester, mode: str) -> None:
    one.makepyfile("import pytest\n@pytest.mark.parity('A')\ndef test_a(): pass")
    result = run(one, mode, "--parity-gate=all", "--parity-report=r.xml")
    assert result.ret == 0
    assert "= parity =" not in result.stdout.str()
    assert not (one.path / "r.xml").exists()


def test_the_same_path_for_junitxml_and_the_report_is_refused(one: pytest.Pytester) -> None:
    one.makepyfile("def test_a(): pass")
    result = run(one, "--junitxml=out/same.xml", "--parity-report=out/../out/same.xml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --parity-report*same.xml*--junitxml*"])


# -- literal * and ? in globs -------------------------------------------------------------


def test_escaped_question_mark_in_a_glob_is_literal(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".toml",
        parity="""
        milestones = ["M1"]
        [invariants.A]
        milestone = "M1"
        title = "a"
        tests = ['test_q.py::test_y[\\?]']
        """,
    )
    pytester.makepyfile(
        test_q="""
        import pytest
        @pytest.mark.parametrize("x", ["z", "?"])
        def test_y(x): pass
        """
    )
    result = run(pytester, "--parity-gate=all", "--deselect", "test_q.py::test_y[?]")
    assert result.ret == GATE_FAILED_EXIT  # test_y[z] is not test_y[?]: no proof
    result = run(pytester, "--parity-gate=all", "-v")
    assert result.ret == 0
    lines = parity_lines(result)
    assert "    passed  test_q.py::test_y[?]" in lines
    assert "    passed  test_q.py::test_y[z]" not in lines


# -- found by trying harder: clocks, stale reports, late hooks, changing registries ------


def test_a_frozen_clock_does_not_keep_an_expired_waiver_alive(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".toml",
        parity="""
        milestones = ["M1"]
        [invariants.A]
        milestone = "M1"
        title = "a"
        waiver = { reason = "temporary", until = 2021-06-30 }
        """,
    )
    pytester.makeconftest(
        """
        import datetime
        class Frozen(datetime.datetime):  # what freezegun does when a suite starts it
            @classmethod
            def now(cls, tz=None):
                return datetime.datetime(2020, 1, 1, tzinfo=tz)
        datetime.datetime = Frozen
        """
    )
    pytester.makepyfile("def test_untagged(): pass")
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--parity-gate=all")
    assert result.ret == GATE_FAILED_EXIT
    result.stdout.fnmatch_lines([esc("MISSING A [M1]: ") + "*waiver expired on 2021-06-30*"])


def test_a_run_that_dies_leaves_no_green_report_behind(one: pytest.Pytester) -> None:
    one.makepyfile(
        """
        import os
        import pytest
        @pytest.mark.parity("A")
        def test_a(): pass
        def test_b():
            if os.environ.get("DIE"):
                os._exit(0)
        """
    )
    assert run(one, "--parity-gate=all", "--parity-report=r.xml").ret == 0
    assert main(["check", str(one.path / "r.xml"), "-q"]) == 0
    one.runpytest_subprocess("-p", "no:randomly", "--parity-report=r.xml", "--parity-gate=all")
    died = one.run(
        sys.executable,
        "-c",
        "import os, sys, pytest; os.environ['DIE'] = '1'; "
        "sys.exit(pytest.main(['-p', 'no:randomly', '--parity-report=r.xml']))",
    )
    assert died.ret == 0  # os._exit(0): pytest never got to write the report
    assert read_report(one.path / "r.xml").incomplete
    assert main(["check", str(one.path / "r.xml"), "-q"]) == 1


def test_a_conftest_sessionfinish_that_raises_leaves_no_green_report(one: pytest.Pytester) -> None:
    one.makepyfile("import pytest\n@pytest.mark.parity('A')\ndef test_a(): pass")
    assert run(one, "--parity-report=r.xml").ret == 0
    one.makeconftest(
        "def pytest_sessionfinish(session, exitstatus):\n"
        "    raise RuntimeError('leak check failed')\n"
    )
    result = run(one, "--parity-report=r.xml", "--parity-gate=all")
    assert result.ret != 0
    assert main(["check", str(one.path / "r.xml"), "-q"]) == 1


def test_a_conftest_that_maps_exit_5_to_0_cannot_hide_a_failed_gate(one: pytest.Pytester) -> None:
    one.makeconftest(
        "def pytest_sessionfinish(session, exitstatus):\n"
        "    if exitstatus == 5:\n"
        "        session.exitstatus = 0\n"
    )
    one.makepyfile("import pytest\n@pytest.mark.parity('A')\ndef test_a(): pass")
    result = run(one, "--parity-gate=all", "-k", "nothing_matches")
    assert result.ret == GATE_FAILED_EXIT


def test_a_registry_changed_during_an_xdist_run_is_noticed(one: pytest.Pytester) -> None:
    one.makepyfile(
        """
        import os, pathlib
        def test_0_rewrites_the_registry():
            path = pathlib.Path("parity.toml")
            if "tests" not in path.read_text():
                path.write_text(path.read_text() + '\\ntests = ["*::test_z"]\\n')
                os._exit(1)
        def test_z(): pass
        """
    )
    result = one.runpytest("-n", "1", "-p", "no:randomly", "--parity-gate=all")
    assert "read a different registry" in parity_lines(result)[-1]


def test_xdist_giving_up_under_dist_each_is_incomplete(one: pytest.Pytester) -> None:
    one.makepyfile(
        """
        import os, pytest
        def test_0(worker_id):
            if worker_id == "gw1":
                os._exit(3)
        @pytest.mark.parity("A")
        def test_2(worker_id):
            assert worker_id != "gw1"
        """
    )
    result = run(one, "--parity-gate=all", "--dist=each", "--max-worker-restart=0", xdist=True)
    assert "NOT EVALUATED" in parity_lines(result)[-1]


@pytest.mark.parametrize(
    ("option", "env", "message"),
    [
        ("--parity-report=", "", "--parity-report: the path is empty*"),
        ("--parity-report=r.xml", "abc", "SOURCE_DATE_EPOCH: expected a non-negative integer*"),
    ],
)
def test_bad_report_settings_are_refused_before_any_test_runs(
    one: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, option: str, env: str, message: str
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", env)
    one.makepyfile("def test_a(): pass")
    result = run(one, option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "passed" not in result.stdout.str()
