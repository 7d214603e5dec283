"""The registry schema: validate a registry document (the shape TOML gives) strictly.

Every problem is one :class:`ParityError` naming the source and the offending key path
(``invariants.RUNKEY-01.min_tests``), with what was found and, for an unknown key, the
closest known one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import TYPE_CHECKING, Any

from .model import ID_PATTERN, Invariant, Milestone, ParityError, Registry, Waiver, did_you_mean

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Checker", "found"]

_TOP_KEYS = ("milestones", "invariants")
_MILESTONE_KEYS = ("id", "title")
_INVARIANT_KEYS = ("milestone", "title", "min_tests", "tests", "waiver")
_WAIVER_KEYS = ("reason", "until")
_ID_RULE = "an ID starts with a letter or digit and has only letters, digits, '.', '_', ':', '-'"


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


def found(value: object, limit: int = 60) -> str:
    shown = _render(value)
    if len(shown) > limit:
        shown = shown[: limit - 3] + "..."
    return f"found {_type_name(value)} {shown}"


class Checker:
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
            raise self.error(path, f"expected {expected}, {found(value)}")
        return value

    def string(self, value: object, path: Sequence[str | int], *, empty_ok: bool = False) -> str:
        if not isinstance(value, str):
            raise self.error(path, f"expected a string, {found(value)}")
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
            raise self.error(("milestones",), f"expected an array of milestone IDs, {found(value)}")
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
            if milestone.id in ("all", "none"):
                raise self.error(
                    path, f"{milestone.id!r} cannot be a milestone ID: it is a gate scope word"
                )
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
            raise self.error((*path, "min_tests"), f"expected an integer >= 1, {found(min_tests)}")
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
            raise self.error(path, f"expected an array of node-ID globs, {found(value)}{hint}")
        for index, glob in enumerate(value):
            if not isinstance(glob, str) or not glob:
                raise self.error(
                    (*path, index), f"expected a non-empty node-ID glob string, {found(glob)}"
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
                f"expected a date, {found(value)}; a waiver holds through a whole day (UTC), "
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
            path, f"expected a date (until = 2027-01-31, or 'YYYY-MM-DD'), {found(value)}"
        )
