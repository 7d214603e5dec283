"""Unit tests of pytest_parity.registry: discovery, strict loading, globs, suggestions."""

from __future__ import annotations

import datetime as dt
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_parity import registry as registry_module
from pytest_parity import schema
from pytest_parity.model import Invariant, Milestone, ParityError, Waiver, did_you_mean
from pytest_parity.registry import find_registry, load_registry

EXAMPLE = """\
# The contract's example registry.
milestones = ["M1", "M2", "M3"]

[invariants.RUNKEY-01]
milestone = "M1"
title = "A duplicate run_key returns the existing run"
min_tests = 2
tests = ["tests/api/test_runs.py::test_run_key_*"]
waiver = { reason = "ADR-12: lands with PR 31", until = 2027-01-31 }

[invariants."timer.dedupe"]
milestone = "M2"
title = "Timer events are deduplicated by timer_id"
"""


def write(directory: Path, text: str, name: str = "parity.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(directory: Path, text: str, name: str = "parity.toml") -> str:
    path = write(directory, text, name)
    with pytest.raises(ParityError) as info:
        load_registry(path)
    message = str(info.value)
    assert message.startswith(f"{path}:"), message
    return message.removeprefix(f"{path}")


def with_invariant(body: str, milestones: str = '["M1", "M2", "M3"]') -> str:
    """A registry whose one invariant RUNKEY-01 has the given extra lines."""
    return f"milestones = {milestones}\n[invariants.RUNKEY-01]\n{textwrap.dedent(body)}"


# -- loading: what a valid registry gives ----------------------------------------------


def test_load_contract_example(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)
    reg = load_registry(path)
    assert reg.source == str(path)
    assert reg.milestones == [Milestone("M1"), Milestone("M2"), Milestone("M3")]
    assert list(reg.invariants) == ["RUNKEY-01", "timer.dedupe"]
    assert reg.invariants["RUNKEY-01"] == Invariant(
        id="RUNKEY-01",
        milestone="M1",
        title="A duplicate run_key returns the existing run",
        min_tests=2,
        tests=("tests/api/test_runs.py::test_run_key_*",),
        waiver=Waiver("ADR-12: lands with PR 31", dt.date(2027, 1, 31)),
    )
    assert reg.invariants["timer.dedupe"] == Invariant(
        id="timer.dedupe",
        milestone="M2",
        title="Timer events are deduplicated by timer_id",
    )


def test_milestones_only_means_no_invariants(tmp_path: Path) -> None:
    reg = load_registry(write(tmp_path, 'milestones = ["M1"]\n'))
    assert reg.milestone_ids() == ["M1"]
    assert reg.invariants == {}


def test_empty_invariants_table(tmp_path: Path) -> None:
    reg = load_registry(write(tmp_path, 'milestones = ["M1"]\n[invariants]\n'))
    assert reg.invariants == {}


def test_milestones_as_tables_with_titles_keep_declared_order(tmp_path: Path) -> None:
    reg = load_registry(
        write(
            tmp_path,
            """\
            milestones = [
                { id = "M3", title = "  Operational  " },
                "M1",
                { id = "M2" },
                { title = "Later", id = "M10" },
            ]
            """,
        )
    )
    assert reg.milestones == [
        Milestone("M3", "Operational"),
        Milestone("M1", ""),
        Milestone("M2", ""),
        Milestone("M10", "Later"),
    ]


def test_invariants_keep_document_order(tmp_path: Path) -> None:
    text = 'milestones = ["M1"]\n' + "".join(
        f'[invariants."{ident}"]\nmilestone = "M1"\ntitle = "t {ident}"\n'
        for ident in ("Z-9", "A-1", "m.2", "B:3", "0_x")
    )
    reg = load_registry(write(tmp_path, text))
    assert list(reg.invariants) == ["Z-9", "A-1", "m.2", "B:3", "0_x"]


def test_dotted_keys_and_inline_invariant_tables(tmp_path: Path) -> None:
    reg = load_registry(
        write(
            tmp_path,
            """\
            milestones = ["M1"]
            invariants.A-1 = { milestone = "M1", title = "inline" }
            invariants."b.c".milestone = "M1"
            invariants."b.c".title = "dotted"
            """,
        )
    )
    assert [(i.id, i.title) for i in reg.invariants.values()] == [
        ("A-1", "inline"),
        ("b.c", "dotted"),
    ]


def test_titles_and_reasons_are_stripped(tmp_path: Path) -> None:
    reg = load_registry(
        write(
            tmp_path,
            with_invariant(
                """\
                milestone = "M1"
                title = \"\"\"
                  Multi-line title
                \"\"\"
                waiver = { reason = " why ", until = 2027-01-31 }
                """
            ),
        )
    )
    inv = reg.invariants["RUNKEY-01"]
    assert inv.title == "Multi-line title"
    assert inv.waiver == Waiver("why", dt.date(2027, 1, 31))


@pytest.mark.parametrize("until", ["2027-01-31", "'2027-01-31'", '"2027-01-31"'])
def test_waiver_until_date_or_iso_string(tmp_path: Path, until: str) -> None:
    reg = load_registry(
        write(
            tmp_path,
            with_invariant(
                f'milestone = "M1"\ntitle = "t"\nwaiver = {{ reason = "r", until = {until} }}\n'
            ),
        )
    )
    waiver = reg.invariants["RUNKEY-01"].waiver
    assert waiver is not None
    assert waiver.until == dt.date(2027, 1, 31)
    assert type(waiver.until) is dt.date


def test_tests_globs_kept_in_order(tmp_path: Path) -> None:
    reg = load_registry(
        write(tmp_path, with_invariant('milestone = "M1"\ntitle = "t"\ntests = ["b*", "a?", "b*"]'))
    )
    assert reg.invariants["RUNKEY-01"].tests == ("b*", "a?", "b*")


def test_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "parity.toml"
    path.write_bytes(b'\xef\xbb\xbfmilestones = ["M1"]\n')
    assert load_registry(path).milestone_ids() == ["M1"]


def test_pyproject_tool_parity_table(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [project]
        name = "x"

        [tool.parity]
        milestones = [{ id = "M1", title = "One" }]

        [tool.parity.invariants.A-1]
        milestone = "M1"
        title = "t"

        [tool.other]
        milestones = 3
        """,
        name="pyproject.toml",
    )
    reg = load_registry(path)
    assert reg.milestones == [Milestone("M1", "One")]
    assert list(reg.invariants) == ["A-1"]
    assert reg.source == str(path)


def test_other_file_names_use_the_whole_document(tmp_path: Path) -> None:
    # Only a file named pyproject.toml is read through tool.parity.
    path = write(tmp_path, 'milestones = ["M1"]\n', name="invariants.toml")
    assert load_registry(path).milestone_ids() == ["M1"]


# -- loading: every error path ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            'milestone = ["M1"]\n',
            ": milestone: unknown key (did you mean 'milestones'?)",
            id="unknown-top-key-suggested",
        ),
        pytest.param(
            'milestones = ["M1"]\nfoo = 1\n',
            ": foo: unknown key (known keys: milestones, invariants)",
            id="unknown-top-key-listed",
        ),
        pytest.param(
            'milestones = ["M1"]\n"odd key" = 1\n',
            ': "odd key": unknown key (known keys: milestones, invariants)',
            id="unknown-top-key-quoted",
        ),
        pytest.param(
            "[invariants]\n",
            ": required key 'milestones' is missing (an array of milestone IDs: "
            'milestones = ["M1"])',
            id="milestones-missing",
        ),
        pytest.param(
            'milestones = "M1"\n',
            ": milestones: expected an array of milestone IDs, found string 'M1'",
            id="milestones-not-array",
        ),
        pytest.param(
            "milestones = { a = 1, b = [true, 1.5] }\n",
            ": milestones: expected an array of milestone IDs, found table "
            "{a = 1, b = [true, 1.5]}",
            id="milestones-table",
        ),
        pytest.param(
            "milestones = []\n",
            ": milestones: must declare at least one milestone",
            id="milestones-empty",
        ),
        pytest.param(
            'milestones = ["M1", "M 2"]\n',
            ": milestones[1]: invalid milestone ID 'M 2' (an ID starts with a letter or digit",
            id="milestone-bad-id",
        ),
        pytest.param(
            'milestones = ["-M1"]\n',
            ": milestones[0]: invalid milestone ID '-M1'",
            id="milestone-bad-first-char",
        ),
        pytest.param(
            'milestones = [""]\n',
            ": milestones[0]: invalid milestone ID ''",
            id="milestone-empty-id",
        ),
        pytest.param(
            'milestones = ["M1\\n"]\n',
            ": milestones[0]: invalid milestone ID 'M1\\n'",
            id="milestone-trailing-newline",
        ),
        pytest.param(
            'milestones = ["M1", 3]\n',
            ": milestones[1]: expected a milestone ID string or an inline table {id, title}, "
            "found integer 3",
            id="milestone-entry-int",
        ),
        pytest.param(
            'milestones = [{ id = "M1", titel = "x" }]\n',
            ": milestones[0].titel: unknown key (did you mean 'title'?)",
            id="milestone-table-unknown-key",
        ),
        pytest.param(
            'milestones = [{ title = "x" }]\n',
            ": milestones[0]: required key 'id' is missing",
            id="milestone-table-no-id",
        ),
        pytest.param(
            "milestones = [{ id = 1 }]\n",
            ": milestones[0].id: expected a string, found integer 1",
            id="milestone-table-id-int",
        ),
        pytest.param(
            'milestones = [{ id = "M 1" }]\n',
            ": milestones[0].id: invalid milestone ID 'M 1'",
            id="milestone-table-bad-id",
        ),
        pytest.param(
            'milestones = [{ id = "M1", title = true }]\n',
            ": milestones[0].title: expected a string, found boolean true",
            id="milestone-table-title-bool",
        ),
        pytest.param(
            'milestones = ["M1", "M2", "M1"]\n',
            ": milestones[2]: milestone 'M1' is declared twice",
            id="milestone-duplicate",
        ),
        pytest.param(
            'milestones = [{ id = "M1" }, "M1"]\n',
            ": milestones[1]: milestone 'M1' is declared twice",
            id="milestone-duplicate-mixed",
        ),
        pytest.param(
            'milestones = ["M1"]\ninvariants = ["X"]\n',
            ": invariants: expected a table of [invariants.<ID>] tables, found array ['X']",
            id="invariants-array",
        ),
        pytest.param(
            'milestones = ["M1"]\n[[invariants]]\nmilestone = "M1"\n',
            ": invariants: expected a table of [invariants.<ID>] tables, found array",
            id="invariants-array-of-tables",
        ),
        pytest.param(
            'milestones = ["M1"]\n[invariants]\nX = "M1"\n',
            ": invariants.X: expected a table (milestone, title, ...), found string 'M1'",
            id="invariant-not-table",
        ),
        pytest.param(
            'milestones = ["M1"]\n[invariants."bad id"]\nmilestone = "M1"\n',
            ": invariants.\"bad id\": invalid invariant ID 'bad id' (an ID starts with",
            id="invariant-bad-id",
        ),
        pytest.param(
            'milestones = ["M1"]\n[invariants."X\\n"]\nmilestone = "M1"\n',
            ': invariants."X\\n": invalid invariant ID',
            id="invariant-id-trailing-newline",
        ),
    ],
)
def test_top_level_and_milestone_errors(tmp_path: Path, text: str, expected: str) -> None:
    message = load_error(tmp_path, text)
    assert message.startswith(expected), message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nmin_test = 2\n',
            ": invariants.RUNKEY-01.min_test: unknown key (did you mean 'min_tests'?)",
            id="unknown-key-suggested",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nowner = "me"\n',
            ": invariants.RUNKEY-01.owner: unknown key (known keys: milestone, title, "
            "min_tests, tests, waiver)",
            id="unknown-key-listed",
        ),
        pytest.param(
            'title = "t"\n',
            ": invariants.RUNKEY-01: required key 'milestone' is missing (one of: M1, M2, M3)",
            id="milestone-missing",
        ),
        pytest.param(
            'milestone = "M9"\ntitle = "t"\n',
            ": invariants.RUNKEY-01.milestone: 'M9' is not a declared milestone "
            "(declared: M1, M2, M3)",
            id="milestone-undeclared",
        ),
        pytest.param(
            "milestone = 1\n",
            ": invariants.RUNKEY-01.milestone: expected a string, found integer 1",
            id="milestone-int",
        ),
        pytest.param(
            'milestone = "M1"\n',
            ": invariants.RUNKEY-01: required key 'title' is missing",
            id="title-missing",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "  \\t "\n',
            ": invariants.RUNKEY-01.title: must not be empty",
            id="title-blank",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = 2027-01-31\n',
            ": invariants.RUNKEY-01.title: expected a string, found date 2027-01-31",
            id="title-date",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nmin_tests = 0\n',
            ": invariants.RUNKEY-01.min_tests: expected an integer >= 1, found integer 0",
            id="min-tests-zero",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nmin_tests = -3\n',
            ": invariants.RUNKEY-01.min_tests: expected an integer >= 1, found integer -3",
            id="min-tests-negative",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nmin_tests = true\n',
            ": invariants.RUNKEY-01.min_tests: expected an integer >= 1, found boolean true",
            id="min-tests-bool",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nmin_tests = "2"\n',
            ": invariants.RUNKEY-01.min_tests: expected an integer >= 1, found string '2'",
            id="min-tests-string",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nmin_tests = 2.0\n',
            ": invariants.RUNKEY-01.min_tests: expected an integer >= 1, found float 2.0",
            id="min-tests-float",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\ntests = "tests/test_x.py::*"\n',
            ": invariants.RUNKEY-01.tests: expected an array of node-ID globs, found string "
            "'tests/test_x.py::*' (write tests = [\"tests/test_x.py::*\"])",
            id="tests-string",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\ntests = { a = "b" }\n',
            ": invariants.RUNKEY-01.tests: expected an array of node-ID globs, found table "
            "{a = 'b'}",
            id="tests-table",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\ntests = ["a", ""]\n',
            ": invariants.RUNKEY-01.tests[1]: expected a non-empty node-ID glob string, "
            "found string ''",
            id="tests-empty-glob",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\ntests = [3]\n',
            ": invariants.RUNKEY-01.tests[0]: expected a non-empty node-ID glob string, "
            "found integer 3",
            id="tests-int-glob",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nwaiver = "ADR-12"\n',
            ": invariants.RUNKEY-01.waiver: expected a table "
            "{ reason = \"...\", until = 2027-01-31 }, found string 'ADR-12'",
            id="waiver-string",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nwaiver = { reson = "r", until = 2027-01-31 }\n',
            ": invariants.RUNKEY-01.waiver.reson: unknown key (did you mean 'reason'?)",
            id="waiver-unknown-key",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nwaiver = { until = 2027-01-31 }\n',
            ": invariants.RUNKEY-01.waiver: required key 'reason' is missing",
            id="waiver-no-reason",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nwaiver = { reason = "", until = 2027-01-31 }\n',
            ": invariants.RUNKEY-01.waiver.reason: must not be empty",
            id="waiver-empty-reason",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nwaiver = { reason = 12, until = 2027-01-31 }\n',
            ": invariants.RUNKEY-01.waiver.reason: expected a string, found integer 12",
            id="waiver-reason-int",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nwaiver = { reason = "r" }\n',
            ": invariants.RUNKEY-01.waiver: required key 'until' is missing",
            id="waiver-no-until",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\n'
            'waiver = { reason = "r", until = 2027-01-31T10:00:00 }\n',
            ": invariants.RUNKEY-01.waiver.until: expected a date, found datetime "
            "2027-01-31T10:00:00; a waiver holds through a whole day (UTC), so give the day "
            "only: until = 2027-01-31",
            id="waiver-until-local-datetime",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\n'
            'waiver = { reason = "r", until = 2027-01-31T00:00:00Z }\n',
            ": invariants.RUNKEY-01.waiver.until: expected a date, found datetime "
            "2027-01-31T00:00:00+00:00;",
            id="waiver-until-offset-datetime",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nwaiver = { reason = "r", until = 07:30:00 }\n',
            ": invariants.RUNKEY-01.waiver.until: expected a date (until = 2027-01-31, or "
            "'YYYY-MM-DD'), found time 07:30:00",
            id="waiver-until-time",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nwaiver = { reason = "r", until = 20270131 }\n',
            ": invariants.RUNKEY-01.waiver.until: expected a date (until = 2027-01-31, or "
            "'YYYY-MM-DD'), found integer 20270131",
            id="waiver-until-int",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nwaiver = { reason = "r", until = "20270131" }\n',
            ": invariants.RUNKEY-01.waiver.until: expected a date (until = 2027-01-31, or "
            "'YYYY-MM-DD'), found string '20270131'",
            id="waiver-until-compact-string",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nwaiver = { reason = "r", until = "31.01.2027" }\n',
            ": invariants.RUNKEY-01.waiver.until: expected a date",
            id="waiver-until-other-format",
        ),
        pytest.param(
            'milestone = "M1"\ntitle = "t"\nwaiver = { reason = "r", until = "2027-02-30" }\n',
            ": invariants.RUNKEY-01.waiver.until: '2027-02-30' is not a valid date (",
            id="waiver-until-impossible-date",
        ),
    ],
)
def test_invariant_errors(tmp_path: Path, body: str, expected: str) -> None:
    message = load_error(tmp_path, with_invariant(body))
    assert message.startswith(expected), message


def test_long_values_are_shortened_in_messages(tmp_path: Path) -> None:
    message = load_error(tmp_path, with_invariant(f'milestone = "M1"\ntitle = {["x" * 10] * 20}'))
    assert message.startswith(": invariants.RUNKEY-01.title: expected a string, found array [")
    assert message.endswith("...")
    assert len(message) < 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '[invariants.timer.dedupe]\nmilestone = "M1"\ntitle = "t"\n',
            ": invariants.timer.dedupe: unknown key (an invariant ID with dots must be a quoted "
            'key: [invariants."timer.dedupe"])',
            id="one-dot",
        ),
        pytest.param(
            '[invariants.a.b.c]\nmilestone = "M1"\ntitle = "t"\n',
            ": invariants.a.b: unknown key (an invariant ID with dots must be a quoted key: "
            '[invariants."a.b.c"])',
            id="two-dots",
        ),
        pytest.param(
            '[invariants.a.b]\nmilestone = "M1"\n',
            ": invariants.a.b: unknown key (an invariant ID with dots must be a quoted key: "
            '[invariants."a.b"])',
            id="one-key",
        ),
        pytest.param(
            "[invariants.a.b]\nc = 1\n",
            ": invariants.a.b: unknown key (an invariant ID with dots must be a quoted key: "
            '[invariants."a.b"])',
            id="non-table-leaf",
        ),
    ],
)
def test_unquoted_dotted_invariant_id_hint(tmp_path: Path, text: str, expected: str) -> None:
    message = load_error(tmp_path, 'milestones = ["M1"]\n' + text)
    assert message == expected


def test_error_message_style_matches_the_brief(tmp_path: Path) -> None:
    path = write(tmp_path, with_invariant('milestone = "M9"\ntitle = "t"\n'))
    with pytest.raises(ParityError) as info:
        load_registry(path)
    assert str(info.value) == (
        f"{path}: invariants.RUNKEY-01.milestone: 'M9' is not a declared milestone "
        "(declared: M1, M2, M3)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '[tool.parity]\nmilestones = ["M1"]\n[tool.parity.invariants.A-1]\nmilestone = "M2"\n'
            'title = "t"\n',
            ": tool.parity.invariants.A-1.milestone: 'M2' is not a declared milestone "
            "(declared: M1)",
            id="invariant-key",
        ),
        pytest.param(
            '[tool.parity]\nmilestones = ["M1"]\nmilestone = 1\n',
            ": tool.parity.milestone: unknown key (did you mean 'milestones'?)",
            id="top-key",
        ),
        pytest.param(
            '[tool.parity]\nmilestones = ["M1", 2]\n',
            ": tool.parity.milestones[1]: expected a milestone ID string",
            id="milestone-index",
        ),
        pytest.param(
            "[tool.parity]\n",
            ": tool.parity: required key 'milestones' is missing",
            id="missing-milestones",
        ),
        pytest.param(
            "[tool]\nparity = 3\n",
            ": tool.parity: expected a table, found integer 3",
            id="not-a-table",
        ),
        pytest.param(
            '[project]\nname = "x"\n',
            ": no [tool.parity] table: this pyproject.toml declares no pytest-parity registry",
            id="no-tool-table",
        ),
        pytest.param(
            "tool = 1\n",
            ": no [tool.parity] table",
            id="tool-not-a-table",
        ),
    ],
)
def test_pyproject_errors_prefix_tool_parity(tmp_path: Path, text: str, expected: str) -> None:
    message = load_error(tmp_path, text, name="pyproject.toml")
    assert message.startswith(expected), message


# -- loading: syntax errors and unreadable files ---------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "col", "fragment"),
    [
        pytest.param(
            'milestones = ["M1"]\n[invariants.X]\nmilestone = \n',
            3,
            13,
            "Invalid value",
            id="value",
        ),
        pytest.param("x = [", 1, 6, "Invalid value", id="end-of-document-first-line"),
        pytest.param("a = 1\nb = [1,\n", 3, 1, "Invalid value", id="end-of-document"),
        pytest.param(
            '[invariants.X]\nmilestone = "M1"\n[invariants.X]\n', 3, 14, "twice", id="duplicate"
        ),
        pytest.param('a = "\x01"', 1, 6, "Illegal character", id="control-char"),
    ],
)
def test_toml_syntax_error_names_line_and_column(
    tmp_path: Path, text: str, line: int, col: int, fragment: str
) -> None:
    message = load_error(tmp_path, text)
    assert message.startswith(f":{line}:{col}: invalid TOML: "), message
    assert fragment in message
    assert "(at " not in message  # the coordinates are not repeated


def test_toml_nested_too_deeply(tmp_path: Path) -> None:
    message = load_error(tmp_path, "x = " + "[" * 5000)
    assert message == ": invalid TOML: arrays or inline tables are nested too deeply"


class _FakeDecodeError(ValueError):
    """What Python >= 3.14's TOMLDecodeError carries."""

    def __init__(self) -> None:
        super().__init__("Unclosed array (at line 7, column 3)")
        self.msg = "Unclosed array"
        self.lineno = 7
        self.colno = 3


def test_error_position_from_attributes() -> None:
    assert registry_module._error_position(_FakeDecodeError(), "") == (7, 3, "Unclosed array")


def test_error_position_from_message() -> None:
    exc = ValueError("Bad thing (at line 12, column 40)")
    assert registry_module._error_position(exc, "") == (12, 40, "Bad thing")


def test_error_position_unknown_format() -> None:
    assert registry_module._error_position(ValueError("odd"), "a\nb") == (0, 0, "odd")


def test_toml_error_without_position(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = sys.modules["tomllib" if sys.version_info >= (3, 11) else "tomli"]

    def loads(text: str) -> dict[str, object]:
        # built without the (msg, doc, pos) constructor, which would compute a position
        # (and whose free-form use tomli >= 2.1 deprecates)
        error = toml.TOMLDecodeError.__new__(toml.TOMLDecodeError)
        Exception.__init__(error, "something odd")
        raise error

    fake = SimpleNamespace(loads=loads, TOMLDecodeError=toml.TOMLDecodeError)
    monkeypatch.setattr("pytest_parity.registry.tomllib", fake)
    text = 'milestones = ["M1"]'
    assert load_error(tmp_path, text) == ": invalid TOML: something odd"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ParityError) as info:
        load_registry(path)
    assert str(info.value) == f"{path}: cannot read the registry: No such file or directory"


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ParityError) as info:
        load_registry(tmp_path)
    assert str(info.value).startswith(f"{tmp_path}: cannot read the registry: ")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, 'milestones = ["M1"]\n')

    def read_bytes(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(ParityError) as info:
        load_registry(path)
    assert str(info.value) == f"{path}: cannot read the registry: Permission denied"


def test_os_error_without_strerror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, 'milestones = ["M1"]\n')

    def read_bytes(self: Path) -> bytes:
        raise OSError("disk on fire")

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(ParityError) as info:
        load_registry(path)
    assert str(info.value) == f"{path}: cannot read the registry: disk on fire"


