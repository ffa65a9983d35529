"""A small bounded cache for per-ref work in the data pipeline.

Each process (the main one and every data-loader worker) holds its own
cache: nothing is shared between workers and a pickled copy (what a
``spawn``/``forkserver`` worker receives) starts empty. A forked worker
inherits whatever its parent had cached, which in training is nothing (the
main process does not run the train pipeline). Entries therefore survive
from one epoch to the next only with ``persistent_workers=True`` (the
default of the dataset configs), and a ref that the sampler hands to
another worker than last time is a miss.
"""
from collections import OrderedDict
from typing import Any, Hashable, Optional


class LRUCache:
    """Least-recently-used map bounded by entries and, optionally, bytes.

    Args:
        max_items (int): Most entries kept; 0 disables the cache (every
            ``get`` misses and ``put`` stores nothing).
        max_bytes (int, optional): Most bytes kept, as given by the sizes
            passed to :meth:`put`. None: no byte bound.
    """

    def __init__(self, max_items: int, max_bytes: Optional[int] = None):
        if max_items < 0 or (max_bytes is not None and max_bytes < 0):
            raise ValueError('cache bounds must be >= 0, got '
                             f'max_items={max_items}, max_bytes={max_bytes}')
        self.max_items = int(max_items)
        self.max_bytes = None if max_bytes is None else int(max_bytes)
        self._reset()

    def _reset(self) -> None:
        self._entries: 'OrderedDict[Hashable, tuple]' = OrderedDict()
        self.nbytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_items > 0 and self.max_bytes != 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def keys(self) -> list:
        """The keys, least recently used first."""
        return list(self._entries)

    def get(self, key: Hashable) -> Optional[Any]:
        """The value of ``key`` (now the most recent), or None."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += int(self.enabled)
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[0]

    def put(self, key: Hashable, value: Any, nbytes: int = 0) -> None:
        """Store ``value``, evicting the least recently used entries."""
        if not self.enabled:
            return
        if self.max_bytes is not None and nbytes > self.max_bytes:
            return  # would evict everything and still not fit
        old = self._entries.pop(key, None)
        if old is not None:
            self.nbytes -= old[1]
        self._entries[key] = (value, nbytes)
        self.nbytes += nbytes
        while len(self._entries) > self.max_items or (
                self.max_bytes is not None and self.nbytes > self.max_bytes):
            _, (_, size) = self._entries.popitem(last=False)
            self.nbytes -= size

    def stats(self) -> dict:
        """Counters of this process, for benchmarks and logs."""
        return dict(
            entries=len(self),
            nbytes=self.nbytes,
            hits=self.hits,
            misses=self.misses)

    def __getstate__(self) -> dict:
        # A worker receiving a pickled transform starts with an empty cache
        # (and zero counters): caches are per process by design.
        return dict(max_items=self.max_items, max_bytes=self.max_bytes)

    def __setstate__(self, state: dict) -> None:
        self.max_items = state['max_items']
        self.max_bytes = state['max_bytes']
        self._reset()
