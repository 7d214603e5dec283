"""What a test names: its ``parity`` marker arguments, and the registry's ``tests`` globs.

Nothing here knows about pytest: markers come as their arguments, tests as node IDs.
Globs match node IDs exactly as ``pytest --collect-only -q`` prints them. ``*`` is any
run of characters (``/`` and ``::`` included) and ``?`` any one character; ``\\*`` and
``\\?`` are a literal ``*`` and ``?``; everything else is literal, ``[`` and ``]`` included
(node IDs hold brackets, and backslashes such as ``\\xe9``).
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from typing import TYPE_CHECKING, Any

from .model import ParityError, did_you_mean

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from .model import Registry

__all__ = ["GlobMatcher", "check_marker", "glob_hint", "glob_regex", "stale_globs"]


def check_marker(
    registry: Registry, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[list[str], str | None]:
    """The invariant IDs and the ``milestone=`` of ``@pytest.mark.parity(*args, **kwargs)``,
    or a ParityError saying what is wrong with them."""
    for arg in args:
        if not isinstance(arg, str) or not arg.strip():
            raise ParityError(f"invariant IDs must be non-empty strings, got {arg!r}")
        if arg not in registry.invariants:
            raise ParityError(
                f"unknown invariant ID {arg!r}{did_you_mean(arg, registry.invariants)} "
                f"(registry: {registry.source})"
            )
    for name, value in kwargs.items():
        if name != "milestone":
            raise ParityError(
                f"unknown keyword argument {name}={value!r} (the only keyword is milestone=)"
            )
    milestone = kwargs.get("milestone")
    if milestone is not None and milestone not in registry.milestone_ids():
        declared = registry.milestone_ids()
        raise ParityError(
            f"milestone={milestone!r} is not a declared milestone "
            f"(declared: {', '.join(declared)}){did_you_mean(str(milestone), declared)}"
        )
    if not args and milestone is None:
        raise ParityError("needs at least one invariant ID or milestone=")
    return list(args), milestone


def glob_regex(glob: str) -> re.Pattern[str]:
    """The compiled regular expression of a ``tests`` glob (use ``match``: it is anchored).

    fnmatch's one-character classes make the literals (``[*]``, ``[?]``, ``[[]``), and
    ``fnmatch.translate`` does the rest.
    """
    literal = re.sub(r"\\([*?])|\[", lambda m: f"[{m.group(1) or '['}]", glob)
    return re.compile(fnmatch.translate(literal))


def _is_literal(text: str) -> bool:
    return "*" not in text and "?" not in text


class GlobMatcher:
    """Which invariants' ``tests`` globs match a node ID.

    Built once per run and asked once per collected test, so the globs are grouped by
    file: a glob without wildcards is a dict lookup, and one whose file part (the text
    before its first ``::``) is literal is only tried on node IDs of that file. The few
    others are tried on every node ID.
    """

    def __init__(self, registry: Registry) -> None:
        owners: dict[str, set[str]] = {}
        for inv in registry.invariants.values():
            for glob in inv.tests:
                owners.setdefault(glob, set()).add(inv.id)
        self._exact: dict[str, set[str]] = {}
        self._by_file: dict[str, list[tuple[re.Pattern[str], set[str]]]] = {}
        self._anywhere: list[tuple[re.Pattern[str], set[str]]] = []
        for glob, ids in owners.items():
            file_part, sep, rest = glob.partition("::")
            if _is_literal(glob):
                self._exact[glob] = ids
            elif sep and _is_literal(file_part):
                self._by_file.setdefault(file_part, []).append((glob_regex(rest), ids))
            else:
                self._anywhere.append((glob_regex(glob), ids))

    def match(self, nodeid: str) -> set[str]:
        """IDs of the invariants with a ``tests`` glob that matches ``nodeid``."""
        found = set(self._exact.get(nodeid, ()))
        file_part, sep, rest = nodeid.partition("::")
        for regex, ids in self._by_file.get(file_part, ()) if sep else ():
            if regex.match(rest):
                found |= ids
        for regex, ids in self._anywhere:
            if regex.match(nodeid):
                found |= ids
        return found


def stale_globs(
    registry: Registry, tests_by_invariant: Mapping[str, Iterable[str]]
) -> list[tuple[str, str]]:
    """``(invariant ID, glob)`` for every ``tests`` glob that matches none of the node IDs
    tagged with its invariant, in declared order. A glob that matched a collected test
    tagged it, so these are globs whose tests were renamed or deleted."""
    stale: list[tuple[str, str]] = []
    for inv in registry.invariants.values():
        nodeids = list(tests_by_invariant.get(inv.id, ()))
        for glob in inv.tests:
            regex = glob_regex(glob)
            if not any(regex.match(nodeid) for nodeid in nodeids):
                stale.append((inv.id, glob))
    return stale


def glob_hint(glob: str, nodeids: Sequence[str]) -> str:
    """``""``, or what a ``tests`` glob that matches none of ``nodeids`` may have meant."""
    if any(part in glob for part in (".*", "^", "$", "\\d", "\\w", "(?")):
        return " (globs are not regular expressions: '*' is any text, '?' one character)"
    if "*" not in glob and "?" not in glob and any(n.startswith(f"{glob}[") for n in nodeids):
        return f" (its parametrized instances would match {glob + '[*]'!r})"
    file_part = glob.partition("::")[0]
    if "*" not in file_part and "?" not in file_part:
        same_file = [n for n in nodeids if n.partition("::")[0] == file_part]
        if not same_file:
            inside = sorted(
                {
                    n.partition("::")[0]
                    for n in nodeids
                    if n.partition("::")[0].endswith("/" + file_part)
                }
            )
            if inside:
                return f" (node IDs are relative to the rootdir: {inside[0]!r}?)"
        close = difflib.get_close_matches(glob, same_file, n=1, cutoff=0.75)
        if close and "*" not in glob and "?" not in glob:  # a typo in a literal node ID
            return f" (did you mean {close[0]!r}?)"
    return ""
