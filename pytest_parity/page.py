"""The parity page: one self-contained HTML file with the gate, per-milestone progress and
every invariant's evidence.

Pure and standard library only: the page is small enough that one escaping helper and
string building stay clearer than a template language. Nothing is loaded from anywhere;
a Content-Security-Policy allows exactly the page's own style and script (by hash, so the
bytes stay deterministic), and every text from the registry or the reports is escaped.
The page reads completely with scripts off: the script only adds the filters.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import __version__
from .evidence import status_counts
from .files import atomic_write
from .matrix import ordered_results
from .model import STATUSES, Grouping, plural, visible
from .summary import gate_line

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .links import SourceLinks
    from .model import Evidence, GateResult, InvariantResult, Status, TestRecord

__all__ = ["PageInfo", "render_page", "write_page"]


@dataclass(frozen=True)
class PageInfo:
    """What the page says about where its evidence comes from."""

    #: when the run was (the report's timestamp)
    timestamp: str
    #: how many reports were merged into the evidence
    reports: int = 1
    links: SourceLinks | None = None


# characters HTML cannot show as text (controls) or UTF-8 cannot encode (lone surrogates)
_UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _text(value: object) -> str:
    """Any text, safe as HTML element content or a quoted attribute value."""
    return html.escape(_UNSHOWABLE.sub(visible, str(value)), quote=True)


STYLE = """
:root { color-scheme: light dark; --bg: #fff; --fg: #1f2328; --muted: #59636e;
  --line: #d1d9e0; --card: #f6f8fa; --link: #0969da;
  --proven: #1a7f37; --waived: #8250df; --failed: #cf222e; --missing: #bc4c00;
  --not-run: #6e7781; --passed: #1a7f37; --skipped: #6e7781; --flaky: #9a6700; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --card: #151b23;
    --link: #4493f8; --proven: #3fb950; --waived: #ab7df8; --failed: #f85149;
    --missing: #db6d28; --not-run: #9198a1; --passed: #3fb950; --skipped: #9198a1;
    --flaky: #d29922; } }
[hidden] { display: none !important; }
body { margin: 0 auto; max-width: 72rem; padding: 1rem; background: var(--bg);
  color: var(--fg); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
a { color: var(--link); }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  overflow-wrap: anywhere; }
h1 { font-size: 1.5rem; margin: 0 0 0.5rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 0.25rem; }
.verdict { border: 2px solid currentColor; border-radius: 6px; padding: 0.5rem 0.75rem;
  font-weight: 600; margin: 0.5rem 0; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0 1rem; margin: 0;
  color: var(--muted); font-size: 0.9rem; }
.meta dd { margin: 0; overflow-wrap: anywhere; }
.chip { display: inline-block; min-width: 4.5rem; text-align: center; border-radius: 1rem;
  border: 1px solid currentColor; padding: 0 0.5rem; font-size: 0.8rem; font-weight: 600; }
.s-proven, .o-passed { color: var(--proven); }
.s-waived { color: var(--waived); }
.s-failed, .o-failed { color: var(--failed); }
.s-missing { color: var(--missing); }
.s-not-run, .o-not-run, .o-skipped { color: var(--not-run); }
.o-flaky { color: var(--flaky); }
.bar { display: block; width: 100%; height: 0.75rem; border: 1px solid var(--line);
  border-radius: 3px; }
.bar rect { fill: currentColor; }
.counts { color: var(--muted); font-size: 0.9rem; }
.overview { list-style: none; padding: 0; margin: 1rem 0; }
.overview li { margin: 0.25rem 0 0.75rem; }
#filters { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: center;
  background: var(--card); border: 1px solid var(--line); border-radius: 6px;
  padding: 0.5rem 0.75rem; margin: 1rem 0; }
#filters fieldset { border: 0; margin: 0; padding: 0; display: flex; flex-wrap: wrap;
  gap: 0.25rem 0.75rem; }
#filters input[type=search] { min-width: 12rem; }
details.inv { border-top: 1px solid var(--line); padding: 0.35rem 0; }
details.inv > summary { cursor: pointer; display: flex; flex-wrap: wrap; gap: 0 0.5rem;
  align-items: baseline; list-style: none; }
details.inv > summary::-webkit-details-marker { display: none; }
details.inv > summary::before { content: "\\25B8"; width: 0.75rem; color: var(--muted); }
details.inv[open] > summary::before { content: "\\25BE"; }
.inv .title { flex: 1 1 16rem; }
.inv .reason { flex-basis: 100%; color: var(--muted); font-size: 0.9rem;
  overflow-wrap: anywhere; padding-left: 6.25rem; }
