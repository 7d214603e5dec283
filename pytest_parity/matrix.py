"""The parity matrix: one row per declared invariant, as Markdown or JSON.

Pure rendering: nothing here reads or writes files or knows about the command line
(:mod:`pytest_parity.cli` is the adapter). Every function is deterministic (no timestamps,
no dict-order surprises), so a Markdown block kept in a document can be checked in CI
with ``pytest-parity matrix --check DOC``.

Markdown safety: every cell is escaped so that no text from a registry or a report
(titles, reasons, node IDs) can break the table or the document around it. Pipes become
``\\|``, line breaks become ``<br>``, ``&``, ``<`` and ``>`` become entities (so a title
cannot open an HTML comment or tag), a backslash outside code becomes ``&#92;`` (so it
cannot escape the cell delimiter), other control characters are shown as ``\\xNN``. Node
IDs are code spans with a fence longer than any backtick run they contain (or, in the one
case where a code span cannot be made safe, a backslash right before a pipe, an HTML
``<code>`` element whose punctuation is written as character references).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from .model import Grouping, ParityError, visible
from .summary import gate_line

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .links import SourceLinks
    from .model import Evidence, GateResult, InvariantResult

__all__ = [
    "BEGIN_MARKER",
    "END_MARKER",
    "MARKDOWN_HEADER",
    "code_span",
    "markdown_cell",
    "ordered_results",
    "render_json",
    "render_markdown",
    "render_step_summary",
    "replace_block",
]

BEGIN_MARKER = "<!-- parity-matrix:begin -->"
END_MARKER = "<!-- parity-matrix:end -->"
MARKDOWN_HEADER = "| Milestone | Invariant | Title | Status | Evidence |"
_MARKDOWN_RULE = "| --- | --- | --- | --- | --- |"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
#: control characters (line breaks are handled first), DEL, and the Unicode line and
#: paragraph separators; shown visibly instead of being passed through
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029\ud800-\udfff]")
_BACKTICKS = re.compile("`+")
#: characters written as numeric entities in the ``<code>`` fallback of :func:`code_span`
_ENTITY_ESCAPED = re.compile(r"[^A-Za-z0-9 ]")
#: a line and its line ending (the last line may have none)
_LINE = re.compile(r"([^\r\n]*)(\r\n|\r|\n|\Z)")


def markdown_cell(text: str) -> str:
    """``text`` made safe as the content of one Markdown (GFM) table cell."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\\", "&#92;")
    text = _LINE_BREAK.sub("<br>", text)
    text = text.replace("\t", " ")
    text = _CONTROL.sub(visible, text)
    return text.replace("|", "\\|").strip()


def code_span(text: str) -> str:
    """``text`` (a node ID) as a Markdown code span that is safe inside a table cell."""
    text = _LINE_BREAK.sub(lambda m: re.sub(".", visible, m.group(), flags=re.DOTALL), text)
    text = _CONTROL.sub(visible, text.replace("\t", "\\x09"))
    if "\\|" in text:
        # A backslash before the escaped pipe: renderers disagree on whether that pipe
        # ends the cell. An HTML <code> element with every punctuation character as an
        # entity has neither a backslash nor a pipe.
        return "<code>" + _ENTITY_ESCAPED.sub(lambda m: f"&#{ord(m.group())};", text) + "</code>"
    text = text.replace("|", "\\|")
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    if text[:1] in ("`", " ", "") or text[-1:] in ("`", " "):
        # CommonMark strips one space on each side: the padding keeps the text exact
        text = f" {text} "
    return f"{fence}{text}{fence}"


def ordered_results(evidence: Evidence) -> list[InvariantResult]:
    """Results grouped by milestone (declared order), invariants in declared order."""
    registry = evidence.registry
    rank = {m: i for i, m in enumerate(registry.milestone_ids())}
    results = [evidence.results[inv_id] for inv_id in registry.invariants]
    return sorted(results, key=lambda r: rank.get(r.invariant.milestone, len(rank)))


#: a proven row lists at most this many proving tests (the JSON format lists them all)
MAX_LISTED_TESTS = 10


def _linked(text: str, url: str | None) -> str:
    return text if url is None else f"[{text}]({url})"


def _evidence_cell(result: InvariantResult, links: SourceLinks | None) -> str:
    """Proven: the tests that proved it. Otherwise: why it is not proven."""
    if result.status == "proven":
        refs = []
        grouping = Grouping(result.tests)
        for outcome in ("passed", "flaky"):
            tests = [t for t in result.tests if t.outcome == outcome]
            for name, count, rec in grouping.parts(tests):
                url = links.url(rec.file, rec.line) if links else None
                flaky = " (flaky)" if outcome == "flaky" else ""
                refs.append(_linked(code_span(name), url) + count + flaky)
        cell = ", ".join(refs[:MAX_LISTED_TESTS])
        if len(refs) > MAX_LISTED_TESTS:
            cell += f" and {len(refs) - MAX_LISTED_TESTS} more"
        return cell
    return markdown_cell(result.reason or result.status)