@pytest.mark.parametrize(
    ("raw", "position"),
    [
        pytest.param(b'milestones = ["M\xff"]\n', "1:17", id="first-line"),
        pytest.param(b'milestones = ["M1"]\n# caf\xc3\xa9 \xe9\n', "2:8", id="second-line"),
    ],
)
def test_not_utf8(tmp_path: Path, raw: bytes, position: str) -> None:
    path = tmp_path / "parity.toml"
    path.write_bytes(raw)
    with pytest.raises(ParityError) as info:
        load_registry(path)
    assert str(info.value).startswith(f"{path}:{position}: not valid UTF-8 (byte 0x"), str(
        info.value
    )


# -- canonical hash (model.Registry.sha256 over loaded registries) ----------------------

HASH_BASE = """\
milestones = [{ id = "M1", title = "One" }, "M2"]

[invariants.A-1]
milestone = "M1"
title = "first"
min_tests = 2
tests = ["t/a.py::x*", "t/b.py::y"]
waiver = { reason = "later", until = 2027-01-31 }

[invariants.B-2]
milestone = "M2"
title = "second"
"""

HASH_REFORMATTED = """\
# Same content: comments, whitespace, key order and table order differ.
milestones = [
    { title = "One", id = "M1" },   # the first
    "M2",
]

[invariants.B-2]
title    = "second"
milestone= "M2"
min_tests = 1

[invariants.A-1]
waiver = { until = "2027-01-31", reason = "later" }
tests = [
  "t/a.py::x*",
  't/b.py::y',
]
title = "first"
milestone = "M1"
min_tests = 2
"""


