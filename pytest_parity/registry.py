"""The registry of declared invariants: find it, read it, and validate it strictly.

Nothing here knows about pytest. Every problem is one :class:`ParityError` whose message
starts with the file it is about and names the offending key path
(``invariants.RUNKEY-01.min_tests``) and, for TOML syntax errors, the line and column.
One checker (:mod:`.schema`) validates a registry read from TOML, one that
``pytest_parity_registry_loaded`` hooks changed, and one embedded in an evidence report.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

from .model import Invariant, Milestone, ParityError, Registry, Waiver
from .schema import Checker, found

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (Python 3.10: measured by .ci/run on 3.10, not in coverage)
    import tomli as tomllib


__all__ = ["check_registry", "find_registry", "load_registry", "registry_from_data"]


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
    text = _read(path)
    doc = _parse(path, text)
    if path.name != "pyproject.toml":
        registry = Checker(str(path)).registry(doc)
    else:
        tool = doc.get("tool")
        if not isinstance(tool, dict) or "parity" not in tool:
            raise ParityError(
                f"{path}: no [tool.parity] table: "
                "this pyproject.toml declares no pytest-parity registry"
            )
        checker = Checker(str(path), ("tool", "parity"))
        registry = checker.registry(checker.table(tool["parity"], (), "a table"))
    lines = _declaration_lines(text)
    for inv in list(registry.invariants.values()):
        registry.invariants[inv.id] = dataclasses.replace(inv, line=lines.get(inv.id))
    return registry


#: a key, bare or quoted (one group each)
_TOML_KEY = r"""(?:"([^"]*)"|'([^']*)'|([\w-]+))"""
#: ``[invariants.ID]``, ``[tool.parity.invariants."ID"]``
_TABLE_HEADER = re.compile(rf"^\s*\[\s*(?:[\w.\s]*\.)?invariants\s*\.\s*{_TOML_KEY}\s*\]")
#: ``ID = {...}`` in an ``[invariants]`` table, ``invariants.ID.title = ...``
_KEY_LINE = re.compile(rf"^\s*(?:invariants\s*\.\s*)?{_TOML_KEY}\s*[.=]")


def _declaration_lines(text: str) -> dict[str, int]:
    """Per key, the first line (1-based) of a TOML text that may declare an invariant so
    named: a table header or a key line. One pass over the text."""
    found: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _TABLE_HEADER.match(line) or _KEY_LINE.match(line)
        if match:
            key = next(group for group in match.groups() if group is not None)
            found.setdefault(key, number)
    return found


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
    clean = Checker(source).registry({"milestones": milestones, "invariants": invariants})
    clean.source, clean.file = registry.source, registry.file
    for inv_id, inv in clean.invariants.items():  # keep where the file declared them
        line = getattr(registry.invariants[inv_id], "line", None)
        clean.invariants[inv_id] = dataclasses.replace(inv, line=line)
    return clean


def registry_from_data(data: object, source: str) -> Registry:
    """The registry an evidence report embeds (``Registry.to_data()`` as JSON), validated
    exactly like a TOML registry; ``source`` starts every error message."""
    if not isinstance(data, dict):
        raise ParityError(f"{source}: expected a JSON object, {found(data)}")
    listed = data.get("invariants")
    if not isinstance(listed, list):
        raise ParityError(f"{source}: invariants: expected an array, {found(listed)}")
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
    return Checker(source).registry({**data, "invariants": invariants})
