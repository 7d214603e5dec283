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
"""

from __future__ import annotations

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
_LINE = re.compile(
    # no two runs of whitespace may meet (a line of blanks would backtrack quadratically)
    rf"{_WS}(?:(?:\[{_WS}({_KEY}(?:\.{_KEY})*){_WS}\]"
    rf"|({_KEY}){_WS}={_WS}({_STRING}|{_INT}|{_ARRAY})){_WS})?(?:#.*)?"
)
#: the keys of a header, or the strings of an array, in order (on text _LINE accepted)
_TOKEN = re.compile(rf"[A-Za-z0-9_-]+|{_STRING}")
#: what TOML allows nowhere: control characters but tab and newline (CR: see loads)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def _unquote(token: str) -> str:
    return token[1:-1] if token[0] in "\"'" else token


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
    fullmatch = _LINE.fullmatch
    tokens = _TOKEN.findall
    for line in text.split("\n"):
        if not line:
            continue
        match = fullmatch(line)
        if match is None:
            return None
        header, key, value = match.groups()
        if header is not None:
            path = (
                tuple(map(_unquote, tokens(header)))
                if '"' in header or "'" in header
                else tuple(header.split("."))
            )
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
            key = _unquote(key)
            if key in table:
                return None  # a key defined twice: tomllib's error
            first = value[0]
            if first == "[":
                table[key] = list(map(_unquote, tokens(value)))
            elif first in "\"'":
                table[key] = value[1:-1]
            else:
                table[key] = int(value)
    return root
