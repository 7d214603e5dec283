"""An append-only, in-memory event log."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from engine.events import Event


class EventLog:
    """Accepted events in arrival order. Nothing is ever removed or rewritten."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._keys: set[str] = set()

    def seen(self, idempotency_key: str) -> bool:
        """Whether an event with this idempotency key was already appended."""
        return idempotency_key in self._keys

    def append(self, event: Event) -> None:
        if self.seen(event.idempotency_key):
            raise ValueError(f"idempotency key {event.idempotency_key!r} is already in the log")
        self._keys.add(event.idempotency_key)
        self._events.append(event)

    def __iter__(self) -> Iterator[Event]:
        return iter(tuple(self._events))

    def __len__(self) -> int:
        return len(self._events)
