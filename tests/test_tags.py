"""What a test names: marker arguments checked against the registry, and ``tests`` globs."""

from __future__ import annotations

import random
import re

import pytest

from pytest_parity.model import Invariant, Milestone, ParityError, Registry
from pytest_parity.tags import GlobMatcher, check_marker, glob_hint, stale_globs

# -- GlobMatcher -----------------------------------------------------------------------


def _registry(**globs: tuple[str, ...]) -> Registry:
    reg = Registry([Milestone("M1")])
    for ident, tests in globs.items():
        reg.add(Invariant(ident, "M1", f"title of {ident}", tests=tests))
    return reg


def _matches(glob: str, nodeid: str) -> bool:
    return GlobMatcher(_registry(X=(glob,))).match(nodeid) == {"X"}


@pytest.mark.parametrize(
    ("glob", "nodeid", "expected"),
    [
        # '*' crosses '/' and '::', and may be empty
        ("tests/*::test_a", "tests/sub/deep/test_x.py::TestC::test_a", True),
        ("tests/*::test_a", "tests/::test_a", True),
        ("*::test_a", "a/b.py::C::test_a", True),
        ("*", "anything/at.py::all[x]", True),
        ("tests/test_x.py::*", "tests/test_x.py::C::test_y[1]", True),
        ("tests/test_x.py::*", "tests/test_x.py.bak::test_y", False),
        ("tests/test_x.py::*", "other/tests/test_x.py::test_y", False),
        ("tests/test_x.py*", "tests/test_x.py::test_y", True),
        ("tests/test_x.py*", "tests/test_x.pyc", True),
        ("a**b", "a::/b", True),
        ("a*b", "a\nb", True),  # '*' matches any character at all
        # '?' is exactly one character
        ("tests/test_?.py::t", "tests/test_a.py::t", True),
        ("tests/test_?.py::t", "tests/test_ab.py::t", False),
        ("tests/test_?.py::t", "tests/test_.py::t", False),
        ("t.py::test_?", "t.py::test_/", True),
        ("a?b", "a\nb", True),
        # '[' and ']' are literal
        ("tests/test_x.py::test_y[*]", "tests/test_x.py::test_y[1]", True),
        ("tests/test_x.py::test_y[*]", "tests/test_x.py::test_y[a-b-c]", True),
        ("tests/test_x.py::test_y[*]", "tests/test_x.py::test_y[]", True),
        ("tests/test_x.py::test_y[*]", "tests/test_x.py::test_yy[1]", False),
        ("tests/test_x.py::test_y[*]", "tests/test_x.py::test_y", False),
        ("tests/test_x.py::test_y[1]", "tests/test_x.py::test_y1", False),
        ("t.py::test[!a]", "t.py::test[!a]", True),
        ("t.py::test[!a]", "t.py::testb", False),
        ("t.py::test[a-c]", "t.py::testb", False),
        # regular-expression characters are literal
        ("tests/test_a.b+(c).py::t", "tests/test_a.b+(c).py::t", True),
        ("tests/test_a.b+(c).py::t", "tests/test_aXb+(c).py::t", False),
        ("tests/test_a.b+(c).py::t", "tests/test_a.bb(c).py::t", False),
        ("t.py::x$^|{2}\\d", "t.py::x$^|{2}\\d", True),
        ("t.py::x$^|{2}\\d", "t.py::x1", False),
        ("t.py::a.*", "t.py::a.b", True),
        ("t.py::a.*", "t.py::ab", False),
        # the whole node ID must match
        ("tests/test_x.py::test_y", "tests/test_x.py::test_y", True),
        ("tests/test_x.py::test_y", "tests/test_x.py::test_y2", False),
        ("tests/test_x.py::test_y", "x/tests/test_x.py::test_y", False),
        ("tests/test_x.py::test_*", "tests/test_x.py::Test::test_y", False),
        ("test_x.py", "test_x.py::a", False),
        ("test_x.py", "test_x.py", True),
        ("*test_y", "tests/test_x.py::test_y[1]", False),
        ("t.py::*b*", "t.py::a", False),
        ("t.py::*b*", "t.py::abc", True),
    ],
)
def test_glob_semantics(glob: str, nodeid: str, expected: bool) -> None:
    assert _matches(glob, nodeid) is expected