def render_markdown(evidence: Evidence, links: SourceLinks | None = None) -> str:
    """The matrix as a GFM table (header, rule, one row per invariant), ending in a newline.

    Columns: milestone, invariant ID, title, status (one word of
    :data:`~pytest_parity.model.STATUSES`), evidence (for a proven invariant the tests
    that proved it as code spans, flaky ones marked ``(flaky)``; otherwise the reason).
    With ``links``, the invariant ID links to its declaration and each test to its source.
    """
    registry_file = evidence.registry.file
    lines = [MARKDOWN_HEADER, _MARKDOWN_RULE]
    for result in ordered_results(evidence):
        inv = result.invariant
        url = links.url(registry_file, inv.line) if links else None
        cells = (
            markdown_cell(inv.milestone),
            _linked(markdown_cell(inv.id), url),
            markdown_cell(inv.title),
            result.status,
            _evidence_cell(result, links),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_json(evidence: Evidence, gate: GateResult | None) -> str:
    """The matrix as JSON (sorted keys, indent 2, ASCII, trailing newline).

    ``{"registry_sha256": ..., "gate": null | {"scope", "milestones", "result"},
    "invariants": [{"milestone", "id", "title", "status", "reason",
    "tests": [{"nodeid", "outcome"}]}]}``: ``tests`` lists every test that names the
    invariant (sorted by node ID), whatever its outcome. ``result`` is ``passed``,
    ``failed`` or ``not-evaluated``.
    """
    data = {
        "registry_sha256": evidence.registry.sha256(),
        "gate": None
        if gate is None
        else {"scope": gate.scope, "milestones": list(gate.milestones), "result": gate.verdict},
        "invariants": [
            {
                "milestone": r.invariant.milestone,
                "id": r.invariant.id,
                "title": r.invariant.title,
                "status": r.status,
                "reason": r.reason,
                "tests": [{"nodeid": t.nodeid, "outcome": t.outcome} for t in r.tests],
            }
            for r in ordered_results(evidence)
        ],
    }
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=True) + "\n"


def render_step_summary(evidence: Evidence, gate: GateResult | None) -> str:
    """What ``check`` appends to ``$GITHUB_STEP_SUMMARY``: a heading, the matrix, the gate."""
    verdict = "" if gate is None else (":white_check_mark: " if gate.passed else ":x: ")
    return (
        f"### pytest-parity\n\n{render_markdown(evidence)}\n"
        f"{verdict}**{markdown_cell(gate_line(gate).text)}**\n\n"
    )


# -- keeping a block up to date in a Markdown document ------------------------------------


def _lines(text: str) -> Iterator[tuple[str, str]]:
    """``(content, line ending)`` of every line; joined back they give ``text`` exactly."""
    pos, end = 0, len(text)
    while pos < end:
        match = _LINE.match(text, pos)
        assert match is not None  # the pattern matches the empty string
        yield match.group(1), match.group(2)
        pos = match.end()


def _is_marker(content: str, marker: str) -> bool:
    return content.strip().lstrip("\ufeff").strip() == marker


def replace_block(doc_text: str, block: str, *, source: str = "the document") -> str:
    """``doc_text`` with the lines between the marker lines replaced by ``block``.

    The marker lines are ``<!-- parity-matrix:begin -->`` and ``<!-- parity-matrix:end -->``
    (surrounding whitespace allowed), exactly one of each, begin first. Everything outside
    the block, the marker lines included, is kept exactly; the block's lines get the line
    ending of the begin marker's line. Raises ParityError naming ``source`` when the markers
    are missing, repeated or out of order.
    """
    begins: list[int] = []
    ends: list[int] = []
    lines = list(_lines(doc_text))
    for number, (content, _) in enumerate(lines):
        if _is_marker(content, BEGIN_MARKER):
            begins.append(number)
        elif _is_marker(content, END_MARKER):
            ends.append(number)
    how = (
        f"the parity matrix goes between a line {BEGIN_MARKER} and a line {END_MARKER}, "
        f"exactly one of each"
    )
    if not begins and not ends:
        raise ParityError(f"{source}: no parity matrix markers found; {how}")
    if len(begins) != 1 or len(ends) != 1:
        found = f"{len(begins)} begin and {len(ends)} end markers"
        raise ParityError(f"{source}: unbalanced parity matrix markers ({found}); {how}")
    begin, end = begins[0], ends[0]
    if end < begin:
        raise ParityError(
            f"{source}: the parity matrix end marker (line {end + 1}) comes before the begin "
            f"marker (line {begin + 1})"
        )
    newline = lines[begin][1]
    if block and not block.endswith("\n"):
        block += "\n"
    body = block.replace("\r\n", "\n").replace("\n", newline)
    head = "".join(c + e for c, e in lines[: begin + 1])
    tail = "".join(c + e for c, e in lines[end:])
    return head + body + tail
