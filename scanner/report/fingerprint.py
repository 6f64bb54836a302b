"""SARIF ``partialFingerprints.primaryLocationLineHash``, bit-for-bit as GitHub computes it.

This is a port of ``hash()`` in github/codeql-action ``src/fingerprints.ts``.  The
TypeScript reads the file as UTF-8 and feeds every UTF-16 code unit through a rolling
hash (base 37, arithmetic mod 2**64, window of 100 units):

* spaces and tabs are skipped;
* CR and CRLF each count as a single LF (a space or tab between CR and LF breaks the
  pair, so ``"\\r \\n"`` is two line breaks, exactly as in the TypeScript);
* one 65535 unit marks the end of the file, then 100 zeros flush the window;
* a line's value is the hash of the 100 units starting at the line's first
  (non-space/tab) unit, written as lowercase hex without leading zeros, plus ``:n``
  where ``n`` counts how many lines so far (this one included) had the same hex.

Every line gets a hash, including the empty line after a trailing newline, so a file
has one more line than it has CR, LF and CRLF line breaks (other Unicode line
separators are ordinary characters here, unlike in ``str.splitlines``).

Implementation: instead of a per-character state machine this uses prefix hashes
``P[i] = sum(u[j] * 37**(i-1-j) for j < i) mod 2**64``; the window hash of a line
starting at unit ``p`` is ``P[p+100] - 37**100 * P[p]`` (mod 2**64), and the origin of
``P`` cancels out, so it can restart anywhere.  Normalisation, UTF-16 conversion and
line splitting run in C (``str.replace``/``translate``/``encode``/``split``); the only
Python-level loop is one multiply-add per code unit that some line's window covers, so
the tail of a long line (beyond 100 units) is never visited.
"""

from __future__ import annotations

import sys
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from itertools import accumulate, count, repeat
from operator import add

__all__ = ["LineHasher", "decode_source", "line_hashes"]

_BLOCK_SIZE = 100
_BASE = 37
_MASK = (1 << 64) - 1
_FIRST_MOD = pow(_BASE, _BLOCK_SIZE, 1 << 64)
_EOF = "\uffff"
_DROP_SPACE_TAB = {ord(" "): None, ord("\t"): None}
# Units multiplied in before reducing mod 2**64; keeps intermediate ints to ~400 bits.
_UNMASKED_RUN = 64
_ZERO_PAD = array("H", bytes(2 * _BLOCK_SIZE))
# Line starts are processed in groups; a group averaging fewer units per line than this
# is cheaper to hash by storing every prefix hash than by jumping between checkpoints.
_GROUP = 2048
_DENSE_UNITS_PER_LINE = 6


def decode_source(data: bytes) -> str:
    """Decode file bytes the way ``fs.createReadStream(path, "utf8")`` does in Node.

    Invalid sequences become U+FFFD (one per maximal subpart, as in Node) and a BOM
    is kept as U+FEFF (Node does not strip it, and it takes part in the hash).
    """
    return data.decode("utf-8", errors="replace")


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le", "surrogatepass")) >> 1


def _units_and_line_starts(text: str) -> tuple[array[int], list[int]]:
    """Normalised UTF-16 code units (EOF marker and zero padding appended) and the
    unit index at which each line starts."""
    # CR/CRLF -> LF must happen before spaces/tabs are dropped: in the TypeScript a
    # space between CR and LF resets the "previous was CR" flag.
    normal = text.replace("\r\n", "\n").replace("\r", "\n").translate(_DROP_SPACE_TAB)
    data = (normal + _EOF).encode("utf-16-le", "surrogatepass")

    # Line k+1 starts one unit after the LF ending line k.  Lengths are in UTF-16 units,
    # which differ from len() only when there are astral (surrogate pair) characters.
    lines = normal.split("\n")
    del lines[-1]
    lengths = map(len, lines) if len(data) == 2 * (len(normal) + 1) else map(_utf16_len, lines)
    starts = [0, *map(add, accumulate(lengths), count(1))]

    units = array("H")
    units.frombytes(data)
    if sys.byteorder == "big":
        units.byteswap()
    units.extend(_ZERO_PAD)
    return units, starts