def _reference(glob: str, nodeid: str) -> bool:
    """Plain translation (exponential in the worst case; fine for short strings)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.fullmatch(regex, nodeid, re.DOTALL) is not None


def test_glob_matches_reference_translation() -> None:
    rng = random.Random(20240601)
    checked = 0
    for _ in range(3000):
        glob = "".join(rng.choice("ab:*?") for _ in range(rng.randint(0, 7)))
        nodeid = "".join(rng.choice("ab:") for _ in range(rng.randint(0, 9)))
        assert _matches(glob, nodeid) is _reference(glob, nodeid), (glob, nodeid)
        checked += _reference(glob, nodeid)
    assert checked > 100  # the sample holds many matches, not just non-matches


def test_glob_with_many_stars_does_not_backtrack() -> None:
    # A plain regex translation would take exponential time on this input.
    glob = "*a*a*a*a*a*a*a*a*a*a*a*a*b"
    assert not _matches(glob, "a" * 300)
    assert _matches(glob, "a" * 300 + "b")


def test_match_returns_every_invariant_once() -> None:
    matcher = GlobMatcher(
        _registry(
            Z=("tests/t.py::*",),
            A=("tests/t.py::test_a*", "*::test_a1", "tests/t.py::test_a1"),
            M=("tests/t.py::*",),
            B=("tests/other.py::*", "*::nope"),
        )
    )
    assert matcher.match("tests/t.py::test_a1") == {"A", "M", "Z"}
    assert matcher.match("tests/t.py::test_b") == {"M", "Z"}
    assert matcher.match("tests/other.py::x") == {"B"}
    assert matcher.match("tests/none.py::x") == set()
    assert GlobMatcher(_registry(A=(), B=())).match("tests/t.py::test_a") == set()


@pytest.mark.parametrize(
    ("glob", "nodeid", "expected"),
    [
        ("t.py::test_y[\\?]", "t.py::test_y[?]", True),
        ("t.py::test_y[\\?]", "t.py::test_y[z]", False),
        ("t.py::a\\*", "t.py::a*", True),
        ("t.py::a\\*", "t.py::ab", False),
        ("t.py::a\\*b*", "t.py::a*bcd", True),
        # no other backslash is special: pytest's node IDs hold escapes of their own
        ("t.py::test[\\xe9]", "t.py::test[\\xe9]", True),
        ("t.py::test[\\x*]", "t.py::test[\\xe9]", True),
        ("t.py::a\\[b]", "t.py::a\\[b]", True),
    ],
)
def test_escaped_wildcards_are_literal(glob: str, nodeid: str, expected: bool) -> None:
    assert _matches(glob, nodeid) is expected


def test_stale_globs_are_those_that_matched_no_tagged_test() -> None:
    reg = _registry(A=("t.py::test_a*", "gone.py::*"), B=("t.py::test_b",))
    assert stale_globs(reg, {"A": ["t.py::test_a1"], "B": []}) == [
        ("A", "gone.py::*"),
        ("B", "t.py::test_b"),
    ]


# -- marker arguments ---------------------------------------------------------------------


def test_check_marker_gives_ids_and_milestone() -> None:
    reg = _registry(A=(), B=())
    assert check_marker(reg, ("A", "B"), {}) == (["A", "B"], None)
    assert check_marker(reg, (), {"milestone": "M1"}) == ([], "M1")
    assert check_marker(reg, ("A",), {"milestone": None}) == (["A"], None)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("RUNKEY-1",), {}, "unknown invariant ID 'RUNKEY-1' (did you mean 'RUNKEY-01'?)"),
        ((42,), {}, "invariant IDs must be non-empty strings, got 42"),
        ((" ",), {}, "invariant IDs must be non-empty strings, got ' '"),
        ((["A"],), {}, "invariant IDs must be non-empty strings, got ['A']"),
        (("RUNKEY-01",), {"owner": "me"}, "unknown keyword argument owner='me'"),
        ((), {"milestone": "M9"}, "milestone='M9' is not a declared milestone (declared: M1)"),
        ((), {"milestone": ["M1"]}, "milestone=['M1'] is not a declared milestone"),
        ((), {}, "needs at least one invariant ID or milestone="),
    ],
)
def test_check_marker_refuses(
    args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    reg = _registry(**{"RUNKEY-01": ()})
    with pytest.raises(ParityError) as info:
        check_marker(reg, args, kwargs)
    assert str(info.value).startswith(message)


def test_no_hint_for_a_glob_with_wildcards_in_its_file_part() -> None:
    assert glob_hint("tests/*.py::test_gone", ["tests/test_a.py::test_a"]) == ""
    # a literal file part that is not the rootdir-relative path gets one
    hint = glob_hint("test_a.py::test_a", ["tests/test_a.py::test_a"])
    assert "relative to the rootdir" in hint