.evidence { padding: 0.25rem 0 0.5rem 6.25rem; font-size: 0.9rem; }
.evidence p { margin: 0.25rem 0; }
.evidence ul { margin: 0 0 0.5rem; padding-left: 1rem; }
.tests a, .tests .name { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  overflow-wrap: anywhere; }
.evidence .why { color: var(--muted); }
@media (max-width: 40rem) {
  .inv .reason, .evidence { padding-left: 0; }
}
@media print {
  #filters { display: none; }
  * { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  details.inv { break-inside: avoid; }
}
""".strip()

SCRIPT = """
(function () {
  "use strict";
  var form = document.getElementById("filters");
  var rows = Array.prototype.slice.call(document.querySelectorAll("details.inv"));
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.milestone"));
  var shown = document.getElementById("shown");
  var texts = null;
  function apply() {
    var statuses = {};
    form.querySelectorAll("input[name=status]").forEach(function (box) {
      statuses[box.value] = box.checked;
    });
    var milestone = form.elements.milestone.value;
    var query = form.elements.q.value.trim().toLowerCase();
    if (query && texts === null) {
      texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
    }
    var count = 0;
    rows.forEach(function (row, i) {
      var show = statuses[row.dataset.status] === true &&
        (milestone === "" || row.dataset.milestone === milestone) &&
        (query === "" || texts[i].indexOf(query) !== -1);
      row.hidden = !show;
      if (show) { count += 1; }
    });
    sections.forEach(function (section) {
      var other = milestone !== "" && section.dataset.milestone !== milestone;
      var any = section.querySelector("details.inv") !== null;
      var none = any && section.querySelector("details.inv:not([hidden])") === null;
      section.hidden = other || none;
    });
    shown.textContent = count + " of " + rows.length + " invariants shown";
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  form.hidden = false;
  apply();
  var opened = [];
  window.addEventListener("beforeprint", function () {
    rows.forEach(function (row) { if (!row.open) { row.open = true; opened.push(row); } });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (row) { row.open = false; });
    opened = [];
  });
}());
""".strip()


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


#: allows the page's own style and script and nothing else: no fetch, image, font, frame
#: or form submission
CSP = (
    f"default-src 'none'; style-src '{_sha256(STYLE)}'; script-src '{_sha256(SCRIPT)}'; "
    "base-uri 'none'; form-action 'none'"
)


def _bar(counts: Mapping[Status, int]) -> str:
    """Proven / waived / failed / missing / not-run as one stacked bar (an SVG: its widths
    are attributes, so the page needs no inline style)."""
    total = sum(counts.values())
    rects, x = [], 0
    for status in ("proven", "waived", "failed", "missing", "not-run"):
        if counts[status]:
            width = round(1000 * counts[status] / total)
            rects.append(f'<rect class="s-{status}" x="{x}" width="{width}" height="10"/>')
            x += width
    label = _counts(counts) or "no invariants"
    return (
        f'<svg class="bar" viewBox="0 0 1000 10" preserveAspectRatio="none" role="img" '
        f'aria-label="{_text(label)}">{"".join(rects)}</svg>'
    )


def _counts(counts: Mapping[Status, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n)


def _link(url: str | None, content: str) -> str:
    return content if url is None else f'<a href="{_text(url)}">{content}</a>'


def _tests(result: InvariantResult, info: PageInfo) -> str:
    """Every test naming the invariant, under its outcome, parametrized instances of one
    function with the same reason grouped."""
    if not result.tests:
        return "<p>No test names it.</p>"
    # what hurts first
    order = ("failed", "flaky", "passed", "skipped", "not-run")
    by_outcome: dict[str, dict[str, list[TestRecord]]] = {o: {} for o in order}
    for rec in result.tests:
        by_outcome[rec.outcome].setdefault(rec.reason, []).append(rec)
    grouping = Grouping(result.tests)
    html_parts = []
    for outcome, groups in by_outcome.items():
        if not groups:
            continue
        items = []
        for reason, members in groups.items():
            why = f' <span class="why">{_text(reason)}</span>' if reason else ""
            for name, count, first in grouping.parts(members):
                url = info.links.url(first.file, first.line) if info.links else None
                shown = (
                    _link(url, _text(name)) if url else f'<span class="name">{_text(name)}</span>'
                )
                items.append(f"<li>{shown}{count}{why}</li>")
        n = sum(len(members) for members in groups.values())
        html_parts.append(
            f'<p class="o-{outcome}">{outcome}: {n}</p><ul class="tests">{"".join(items)}</ul>'
        )
    return "".join(html_parts)


def _invariant(result: InvariantResult, file: str | None, info: PageInfo) -> str:
    inv = result.invariant
    status = result.status
    where = ""
    if file is not None:
        at = f"{file}:{inv.line}" if inv.line is not None else file
        url = info.links.url(file, inv.line) if info.links else None
        where = f"<p>Declared in {_link(url, f'<code>{_text(at)}</code>')}.</p>"
    needs = ""
    if inv.min_tests > 1:
        needs = f"<p>Needs {plural(inv.min_tests, 'passing test')}.</p>"
    globs = ""
    if inv.tests:
        listed = ", ".join(f"<code>{_text(glob)}</code>" for glob in inv.tests)
        globs = f"<p>Also proven by the tests matching {listed}.</p>"
    note = f"<p>{_text(result.waiver_note)}</p>" if result.waiver_note else ""
    return (
        f'<details class="inv" id="inv-{_text(inv.id)}" data-status="{status}" '
        f'data-milestone="{_text(inv.milestone)}"><summary>'
        f'<span class="chip s-{status}">{status}</span> <code>{_text(inv.id)}</code> '
        f'<span class="title">{_text(inv.title)}</span>'
        f'<span class="reason">{_text(result.reason)}</span></summary>'
        f'<div class="evidence">{where}{needs}{globs}{note}{_tests(result, info)}</div>'
        "</details>"
    )


def render_page(evidence: Evidence, gate: GateResult | None, info: PageInfo) -> str:
    """The page, as text (write it as UTF-8)."""
    registry = evidence.registry
    counts = status_counts(evidence)
    verdict = gate_line(gate).text
    state = "none" if gate is None else gate.verdict
    color = {"passed": "s-proven", "failed": "s-failed", "not-evaluated": "s-missing"}.get(
        state, "s-not-run"
    )
    if evidence.incomplete is not None and gate is None:
        verdict += f" (the run cannot vouch for its evidence: {evidence.incomplete})"
    meta = [
        ("Gate", "none" if gate is None else f"{gate.scope}: {', '.join(gate.milestones)}"),
        ("Registry sha256", registry.sha256()),
        ("Evidence from", f"{plural(info.reports, 'report')}, {info.timestamp}"),
        ("Tagged tests", str(len(evidence.records))),
        ("Made by", f"pytest-parity {__version__}"),
    ]
    overview, sections = [], []
    by_milestone: dict[str, list[InvariantResult]] = {m: [] for m in registry.milestone_ids()}
    for result in ordered_results(evidence):
        by_milestone[result.invariant.milestone].append(result)
    for milestone in registry.milestones:
        mid, title = _text(milestone.id), _text(milestone.title)
        heading = f"{mid}" + (f" — {title}" if title else "")
        line = _counts(counts[milestone.id]) or "no invariants"
        overview.append(
            f'<li><a href="#m-{mid}">{heading}</a> <span class="counts">{line}</span>'
            f"{_bar(counts[milestone.id])}</li>"
        )
        rows = "".join(
            _invariant(result, registry.file, info) for result in by_milestone[milestone.id]
        )
        sections.append(
            f'<section class="milestone" id="m-{mid}" data-milestone="{mid}">'
            f'<h2>{heading}</h2><p class="counts">{line}</p>{rows}</section>'
        )
    total = {s: sum(c[s] for c in counts.values()) for s in STATUSES}
    boxes = "".join(
        f'<label><input type="checkbox" name="status" value="{s}" checked> '
        f'<span class="chip s-{s}">{s}</span> {total[s]}</label>'
        for s in STATUSES
    )
    options = "".join(
        f'<option value="{_text(m)}">{_text(m)}</option>' for m in registry.milestone_ids()
    )
    filters = (
        '<form id="filters" hidden><fieldset><legend hidden>Status</legend>'
        f"{boxes}</fieldset>"
        '<label>Milestone <select name="milestone"><option value="">all</option>'
        f"{options}</select></label>"
        '<label>Search <input type="search" name="q" placeholder="ID, title, test, reason">'
        '</label><output id="shown"></output></form>'
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_text(verdict)}</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            "<header><h1>Parity</h1>",
            f'<p class="verdict {color}">{_text(verdict)}</p>',
            '<dl class="meta">'
            + "".join(f"<dt>{_text(k)}</dt><dd>{_text(v)}</dd>" for k, v in meta)
            + "</dl></header>",
            f'<ul class="overview">{"".join(overview)}</ul>',
            filters,
            "<main>",
            *sections,
            "</main>",
            f"<script>{SCRIPT}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def write_page(
    path: str | os.PathLike[str], evidence: Evidence, gate: GateResult | None, info: PageInfo
) -> None:
    """Write the page to ``path`` (see :func:`~pytest_parity.files.atomic_output`)."""
    atomic_write(path, render_page(evidence, gate, info).encode("utf-8"), what="the parity page")