def _hash(directory: Path, text: str, name: str = "parity.toml") -> str:
    return load_registry(write(directory, text, name)).sha256()


def test_hash_ignores_formatting_comments_and_order(tmp_path: Path) -> None:
    base = _hash(tmp_path, HASH_BASE)
    assert _hash(tmp_path, HASH_REFORMATTED) == base
    pyproject = "[tool.parity]\n" + HASH_BASE.replace("[invariants.", "[tool.parity.invariants.")
    assert _hash(tmp_path, pyproject, name="pyproject.toml") == base


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param('title = "One"', 'title = "Uno"', id="milestone-title"),
        pytest.param('{ id = "M1", title = "One" }, "M2"', '"M2", { id = "M1" }', id="order"),
        pytest.param('"M2"]', '"M2", "M3"]', id="extra-milestone"),
        pytest.param('title = "first"', 'title = "First"', id="invariant-title"),
        pytest.param('milestone = "M2"', 'milestone = "M1"', id="invariant-milestone"),
        pytest.param("min_tests = 2", "min_tests = 3", id="min-tests"),
        pytest.param('"t/b.py::y"]', '"t/b.py::z"]', id="glob"),
        pytest.param('"t/a.py::x*", "t/b.py::y"', '"t/b.py::y", "t/a.py::x*"', id="glob-order"),
        pytest.param('reason = "later"', 'reason = "soon"', id="waiver-reason"),
        pytest.param("2027-01-31", "2027-02-01", id="waiver-until"),
        pytest.param("[invariants.B-2]", "[invariants.B-3]", id="invariant-id"),
    ],
)
def test_hash_changes_with_any_value(tmp_path: Path, old: str, new: str) -> None:
    assert old in HASH_BASE
    assert _hash(tmp_path, HASH_BASE.replace(old, new, 1)) != _hash(tmp_path, HASH_BASE)


