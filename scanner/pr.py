"""PR mode as a library call: scan the working tree and the merge base, classify findings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from . import gitdiff
from .config import RepoConfig
from .model import Report
from .scan import ScanOptions, scan


def scan_pr(
    root: Path, base_ref: str, options: ScanOptions, config: RepoConfig | None = None
) -> Report:
    """Scan `root` (a directory inside a git work tree) and the same directory at the merge
    base of HEAD and `base_ref`, with the same configuration, rules and baseline; the report's
    findings are the head's, and `report.diff` says which are new, fixed or unchanged."""
    cfg = config or RepoConfig()
    top = gitdiff.toplevel(root)
    prefix = root.resolve().relative_to(top.resolve()).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    base = gitdiff.merge_base(top, base_ref)
    head = scan(root, options, config=cfg)
    with gitdiff.exported(top, base) as tree:
        base_root = tree / prefix if prefix else tree
        # a scanned directory that is new in this change had no findings before
        before = scan(base_root, options, config=cfg).findings if base_root.is_dir() else []
    rename = gitdiff.renames(top, base, prefix)
    diff = gitdiff.classify(head.findings, before, rename, base_ref, base)
    return dataclasses.replace(head, diff=diff)
