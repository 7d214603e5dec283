"""A fast reader for the plain subset of TOML that registries are usually written in.

``tomllib`` is pure Python and takes about 13 µs per line; a 500-invariant registry costs
it ~6 ms, the largest single item in the active plugin's overhead. Most registries use only
a few forms of TOML, one per line:

- blank lines and ``# comments``;
- table headers of bare or quoted keys: ``[invariants.RUNKEY-01]``, ``[invariants."A.B"]``;
- ``key = value`` with a bare or quoted key, where the value is a string without escapes
  (``"..."`` or ``'...'``), a plain decimal integer, or a one-line array of such strings.

:func:`loads` reads exactly that subset and returns ``None`` for anything else (any other
form, any escape, any doubt: a key defined twice, a header repeated, a control character),
and the caller then parses the text with ``tomllib``, which also words every error. So for
every text this returns a document for, it is the document ``tomllib.loads`` returns; the
tests check that against ``tomllib`` on thousands of generated near-miss texts.

Lines in the most common forms (see :func:`_fast`) are read with str methods; a regex
reads the others, compiled on first use, so a registry of only such lines never pays for
compiling it.
"""

from __future__ import annotations

import functools
import re
from typing import Any

__all__ = ["loads"]

_WS = r"[ \t]*"
# Control characters are checked for once, in the whole text (_CONTROL): TOML allows none
# but tab anywhere (strings, comments, keys), so the patterns below need not exclude them.
_BASIC = r'"[^"\\]*"'
_LITERAL = r"'[^']*'"
_STRING = f"(?:{_BASIC}|{_LITERAL})"
_KEY = rf"(?:[A-Za-z0-9_-]+|{_STRING})"
# plain decimal integers; signs, underscores, leading zeros and >18 digits go to tomllib
_INT = r"(?:0|[1-9][0-9]{0,17})"
_ARRAY = rf"\[{_WS}(?:{_STRING}{_WS}(?:,{_WS}{_STRING}{_WS})*(?:,{_WS})?)?\]"

#: one line: (header) or (key, value), or neither for a blank or comment line
# (no two runs of whitespace may meet: a line of blanks would backtrack quadratically)
_LINE = (
    rf"{_WS}(?:(?:\[{_WS}({_KEY}(?:\.{_KEY})*){_WS}\]"
    rf"|({_KEY}){_WS}={_WS}({_STRING}|{_INT}|{_ARRAY})){_WS})?(?:#.*)?"
)
#: the keys of a header, or the strings of an array, in order (on text _LINE accepted)
_TOKEN = rf"[A-Za-z0-9_-]+|{_STRING}"
#: what TOML allows nowhere: control characters but tab and newline (CR: see loads)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")

#: the characters of a bare key, and of a dotted header of bare keys
_BARE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_DOTTED = _BARE + b"."


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """_LINE and _TOKEN, compiled on first use (about half a millisecond): most registries
    are read by the str-method fast path of :func:`loads` alone."""
    return re.compile(_LINE), re.compile(_TOKEN)


def _unquote(token: str) -> str:
    return token[1:-1] if token[0] in "\"'" else token


def _plain_string(value: str) -> bool:
    """``value`` is ``"..."`` without a quote or backslash inside."""
    return (
        len(value) >= 2
        and value[0] == value[-1] == '"'
        and '"' not in (inner := value[1:-1])
        and "\\" not in inner
    )


def _fast(line: str) -> tuple[tuple[str, ...] | None, str | None, Any]:
    """(header path, None, None) or (None, key, value) for a line in the most common
    forms, written without spaces to spare: ``[a.b.c]`` of bare keys, and ``key = v`` with
    a bare key and v a ``"string"`` (without escapes), a plain decimal integer or
    ``["string", "string"]``; (None, None, None) for any other line, which the regex then
    reads. Each form is one the regex reads the same way. (Inlined checks: this runs once
    per line of the registry.)"""
    if line[0] == "[":
        inner = line[1:-1]
        if (
            line[-1] == "]"
            and inner.isascii()
            and not inner.encode().translate(None, _DOTTED)
            and "" not in (path := tuple(inner.split(".")))
        ):
            return path, None, None
        return None, None, None
    key, eq, value = line.partition(" = ")
    if not (eq and key and value and key.isascii()) or key.encode().translate(None, _BARE):
        return None, None, None
    first = value[0]
    if first == '"':
        inner = value[1:-1]
        if value[-1] == '"' and len(value) >= 2 and '"' not in inner and "\\" not in inner:
            return None, key, inner
    elif first == "[":
        inner = value[1:-1]
        if value[-1] == "]":
            if not inner:
                return None, key, []
            items = inner.split(", ")
            if all(map(_plain_string, items)):
                return None, key, [item[1:-1] for item in items]
    elif (
        value.isascii() and value.isdigit() and len(value) <= 18 and (first != "0" or value == "0")
    ):
        return None, key, int(value)
    return None, None, None


def loads(text: str) -> dict[str, Any] | None:
    """The TOML document ``text``, or ``None`` when it is not in the plain subset."""
    if "\r" in text:
        # CRLF is a TOML newline; a lone CR is an error (found below), which tomllib words
        text = text.replace("\r\n", "\n")
    if _CONTROL.search(text) is not None:
        return None
    root: dict[str, Any] = {}
    table = root
    headers: set[tuple[str, ...]] = set()
    path: tuple[str, ...] | None
    key: str | None
    for line in text.split("\n"):
        if not line:
            continue
        path, key, value = _fast(line)
        if path is None and key is None:
            line_pattern, token_pattern = _patterns()
            match = line_pattern.fullmatch(line)
            if match is None:
                return None
            header, key, raw = match.groups()
            if header is not None:
                path = (
                    tuple(map(_unquote, token_pattern.findall(header)))
                    if '"' in header or "'" in header
                    else tuple(header.split("."))
                )
            elif key is not None:
                key = _unquote(key)
                first = raw[0]
                if first == "[":
                    value = list(map(_unquote, token_pattern.findall(raw)))
                elif first in "\"'":
                    value = raw[1:-1]
                else:
                    value = int(raw)
        if path is not None:
            if path in headers:
                return None  # a table defined twice: tomllib's error
            headers.add(path)
            table = root
            for part in path:
                inner = table.setdefault(part, {})
                if type(inner) is not dict:
                    return None  # a header through a value: tomllib's error
                table = inner
        elif key is not None:
            if key in table:
                return None  # a key defined twice: tomllib's error
            table[key] = value
    return root