def test_hash_changes_without_waiver(tmp_path: Path) -> None:
    text = HASH_BASE.replace('waiver = { reason = "later", until = 2027-01-31 }\n', "")
    assert _hash(tmp_path, text) != _hash(tmp_path, HASH_BASE)


# -- discovery -------------------------------------------------------------------------

PARITY = 'milestones = ["M1"]\n'
PYPROJECT_WITH = '[project]\nname = "x"\n\n[tool.parity]\nmilestones = ["M1"]\n'
PYPROJECT_WITHOUT = '[project]\nname = "x"\n\n[tool.pytest.ini_options]\naddopts = "-q"\n'


def test_no_registry(tmp_path: Path) -> None:
    assert find_registry(tmp_path, None, None) is None


def test_parity_toml(tmp_path: Path) -> None:
    path = write(tmp_path, PARITY)
    assert find_registry(tmp_path, None, None) == path


def test_pyproject_with_tool_parity(tmp_path: Path) -> None:
    path = write(tmp_path, PYPROJECT_WITH, "pyproject.toml")
    assert find_registry(tmp_path, None, None) == path


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(PYPROJECT_WITHOUT, id="no-mention"),
        pytest.param('[project]\nname = "parity"\n[tool.parityish]\na = 1\n', id="mentions-parity"),
        pytest.param("tool = 'parity'\n", id="tool-not-table"),
        pytest.param("[[[ not toml\n", id="malformed-without-mention"),
    ],
)
def test_pyproject_without_tool_parity_is_no_registry(tmp_path: Path, text: str) -> None:
    write(tmp_path, text, "pyproject.toml")
    assert find_registry(tmp_path, None, None) is None


