"""The registry of declared invariants: find it, load it strictly, match ``tests`` globs.

Nothing here knows about pytest. Every problem with the user's input is raised as one
:class:`~pytest_parity.model.ParityError` whose message starts with the file it is about,
names the offending key path (``invariants.RUNKEY-01.min_tests``) and, for TOML syntax
errors, the line and column (``parity.toml:3:7: invalid TOML: ...``).
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import importlib
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from . import tomlsubset
from .model import ID_PATTERN, Invariant, Milestone, ParityError, Registry, Waiver, gc_paused

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "GlobMatcher",
    "check_registry",
    "did_you_mean",
    "find_registry",
    "glob_regex",
    "load_registry",
    "registry_from_data",
    "suggest",
    "unmatched_globs",
]


PARITY_TOML = "parity.toml"
PYPROJECT_TOML = "pyproject.toml"

_TOP_KEYS = ("milestones", "invariants")
_MILESTONE_KEYS = ("id", "title")
_INVARIANT_KEYS = ("milestone", "title", "min_tests", "tests", "waiver")
_WAIVER_KEYS = ("reason", "until")

_ID_RULE = "an ID starts with a letter or digit and has only letters, digits, '.', '_', ':', '-'"
_CUTOFF = 0.6
# patterns needed only for string dates and error messages: ``re`` compiles them on first use
_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
_BARE_KEY = r"[A-Za-z0-9_-]+"
_COORDS = r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$"


# -- suggestions -----------------------------------------------------------------------


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates closest to ``name`` (at most ``n``), ignoring case.

    Best first; equally close ones keep the order of ``candidates``. Closeness is difflib's
    similarity ratio (cutoff 0.6), computed on case-folded text, so ``runkey-01`` finds
    ``RUNKEY-01``. Used for unknown registry keys and, by the plugin, for unknown IDs.
    """
    folded: dict[str, list[str]] = {}
    for cand in dict.fromkeys(candidates):
        folded.setdefault(cand.casefold(), []).append(cand)
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(name.casefold())
    scored: list[tuple[float, int, str]] = []
    for index, key in enumerate(folded):
        matcher.set_seq1(key)
        if (
            matcher.real_quick_ratio() >= _CUTOFF
            and matcher.quick_ratio() >= _CUTOFF
            and matcher.ratio() >= _CUTOFF
        ):
            scored.append((-matcher.ratio(), index, key))
    found = [cand for *_, key in sorted(scored) for cand in folded[key]]
    return found[: max(n, 0)]


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """``""`` or a message suffix: `` (did you mean 'X'?)`` / `` (did you mean 'X' or 'Y'?)``."""
    found = [f"'{cand}'" for cand in suggest(name, candidates, n)]
    if not found:
        return ""
    if len(found) == 1:
        return f" (did you mean {found[0]}?)"
    return f" (did you mean {', '.join(found[:-1])} or {found[-1]}?)"


# -- discovery -------------------------------------------------------------------------


