"""Unit tests for the pure parity-matrix rendering (pytest_parity.matrix)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pytest_parity.evidence import decide_gate, evaluate
from pytest_parity.matrix import (
    BEGIN_MARKER,
    END_MARKER,
    MARKDOWN_HEADER,
    code_span,
    markdown_cell,
    ordered_results,
    render_json,
    render_markdown,
    render_step_summary,
    replace_block,
)
from pytest_parity.model import (
    STATUSES,
    Evidence,
    FlakyPolicy,
    Invariant,
    Milestone,
    ParityError,
    Registry,
    TestRecord,
    Waiver,
)

TODAY = dt.date(2026, 11, 25)


def make_registry() -> Registry:
    reg = Registry([Milestone("M1", "Execution"), Milestone("M2"), Milestone("M3")])
    # declared out of milestone order on purpose: rows are grouped by milestone
    reg.add(Invariant("M2-B", "M2", "second milestone"))
    reg.add(Invariant("RUN-01", "M1", "A | pipe\nand a <!-- comment --> & more"))
    reg.add(Invariant("RUN-02", "M1", "two tests needed", min_tests=2))
    reg.add(Invariant("MISS", "M1", "nobody names it"))
    reg.add(Invariant("W", "M3", "waived one", waiver=Waiver("ADR-7", dt.date(2099, 1, 1))))
    reg.add(Invariant("FAIL", "M3", "a failing test"))
    return reg


RECORDS = [
    TestRecord("tests/t.py::test_a[x|y]", "passed", ("RUN-01",)),
    TestRecord("tests/t.py::test_flaky", "flaky", ("RUN-01",)),
    TestRecord("tests/t.py::test_skip", "skipped", ("RUN-02",)),
    TestRecord("tests/t.py::test_b", "passed", ("M2-B", "RUN-02")),
    TestRecord("tests/t.py::test_fail", "failed", ("FAIL",)),
    TestRecord("tests/t.py::test_pass", "passed", ("FAIL",)),
]


def make_evidence(flaky: FlakyPolicy = "allow") -> Evidence:
    records = {r.nodeid: r for r in RECORDS}
    return evaluate(make_registry(), records, flaky=flaky, today=TODAY)


def rows(markdown: str) -> list[str]:
    return markdown.splitlines()[2:]


def split_row(row: str) -> list[str]:
    """Cells of a rendered row, splitting on unescaped pipes only."""
    assert row.startswith("| ")
    assert row.endswith(" |")
    cells, cell, i = [], "", 1
    body = row[1:-1]
    while i <= len(body):
        ch = body[i - 1]
        if ch == "\\" and body[i : i + 1] == "|":
            cell += "\\|"
            i += 2
            continue
        if ch == "|":
            cells.append(cell.strip())
            cell = ""
        else:
            cell += ch
        i += 1
    cells.append(cell.strip())
    return cells


class TestMarkdownCell:
    def test_plain_text_is_kept(self) -> None:
        assert markdown_cell("A duplicate run_key returns the run") == (
            "A duplicate run_key returns the run"
        )

    def test_pipes_are_escaped(self) -> None:
        assert markdown_cell("a|b") == "a\\|b"

    def test_line_breaks_become_br(self) -> None:
        assert markdown_cell("a\nb\r\nc\rd") == "a<br>b<br>c<br>d"

    def test_html_is_neutralised(self) -> None:
        assert markdown_cell("<!-- x --> & <b>") == "&lt;!-- x --&gt; &amp; &lt;b&gt;"

    def test_backslash_cannot_escape_the_delimiter(self) -> None:
        assert markdown_cell("ends with \\") == "ends with &#92;"
        assert markdown_cell("\\|") == "&#92;\\|"

    def test_control_characters_are_visible(self) -> None:
        assert markdown_cell("a\x00b\x1bc\u2028d\te") == "a\\x00b\\x1bc\\u2028d e"

    def test_surrounding_space_trimmed(self) -> None:
        assert markdown_cell("  x  ") == "x"


class TestCodeSpan:
    def test_plain(self) -> None:
        assert code_span("tests/t.py::test_x") == "`tests/t.py::test_x`"

    def test_pipe_escaped(self) -> None:
        assert code_span("t.py::x[a|b]") == "`t.py::x[a\\|b]`"

    def test_backticks_get_a_longer_fence(self) -> None:
        assert code_span("t.py::x[a`b]") == "``t.py::x[a`b]``"
        assert code_span("t.py::x[``]") == "```t.py::x[``]```"

    def test_leading_or_trailing_backtick_or_space_padded(self) -> None:
        assert code_span("`x") == "`` `x ``"
        assert code_span("x`") == "`` x` ``"
        assert code_span(" x") == "`  x `"
        assert code_span("x ") == "` x  `"

    def test_backslash_before_pipe_falls_back_to_html_code(self) -> None:
        assert code_span("t.py::c[\\|]") == "<code>t&#46;py&#58;&#58;c&#91;&#92;&#124;&#93;</code>"
        assert "\\" not in code_span("a\\|b`")

    def test_line_breaks_and_controls_visible(self) -> None:
        assert code_span("a\nb\r\nc\td\x01") == "`a\\x0ab\\x0d\\x0ac\\x09d\\x01`"


class TestRenderMarkdown:
    def test_header_and_rule(self) -> None:
        lines = render_markdown(make_evidence()).splitlines()
        assert lines[0] == MARKDOWN_HEADER
        assert lines[1] == "| --- | --- | --- | --- | --- |"

    def test_one_row_per_invariant_grouped_by_milestone_in_declared_order(self) -> None:
        ids = [split_row(row)[1] for row in rows(render_markdown(make_evidence()))]
        assert ids == ["RUN-01", "RUN-02", "MISS", "M2-B", "W", "FAIL"]

    def test_every_row_has_five_cells_and_one_status_word(self) -> None:
        for row in rows(render_markdown(make_evidence())):
            cells = split_row(row)
            assert len(cells) == 5
            assert cells[3] in STATUSES

    def test_statuses(self) -> None:
        statuses = {
            split_row(row)[1]: split_row(row)[3] for row in rows(render_markdown(make_evidence()))
        }
        assert statuses == {
            "RUN-01": "proven",
            "RUN-02": "not-run",
            "MISS": "missing",
            "M2-B": "proven",
            "W": "waived",
            "FAIL": "failed",
        }

    def test_hostile_title_is_one_safe_cell(self) -> None:
        row = rows(render_markdown(make_evidence()))[0]
        assert split_row(row)[2] == ("A \\| pipe<br>and a &lt;!-- comment --&gt; &amp; more")
        assert "<!--" not in row

    def test_proving_tests_as_code_with_flaky_marked(self) -> None:
        row = rows(render_markdown(make_evidence()))[0]
        assert split_row(row)[4] == "`tests/t.py::test_a[x\\|y]`, `tests/t.py::test_flaky` (flaky)"

    def test_not_proven_rows_say_why(self) -> None:
        cells = {split_row(r)[1]: split_row(r)[4] for r in rows(render_markdown(make_evidence()))}
        assert cells["MISS"] == "no collected test names it"
        assert cells["W"] == "waived: ADR-7 (until 2099-01-01)"
        assert "tests/t.py::test_fail" in cells["FAIL"]
        assert "1 of the 2 passing tests" in cells["RUN-02"]

    def test_flaky_under_fail_policy_is_failed(self) -> None:
        row = rows(render_markdown(make_evidence("fail")))[0]
        cells = split_row(row)
        assert cells[3] == "failed"
        assert "flaky" in cells[4]

    def test_deterministic(self) -> None:
        assert render_markdown(make_evidence()) == render_markdown(make_evidence())

    def test_ends_with_newline_and_no_blank_lines(self) -> None:
        text = render_markdown(make_evidence())
        assert text.endswith(" |\n")
        assert "\n\n" not in text

    def test_ordered_results_keeps_every_invariant(self) -> None:
        evidence = make_evidence()
        assert {r.invariant.id for r in ordered_results(evidence)} == set(evidence.results)


class TestRenderJson:
    def test_structure(self) -> None:
        evidence = make_evidence()
        data = json.loads(render_json(evidence, None))
        assert set(data) == {"registry_sha256", "gate", "invariants"}
        assert data["registry_sha256"] == evidence.registry.sha256()
        assert data["gate"] is None
        assert [inv["id"] for inv in data["invariants"]] == [
            "RUN-01",
            "RUN-02",
            "MISS",
            "M2-B",
            "W",
            "FAIL",
        ]
        first = data["invariants"][0]
        assert first == {
            "milestone": "M1",
            "id": "RUN-01",
            "title": "A | pipe\nand a <!-- comment --> & more",
            "status": "proven",
            "reason": "proven by 2 passing tests (1 flaky)",
            "tests": [
                {"nodeid": "tests/t.py::test_a[x|y]", "outcome": "passed"},
                {"nodeid": "tests/t.py::test_flaky", "outcome": "flaky"},
            ],
        }

    def test_all_tests_listed_with_outcomes(self) -> None:
        data = json.loads(render_json(make_evidence(), None))
        run02 = data["invariants"][1]
        assert run02["tests"] == [
            {"nodeid": "tests/t.py::test_b", "outcome": "passed"},
            {"nodeid": "tests/t.py::test_skip", "outcome": "skipped"},
        ]

    def test_sorted_keys_indent_and_deterministic(self) -> None:
        evidence = make_evidence()
        text = render_json(evidence, decide_gate(evidence, "M1"))
        assert text == render_json(make_evidence(), decide_gate(make_evidence(), "M1"))
        assert text.endswith("}\n")
        assert text.startswith('{\n  "gate": {\n')
        data = json.loads(text)
        assert json.dumps(data, sort_keys=True, indent=2, ensure_ascii=True) + "\n" == text

    @pytest.mark.parametrize(
        ("scope", "milestones", "result"),
        [
            ("M2", ["M1", "M2"], "failed"),
            ("all", ["M1", "M2", "M3"], "failed"),
        ],
    )
    def test_gate(self, scope: str, milestones: list[str], result: str) -> None:
        evidence = make_evidence()
        data = json.loads(render_json(evidence, decide_gate(evidence, scope)))
        assert data["gate"] == {"scope": scope, "milestones": milestones, "result": result}

    def test_gate_passed(self) -> None:
        reg = Registry([Milestone("M1")])
        reg.add(Invariant("A", "M1", "a"))
        evidence = evaluate(reg, {"t::a": TestRecord("t::a", "passed", ("A",))}, today=TODAY)
        gate = decide_gate(evidence, "all")
        assert json.loads(render_json(evidence, gate))["gate"]["result"] == "passed"

    def test_gate_not_evaluated_when_incomplete(self) -> None:
        reg = Registry([Milestone("M1")])
        evidence = evaluate(reg, {}, today=TODAY, incomplete="stopped early (-x)")
        gate = decide_gate(evidence, "all")
        assert json.loads(render_json(evidence, gate))["gate"]["result"] == "not-evaluated"


class TestStepSummary:
    def test_heading_table_and_gate(self) -> None:
        evidence = make_evidence()
        gate = decide_gate(evidence, "M1")
        text = render_step_summary(evidence, gate)
        assert text.startswith("### pytest-parity\n\n" + MARKDOWN_HEADER + "\n")
        assert render_markdown(evidence) in text
        assert text.endswith(":x: **parity gate (M1): FAILED, 2 invariants not proven**\n\n")

    def test_passed_and_no_gate(self) -> None:
        reg = Registry([Milestone("M1")])
        evidence = evaluate(reg, {}, today=TODAY)
        passed = render_step_summary(evidence, decide_gate(evidence, "all"))
        assert ":white_check_mark: **parity gate (all): PASSED**" in passed
        off = render_step_summary(evidence, None)
        assert "\n**parity gate: off" in off


DOC = f"# Parity\n\nintro\n\n{BEGIN_MARKER}\nold table\n{END_MARKER}\n\ntrailer\n"


class TestReplaceBlock:
    def test_replaces_only_the_block(self) -> None:
        out = replace_block(DOC, "new\n")
        assert out == f"# Parity\n\nintro\n\n{BEGIN_MARKER}\nnew\n{END_MARKER}\n\ntrailer\n"

    def test_idempotent(self) -> None:
        once = replace_block(DOC, "| a |\n")
        assert replace_block(once, "| a |\n") == once

    def test_block_without_final_newline_gets_one(self) -> None:
        assert f"{BEGIN_MARKER}\nnew\n{END_MARKER}" in replace_block(DOC, "new")

    def test_empty_block(self) -> None:
        assert f"{BEGIN_MARKER}\n{END_MARKER}" in replace_block(DOC, "")

    def test_crlf_document_keeps_crlf(self) -> None:
        doc = DOC.replace("\n", "\r\n")
        out = replace_block(doc, "\na\nb\n")
        assert out == (
            f"# Parity\r\n\r\nintro\r\n\r\n{BEGIN_MARKER}\r\n\r\na\r\nb\r\n{END_MARKER}"
            "\r\n\r\ntrailer\r\n"
        )
        assert "\n" not in out.replace("\r\n", "")

    def test_bytes_outside_block_kept_exactly(self) -> None:
        doc = (
            f"\ufeff  x \t\r\nmixed\rendings\n{BEGIN_MARKER}  \nzzz\n   {END_MARKER}\r\n"
            "no final newline"
        )
        out = replace_block(doc, "B\n")
        assert out == (
            f"\ufeff  x \t\r\nmixed\rendings\n{BEGIN_MARKER}  \nB\n   {END_MARKER}\r\n"
            "no final newline"
        )

    def test_marker_on_the_first_line_after_a_bom(self) -> None:
        doc = f"\ufeff{BEGIN_MARKER}\nold\n{END_MARKER}"
        assert replace_block(doc, "new\n") == f"\ufeff{BEGIN_MARKER}\nnew\n{END_MARKER}"

    def test_marker_text_inside_a_line_is_not_a_marker(self) -> None:
        doc = f"see `{BEGIN_MARKER}` here\n{BEGIN_MARKER}\nold\n{END_MARKER}\n"
        assert replace_block(doc, "new\n") == (
            f"see `{BEGIN_MARKER}` here\n{BEGIN_MARKER}\nnew\n{END_MARKER}\n"
        )

    def test_missing_markers(self) -> None:
        with pytest.raises(ParityError, match=r"^docs/P\.md: no parity matrix markers found"):
            replace_block("# nothing\n", "x\n", source="docs/P.md")

    @pytest.mark.parametrize(
        ("doc", "found"),
        [
            (f"{BEGIN_MARKER}\n", "1 begin and 0 end"),
            (f"{END_MARKER}\n", "0 begin and 1 end"),
            (f"{BEGIN_MARKER}\n{BEGIN_MARKER}\n{END_MARKER}\n", "2 begin and 1 end"),
            (f"{BEGIN_MARKER}\n{END_MARKER}\n{END_MARKER}\n", "1 begin and 2 end"),
        ],
    )
    def test_unbalanced_markers(self, doc: str, found: str) -> None:
        with pytest.raises(ParityError, match=f"unbalanced parity matrix markers \\({found}"):
            replace_block(doc, "x\n")

    def test_end_before_begin(self) -> None:
        with pytest.raises(ParityError, match=r"end marker \(line 1\) comes before .* \(line 3\)"):
            replace_block(f"{END_MARKER}\nx\n{BEGIN_MARKER}\n", "x\n")

    def test_rendered_table_cannot_forge_a_marker(self) -> None:
        reg = Registry([Milestone("M1")])
        reg.add(Invariant("A", "M1", END_MARKER))
        table = render_markdown(evaluate(reg, {}, today=TODAY))
        doc = replace_block(DOC, "\n" + table + "\n")
        assert replace_block(doc, "\n" + table + "\n") == doc
        assert doc.count(END_MARKER) == 1


def test_proven_row_lists_at_most_ten_tests() -> None:
    from pytest_parity.evidence import evaluate
    from pytest_parity.matrix import MAX_LISTED_TESTS, render_markdown
    from pytest_parity.model import Invariant, Milestone, Registry, TestRecord

    reg = Registry([Milestone("M1")])
    reg.add(Invariant("A", "M1", "a"))
    recs = {f"t{i:02d}": TestRecord(f"t{i:02d}", "passed", ("A",)) for i in range(13)}
    row = render_markdown(evaluate(reg, recs)).splitlines()[-1]
    assert MAX_LISTED_TESTS == 10
    assert "`t09`" in row
    assert "`t10`" not in row
    assert row.endswith("and 3 more |")


def test_parametrized_instances_are_one_entry() -> None:
    from pytest_parity.evidence import evaluate
    from pytest_parity.matrix import render_markdown
    from pytest_parity.model import Invariant, Milestone, Registry, TestRecord

    reg = Registry([Milestone("M1")])
    reg.add(Invariant("A", "M1", "a"))
    recs = {
        f"t.py::test_x[{i}]": TestRecord(f"t.py::test_x[{i}]", "passed", ("A",)) for i in range(17)
    }
    recs["t.py::test_y"] = TestRecord("t.py::test_y", "passed", ("A",))
    row = render_markdown(evaluate(reg, recs)).splitlines()[-1]
    assert row.endswith("| proven | `t.py::test_x[*]` (17 of 17), `t.py::test_y` |")