def _window_hashes_sparse(units: array[int], starts: list[int], out: list[int]) -> None:
    """Append the window hash of each start, visiting each needed unit once.

    Prefix hashes are taken relative to ``starts[0]`` (the origin cancels out of
    ``P[p+100] - 37**100 * P[p]``) and only at ``p`` and ``p + 100``; units further than
    100 past a line start and before the next one (the tail of a long line) are skipped.
    """
    block = _BLOCK_SIZE
    mask = _MASK
    run = _UNMASKED_RUN
    checkpoints = sorted({*starts, *(p + block for p in starts)})
    prefix: dict[int, int] = {}
    h = 0
    pos = checkpoints[0]
    for cp in checkpoints:
        if cp - pos > block:  # a gap nobody's window covers: restart the origin
            h = 0
            pos = cp
        while cp - pos > run:
            nxt = pos + run
            for c in units[pos:nxt]:
                h = h * 37 + c
            h &= mask
            pos = nxt
        for c in units[pos:cp]:
            h = h * 37 + c
        h &= mask
        prefix[cp] = h
        pos = cp
    first = _FIRST_MOD
    out.extend([(prefix[p + block] - first * prefix[p]) & mask for p in starts])


def _window_hashes_dense(units: array[int], starts: list[int], out: list[int]) -> None:
    """Same result as the sparse variant; cheaper when lines are only a few units long."""
    block = _BLOCK_SIZE
    mask = _MASK
    origin = starts[0]
    prefix = [0]
    append = prefix.append
    h = 0
    for c in units[origin : starts[-1] + block]:
        h = (h * 37 + c) & mask
        append(h)
    first = _FIRST_MOD
    out.extend([(prefix[p - origin + block] - first * prefix[p - origin]) & mask for p in starts])


def _raw_hashes(units: array[int], starts: list[int]) -> list[int]:
    """Window hash (mod 2**64) of the 100 units starting at each line start."""
    out: list[int] = []
    for i in range(0, len(starts), _GROUP):
        group = starts[i : i + _GROUP]
        if group[-1] + _BLOCK_SIZE - group[0] < _DENSE_UNITS_PER_LINE * len(group):
            _window_hashes_dense(units, group, out)
        else:
            _window_hashes_sparse(units, group, out)
    return out


def _format(raw: list[int]) -> list[str]:
    hexes = list(map(format, raw, repeat("x")))
    if len(set(hexes)) == len(hexes):  # the usual case: no repeated window
        return list(map(add, hexes, repeat(":1")))
    counts: dict[str, int] = {}
    out: list[str] = []
    append = out.append
    for hexed in hexes:
        n = counts.get(hexed, 0) + 1
        counts[hexed] = n
        append(f"{hexed}:{n}")
    return out


def line_hashes(text: str) -> list[str]:
    """``primaryLocationLineHash`` for every line of ``text``; index 0 is line 1.

    ``text`` is the decoded file content (see :func:`decode_source`).  The result has
    one entry per line, including the (empty) last line after a trailing newline.
    """
    units, starts = _units_and_line_starts(text)
    return _format(_raw_hashes(units, starts))


class LineHasher:
    """Per-file cache of line hashes for callers asking about many lines of few files.

    Files are keyed by their text; the most recently used file is also matched by
    identity, so repeated calls with the same ``str`` object cost a dict-free check.
    At most ``max_files`` files are kept (least recently used are evicted).
    """

    __slots__ = ("_cache", "_last_hashes", "_last_text", "_max_files")

    def __init__(self, max_files: int = 16) -> None:
        if max_files < 1:
            raise ValueError("max_files must be at least 1")
        self._max_files = max_files
        self._cache: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._last_text: str | None = None
        self._last_hashes: tuple[str, ...] = ()

    def hashes(self, text: str) -> Sequence[str]:
        """All line hashes of ``text`` (index 0 = line 1), computed at most once."""
        if text is self._last_text:
            return self._last_hashes
        cache = self._cache
        found = cache.get(text)
        if found is None:
            found = tuple(line_hashes(text))
            cache[text] = found
            if len(cache) > self._max_files:
                cache.popitem(last=False)
        else:
            cache.move_to_end(text)
        self._last_text = text
        self._last_hashes = found
        return found

    def hash_for(self, text: str, line: int) -> str:
        """Hash of 1-based ``line`` of ``text``; ``IndexError`` if there is no such line."""
        found = self.hashes(text)
        if not 1 <= line <= len(found):
            raise IndexError(f"line {line} out of range 1..{len(found)}")
        return found[line - 1]

    def get(self, text: str, line: int) -> str | None:
        """Like :meth:`hash_for` but ``None`` for a line the file does not have.

        codeql-action leaves the fingerprint unset in that case.
        """
        found = self.hashes(text)
        return found[line - 1] if 1 <= line <= len(found) else None

    def clear(self) -> None:
        """Drop every cached file."""
        self._cache.clear()
        self._last_text = None
        self._last_hashes = ()