def find_registry(rootdir: Path, option: str | None, ini: str | None) -> Path | None:
    """Locate the registry file; first match wins (contract, section 1).

    1. ``option`` (the ``--parity-registry`` value), resolved against the current working
       directory like every path pytest takes from its command line;
    2. ``ini`` (the ``parity_registry`` ini value), relative to ``rootdir``;
    3. ``rootdir/parity.toml``;
    4. ``rootdir/pyproject.toml``, but only if it has a ``[tool.parity]`` table.

    An explicitly given path (1 or 2) that is not an existing file is an error; so is an
    empty ``option`` (an empty ``ini`` counts as not given, as pytest reports an unset ini
    string as ``""``). When both 3 and 4 exist and neither 1 nor 2 is given, the choice is
    ambiguous: an error naming both files. Returns ``None`` when there is no registry.

    Cost: at most two ``stat`` calls and one read of ``pyproject.toml``. The pyproject is
    only parsed when its text mentions ``parity`` (or holds a ``\\u`` escape that could spell
    it in a quoted key); a pyproject that does not is no registry, even if it is malformed
    (that is pytest's business, not ours). One that does mention it and cannot be read,
    decoded or parsed is an error naming the file (with line and column for a syntax
    error): without parsing it we cannot know whether it declares a registry.
    """
    if option is not None:
        if not option.strip():
            raise ParityError("--parity-registry: the path is empty; write --parity-registry=PATH")
        return _explicit(Path(option), f"given by --parity-registry={option}")
    if ini is not None and ini.strip():
        return _explicit(
            rootdir / ini,
            f"given by the ini option parity_registry = {ini}, relative to the rootdir {rootdir}",
        )
    parity_toml = rootdir / PARITY_TOML
    pyproject = rootdir / PYPROJECT_TOML
    in_pyproject = _declares_tool_parity(pyproject)
    if parity_toml.exists():
        if in_pyproject:
            raise ParityError(
                f"{parity_toml}: ambiguous pytest-parity registry: both {parity_toml} and the "
                f"[tool.parity] table of {pyproject} declare one; remove one of them, or choose "
                "with --parity-registry=PATH or the ini option parity_registry"
            )
        return parity_toml
    return pyproject if in_pyproject else None


def _explicit(path: Path, how: str) -> Path:
    try:
        resolved = path.resolve()
        is_file = resolved.is_file()
        exists = is_file or resolved.exists()
    except (OSError, ValueError) as exc:
        raise ParityError(f"{path}: not a usable registry path ({how}): {exc}") from None
    if not exists:
        raise ParityError(f"{resolved}: registry file not found ({how})")
    if not is_file:
        raise ParityError(f"{resolved}: the registry must be a TOML file, not a directory ({how})")
    return resolved


def _declares_tool_parity(pyproject: Path) -> bool:
    if not pyproject.is_file():
        return False
    try:
        raw = pyproject.read_bytes()
    except OSError as exc:
        raise ParityError(
            f"{pyproject}: cannot read it to see whether it declares [tool.parity]: "
            f"{exc.strerror or exc}"
        ) from None
    if b"parity" not in raw and b"\\u" not in raw and b"\\U" not in raw:
        return False
    tool = _parse(pyproject, _decode(pyproject, raw)).get("tool")
    return isinstance(tool, dict) and "parity" in tool


# -- reading and parsing ---------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ParityError(f"{path}: cannot read the registry: {exc.strerror or exc}") from None
    return _decode(path, raw)


