"""PR mode as a library call: judge the head of a pull request against its merge base, with
the repository's own configuration and exceptions as the merge base has them.

What the change edits in `.tether.yaml`, `.tether/exceptions.yaml` or inline `tether:ignore`
comments is reported (CFG002, EXC006), never silently applied to the change itself: a pull
request cannot switch off or loosen its own gate. See docs/security.md.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from . import config as config_mod
from . import exceptions as exceptions_mod
from . import gitdiff, prdiff
from .config import RepoConfig
from .errors import ConfigError
from .model import Report
from .policy import operator
from .scan import ScanOptions, scan


def scan_pr(
    root: Path, base_ref: str, options: ScanOptions, config: RepoConfig | None = None
) -> Report:
    """Scan `root` (a directory inside a git work tree) and the same directory at the merge
    base of HEAD and `base_ref`, with the same policy; the report's findings are the head's,
    and `report.diff` says which are new, fixed, unchanged or newly excepted, and which
    diagnostics are new. `config` is ignored: the repository's configuration is read from the
    merge base (kept for API compatibility)."""
    del config
    top, prefix = gitdiff.locate(root)
    base = gitdiff.merge_base(top, base_ref)
    base_cfg = RepoConfig()
    base_records: list[exceptions_mod.ExceptionRecord] = []
    before: Report | None = None
    with gitdiff.exported(top, base, prefix=_policy_prefix(options, top, prefix)) as tree:
        options = _policy_from_base(options, top, tree)
        policy = options.effective_policy()
        base_root = tree / prefix if prefix else tree
        # a scanned directory that is new in this change had no findings before
        if base_root.is_dir():
            if policy.repo_config:
                base_cfg = config_mod.discover(base_root)
                base_records = exceptions_mod.load_repo(base_root)
            before = scan(base_root, options, config=base_cfg, files=_all_files(base_root))
        rename = gitdiff.renames(top, base, prefix)
        head_cfg = config_mod.discover(root) if policy.repo_config else RepoConfig()
        cfg_facts = config_mod.facts(
            head_cfg, policy, base_cfg if base_cfg.file is not None else None, pr=True
        )
        head = scan(
            root,
            options,
            config=base_cfg,
            files=gitdiff.worktree_files(top, prefix),
            approved=_approved(before, base_records, rename),
            config_facts=cfg_facts,
        )
    diff = prdiff.classify(
        head.findings,
        before.findings if before else [],
        rename,
        base_ref,
        base,
        head_excepted=[e.finding for e in head.excepted],
        head_diagnostics=head.diagnostics,
        base_diagnostics=before.diagnostics if before else [],
    )
    return dataclasses.replace(head, diff=diff)


def _in_repository(file: Path, top: Path) -> bool:
    """Whether a file belongs to the repository at `top` (not to a repository checked out
    inside its work tree, such as the platform's policy beside the code)."""
    if top not in file.parents:
        return False
    d = file.parent
    while d != top:
        if (d / ".git").exists():
            return False
        d = d.parent
    return True


def _policy_prefix(options: ScanOptions, top: Path, prefix: str) -> str:
    """Export only the scanned directory, unless a policy inside the repository needs its
    merge-base copy (then the whole tree)."""
    file = options.policy.file
    if file and _in_repository(
        Path(os.path.realpath(file)), Path(os.path.realpath(top))
    ):
        return ""
    return prefix


def _policy_from_base(options: ScanOptions, top: Path, tree: Path) -> ScanOptions:
    """A policy file inside the repository under review is the change's to edit: read it, and
    the baselines, rules and registries beside it, from the merge base instead."""
    file = options.policy.file
    if not file:
        return options
    real = Path(os.path.realpath(file))
    top_real = Path(os.path.realpath(top))
    if not _in_repository(real, top_real):
        return options
    rel = real.relative_to(top_real)
    based = tree / rel
    if not based.is_file():
        raise ConfigError(
            file,
            None,
            "the policy file lies inside the repository under review and does not "
            "exist at the merge base; keep the policy in a separate repository",
        )
    return dataclasses.replace(options, policy=operator.load(based))


def _approved(
    before: Report | None,
    records: list[exceptions_mod.ExceptionRecord],
    rename: dict[str, str],
) -> exceptions_mod.Approved:
    """What the merge base approved: its repository records, the (rule, subject) pairs each
    covered, and the findings its inline comments covered (paths renamed to the head's)."""
    subjects: dict[tuple[object, ...], set[tuple[str, str]]] = {}
    inline: set[tuple[str, str, str, str]] = set()
    for e in before.excepted if before else []:
        f = e.finding
        if e.record.origin == "repo":
            subjects.setdefault(e.record.identity, set()).add((f.rule_id, f.subject))
        elif e.record.origin == "inline":
            inline.add(prdiff.identity(f, rename))
    return exceptions_mod.Approved(
        frozenset(r.identity for r in records),
        {k: frozenset(v) for k, v in subjects.items()},
        frozenset(inline),
    )


def _all_files(root: Path) -> list[str]:
    """Every file of an exported revision: all of it is tracked content, scanned as the head's
    tracked files are (no directory skipped for its markers on one side only)."""
    out = []
    for dirpath, _dirs, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for f in files:
            out.append(f if rel == "." else f"{rel}/{f}".replace(os.sep, "/"))
    return out
