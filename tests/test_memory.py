"""Nothing of a scan outlives it: the org scan runs thousands of scans in one process."""

from __future__ import annotations

import gc
from pathlib import Path

from scanner.policy import engine
from scanner.scan import ScanOptions, scan

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