def _decode(path: Path, raw: bytes) -> str:
    """UTF-8 text (a leading byte order mark is tolerated and dropped)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        col = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        raise ParityError(
            f"{path}:{line}:{col}: not valid UTF-8 (byte 0x{raw[exc.start]:02x}); "
            "a TOML file must be UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def _tomllib() -> Any:
    """tomllib on Python >= 3.11, the tomli backport before.

    Imported by name, so that this type-checks the same way on every version (mypy targets
    3.10, which has no tomllib), and only when needed: importing it costs more than reading
    a plain registry.
    """
    return importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")


def _parse(path: Path, text: str) -> dict[str, Any]:
    """The TOML document: the plain subset by :mod:`.tomlsubset`, the rest by tomllib."""
    doc = tomlsubset.loads(text)
    if doc is not None:
        return doc
    toml = _tomllib()
    decode_error: type[ValueError] = toml.TOMLDecodeError
    try:
        loaded: dict[str, Any] = toml.loads(text)
    except decode_error as exc:
        line, col, msg = _error_position(exc, text)
        where = f"{path}:{line}:{col}" if line else str(path)
        raise ParityError(f"{where}: invalid TOML: {msg}") from None
    except RecursionError:
        raise ParityError(
            f"{path}: invalid TOML: arrays or inline tables are nested too deeply"
        ) from None
    return loaded


def _error_position(exc: BaseException, text: str) -> tuple[int, int, str]:
    """(line, column, message) of a TOML decode error; line 0 when it is unknown.

    Python >= 3.14 (and recent tomli) set ``msg``, ``lineno`` and ``colno``; older versions
    only append ``(at line X, column Y)`` or ``(at end of document)`` to the message.
    """
    msg, line, col = (getattr(exc, attr, None) for attr in ("msg", "lineno", "colno"))
    if isinstance(msg, str) and isinstance(line, int) and isinstance(col, int):
        return line, col, msg
    text_msg = str(exc)
    match = re.search(_COORDS, text_msg)
    if match is None:
        return 0, 0, text_msg
    msg = text_msg[: match.start()]
    if match.group(1) is not None:
        return int(match.group(1)), int(match.group(2)), msg
    return text.count("\n") + 1, len(text) - text.rfind("\n"), msg


# -- validation ------------------------------------------------------------------------


def load_registry(path: Path) -> Registry:
    """Read and strictly validate a registry file (contract, section 1).

    For a file named ``pyproject.toml`` the registry is its ``[tool.parity]`` table (and
    key paths in messages start with ``tool.parity.``); for any other file it is the whole
    document. Milestones keep their declared order and invariants their document order.
    Titles and waiver reasons are stored stripped of surrounding whitespace; ``until`` may be
    a TOML date or a ``'YYYY-MM-DD'`` string (a datetime is refused: a waiver holds through
    a whole day, UTC).
    """
    with gc_paused():  # a burst of small acyclic objects: a table per invariant
        return _load(path)


def _load(path: Path) -> Registry:
    doc = _parse(path, _read_text(path))
    checker = _Checker(str(path), ())
    if path.name == PYPROJECT_TOML:
        tool = doc.get("tool")
        if not isinstance(tool, dict) or "parity" not in tool:
            raise ParityError(
                f"{path}: no [tool.parity] table: this pyproject.toml declares no "
                "pytest-parity registry"
            )
        checker = _Checker(str(path), ("tool", "parity"))
        doc = checker.table(tool["parity"], (), "a table")
    return checker.registry(doc)


def check_registry(registry: Registry) -> Registry:
    """``registry`` (as ``pytest_parity_registry_loaded`` hooks left it) validated exactly
    like a TOML registry: a clean copy, or a ParityError naming the offending invariant.

    Hooks may call ``registry.add(...)`` or change ``registry.invariants`` and
    ``registry.milestones`` directly, with any values: they are checked as the TOML
    document that would declare them.
    """
    if not isinstance(registry.invariants, dict) or not isinstance(registry.milestones, list):
        raise ParityError(
            f"{registry.source}: after the pytest_parity_registry_loaded hooks, "
            "registry.invariants must be a dict and registry.milestones a list"
        )
    invariants: dict[str, Any] = {}
    for key, inv in registry.invariants.items():
        if isinstance(inv, Invariant) and inv.id != key:
            raise ParityError(
                f"{registry.source}: registry.invariants[{key!r}] holds invariant {inv.id!r}"
            )
        invariants[key] = _invariant_table(inv) if isinstance(inv, Invariant) else inv
    doc = {
        "milestones": [
            {"id": m.id, "title": m.title} if isinstance(m, Milestone) else m
            for m in registry.milestones
        ],
        "invariants": invariants,
    }
    source = f"{registry.source} (after the pytest_parity_registry_loaded hooks)"
    clean = _Checker(source, ()).registry(doc)
    clean.source = registry.source
    return clean


def _invariant_table(inv: Invariant) -> dict[str, Any]:
    table: dict[str, Any] = {
        "milestone": inv.milestone,
        "title": inv.title,
        "min_tests": inv.min_tests,
        "tests": list(inv.tests) if isinstance(inv.tests, (tuple, list)) else inv.tests,
    }
    waiver: Any = inv.waiver
    if isinstance(waiver, Waiver):
        table["waiver"] = {"reason": waiver.reason, "until": waiver.until}
    elif waiver is not None:
        table["waiver"] = waiver
    return table


def registry_from_data(data: object, source: str) -> Registry:
    """The registry an evidence report embeds (``Registry.to_data()`` as JSON), validated
    exactly like a TOML registry; ``source`` starts every error message."""
    if not isinstance(data, dict):
        raise ParityError(f"{source}: expected a JSON object, {_found(data)}")
    raw_invariants = data.get("invariants")
    if not isinstance(raw_invariants, list):
        raise ParityError(f"{source}: invariants: expected an array, {_found(raw_invariants)}")
    invariants: dict[str, Any] = {}
    for index, raw in enumerate(raw_invariants):
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
    doc = {**data, "invariants": invariants}
    return _Checker(source, ()).registry(doc)


def _key(key: str) -> str:
    """A key as TOML writes it: bare when it can be, else a quoted string."""
    return key if re.fullmatch(_BARE_KEY, key) else json.dumps(key, ensure_ascii=False)


def _type_name(value: object) -> str:
    for tp, name in _TOML_TYPES:
        if isinstance(value, tp):
            return name
    return type(value).__name__


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


_Path: TypeAlias = "Sequence[str | int]"


class _Checker:
    """Validates the registry document of one file; raises on the first problem."""

    def __init__(self, source: str, prefix: tuple[str, ...]) -> None:
        self.source = source
        self.prefix = prefix

    def where(self, path: _Path) -> str:
        out = ""
        for part in (*self.prefix, *path):
            if isinstance(part, int):
                out += f"[{part}]"
            else:
                out += ("." if out else "") + _key(part)
        return out

    def error(self, path: _Path, message: str) -> ParityError:
        where = self.where(path)
        return ParityError(
            f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}"
        )

    # -- typed accessors ------------------------------------------------------------------

    def table(self, value: object, path: _Path, expected: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(path, f"expected {expected}, {_found(value)}")
        return value

    def string(self, value: object, path: _Path, *, empty_ok: bool = False) -> str:
        if not isinstance(value, str):
            raise self.error(path, f"expected a string, {_found(value)}")
        if not empty_ok and not value.strip():
            raise self.error(path, "must not be empty")
        return value

    def ident(self, value: object, path: _Path, what: str) -> str:
        ident = self.string(value, path, empty_ok=True)
        if not ID_PATTERN.fullmatch(ident):
            raise self.error(path, f"invalid {what} ID {ident!r} ({_ID_RULE})")
        return ident

    def required(self, table: dict[str, Any], key: str, path: _Path, hint: str) -> object:
        if key not in table:
            raise self.error(path, f"required key '{key}' is missing ({hint})")
        return table[key]

    def known_keys(
        self, table: dict[str, Any], known: tuple[str, ...], path: _Path, nested_id: str = ""
    ) -> None:
        if table.keys() <= set(known):  # the usual case, in C
            return
        # the first unknown key, in document order
        key, value = next((k, v) for k, v in table.items() if k not in known)
        hint = did_you_mean(key, known, n=1)
        if not hint and nested_id and isinstance(value, dict):
            dotted, inner_table = f"{nested_id}.{key}", value
            while len(inner_table) == 1:
                ((inner, sub),) = inner_table.items()
                if inner in known or not isinstance(sub, dict):
                    break
                dotted, inner_table = f"{dotted}.{inner}", sub
            hint = (
                f" (an invariant ID with dots must be a quoted key: "
                f"[invariants.{json.dumps(dotted, ensure_ascii=False)}])"
            )
        if not hint:
            hint = f" (known keys: {', '.join(known)})"
        raise self.error((*path, key), f"unknown key{hint}")

    # -- the schema -----------------------------------------------------------------------

    def registry(self, doc: dict[str, Any]) -> Registry:
        self.known_keys(doc, _TOP_KEYS, ())
        milestones = self.milestones(
            self.required(doc, "milestones", (), 'an array of milestone IDs: milestones = ["M1"]')
        )
        registry = Registry(milestones=milestones, source=self.source)
        invariants = self.table(
            doc.get("invariants", {}), ("invariants",), "a table of [invariants.<ID>] tables"
        )
        declared = registry.milestone_ids()
        for inv_id, raw in invariants.items():
            inv = self.invariant(inv_id, raw, declared)
            registry.invariants[inv.id] = inv
        return registry

    def milestones(self, value: object) -> list[Milestone]:
        path: tuple[str | int, ...] = ("milestones",)
        if not isinstance(value, list):
            raise self.error(path, f"expected an array of milestone IDs, {_found(value)}")
        if not value:
            raise self.error(path, "must declare at least one milestone")
        out: list[Milestone] = []
        seen: set[str] = set()
        for index, entry in enumerate(value):
            milestone = self.milestone(entry, (*path, index))
            if milestone.id in seen:
                raise self.error((*path, index), f"milestone {milestone.id!r} is declared twice")
            seen.add(milestone.id)
            out.append(milestone)
        return out

    def milestone(self, entry: object, path: tuple[str | int, ...]) -> Milestone:
        if isinstance(entry, str):
            return Milestone(self.ident(entry, path, "milestone"))
        if not isinstance(entry, dict):
            raise self.error(
                path,
                f"expected a milestone ID string or an inline table {{id, title}}, {_found(entry)}",
            )
        self.known_keys(entry, _MILESTONE_KEYS, path)
        ident = self.ident(
            self.required(entry, "id", path, 'e.g. { id = "M1", title = "..." }'),
            (*path, "id"),
            "milestone",
        )
        title = self.string(entry.get("title", ""), (*path, "title"), empty_ok=True)
        return Milestone(ident, title.strip())

    def invariant(self, inv_id: str, raw: object, declared: list[str]) -> Invariant:
        path = ("invariants", inv_id)
        if not ID_PATTERN.fullmatch(inv_id):
            raise self.error(path, f"invalid invariant ID {inv_id!r} ({_ID_RULE})")
        table = self.table(raw, path, "a table (milestone, title, ...)")
        self.known_keys(table, _INVARIANT_KEYS, path, nested_id=inv_id)
        milestone = table.get("milestone")
        if milestone not in declared or type(milestone) is not str:  # else: the usual case
            declared_list = ", ".join(declared)
            milestone = self.string(
                self.required(table, "milestone", path, f"one of: {declared_list}"),
                (*path, "milestone"),
                empty_ok=True,
            )
            raise self.error(
                (*path, "milestone"),
                f"{milestone!r} is not a declared milestone (declared: {declared_list})",
            )
        title = table.get("title")
        if type(title) is not str or not title.strip():  # else: the usual case
            title = self.string(
                self.required(table, "title", path, "a one-line statement of the invariant"),
                (*path, "title"),
            )
        min_tests = table.get("min_tests", 1)
        if type(min_tests) is not int or min_tests < 1:  # a bool is refused too
            raise self.error((*path, "min_tests"), f"expected an integer >= 1, {_found(min_tests)}")
        return Invariant(
            inv_id,
            milestone,
            title.strip(),
            min_tests,
            self.globs(table["tests"], (*path, "tests")) if "tests" in table else (),
            None if "waiver" not in table else self.waiver(table["waiver"], path),
        )

    def globs(self, value: object, path: tuple[str, ...]) -> tuple[str, ...]:
        if not isinstance(value, list):
            hint = f" (write tests = [{json.dumps(value)}])" if isinstance(value, str) else ""
            raise self.error(path, f"expected an array of node-ID globs, {_found(value)}{hint}")
        globs: list[str] = []
        for index, glob in enumerate(value):
            if not isinstance(glob, str) or not glob:
                raise self.error(
                    (*path, index), f"expected a non-empty node-ID glob string, {_found(glob)}"
                )
            globs.append(glob)
        return tuple(globs)

    def waiver(self, value: object, inv_path: tuple[str, ...]) -> Waiver:
        path = (*inv_path, "waiver")
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
        if isinstance(value, str) and re.fullmatch(_ISO_DATE, value):
            try:
                return dt.date.fromisoformat(value)
            except ValueError as exc:
                raise self.error(path, f"{value!r} is not a valid date ({exc})") from None
        raise self.error(
            path, f"expected a date (until = 2027-01-31, or 'YYYY-MM-DD'), {_found(value)}"
        )


# -- ``tests`` globs -------------------------------------------------------------------


def glob_regex(glob: str) -> re.Pattern[str]:
    """The compiled regular expression (for ``match``) of a ``tests`` node-ID glob.

    ``*`` is any run of characters (``/`` and ``::`` included) and ``?`` any one character;
    ``\\*`` and ``\\?`` are a literal ``*`` and ``?``; everything else is literal, ``[`` and
    ``]`` included (pytest's node IDs hold brackets and backslashes such as ``\\xe9``).
    fnmatch's character classes make the literals, so ``fnmatch.translate`` does the rest.
    """
    classes = re.sub(r"\\([*?])|\[", lambda m: f"[{m.group(1) or '['}]", glob)
    return re.compile(fnmatch.translate(classes))


def unmatched_globs(
    registry: Registry, tests_by_invariant: Mapping[str, Iterable[str]]
) -> list[tuple[str, str]]:
    """``(invariant ID, glob)`` for every ``tests`` glob that matches none of the node IDs
    tagged with its invariant: a glob that matched a collected test tagged it, so these
    are globs that went stale (renamed or deleted tests). Declared order."""
    stale: list[tuple[str, str]] = []
    for inv in registry.invariants.values():
        if not inv.tests:
            continue
        nodeids = list(tests_by_invariant.get(inv.id, ()))
        for glob in inv.tests:
            regex = glob_regex(glob)
            if not any(regex.match(nodeid) for nodeid in nodeids):
                stale.append((inv.id, glob))
    return stale


class GlobMatcher:
    """Which invariants' ``tests`` globs match a node ID (contract, section 1).

    Built once per run; :meth:`match` runs for every collected test, so the globs are
    indexed by file: a glob without wildcards is a dict lookup, and a glob whose file part
    (the text before its first ``::``) has none is only tried on node IDs of that file.
    The few others are tried on every node ID.
    """

    def __init__(self, registry: Registry) -> None:
        owners: dict[str, set[str]] = {}
        for inv in registry.invariants.values():
            for glob in inv.tests:
                owners.setdefault(glob, set()).add(inv.id)
        self._exact: dict[str, frozenset[str]] = {}
        self._by_file: dict[str, list[tuple[re.Pattern[str], frozenset[str]]]] = {}
        self._anywhere: list[tuple[re.Pattern[str], frozenset[str]]] = []
        for glob, ids in owners.items():
            frozen = frozenset(ids)
            file_part, sep, rest = glob.partition("::")
            if "*" not in glob and "?" not in glob:
                self._exact[glob] = frozen
            elif sep and "*" not in file_part and "?" not in file_part:
                self._by_file.setdefault(file_part, []).append((glob_regex(rest), frozen))
            else:
                self._anywhere.append((glob_regex(glob), frozen))

    @property
    def empty(self) -> bool:
        """True when no invariant has ``tests`` globs: :meth:`match` would always be empty."""
        return not (self._exact or self._by_file or self._anywhere)

    def match(self, nodeid: str) -> tuple[str, ...]:
        """IDs (sorted, unique) of the invariants with a ``tests`` glob matching ``nodeid``."""
        found: set[str] = set()
        exact = self._exact.get(nodeid)
        if exact is not None:
            found.update(exact)
        file_part, sep, rest = nodeid.partition("::")
        if sep:
            for regex, ids in self._by_file.get(file_part, ()):
                if regex.match(rest):
                    found.update(ids)
        for regex, ids in self._anywhere:
            if regex.match(nodeid):
                found.update(ids)
        return tuple(sorted(found))
