"""Memory a scan freed goes back to the system as it reads (scanner/memory.py)."""

from __future__ import annotations

import sys

import pytest

from scanner import memory


def test_a_trim_comes_after_enough_files_or_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(memory, "_trim", calls.append)
    monkeypatch.setattr(memory, "_since_bytes", 0)
    monkeypatch.setattr(memory, "_since_files", 0)
    for _ in range(memory.TRIM_FILES - 1):
        memory.note_read(10)
    assert calls == []
    memory.note_read(10)
    assert calls == [0]
    memory.note_read(memory.TRIM_BYTES)  # one large file is enough
    assert calls == [0, 0]
    memory.note_read(1)
    assert calls == [0, 0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_trim_gives_freed_heap_pages_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Freed blocks pinned under a live one stay in the process until trimmed."""
    import ctypes

    if not hasattr(ctypes.CDLL(None), "malloc_trim"):
        pytest.skip("no malloc_trim (not glibc)")

    def rss_kib() -> int:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    monkeypatch.setattr(memory, "_trim", None)
    # 64 MiB in blocks under glibc's mmap threshold (so in the heap), each followed by a small
    # block that stays: freeing the large ones leaves holes the heap's top cannot give back
    blocks = [ctypes.create_string_buffer(100_000) for _ in range(670)]
    pins = [ctypes.create_string_buffer(64) for _ in range(670)]
    for b in blocks:
        ctypes.memset(b, 1, len(b))
    del blocks
    before = rss_kib()
    memory.trim()
    after = rss_kib()
    del pins
    assert before - after > 32 * 1024, (before, after)
