"""JSON for machines: findings, diagnostics, rule tallies and timings, stably ordered."""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import __version__
from ..model import Report, Span


def _span(s: Span) -> dict[str, int]:
    return {
        "start_line": s.start_line,
        "start_column": s.start_col,
        "end_line": s.end_line,
        "end_column": s.end_col,
    }


def build(report: Report) -> dict[str, Any]:
    return {
        "tool": {"name": "tether", "version": __version__},
        "baselines": report.baseline_files,
        "findings": [
            {
                "rule_id": f.rule_id,
                "category": f.category.value,
                "level": f.level.value,
                "enforced": f.enforced,
                "path": f.path,
                "region": _span(f.span),
                "message": f.message,
                "target": f.target,
                "fingerprint": f.fingerprint,
                "baseline": [dataclasses.asdict(r) for r in f.baseline_refs],
            }
            for f in report.findings
        ],
        "diagnostics": [
            {
                "code": d.code,
                "level": d.level.value,
                "path": d.path,
                "region": _span(d.span),
                "message": d.message,
            }
            for d in report.diagnostics
        ],
        "rules": {
            rid: {
                "pass": t.passed,
                "fail": t.failed,
                "not_applicable": t.not_applicable,
                "counted_in_adoption": t.counted,
            }
            for rid, t in sorted(report.tallies.items())
        },
        "facts": report.facts_count,
        "timings": dataclasses.asdict(report.timings),
    }
