"""Map items of a run: an immutable table that a transition changes in O(1) amortized.

A 10,000-item map settles one item per message.  Copying a 10,000-entry dict for every
one of them (and comparing it entry by entry when the run is written) made a map's
cost grow with the square of its length.  :class:`ItemTable` keeps items in chunks of
:data:`CHUNK` per map node: a change copies the table's small chunk index and the
touched chunks only, and the store finds what to write by comparing chunks by identity
(:func:`orchestrator.store.codec.changed_fields`).  It is a read-only ``Mapping`` from
item keys (``per_record[17]``) to :class:`NodeState`.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping

from orchestrator.engine.state import NodeState, item_key, split_item

CHUNK = 128
"""Items per chunk."""

ChunkKey = tuple[str, int]
_TRACKED = 4096
"""Changed keys a table remembers against its origin; past it, the store compares chunks."""


class ItemTable(Mapping[str, NodeState]):
    """Items by key, stored in chunks of :data:`CHUNK` consecutive indexes of one node."""

    __slots__ = ("__weakref__", "_chunks", "_len", "_since", "_touched")

    def __init__(
        self,
        chunks: Mapping[ChunkKey, Mapping[int, NodeState]] | None = None,
        length: int | None = None,
    ) -> None:
        self._chunks: Mapping[ChunkKey, Mapping[int, NodeState]] = chunks or {}
        self._len = sum(len(c) for c in self._chunks.values()) if length is None else length
        self._since: weakref.ref[ItemTable] | None = None
        self._touched: frozenset[str] = frozenset()

    def touched_since(self, older: Mapping[str, NodeState]) -> frozenset[str] | None:
        """The item keys that may differ from ``older``, when this table derives from it by
        :meth:`updated` (None: unknown, compare every chunk)."""
        since = self._since() if self._since is not None else None
        return self._touched if since is older else None

    @classmethod
    def of(cls, items: Mapping[str, NodeState]) -> ItemTable:
        """A table of ``items`` (keys as :func:`item_key` makes them)."""
        return EMPTY_ITEMS.updated(items)

    @property
    def chunks(self) -> Mapping[ChunkKey, Mapping[int, NodeState]]:
        """``(node id, index // CHUNK)`` -> index -> state (compare chunks by identity)."""
        return self._chunks

    def __getitem__(self, key: str) -> NodeState:
        where = split_item(key)
        if where is None:
            raise KeyError(key)
        node_id, index = where
        chunk = self._chunks.get((node_id, index // CHUNK))
        if chunk is None or index not in chunk:
            raise KeyError(key)
        return chunk[index]

    def __iter__(self) -> Iterator[str]:
        for (node_id, _), chunk in self._chunks.items():
            for index in chunk:
                yield item_key(node_id, index)

    def __len__(self) -> int:
        return self._len

    def updated(self, changes: Mapping[str, NodeState]) -> ItemTable:
        """A new table with ``changes`` applied; untouched chunks are shared."""
        if not changes:
            return self
        chunks = dict(self._chunks)
        copied: set[ChunkKey] = set()
        length = self._len
        for key, state in changes.items():
            where = split_item(key)
            if where is None:
                raise KeyError(f"{key!r} is not an item key")
            node_id, index = where
            ck = (node_id, index // CHUNK)
            if ck not in copied:
                chunks[ck] = dict(chunks.get(ck, {}))
                copied.add(ck)
            chunk: dict[int, NodeState] = chunks[ck]  # type: ignore[assignment]
            length += index not in chunk
            chunk[index] = state
        table = ItemTable(chunks, length)
        # Remember the oldest table still alive that this one derives from, and which
        # items changed since: the store then writes those items only.
        since = self._since() if self._since is not None else None
        if since is not None and len(self._touched) < _TRACKED:
            table._since, table._touched = self._since, self._touched | changes.keys()
        else:
            table._since, table._touched = weakref.ref(self), frozenset(changes)
        return table

    def __repr__(self) -> str:
        return f"ItemTable({len(self)} items)"


EMPTY_ITEMS = ItemTable()


class PendingItems(Mapping[str, NodeState]):
    """A table plus a transition's changes not yet frozen into a new table."""

    __slots__ = ("base", "changes")

    def __init__(self, base: Mapping[str, NodeState]) -> None:
        self.base = base
        self.changes: dict[str, NodeState] = {}

    def __getitem__(self, key: str) -> NodeState:
        found = self.changes.get(key)
        return found if found is not None else self.base[key]

    def __contains__(self, key: object) -> bool:
        return key in self.changes or key in self.base

    def __iter__(self) -> Iterator[str]:
        yield from self.changes
        for key in self.base:
            if key not in self.changes:
                yield key

    def __len__(self) -> int:
        return len(self.base) + sum(1 for k in self.changes if k not in self.base)

    def frozen(self) -> Mapping[str, NodeState]:
        """The base with the changes applied (the base itself when nothing changed)."""
        if not self.changes:
            return self.base
        base = self.base if isinstance(self.base, ItemTable) else ItemTable.of(self.base)
        return base.updated(self.changes)