def test_pyproject_tool_parity_spelled_with_escape(tmp_path: Path) -> None:
    path = write(tmp_path, '[tool."\\u0070arity"]\nmilestones = ["M1"]\n', "pyproject.toml")
    assert find_registry(tmp_path, None, None) == path
    assert load_registry(path).milestone_ids() == ["M1"]


def test_pyproject_without_tool_parity_next_to_parity_toml(tmp_path: Path) -> None:
    write(tmp_path, PYPROJECT_WITHOUT, "pyproject.toml")
    path = write(tmp_path, PARITY)
    assert find_registry(tmp_path, None, None) == path


def test_pyproject_directory_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").mkdir()
    assert find_registry(tmp_path, None, None) is None


def test_ambiguous(tmp_path: Path) -> None:
    parity = write(tmp_path, PARITY)
    pyproject = write(tmp_path, PYPROJECT_WITH, "pyproject.toml")
    with pytest.raises(ParityError) as info:
        find_registry(tmp_path, None, None)
    message = str(info.value)
    assert message.startswith(f"{parity}: ambiguous pytest-parity registry: ")
    assert str(pyproject) in message
    assert "--parity-registry=PATH" in message
    assert "parity_registry" in message


def test_empty_ini_counts_as_not_given(tmp_path: Path) -> None:
    path = write(tmp_path, PARITY)
    assert find_registry(tmp_path, None, "") == path
    assert find_registry(tmp_path, None, "  ") == path


