"""The parity page and the source links: built, escaped, linked, written (no browser here;
tests/test_page_browser.py opens the page in Chromium)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html.parser
import os
import re
from typing import TYPE_CHECKING

import pytest

from pytest_parity.cli import main
from pytest_parity.evidence import decide_gate, evaluate
from pytest_parity.links import SourceLinks, repo_path
from pytest_parity.matrix import render_markdown
from pytest_parity.model import Invariant, Milestone, ParityError, Registry, TestRecord
from pytest_parity.page import CSP, SCRIPT, STYLE, PageInfo, render_page

from .conftest import mixed_evidence, run, write

if TYPE_CHECKING:
    from pathlib import Path

HOSTILE_TITLE = '<script>alert(1)</script>"><img src=x onerror=alert(2)> & \x1b[31m'
GITHUB = "https://github.com/o/r/blob/{sha}/{path}#L{line}"


class Elements(html.parser.HTMLParser):
    """Every start tag with its attributes, and the text of <style> and <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.raw: dict[str, list[str]] = {"style": [], "script": []}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = tag if tag in self.raw else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self.raw[self._in].append(data)


def parse(page: str) -> Elements:
    found = Elements()
    found.feed(page)
    return found


def hostile_evidence() -> tuple[Registry, dict[str, TestRecord]]:
    reg = Registry([Milestone("M1", HOSTILE_TITLE), Milestone("M2")], file="conf/parity.toml")
    reg.add(Invariant("A", "M1", HOSTILE_TITLE, line=4))
    reg.add(Invariant("B", "M2", "b", min_tests=2, tests=("t.py::test_b*",), line=9))
    records = {
        "t.py::test_a[<x>]": TestRecord(
            "t.py::test_a[<x>]", "failed", ("A",), (), HOSTILE_TITLE, "t.py", 3
        ),
        **{
            f"t.py::test_b[{i}]": TestRecord(
                f"t.py::test_b[{i}]", "passed", ("B",), (), "", "t.py", 8
            )
            for i in range(3)
        },
    }
    return reg, records


def page_of(links: SourceLinks | None = None, scope: str | None = "all") -> str:
    reg, records = hostile_evidence()
    evidence = evaluate(reg, records)
    gate = decide_gate(evidence, scope) if scope else None
    return render_page(evidence, gate, PageInfo("2026-11-25T10:00:00+00:00", 2, links))


def test_the_policy_allows_exactly_the_page_s_own_style_and_script() -> None:
    found = parse(page_of())
    (meta,) = [a for t, a in found.tags if t == "meta" and a.get("http-equiv")]
    assert meta["content"] == CSP
    assert found.raw["style"] == [STYLE]
    assert found.raw["script"] == [SCRIPT]
    for text, directive in ((STYLE, "style-src"), (SCRIPT, "script-src")):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in CSP
    assert "default-src 'none'" in CSP


def test_nothing_external_and_no_inline_style_or_handler() -> None:
    found = parse(page_of(SourceLinks.parse(GITHUB, "abc", "--source-url")))
    for tag, attrs in found.tags:
        assert "style" not in attrs
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert "src" not in attrs
        if tag == "link":
            raise AssertionError(f"a <link> loads something: {attrs}")
    hrefs = [a.get("href") or "" for t, a in found.tags if t == "a"]
    assert all(h.startswith(("#", "https://github.com/o/r/blob/abc/")) for h in hrefs), hrefs


def test_hostile_text_is_text() -> None:
    page = page_of()
    assert "<script>alert" not in page
    assert "<img" not in page
    assert "\x1b" not in page
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    )
    assert "\\x1b[31m" in page
    assert [t for t, _ in parse(page).tags].count("script") == 1


def test_every_invariant_status_and_test_is_on_the_page() -> None:
    page = page_of()
    assert 'data-status="failed"' in page
    assert 'data-status="proven"' in page
    assert '<span class="chip s-failed">failed</span>' in page
    assert '<span class="name">t.py::test_b[*]</span> (3 of 3)' in page  # instances grouped
    assert '<p class="o-failed">failed: 1</p>' in page
    assert "Needs 2 passing tests." in page
    assert "parity gate (all): FAILED, 1 invariant not proven" in page
    assert "2 reports, 2026-11-25T10:00:00+00:00" in page
    assert "Declared in <code>conf/parity.toml:4</code>" in page


def test_same_evidence_same_bytes() -> None:
    assert page_of() == page_of()


