"""Position helpers shared by the parsers.

SARIF columns count UTF-16 code units (its default ``columnKind``); tree-sitter reports byte
offsets and ruamel.yaml reports code points. These helpers convert, with an ASCII fast path.
"""

from __future__ import annotations

from typing import Any

from ..model import Span


class LineIndex:
    """Maps byte or code-point columns of one file to 1-based UTF-16 columns."""

    __slots__ = ("_ascii", "_lines_b", "_lines_s", "_text", "maps")

    def __init__(self, text: str) -> None:
        self._text = text
        self._ascii = text.isascii()
        self._lines_b: list[bytes] | None = None
        self._lines_s: list[str] | None = None
        # the YAML layer's key tables of this text's mappings (see parsers.yaml.Node.get_pair),
        # kept as long as the text's nodes are
        self.maps: dict[int, tuple[Any, Any]] = {}

    def _line_str(self, row: int) -> str:
        if self._lines_s is None:
            self._lines_s = self._text.split("\n")
        return self._lines_s[row] if row < len(self._lines_s) else ""

    def col_from_byte(self, row: int, byte_col: int) -> int:
        """0-based row and byte column -> 1-based UTF-16 column."""
        if self._ascii:
            return byte_col + 1
        if self._lines_b is None:
            self._lines_b = self._text.encode("utf-8").split(b"\n")
        line = self._lines_b[row] if row < len(self._lines_b) else b""
        prefix = line[:byte_col].decode("utf-8", errors="replace")
        return _utf16_len(prefix) + 1

    def col_from_char(self, row: int, char_col: int) -> int:
        """0-based row and code-point column -> 1-based UTF-16 column."""
        if self._ascii:
            return char_col + 1
        return _utf16_len(self._line_str(row)[:char_col]) + 1

    def line_text(self, row: int) -> str:
        """The text of a 0-based row, without its newline ("" past the end)."""
        return self._line_str(row)

    def back_over_space(self, row: int, col: int, floor: tuple[int, int]) -> tuple[int, int]:
        """0-based (row, code-point column) just after the last non-whitespace character
        before (row, col), not before ``floor``. By row and column, not offsets: positions of
        documents composed apart from the whole file (padded to keep rows and columns) stay
        right."""
        floor_row, floor_col = floor
        while True:
            if row == floor_row and col <= floor_col:
                return row, col
            if col > 0:
                if self._line_str(row)[col - 1 : col] not in (" ", "\t", "\r"):
                    return row, col
                col -= 1
            elif row > floor_row:
                row -= 1
                col = len(self._line_str(row))
            else:
                return row, col

    def span_from_bytes(self, start: tuple[int, int], end: tuple[int, int]) -> Span:
        return Span(
            start[0] + 1,
            self.col_from_byte(start[0], start[1]),
            end[0] + 1,
            self.col_from_byte(end[0], end[1]),
        )

    def span_from_chars(self, start: tuple[int, int], end: tuple[int, int]) -> Span:
        return Span(
            start[0] + 1,
            self.col_from_char(start[0], start[1]),
            end[0] + 1,
            self.col_from_char(end[0], end[1]),
        )

    def line_span(self, line: int) -> Span:
        """The span of a whole 1-based line (without its newline)."""
        text = self._line_str(line - 1).rstrip("\r")
        return Span(line, 1, line, _utf16_len(text) + 1)


def _utf16_len(s: str) -> int:
    if s.isascii():
        return len(s)
    return sum(2 if ord(c) > 0xFFFF else 1 for c in s)


def decode(data: bytes) -> str:
    """Decode file bytes: UTF-8 (with or without BOM), or UTF-16/32 when a BOM says so
    (PowerShell's `>` writes UTF-16 with a BOM). Raises UnicodeDecodeError."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return data.decode("utf-32")  # the BOM picks the byte order and is dropped
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8")