@pytest.mark.parametrize("also", ["nothing", "parity", "pyproject", "both"])
def test_ini_wins_over_rootdir_files(tmp_path: Path, also: str) -> None:
    if also in ("parity", "both"):
        write(tmp_path, PARITY)
    if also in ("pyproject", "both"):
        write(tmp_path, PYPROJECT_WITH, "pyproject.toml")
    (tmp_path / "cfg").mkdir()
    chosen = write(tmp_path / "cfg", PARITY, "inv.toml")
    assert find_registry(tmp_path, None, "cfg/inv.toml") == chosen


def test_ini_is_relative_to_rootdir_not_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    chosen = write(root / "sub", PARITY, "reg.toml")
    monkeypatch.chdir(tmp_path)
    assert find_registry(root, None, "sub/../sub/reg.toml") == chosen


def test_ini_absolute_path(tmp_path: Path) -> None:
    chosen = write(tmp_path, PARITY, "abs.toml")
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert find_registry(other, None, str(chosen)) == chosen


def test_ini_missing_file(tmp_path: Path) -> None:
    write(tmp_path, PARITY)  # the fallback is not used when the ini names a file
    with pytest.raises(ParityError) as info:
        find_registry(tmp_path, None, "cfg/nope.toml")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'cfg' / 'nope.toml'}: registry file not found (")
    assert "parity_registry = cfg/nope.toml" in message
    assert str(tmp_path) in message


@pytest.mark.parametrize("ini", [None, "other.toml"])
def test_option_wins_and_is_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ini: str | None
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    write(root, PARITY)
    write(root, PYPROJECT_WITH, "pyproject.toml")  # would be ambiguous without the option
    write(root, PARITY, "other.toml")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    chosen = write(cwd, PARITY, "mine.toml")
    monkeypatch.chdir(cwd)
    found = find_registry(root, "mine.toml", ini)
    assert found == chosen
    assert found is not None
    assert found.is_absolute()


def test_option_may_name_a_pyproject(tmp_path: Path) -> None:
    path = write(tmp_path, PYPROJECT_WITH, "pyproject.toml")
    assert find_registry(tmp_path / "nowhere", str(path), None) == path


def test_option_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, PARITY)  # the fallback is not used when the option names a file
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParityError) as info:
        find_registry(tmp_path, "nope.toml", None)
    assert str(info.value) == (
        f"{tmp_path / 'nope.toml'}: registry file not found (given by --parity-registry=nope.toml)"
    )