def test_source_links() -> None:
    links = SourceLinks.parse(GITHUB, "abc123", "--source-url")
    page = page_of(links)
    assert '<a href="https://github.com/o/r/blob/abc123/conf/parity.toml#L4">' in page
    assert '<a href="https://github.com/o/r/blob/abc123/t.py#L8">t.py::test_b[*]</a> (3' in page
    assert links.url("a b/c(1).py", 3) == "https://github.com/o/r/blob/abc123/a%20b/c%281%29.py#L3"
    assert links.url("dir\\t.py", 1) == "https://github.com/o/r/blob/abc123/dir/t.py#L1"
    assert links.url("t.py", None) is None  # the template needs a line
    assert links.url(None, 3) is None
    unpinned = SourceLinks.parse("https://x/blob/main/{path}", None, "--source-url")
    assert unpinned.url("t.py", None) == "https://x/blob/main/t.py"
    assert not unpinned.changes_with_each_commit
    assert links.changes_with_each_commit


@pytest.mark.parametrize(
    ("template", "sha", "message"),
    [
        (GITHUB, None, "names {sha} but no commit is known"),
        ("https://x/{file}", None, "unknown placeholder {file}"),
        ("https://x/blob", None, "does not name {path}"),
        ("https://x/{path}}", None, "a lone brace"),
        ('https://x/{path}" onclick="x', None, "percent-encode it"),
        ("https://x/{path} y", None, "percent-encode it"),
    ],
)
def test_bad_templates(template: str, sha: str | None, message: str) -> None:
    with pytest.raises(ParityError, match=re.escape(message)):
        SourceLinks.parse(template, sha, "--source-url")


