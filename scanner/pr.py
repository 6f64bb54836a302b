"""PR mode as a library call: judge the head of a pull request against its merge base, with
the repository's own configuration and exceptions as the merge base has them.

What the change edits in `.tether.yaml`, `.tether/exceptions.yaml` or inline `tether:ignore`
comments is reported (CFG002, EXC006), never silently applied to the change itself: a pull
request cannot switch off or loosen its own gate. See docs/security.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import stat
from pathlib import Path

from . import config as config_mod
from . import exceptions as exceptions_mod
from . import gitdiff, prdiff
from .config import RepoConfig
from .errors import ConfigError
from .model import Diagnostic, Level, Report
from .policy import operator
from .scan import ScanOptions, scan
from .source import file_diagnostic


def scan_repository(root: Path, options: ScanOptions, diff_base: str | None = None) -> Report:
    """The one entry point the CLI and the Action share: PR mode against `diff_base` when
    given, else a full scan with the repository's own configuration (when the policy reads
    it)."""
    if diff_base:
        return scan_pr(root, diff_base, options)
    repo_config = options.effective_policy().repo_config
    return scan(root, options, config=config_mod.discover(root) if repo_config else RepoConfig())


def scan_pr(
    root: Path, base_ref: str, options: ScanOptions, config: RepoConfig | None = None
) -> Report:
    """Scan `root` (a directory inside a git work tree) and the same directory at the merge
    base of HEAD and `base_ref`, with the same policy; the report's findings are the head's,
    and `report.diff` says which are new, fixed, unchanged or newly excepted, and which
    diagnostics are new.

    The repository's configuration, exception records and rule directories are the approved
    ones: as `base_ref` has them now (the branch the change merges into; the merge base when
    that is the same commit). `config` is ignored (kept for API compatibility)."""
    del config
    top, prefix = gitdiff.locate(root)
    base = gitdiff.merge_base(top, base_ref)
    tip = gitdiff.commit_of(top, base_ref)
    base_cfg = RepoConfig()
    base_records: list[exceptions_mod.ExceptionRecord] = []
    before: Report | None = None
    policy_rel = _policy_in_repository(options, top, tip)
    # a policy inside the repository needs its approved copy: export the whole tree then
    export_prefix = "" if policy_rel is not None else prefix
    with contextlib.ExitStack() as stack:
        tree = stack.enter_context(gitdiff.exported(top, base, prefix=export_prefix))
        approved_tree = (
            tree
            if tip == base
            else stack.enter_context(gitdiff.exported(top, tip, prefix=export_prefix))
        )
        options = _policy_from_base(options, policy_rel, approved_tree)
        policy = options.effective_policy()
        base_root = tree / prefix if prefix else tree
        cfg_root = approved_tree / prefix if prefix else approved_tree
        if policy.repo_config and cfg_root.is_dir():
            base_cfg = config_mod.discover(cfg_root)
            base_records = exceptions_mod.load_repo(cfg_root)
        # a scanned directory that is new in this change had no findings before
        if base_root.is_dir():
            before = scan(
                base_root,
                options,
                config=base_cfg,
                files=_all_files(base_root),
                exceptions_root=cfg_root,
                rules_root=cfg_root,
            )
        rename = gitdiff.renames(top, base, prefix)
        head_cfg = config_mod.discover(root) if policy.repo_config else RepoConfig()
        applied, _ = config_mod.judge(base_cfg, policy)
        cfg_facts = config_mod.facts(
            head_cfg,
            policy,
            base_cfg if base_cfg.file is not None else None,
            pr=True,
            edited=("rules",) if _rules_edited(applied, cfg_root, root) else (),
        )
        head = scan(
            root,
            options,
            config=base_cfg,
            files=gitdiff.worktree_files(top, prefix),
            approved=_approved(before, base_records, rename),
            config_facts=cfg_facts,
            rules_root=cfg_root,
        )
        head_links = gitdiff.gitlinks(top, None, prefix)
        base_links = gitdiff.gitlinks(top, base, prefix)
        head_diags = [*head.diagnostics, *_submodule_notes(head_links)]
        base_diags = [*(before.diagnostics if before else []), *_submodule_notes(base_links)]
        back = {new: old for old, new in rename.items()}
        changed = _changed_files(head_diags, back, root, base_root)
        # a submodule that now pins another commit (or another repository) is new content
        changed |= {p for p, sha in head_links.items() if base_links.get(back.get(p, p)) != sha}
    diff = prdiff.classify(
        head.findings,
        before.findings if before else [],
        rename,
        base_ref,
        base,
        head_excepted=[e.finding for e in head.excepted],
        head_diagnostics=head_diags,
        base_diagnostics=base_diags,
        changed_paths=changed,
    )
    return dataclasses.replace(head, diff=diff, diagnostics=head_diags)


def _submodule_notes(gitlinks: dict[str, str]) -> list[Diagnostic]:
    """Submodules hold another repository's content, which is not scanned: say so, as a
    warning, so that a change adding one (and whatever it deploys) does not pass silently."""
    return [
        file_diagnostic(
            path,
            "excluded-directory",
            "not scanned: a git submodule (another repository's content); scan that "
            "repository on its own",
            Level.WARNING,
        )
        for path in gitlinks
    ]


def _changed_files(
    diags: list[Diagnostic], back: dict[str, str], head: Path, base: Path
) -> set[str]:
    """Paths of head diagnostics whose file differs from the merge base's: a file that was
    unreadable before and that the change rewrote is the change's own unreadable file (a new
    manifest hidden in an old broken or oversized file must not pass as old debt). `back`:
    head path -> base path for renamed files."""
    out = set()
    for d in diags:
        if not d.path or d.path.startswith("/") or d.path in out:
            continue
        if _digest(head / d.path, head) != _digest(base / back.get(d.path, d.path), base):
            out.add(d.path)
    return out


def _digest(p: Path, root: Path) -> str | None:
    """Content hash of a file: a link inside `root` hashes its text and its target's bytes
    (rewriting the target rewrites what the link's path holds), never anything outside."""
    try:
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            target = os.path.realpath(p)
            real_root = os.path.realpath(root)
            inner = _digest(Path(target), root) if target.startswith(real_root + os.sep) else None
            return f"link:{os.readlink(p)}:{inner}"
        if not stat.S_ISREG(st.st_mode):
            return None
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None


def _rules_edited(applied: config_mod.Applied, approved: Path, head: Path) -> bool:
    """Whether the change edits the repository rule directories the policy lets it keep
    (each checked to lie inside its tree before anything under it is read)."""
    before = config_mod.resolve_rule_dirs(applied, approved)
    after = config_mod.resolve_rule_dirs(applied, head)
    return any(_tree_digest(a) != _tree_digest(b) for a, b in zip(before, after, strict=True))


def _tree_digest(d: Path) -> str:
    h = hashlib.sha256()
    if d.is_dir() and not d.is_symlink():
        for dirpath, dirnames, files in os.walk(d):
            dirnames.sort()
            for f in sorted(files):
                p = Path(dirpath) / f
                h.update(str(p.relative_to(d)).encode("utf-8", "surrogateescape") + b"\0")
                h.update((_digest(p, d) or "").encode() + b"\0")
    return h.hexdigest()


def _policy_in_repository(options: ScanOptions, top: Path, tip: str) -> str | None:
    """The policy file's path inside the repository under review when it is the repository's
    own (tracked at the approved revision, tracked now, or inside a submodule), else None: a
    file outside the repository, or in another repository checked out inside its work tree
    (the platform's policy beside the code), is the operator's.

    The decision rests on git, not on the working tree: a change that turns the policy's
    directory into a submodule, or the file into a link, does not make it the operator's."""
    file = options.policy.file
    if not file:
        return None
    top_real = os.path.realpath(top)
    rel = None
    for cand in (
        os.path.abspath(file),
        os.path.join(
            os.path.realpath(os.path.dirname(os.path.abspath(file))), os.path.basename(file)
        ),
    ):
        if cand.startswith(top_real + os.sep):
            rel = Path(cand[len(top_real) + 1 :]).as_posix()
            break
    if rel is None:
        return None
    if gitdiff.tracked(top, tip, rel) or gitdiff.tracked(top, None, rel):
        return rel
    gitlinks = gitdiff.gitlinks(top, None, "")
    if any(rel.startswith(g + "/") for g in gitlinks):
        return rel
    return None


def _policy_from_base(options: ScanOptions, rel: str | None, tree: Path) -> ScanOptions:
    """A policy file inside the repository under review is the change's to edit: read it, and
    the baselines, rules and registries beside it, from the approved revision instead (by the
    path as given: a link the change puts in its place is not followed)."""
    if rel is None:
        return options
    based = tree / rel
    if not based.is_file() or based.is_symlink():
        raise ConfigError(
            options.policy.file or rel,
            None,
            "the policy file lies inside the repository under review and is not a regular "
            "file at the approved revision; keep the policy in a separate repository",
        )
    return dataclasses.replace(
        options, policy=operator.load(based, root=tree, shown=f"{rel} (approved revision)")
    )


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
