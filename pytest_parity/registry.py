"""The registry of declared invariants: find it, read it, and validate it strictly.

Nothing here knows about pytest. Every problem is one :class:`ParityError` whose message
starts with the file it is about and names the offending key path
(``invariants.RUNKEY-01.min_tests``) and, for TOML syntax errors, the line and column.
The same checker validates a registry read from TOML, one that
``pytest_parity_registry_loaded`` hooks changed, and one embedded in an evidence report.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .model import ID_PATTERN, Invariant, Milestone, ParityError, Registry, Waiver

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["check_registry", "did_you_mean", "find_registry", "load_registry", "registry_from_data"]

_TOP_KEYS = ("milestones", "invariants")
_MILESTONE_KEYS = ("id", "title")
_INVARIANT_KEYS = ("milestone", "title", "min_tests", "tests", "waiver")
_WAIVER_KEYS = ("reason", "until")
_ID_RULE = "an ID starts with a letter or digit and has only letters, digits, '.', '_', ':', '-'"


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """``""``, or a message suffix `` (did you mean 'X'?)`` naming the closest candidates
    (at most ``n``, best first, equally close ones in the order given; case is ignored)."""
    by_folded: dict[str, str] = {}
    for candidate in candidates:
        by_folded.setdefault(candidate.casefold(), candidate)
    folded = name.casefold()
    order = list(by_folded)
    close = difflib.get_close_matches(folded, order, n=len(order) or 1)
    close.sort(key=lambda c: (-difflib.SequenceMatcher(None, folded, c).ratio(), order.index(c)))
    del close[n:]
    found = [f"'{by_folded[key]}'" for key in close]
    if len(found) > 1:
        found[-2:] = [f"{found[-2]} or {found[-1]}"]
    return f" (did you mean {', '.join(found)}?)" if found else ""


# -- finding and reading ---------------------------------------------------------------


def find_registry(rootdir: Path, option: str | None, ini: str | None) -> Path | None:
    """The registry file, first match wins; ``None`` when there is none.

    1. ``option`` (``--parity-registry``), relative to the current directory;
    2. ``ini`` (``parity_registry``), relative to ``rootdir``;
    3. ``rootdir/parity.toml``;
    4. ``rootdir/pyproject.toml``, if it has a ``[tool.parity]`` table.

    A path given in 1 or 2 that is not a file is an error; so is having both 3 and 4 when
    neither 1 nor 2 is given. A pyproject that does not mention ``parity`` is not parsed
    (a malformed one is pytest's business, unless it may declare a registry).
    """
    if option is not None:
        if not option.strip():
            raise ParityError("--parity-registry: the path is empty; write --parity-registry=PATH")
        return _given(Path(option), f"given by --parity-registry={option}")
    if ini is not None and ini.strip():
        return _given(
            rootdir / ini, f"given by the ini option parity_registry = {ini}, relative to {rootdir}"
        )
    parity_toml = rootdir / "parity.toml"
    pyproject = rootdir / "pyproject.toml"
    in_pyproject = pyproject.is_file() and _declares_tool_parity(pyproject)
    if parity_toml.exists() and in_pyproject:
        raise ParityError(
            f"{parity_toml}: ambiguous pytest-parity registry: both {parity_toml} and the "
            f"[tool.parity] table of {pyproject} declare one; remove one of them, or choose "
            "with --parity-registry=PATH or the ini option parity_registry"
        )
    if parity_toml.exists():
        return parity_toml
    return pyproject if in_pyproject else None


def _given(path: Path, how: str) -> Path:
    try:
        resolved = path.resolve()
        if resolved.is_file():
            return resolved
        exists = resolved.exists()
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ParityError(f"{path}: not a usable registry path ({how}): {exc}") from None
    if exists:
        raise ParityError(f"{resolved}: the registry must be a TOML file, not a directory ({how})")
    raise ParityError(f"{resolved}: registry file not found ({how})")


def _declares_tool_parity(pyproject: Path) -> bool:
    text = _read(pyproject, "it to see whether it declares [tool.parity]")
    # a [tool.parity] table names "parity", possibly through \\u escapes in a quoted key
    if "parity" not in text and "\\u" not in text and "\\U" not in text:
        return False
    tool = _parse(pyproject, text).get("tool")
    return isinstance(tool, dict) and "parity" in tool


def _read(path: Path, why: str = "the registry") -> str:
    """The file's text (UTF-8; a leading byte order mark is dropped)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ParityError(f"{path}: cannot read {why}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        col = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        raise ParityError(
            f"{path}:{line}:{col}: not valid UTF-8 (byte 0x{raw[exc.start]:02x}); "
            "a TOML file must be UTF-8"
        ) from None


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        doc: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col, msg = _error_position(exc, text)
        where = f"{path}:{line}:{col}" if line else str(path)
        raise ParityError(f"{where}: invalid TOML: {msg}") from None
    except RecursionError:
        raise ParityError(
            f"{path}: invalid TOML: arrays or inline tables are nested too deeply"
        ) from None
    return doc