def test_the_sha_comes_from_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    report = str(write(tmp_path, mixed_evidence()))
    for name in ("GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT", "BUILD_SOURCEVERSION"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "p.html"
    assert main(["html", report, "-o", str(out), "--source-url", GITHUB]) == 2
    monkeypatch.setenv("CI_COMMIT_SHA", "f00d")
    assert main(["html", report, "-o", str(out), "--source-url", GITHUB]) == 0
    assert "https://github.com/o/r/blob/f00d/tests/test_p.py" not in out.read_text()  # no file
    assert main(["html", report, "-o", str(out), "--source-url", "https://x/{path}"]) == 0


def test_matrix_links(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reg, records = hostile_evidence()
    text = render_markdown(evaluate(reg, records), SourceLinks.parse(GITHUB, "abc", "--source-url"))
    assert "| [B](https://github.com/o/r/blob/abc/conf/parity.toml#L9) |" in text
    assert "[`t.py::test_b[*]`](https://github.com/o/r/blob/abc/t.py#L8) (3 of 3)" in text
    report = str(write(tmp_path, mixed_evidence()))
    doc = tmp_path / "PARITY.md"
    doc.write_text("<!-- parity-matrix:begin -->\n<!-- parity-matrix:end -->\n")
    args = ["matrix", report, "--update", str(doc), "--source-url", GITHUB, "--source-sha", "a"]
    assert main(args) == 2
    assert "would put the document out of date with every commit" in capsys.readouterr().err
    assert main([*args[:4], "--source-url", "https://x/blob/main/{path}"]) == 0
    assert main(["matrix", report, "--source-url", GITHUB, "--source-sha", "a"]) == 0


def test_html_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = str(write(tmp_path, mixed_evidence()))
    out = tmp_path / "out" / "parity.html"
    assert main(["html", report, "-o", str(out), "--gate", "M1"]) == 0
    assert capsys.readouterr().err == f"wrote {out}: 8 invariants\n"
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "parity gate (M1): FAILED" in page
    assert "1 report, 2024-05-06T07:08:09+00:00" in page
    assert main(["html", str(tmp_path / "missing.xml"), "-o", str(out)]) == 2
    assert out.read_text(encoding="utf-8") == page  # nothing written on bad input


def test_a_100000_test_page_stays_small(tmp_path: Path) -> None:
    """Size at scale (how fast: bench/bench.py, case html)."""
    reg = Registry([Milestone(f"M{m}") for m in range(1, 6)], file="parity.toml")
    for i in range(10_000):
        reg.add(Invariant(f"INV-{i:05d}", f"M{i % 5 + 1}", f"invariant {i}", line=3 * i + 2))
    records = {}
    for n in range(100_000):
        nodeid = f"tests/test_gen_{n // 100:04d}.py::test_{n % 100}"
        records[nodeid] = TestRecord(
            nodeid, "passed", (f"INV-{n % 10_000:05d}",), (), "", nodeid.split("::")[0], n % 100
        )
    links = SourceLinks.parse(GITHUB, "0" * 40, "--source-url")
    page = render_page(evaluate(reg, records), None, PageInfo("t", 1, links))
    assert len(page.encode()) < 25_000_000
    assert page.count('<details class="inv"') == 10_000


# -- the plugin ----------------------------------------------------------------------------


def test_the_plugin_writes_the_page(reg: pytest.Pytester) -> None:
    reg.makeini(
        """
        [pytest]
        parity_html = out/parity.html
        parity_source_url = https://example.org/src/{path}#L{line}
        """
    )
    reg.makepyfile(
        test_p="""
        import pytest
        @pytest.mark.parity("RUNKEY-01", "RUNKEY-02", "timer.dedupe")
        def test_a(): pass
        """
    )
    result = run(reg, "--parity-gate=all")
    assert result.ret == 0
    page = (reg.path / "out" / "parity.html").read_text(encoding="utf-8")
    assert "parity gate (all): PASSED" in page
    assert '<a href="https://example.org/src/test_p.py#L2">test_p.py::test_a</a>' in page
    assert '<a href="https://example.org/src/parity.toml#L' in page
    result.stdout.fnmatch_lines([f"parity page: {reg.path / 'out' / 'parity.html'}"])


def test_the_plugin_page_and_report_agree_on_the_time(
    reg: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    reg.makepyfile(test_p="def test_a(): pass")
    run(reg, "--parity-html=p.html", "--parity-report=r.xml")
    assert "2023-11-14T22:13:20+00:00" in (reg.path / "p.html").read_text(encoding="utf-8")
    assert "2023-11-14T22:13:20+00:00" in (reg.path / "r.xml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--parity-html="], "--parity-html: the path is empty"),
        (["--parity-html=."], "is a directory"),
        (["--parity-html=r.xml", "--parity-report=r.xml"], "is also the --parity-report path"),
        (["--parity-html=j.xml", "--junitxml=j.xml"], "is also the --junitxml path"),
        (
            ["--parity-html=p.html", "-o", "parity_source_url=https://x/{sha}/{path}"],
            "parity_source_url: 'https://x/{sha}/{path}' names {sha} but no commit is known",
        ),
    ],
)
def test_the_plugin_refuses_bad_page_settings_up_front(
    reg: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    for name in ("GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT", "BUILD_SOURCEVERSION"):
        monkeypatch.delenv(name, raising=False)
    reg.makepyfile(test_p="def test_a(): pass")
    result = run(reg, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "INTERNALERROR" not in result.stderr.str() + result.stdout.str()


def test_an_earlier_page_does_not_outlive_a_run_that_dies(reg: pytest.Pytester) -> None:
    (reg.path / "p.html").write_text("<p>yesterday: parity gate (all): PASSED</p>")
    reg.makepyfile(test_p="import os\ndef test_a(): os._exit(0)")
    died = reg.runpytest_subprocess("-p", "no:randomly", "--parity-html=p.html")
    assert died.ret == 0  # os._exit(0): pytest never got to write the page
    page = (reg.path / "p.html").read_text(encoding="utf-8")
    assert "yesterday" not in page
    assert "did not finish" in page


def test_a_symlinked_page_path_writes_its_target(reg: pytest.Pytester) -> None:
    target = reg.path / "real.html"
    target.write_text("old")
    os.symlink(target, reg.path / "link.html")
    reg.makepyfile(test_p="def test_a(): pass")
    run(reg, "--parity-html=link.html")
    assert (reg.path / "link.html").is_symlink()
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_registry_of_a_report_keeps_its_file(tmp_path: Path) -> None:
    evidence = mixed_evidence()
    evidence.registry = dataclasses.replace(evidence.registry, file="a/parity.toml")
    out = tmp_path / "p.html"
    assert main(["html", str(write(tmp_path, evidence)), "-o", str(out)]) == 0
    assert "Declared in <code>a/parity.toml</code>" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/repo/tests/parity.toml", "/repo", "tests/parity.toml"),
        ("/repo/parity.toml", "/repo", "parity.toml"),
        ("/elsewhere/parity.toml", "/repo", None),  # a link would name the wrong file
        ("/repo/../parity.toml", "/repo", None),
    ],
)
def test_the_path_links_name_a_file_by(path: str, root: str, expected: str | None) -> None:
    assert repo_path(path, root) == expected