def test_option_directory(tmp_path: Path) -> None:
    with pytest.raises(ParityError) as info:
        find_registry(tmp_path, str(tmp_path), None)
    assert str(info.value).startswith(f"{tmp_path}: the registry must be a TOML file, not a dir")


def test_option_empty(tmp_path: Path) -> None:
    with pytest.raises(ParityError, match=r"^--parity-registry: the path is empty"):
        find_registry(tmp_path, " ", None)


def test_option_unusable_path(tmp_path: Path) -> None:
    with pytest.raises(ParityError, match="not a usable registry path"):
        find_registry(tmp_path, "bad\0name.toml", None)


def test_malformed_pyproject_mentioning_parity(tmp_path: Path) -> None:
    pyproject = write(tmp_path, '[tool.parity]\nmilestones = ["M1"\n', "pyproject.toml")
    with pytest.raises(ParityError) as info:
        find_registry(tmp_path, None, None)
    assert str(info.value).startswith(f"{pyproject}:3:1: invalid TOML: ")


def test_malformed_pyproject_not_consulted_when_ini_given(tmp_path: Path) -> None:
    write(tmp_path, "[tool.parity\n", "pyproject.toml")
    chosen = write(tmp_path, PARITY, "reg.toml")
    assert find_registry(tmp_path, None, "reg.toml") == chosen


