"""Reports render findings; they never compute policy."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def write_pieces(path: Path, pieces: Iterable[str]) -> None:
    """A report's text into `path` (its directory made), written piece by piece as it is
    made: a report is never held whole (issue 11)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for piece in pieces:
            fh.write(piece)
