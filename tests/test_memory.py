"""Nothing of a scan outlives it: the org scan runs thousands of scans in one process; and
what a scan freed goes back to the system as it reads (scanner/memory.py)."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

from scanner import memory
from scanner.policy import engine
from scanner.scanning import ScanOptions, scan

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "acme-payments"


def test_no_rule_judge_survives_its_scan() -> None:
    """A CEL context (a native object the garbage collector cannot look into) holding a
    resolver bound to its judge kept every judge, rule, baseline and verdict cache alive:
    ~1 MB per repository of an org scan."""
    for _ in range(3):
        report = scan(EXAMPLE, ScanOptions(jobs=1))
        assert report.findings
    del report
    gc.collect()
    assert [o for o in gc.get_objects() if isinstance(o, engine._Judge)] == []


def test_the_org_scan_builds_each_rule_once_and_nothing_else_does(tmp_path: Path) -> None:
    from scanner.policy import rules as rules_mod
    from scanner.scanning import embedded_rules_dir

    first = rules_mod.load_rules([embedded_rules_dir()])
    assert rules_mod.load_rules([embedded_rules_dir()])["K8S003"] is not first["K8S003"]
    with rules_mod.reuse_built_rules():
        a = rules_mod.load_rules([embedded_rules_dir()])
        assert rules_mod.load_rules([embedded_rules_dir()])["K8S003"] is a["K8S003"]
        # an edited file is a new rule
        d = tmp_path / "rules"
        d.mkdir()
        src = (embedded_rules_dir() / "kubernetes" / "K8S003.yml").read_text()
        (d / "K8S003.yml").write_text(src)
        one = rules_mod.load_rules([d])["K8S003"]
        (d / "K8S003.yml").write_text(src.replace("severity: error", "severity: warning"))
        assert rules_mod.load_rules([d])["K8S003"] is not one
    assert rules_mod._BUILT == {}


def test_the_collector_is_eased_only_while_files_are_parsed(tmp_path: Path) -> None:
    """scan.collect runs Python's cycle collector less often while it parses (issue 11: the
    default thresholds cost as much again as parsing) and gives the caller's settings back."""
    import gc
    import importlib

    from scanner.model import Timings

    scan_mod = importlib.import_module("scanner.scanning")  # the module, not scanner.scan()

    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n")
    seen: list[tuple[int, int, int]] = []
    real = scan_mod._observe

    def spy(files, timings):  # type: ignore[no-untyped-def]
        seen.append(gc.get_threshold())
        return real(files, timings)

    before = gc.get_threshold()
    scan_mod._observe = spy  # type: ignore[assignment]
    try:
        scan_mod.collect(tmp_path, [], Timings(), 1)
    finally:
        scan_mod._observe = real  # type: ignore[assignment]
    assert seen == [scan_mod._GC_THRESHOLDS]
    assert gc.get_threshold() == before


def test_concurrent_scans_give_the_collector_settings_back(tmp_path: Path) -> None:
    """An org scan parses repositories in threads: thresholds are the process's, eased by the
    first scan in and restored by the last one out, whatever order they finish in."""
    import threading

    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n")
    before = gc.get_threshold()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(3):
                scan(tmp_path)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert gc.get_threshold() == before


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