def test_pyproject_not_utf8(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_bytes(b'[tool.parity]\nmilestones = ["\xff"]\n')
    with pytest.raises(ParityError) as info:
        find_registry(tmp_path, None, None)
    assert str(info.value).startswith(f"{pyproject}:2:16: not valid UTF-8")


def test_pyproject_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pyproject = write(tmp_path, PYPROJECT_WITH, "pyproject.toml")

    def read_bytes(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(ParityError) as info:
        find_registry(tmp_path, None, None)
    assert str(info.value) == (
        f"{pyproject}: cannot read it to see whether it declares [tool.parity]: Permission denied"
    )


def test_find_then_load_roundtrip(tmp_path: Path) -> None:
    write(tmp_path, EXAMPLE)
    path = find_registry(tmp_path, None, None)
    assert path is not None
    assert list(load_registry(path).invariants) == ["RUNKEY-01", "timer.dedupe"]


# -- suggestions -----------------------------------------------------------------------

KEYS = ("milestone", "title", "min_tests", "tests", "waiver")


def test_did_you_mean() -> None:
    assert did_you_mean("zzzzzz", KEYS) == ""
    assert did_you_mean("min_test", ["min_tests"]) == " (did you mean 'min_tests'?)"
    assert did_you_mean("RUNKEY-0", ["RUNKEY-01", "RUNKEY-02"]) == (
        " (did you mean 'RUNKEY-01' or 'RUNKEY-02'?)"
    )
    assert did_you_mean("RUNKEY-0", ["RUNKEY-01", "RUNKEY-02", "RUNKEY-03"]) == (
        " (did you mean 'RUNKEY-01', 'RUNKEY-02' or 'RUNKEY-03'?)"
    )
    assert did_you_mean("RUNKEY-0", ["RUNKEY-01", "RUNKEY-02"], n=1) == (
        " (did you mean 'RUNKEY-01'?)"
    )


# -- helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (True, "boolean"),
        (1, "integer"),
        (1.5, "float"),
        ("s", "string"),
        (dt.datetime(2027, 1, 1, 1, 1), "datetime"),
        (dt.date(2027, 1, 1), "date"),
        (dt.time(1, 1), "time"),
        ([], "array"),
        ({}, "table"),
        (object(), "object"),
    ],
)
def test_type_names(value: object, name: str) -> None:
    assert schema._type_name(value) == name