def _error_position(exc: ValueError, text: str) -> tuple[int, int, str]:
    """(line, column, message) of a TOML error; line 0 when it is unknown. Python 3.14 and
    recent tomli give them as attributes; older versions only in the message."""
    msg, line, col = (getattr(exc, name, None) for name in ("msg", "lineno", "colno"))
    if isinstance(msg, str) and isinstance(line, int) and isinstance(col, int):
        return line, col, msg
    text_msg = str(exc)
    match = re.search(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$", text_msg)
    if match is None:
        return 0, 0, text_msg
    msg = text_msg[: match.start()]
    if match.group(1) is not None:
        return int(match.group(1)), int(match.group(2)), msg
    return text.count("\n") + 1, len(text) - text.rfind("\n"), msg


def load_registry(path: Path) -> Registry:
    """Read and validate a registry file.

    For a file named ``pyproject.toml`` the registry is its ``[tool.parity]`` table (key
    paths in messages start with ``tool.parity.``); for any other file, the whole document.
    """
    doc = _parse(path, _read(path))
    if path.name != "pyproject.toml":
        return _Checker(str(path)).registry(doc)
    tool = doc.get("tool")
    if not isinstance(tool, dict) or "parity" not in tool:
        raise ParityError(
            f"{path}: no [tool.parity] table: "
            "this pyproject.toml declares no pytest-parity registry"
        )
    checker = _Checker(str(path), ("tool", "parity"))
    return checker.registry(checker.table(tool["parity"], (), "a table"))


def check_registry(registry: Registry) -> Registry:
    """``registry`` as ``pytest_parity_registry_loaded`` hooks left it, validated exactly
    like a TOML registry: a clean copy, or a ParityError naming the offending invariant.

    Hooks may call ``registry.add(...)`` or change ``registry.invariants`` and
    ``registry.milestones`` directly, with any values: they are checked as the TOML
    document that would declare them.
    """
    source = f"{registry.source} (after the pytest_parity_registry_loaded hooks)"
    if not isinstance(registry.invariants, dict) or not isinstance(registry.milestones, list):
        raise ParityError(
            f"{source}: registry.invariants must be a dict and registry.milestones a list"
        )
    invariants: dict[str, Any] = {}
    for key, inv in registry.invariants.items():
        if not isinstance(inv, Invariant):
            invariants[key] = inv
            continue
        if inv.id != key:
            raise ParityError(f"{source}: registry.invariants[{key!r}] holds invariant {inv.id!r}")
        table: dict[str, Any] = {"milestone": inv.milestone, "title": inv.title}
        table["min_tests"] = inv.min_tests
        table["tests"] = list(inv.tests) if isinstance(inv.tests, (tuple, list)) else inv.tests
        waiver: Any = inv.waiver
        if isinstance(waiver, Waiver):
            table["waiver"] = {"reason": waiver.reason, "until": waiver.until}
        elif waiver is not None:
            table["waiver"] = waiver
        invariants[key] = table
    milestones = [
        {"id": m.id, "title": m.title} if isinstance(m, Milestone) else m
        for m in registry.milestones
    ]
    clean = _Checker(source).registry({"milestones": milestones, "invariants": invariants})
    clean.source = registry.source
    return clean


def registry_from_data(data: object, source: str) -> Registry:
    """The registry an evidence report embeds (``Registry.to_data()`` as JSON), validated
    exactly like a TOML registry; ``source`` starts every error message."""
    if not isinstance(data, dict):
        raise ParityError(f"{source}: expected a JSON object, {_found(data)}")
    listed = data.get("invariants")
    if not isinstance(listed, list):
        raise ParityError(f"{source}: invariants: expected an array, {_found(listed)}")
    invariants: dict[str, Any] = {}
    for index, raw in enumerate(listed):
        inv_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(inv_id, str):
            raise ParityError(f"{source}: invariants[{index}]: expected an object with an id")
        if inv_id in invariants:
            raise ParityError(f"{source}: invariant {inv_id!r} is declared twice")
        invariants[inv_id] = {
            key: value
            for key, value in raw.items()
            if key != "id" and not (key == "waiver" and value is None)
        }
    return _Checker(source).registry({**data, "invariants": invariants})


# -- the checker ---------------------------------------------------------------------------


def _key(key: str) -> str:
    """A key as TOML writes it: bare when it can be, else a quoted string."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


_TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "float"),
    (str, "string"),
    (dt.datetime, "datetime"),
    (dt.date, "date"),
    (dt.time, "time"),
    (list, "array"),
    (dict, "table"),
)


def _type_name(value: object) -> str:
    return next((name for tp, name in _TOML_TYPES if isinstance(value, tp)), type(value).__name__)


def _render(value: object) -> str:
    """A value roughly as TOML writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_render(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_render(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _found(value: object, limit: int = 60) -> str:
    shown = _render(value)
    if len(shown) > limit:
        shown = shown[: limit - 3] + "..."
    return f"found {_type_name(value)} {shown}"


class _Checker:
    """Validates one registry document (a TOML document's shape); raises on the first problem."""

    def __init__(self, source: str, prefix: tuple[str, ...] = ()) -> None:
        self.source = source
        self.prefix = prefix

    def error(self, path: Sequence[str | int], message: str) -> ParityError:
        where = ""
        for part in (*self.prefix, *path):
            where += f"[{part}]" if isinstance(part, int) else ("." if where else "") + _key(part)
        return ParityError(
            f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}"
        )

    def table(self, value: object, path: Sequence[str | int], expected: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(path, f"expected {expected}, {_found(value)}")
        return value

    def string(self, value: object, path: Sequence[str | int], *, empty_ok: bool = False) -> str:
        if not isinstance(value, str):
            raise self.error(path, f"expected a string, {_found(value)}")
        if not empty_ok and not value.strip():
            raise self.error(path, "must not be empty")
        return value

    def ident(self, value: object, path: Sequence[str | int], what: str) -> str:
        ident = self.string(value, path, empty_ok=True)
        if not ID_PATTERN.fullmatch(ident):
            raise self.error(path, f"invalid {what} ID {ident!r} ({_ID_RULE})")
        return ident

    def required(
        self, table: dict[str, Any], key: str, path: Sequence[str | int], hint: str
    ) -> object:
        if key not in table:
            raise self.error(path, f"required key '{key}' is missing ({hint})")
        return table[key]

    def known_keys(
        self,
        table: dict[str, Any],
        known: tuple[str, ...],
        path: Sequence[str | int],
        inv_id: str = "",
    ) -> None:
        unknown = [key for key in table if key not in known]
        if not unknown:
            return
        key = unknown[0]
        hint = did_you_mean(key, known, n=1)
        if not hint and inv_id and isinstance(table[key], dict):
            # [invariants.timer.dedupe] is the table invariants > timer > dedupe
            dotted, inner = f"{inv_id}.{key}", table[key]
            while len(inner) == 1:
                ((sub_key, sub),) = inner.items()
                if sub_key in known or not isinstance(sub, dict):
                    break
                dotted, inner = f"{dotted}.{sub_key}", sub
            hint = (
                " (an invariant ID with dots must be a quoted key: "
                f"[invariants.{json.dumps(dotted, ensure_ascii=False)}])"
            )
        hint = hint or f" (known keys: {', '.join(known)})"
        raise self.error((*path, key), f"unknown key{hint}")

    # -- the schema -------------------------------------------------------------------------

    def registry(self, doc: dict[str, Any]) -> Registry:
        self.known_keys(doc, _TOP_KEYS, ())
        hint = 'an array of milestone IDs: milestones = ["M1"]'
        registry = Registry(
            self.milestones(self.required(doc, "milestones", (), hint)), source=self.source
        )
        invariants = self.table(
            doc.get("invariants", {}), ("invariants",), "a table of [invariants.<ID>] tables"
        )
        declared = registry.milestone_ids()
        for inv_id, raw in invariants.items():
            registry.invariants[inv_id] = self.invariant(inv_id, raw, declared)
        return registry

    def milestones(self, value: object) -> list[Milestone]:
        if not isinstance(value, list):
            raise self.error(
                ("milestones",), f"expected an array of milestone IDs, {_found(value)}"
            )
        if not value:
            raise self.error(("milestones",), "must declare at least one milestone")
        out: list[Milestone] = []
        for index, entry in enumerate(value):
            path = ("milestones", index)
            if isinstance(entry, str):
                milestone = Milestone(self.ident(entry, path, "milestone"))
            else:
                table = self.table(
                    entry, path, "a milestone ID string or an inline table {id, title}"
                )
                self.known_keys(table, _MILESTONE_KEYS, path)
                ident = self.required(table, "id", path, 'e.g. { id = "M1", title = "..." }')
                title = self.string(table.get("title", ""), (*path, "title"), empty_ok=True)
                milestone = Milestone(self.ident(ident, (*path, "id"), "milestone"), title.strip())
            if milestone.id in [m.id for m in out]:
                raise self.error(path, f"milestone {milestone.id!r} is declared twice")
            out.append(milestone)
        return out

    def invariant(self, inv_id: str, raw: object, declared: list[str]) -> Invariant:
        path = ("invariants", inv_id)
        if not ID_PATTERN.fullmatch(inv_id):
            raise self.error(path, f"invalid invariant ID {inv_id!r} ({_ID_RULE})")
        table = self.table(raw, path, "a table (milestone, title, ...)")
        self.known_keys(table, _INVARIANT_KEYS, path, inv_id)
        milestone = self.string(
            self.required(table, "milestone", path, f"one of: {', '.join(declared)}"),
            (*path, "milestone"),
            empty_ok=True,
        )
        if milestone not in declared:
            raise self.error(
                (*path, "milestone"),
                f"{milestone!r} is not a declared milestone (declared: {', '.join(declared)})",
            )
        title = self.string(
            self.required(table, "title", path, "a one-line statement of the invariant"),
            (*path, "title"),
        )
        min_tests = table.get("min_tests", 1)
        if type(min_tests) is not int or min_tests < 1:  # a bool is refused too
            raise self.error((*path, "min_tests"), f"expected an integer >= 1, {_found(min_tests)}")
        waiver = self.waiver(table["waiver"], (*path, "waiver")) if "waiver" in table else None
        return Invariant(
            inv_id,
            milestone,
            title.strip(),
            min_tests,
            self.globs(table.get("tests", []), path),
            waiver,
        )

    def globs(self, value: object, inv_path: tuple[str, ...]) -> tuple[str, ...]:
        path = (*inv_path, "tests")
        if not isinstance(value, list):
            hint = f" (write tests = [{json.dumps(value)}])" if isinstance(value, str) else ""
            raise self.error(path, f"expected an array of node-ID globs, {_found(value)}{hint}")
        for index, glob in enumerate(value):
            if not isinstance(glob, str) or not glob:
                raise self.error(
                    (*path, index), f"expected a non-empty node-ID glob string, {_found(glob)}"
                )
        return tuple(value)

    def waiver(self, value: object, path: tuple[str, ...]) -> Waiver:
        table = self.table(value, path, 'a table { reason = "...", until = 2027-01-31 }')
        self.known_keys(table, _WAIVER_KEYS, path)
        reason = self.string(
            self.required(table, "reason", path, "why the invariant may be unproven for now"),
            (*path, "reason"),
        )
        until = self.required(table, "until", path, "the last day it holds, e.g. 2027-01-31")
        return Waiver(reason.strip(), self.date(until, (*path, "until")))

    def date(self, value: object, path: tuple[str, ...]) -> dt.date:
        if isinstance(value, dt.datetime):
            raise self.error(
                path,
                f"expected a date, {_found(value)}; a waiver holds through a whole day (UTC), "
                f"so give the day only: until = {value.date().isoformat()}",
            )
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return dt.date.fromisoformat(value)
            except ValueError as exc:
                raise self.error(path, f"{value!r} is not a valid date ({exc})") from None
        raise self.error(
            path, f"expected a date (until = 2027-01-31, or 'YYYY-MM-DD'), {_found(value)}"
        )
