"""Facts and findings waiting on disk while a scan goes on (issue 11: what a scan holds is
bounded by the largest file, not by the repository): the kustomizations' facts until the
graph they make is known (scanning._collect_streamed), a parse worker's facts until the
parent takes them (parallel.run), and the findings judged so far until the scan is done
(policy.engine.Evaluation).

Records are length-prefixed pickles, written unbuffered to an unnamed temporary file, so a
short write cannot hide in a buffer: what is read back ends at the last record written
whole. Where the disk refuses (no temporary directory, no space), what it refused is held in
memory instead: a scan that cannot spool still scans, as it did before it spooled. The file
is tether's own, made here and never named, and holds only what tether wrote.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
# (the end of what the file holds whole, what was held in memory): what a forked writer
# hands back to the process that reads (see `state`, `adopt`)
State = tuple[int, "list[list[Any]] | None"]


class Spool(Generic[T]):
    """Batches of picklable items (facts, findings), read back in the order written."""

    def __init__(self) -> None:
        self._file: Any = None
        self._end = 0  # the end of the last record written whole
        self._held: list[list[T]] | None = None  # written after the disk refused

    def open(self) -> Spool[T]:
        """Make the file now, not on the first write: before a fork, so that the worker
        writes what the parent reads."""
        if self._file is None and self._held is None:
            import tempfile

            try:
                self._file = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 (close())
            except OSError:
                self._held = []
        return self

    def write(self, items: list[T]) -> None:
        import pickle  # (only when something is written: an empty scan loads none)

        self.open()
        if self._held is None:
            blob = pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL)
            record = memoryview(len(blob).to_bytes(8, "little") + blob)
            try:
                self._file.seek(self._end)
                while record:
                    record = record[self._file.write(record) :]
                self._end = self._file.tell()
                return
            except OSError:
                self._held = []
        self._held.append(items)

    @property
    def state(self) -> State:
        """What a writer in another process hands back for `adopt`."""
        return self._end, self._held

    def adopt(self, state: State) -> None:
        """What a forked writer wrote to this (shared) file, and held."""
        self._end, self._held = state

    def replay(self) -> Iterator[list[T]]:
        """What was written, in order."""
        if self._file is not None and self._end:
            import pickle

            fd, at = self._file.fileno(), 0
            while at < self._end:
                size = int.from_bytes(os.pread(fd, 8, at), "little")
                yield pickle.loads(os.pread(fd, size, at + 8))
                at += 8 + size
        yield from self._held or ()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._held = None
