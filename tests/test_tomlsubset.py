"""pytest_parity.tomlsubset against tomllib: same document, or None (never a different one)."""

from __future__ import annotations

import importlib
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_parity import registry as registry_module
from pytest_parity import tomlsubset
from pytest_parity.registry import load_registry

toml: Any = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")


def same(a: object, b: object) -> bool:
    """Equal, with the same types and the same key order all the way down (True != 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(map(same, a, b))
    return a == b


def tomllib_loads(text: str) -> dict[str, Any] | None:
    try:
        doc: dict[str, Any] = toml.loads(text)
    except toml.TOMLDecodeError:
        return None
    return doc


ACCEPTED = [
    "",
    "\n\n",
    "# only a comment",
    'milestones = ["M1", "M2"]\n',
    "milestones = ['M1','M2',]",
    "milestones = [ ]",
    "milestones = []  # none yet",
    "[invariants.RUNKEY-01]\nmilestone = \"M1\"\ntitle = 'A run_key is unique'\nmin_tests = 2",
    '[invariants."timer.dedupe"]\ntitle = "dotted ID, quoted"',
    "[invariants.'lit.key']\ntitle = \"literal quoted key\"",
    '  [ invariants.A ]  # indented, spaced, commented\n\ttitle = "x"\t# c',
    'k="no spaces"',
    'title = "a # is not a comment in a string"',
    "title = 'a \"double\" inside single'",
    "title = \"a 'single' inside double\"",
    'title = "tab\tinside, ünïcödé, 日本"',
    'title = ""',
    '"quoted key" = 1',
    "'' = 0",
    "n = 123456789012345678",
    "[a.b.c]\n[a.b]\n[a]\nx = 1",  # super-tables may be defined after their children
    "[a]\n[a.b]\nx = 1\n[c]",
    "[1.2]\nv = 0",
    'milestones = ["M1"]\r\n[invariants.X]\r\ntitle = "crlf"\r\n',
    "# comment with tab\tand ünicode",
    # near misses of the str-method fast path, read by the regex
    'k = ["a", ]',
    'k = ["a, b", "c"]',
    'k = ["a" , "b"]',
    'k = ["", "x"]',
    'k = [""]',
    "k = 0",
    "[-]",
    '- = "x"',
    "[a-b._c]",
    'k = "a = b"',
    'k = "ünïcödé"',
]

REJECTED = [
    'title = "escape \\n"',  # escapes: tomllib's
    'title = """multi"""',
    "title = '''multi'''",
    "n = 01",
    "n = +1",
    "n = -1",
    "n = 1_000",
    "n = 1234567890123456789",  # more than 18 digits
    "n = 1.5",
    "b = true",
    "d = 2027-01-31",
    'w = { reason = "r", until = 2027-01-31 }',
    "a.b = 1",
    "[[tables]]",
    "[a . b]",
    'tests = [\n  "x",\n]',
    "tests = [1, 2]",
    'tests = ["a" "b"]',
    "tests = [,]",
    "[a]\n[a]",
    "x = 1\nx = 2",
    "[a]\nb = 1\n[a.b]",
    "[a.b]\n[a]\nb = 1",
    "k = 'v'\rl = 1",
    "k = 1\r",
    'k = "ctrl \x01"',
    'k = "del \x7f"',
    "# ctrl \x00 in a comment",
    "k = ",
    "= 1",
    'k = "unterminated',
    "k = 1 2",
    "ключ = 1",
    "[]",
    'k = "',
    'k = "a"b"',
    'k = ["a\\"]',
    'k = ["a", "b]',
    "k = 00",
    "k = \u0661",  # an Arabic-Indic digit: str.isdigit, not TOML
    "k = \u00b2",
    "[a..b]",
    "[.a]",
    "[a.]",
    "[a]]",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_plain_subset_is_read_as_tomllib_reads_it(text: str) -> None:
    fast = tomlsubset.loads(text)
    assert fast is not None
    assert same(fast, toml.loads(text))


@pytest.mark.parametrize("text", REJECTED)
def test_everything_else_is_left_to_tomllib(text: str) -> None:
    assert tomlsubset.loads(text) is None


#: lines to build documents from: the subset, its near misses and TOML errors
FRAGMENTS = [
    *sorted({line for text in ACCEPTED + REJECTED for line in text.splitlines()}),
    "[invariants.X]",
    "[invariants.Y]",
    "[invariants]",
    "[invariants.X.waiver]",
    "milestone = 'M1'",
    "x = 1",
    "x = 'x'",
    "invariants = 1",
    'tests = ["t::a*", "t::b"]',
    "[x]",
    "[x.y]",
    '["x"]',
    "['x'.y]",
]


@pytest.mark.parametrize("seed", range(4))
def test_generated_documents_agree_with_tomllib(seed: int) -> None:
    rng = random.Random(seed)
    accepted = 0
    for _ in range(2_500):
        lines = rng.choices(FRAGMENTS, k=rng.randint(1, 7))
        text = rng.choice(["\n", "\n", "\r\n"]).join(lines) + rng.choice(["", "\n"])
        fast = tomlsubset.loads(text)
        if fast is not None:
            accepted += 1
            assert same(fast, tomllib_loads(text)), text
    # the generator must exercise the subset, not only its refusals
    assert accepted > 250


def test_registry_is_the_same_through_either_parser(tmp_path: Path) -> None:
    lines = ['milestones = ["M1", {id = "M2", title = "Two"}]']
    for n in range(50):
        lines += [f"[invariants.INV-{n:03d}]", f'milestone = "M{1 + n % 2}"', f"title = 'T {n}'"]
        lines += [f"min_tests = {1 + n % 3}", f'tests = ["t.py::test_{n}_*"]', ""]
    path = tmp_path / "parity.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    # the inline table in line 1 sends the whole file to tomllib; without it, the subset
    tomllib_registry = load_registry(path)
    path.write_text("\n".join(['milestones = ["M1", "M2"]', *lines[1:]]), encoding="utf-8")
    assert tomlsubset.loads(path.read_text(encoding="utf-8")) is not None
    subset_registry = load_registry(path)
    assert list(subset_registry.invariants.values()) == list(tomllib_registry.invariants.values())
    assert [m.id for m in subset_registry.milestones] == ["M1", "M2"]


def test_plain_lines_are_read_without_compiling_the_line_regex() -> None:
    # the common forms are read with str methods; the regex (about half a millisecond to
    # compile) is compiled only when a line needs it
    tomlsubset._patterns.cache_clear()
    text = 'milestones = ["M1", "M2"]\n\n[invariants.A-1]\nmilestone = "M1"\nmin_tests = 2\n'
    assert tomlsubset.loads(text) == toml.loads(text)
    assert tomlsubset._patterns.cache_info().currsize == 0
    assert tomlsubset.loads("# a comment\n" + text) == toml.loads(text)
    assert tomlsubset._patterns.cache_info().currsize == 1


def test_plain_registry_does_not_import_tomllib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse() -> None:
        raise AssertionError("tomllib was asked for")

    monkeypatch.setattr(registry_module, "_tomllib", refuse)
    path = tmp_path / "parity.toml"
    path.write_text('milestones = ["M1"]\n[invariants.A]\nmilestone = "M1"\ntitle = "a"\n')
    assert list(load_registry(path).invariants) == ["A"]


@pytest.mark.parametrize(
    "line",
    [" " * 100_000 + "x", "k = 1" + " \t" * 50_000 + "x", "[a" + " " * 100_000, "\t" * 100_000],
)
def test_long_runs_of_blanks_are_read_in_linear_time(line: str) -> None:
    # no two runs of whitespace meet in the line pattern: with them, the regex engine
    # tried every split of a long run (minutes for these lines); now it takes milliseconds
    expected: dict[str, Any] | None = {} if not line.strip() else None
    assert tomlsubset.loads(line) == expected
