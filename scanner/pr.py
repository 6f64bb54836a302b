"""PR mode as a library call: judge the head of a pull request against its merge base, with
the repository's own configuration and exceptions as the merge base has them.

What the change edits in `.tether.yaml`, `.tether/exceptions.yaml` or inline `tether:ignore`
comments is reported (CFG002, EXC006), never silently applied to the change itself: a pull
request cannot switch off or loosen its own gate. See docs/security.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import posixpath
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import config as config_mod
from . import exceptions as exceptions_mod
from . import gitdiff, prdiff
from .config import RepoConfig
from .errors import ConfigError
from .facts import kubernetes
from .model import Diagnostic, Level, Report
from .policy import operator
from .scanning import ScanOptions, scan
from .source import file_diagnostic, walk, within


@dataclass(frozen=True)
class Target:
    """What a scan covers: the repository's root (its configuration applies, and every
    reported path is relative to it) and the paths under it that were asked for
    (repository-relative, POSIX, files or directories); none: the whole repository."""

    root: Path
    paths: tuple[str, ...] = ()

    @property
    def whole(self) -> bool:
        return not self.paths


class TargetError(ValueError):
    """Paths that cannot be scanned (missing), or not together (in different repositories)."""


def resolve(paths: Sequence[Path], root: Path | None = None) -> Target:
    """The repository root holding `paths` and the paths inside it, as `tether scan PATH...`
    and the Action's `path` name them. The root is the top of the git work tree holding
    them, else (no git work tree, or git unable to read it) the nearest directory above
    holding a `.git`, else the path itself (a file's own directory). Every path must lie in
    one repository: a path in another one (a nested checkout, a submodule) is refused.

    `root` (`--root`) says where the root is instead (a directory standing for a repository
    of its own inside another one, such as the bundled examples); the paths default to it
    and must lie inside it."""
    if not paths:
        paths = [root if root is not None else Path(".")]
    found: list[tuple[str, bool]] = []  # real path, is a directory
    for p in paths:
        absolute = os.path.abspath(p)
        if not os.path.lexists(absolute):
            raise TargetError(f"{p}: no such file or directory")
        if os.path.isdir(absolute):
            found.append((os.path.realpath(absolute), True))
        else:
            # the file under its own name (a link is scanned as the link), in its real directory
            real_dir = os.path.realpath(os.path.dirname(absolute))
            found.append((os.path.join(real_dir, os.path.basename(absolute)), False))
    if root is not None:
        if not os.path.isdir(root):
            raise TargetError(f"--root {root}: not a directory")
        given = os.path.realpath(root)
        outside = [
            str(p) for p, (real, _) in zip(paths, found, strict=True) if not _inside(given, real)
        ]
        if outside:
            raise TargetError(f"{outside[0]} is not inside --root {root}")
        return _target(given, found)
    roots: dict[str, tuple[str, bool]] = {}  # directory -> (root, found by git or .git)
    chosen: list[tuple[str, bool]] = []
    for real, is_dir in found:
        where = real if is_dir else os.path.dirname(real)
        known = next((r for r in roots.values() if r[1] and _same_repository(r[0], where)), None)
        if known is None:
            if where not in roots:
                roots[where] = _root_of(where)
            known = roots[where]
        chosen.append(known)
    top = chosen[0][0]
    if len({r for r, _ in chosen}) > 1:
        if any(g for _, g in chosen):
            shown = ", ".join(sorted({r for r, _ in chosen}))
            raise TargetError(
                f"the paths lie in different repositories ({shown}); scan each on its own"
            )
        # no repository anywhere: the outermost directory named, when it holds the others
        top = min((r for r, _ in chosen), key=len)
        if not all(_same_repository(top, r) for r, _ in chosen):
            raise TargetError(
                "the paths lie in no common directory given on the command line and in no "
                "git repository; scan each on its own, or name the directory holding them"
            )
    return _target(top, found)


def _target(root: str, found: Sequence[tuple[str, bool]]) -> Target:
    rels: set[str] = set()
    for real, _ in found:
        rel = os.path.relpath(real, root)
        if rel == ".":
            return Target(Path(root))
        rels.add(rel.replace(os.sep, "/"))
    # a path under another one named is covered by it
    kept = tuple(sorted(r for r in rels if not within(r, rels - {r})))
    return Target(Path(root), kept)


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _root_of(directory: str) -> tuple[str, bool]:
    """The repository root of a directory, and whether a repository was found (git's work
    tree top, else the nearest directory holding `.git`) or the directory stands for
    itself."""
    try:
        return os.path.realpath(gitdiff.locate(Path(directory))[0]), True
    except ConfigError:
        pass  # no git, no work tree, or a repository git refuses to read (safe.directory)
    here = directory
    while True:
        if os.path.lexists(os.path.join(here, ".git")):
            return here, True
        up = os.path.dirname(here)
        if up == here:
            return directory, False
        here = up


def _same_repository(root: str, path: str) -> bool:
    """Whether `path` lies in the repository at `root` (at or under it, with no nested
    repository, a `.git` directory or file, on the way)."""
    if path == root:
        return True
    if not _inside(root, path):
        return False
    here = path
    while here != root:
        if os.path.lexists(os.path.join(here, ".git")):
            return False
        here = os.path.dirname(here)
    return True


def scan_repository(
    target: Path | Target, options: ScanOptions, diff_base: str | None = None
) -> Report:
    """The one entry point the CLI, the Action and the org scan share: PR mode against
    `diff_base` when given, else a full scan with the repository's own configuration (when
    the policy reads it). A bare path is taken as the repository root (the org scan's
    snapshot); the CLI and the Action pass what `resolve` found for the paths named."""
    t = target if isinstance(target, Target) else Target(target)
    if diff_base:
        return scan_pr(t.root, diff_base, options, paths=t.paths)
    repo_config = options.effective_policy().repo_config
    return scan(
        t.root,
        options,
        config=config_mod.discover(t.root) if repo_config else RepoConfig(),
        paths=t.paths or None,
    )


def scan_pr(
    root: Path,
    base_ref: str,
    options: ScanOptions,
    config: RepoConfig | None = None,
    *,
    paths: Sequence[str] = (),
) -> Report:
    """Scan the git work tree holding `root` and the same tree at the merge base of HEAD
    and `base_ref`, with the same policy, over the same paths (`root` itself when it is a
    subdirectory, or `paths`, relative to `root`; a path the change renamed is compared
    with its old name); the report's findings are the head's, with paths relative to the
    work tree's top, and `report.diff` says which are new, fixed, unchanged or newly
    excepted, and which diagnostics are new.

    The repository's configuration (at the top of the work tree), exception records and
    rule directories are the approved ones: as `base_ref` has them now (the branch the
    change merges into; the merge base when that is the same commit). `config` is ignored
    (kept for API compatibility)."""
    del config
    top, prefix = gitdiff.locate(root)
    scope: frozenset[str] | None = None
    if paths:
        scope = frozenset(prefix + p for p in paths)
    elif prefix:
        scope = frozenset([prefix.rstrip("/")])
    base = gitdiff.merge_base(top, base_ref)
    tip = gitdiff.commit_of(top, base_ref)
    base_cfg = RepoConfig()
    base_records: list[exceptions_mod.ExceptionRecord] = []
    policy_rel = _policy_in_repository(options, top, tip)
    # the whole tree, whatever the paths (the configuration, the rule directories, the charts
    # and kustomize bases a scanned file relies on lie anywhere in it), but only the files the
    # scan reads are written out; a policy kept in the repository names its baselines, rules
    # and registries anywhere beside it: its approved revision is written out whole
    everything = None if policy_rel is None else _everything
    with contextlib.ExitStack() as stack:
        base_tree = stack.enter_context(
            gitdiff.export(top, base, want=everything if tip == base else None)
        )
        approved = (
            base_tree
            if tip == base
            else stack.enter_context(gitdiff.export(top, tip, want=everything or _nothing))
        )
        approved.write(_CONFIGURATION)
        tree, approved_tree = base_tree.root, approved.root
        options = _policy_from_base(options, policy_rel, approved_tree)
        policy = options.effective_policy()
        cfg_root = approved_tree
        if policy.repo_config:
            base_cfg = config_mod.discover(cfg_root)
            base_records = exceptions_mod.load_repo(cfg_root)
        applied, _ = config_mod.judge(base_cfg, policy)
        _write_rule_dirs(approved, applied)
        rename = gitdiff.renames(top, base, "")
        # what the change renamed into the paths was under its old name before
        base_scope = (
            None
            if scope is None
            else frozenset(scope).union(old for old, new in rename.items() if within(new, scope))
        )
        _write_read(
            base_tree,
            [*policy.excludes, *applied.excludes],
            whole=not base_scope or "" in base_scope,
        )
        before = scan(
            tree,
            options,
            config=base_cfg,
            files=base_tree.files,
            exceptions_root=cfg_root,
            rules_root=cfg_root,
            paths=base_scope,
        )
        head_cfg = config_mod.discover(top) if policy.repo_config else RepoConfig()
        cfg_facts = config_mod.facts(
            head_cfg,
            policy,
            base_cfg if base_cfg.file is not None else None,
            pr=True,
            edited=("rules",) if _rules_edited(applied, approved, top) else (),
        )
        head = scan(
            top,
            options,
            config=base_cfg,
            files=gitdiff.worktree_files(top, ""),
            approved=_approved(before, base_records, rename),
            config_facts=cfg_facts,
            rules_root=cfg_root,
            paths=scope,
            # what the merge base deploys stays deployed: a new kustomization that builds a
            # root overlay does not make that overlay's own build stop counting; one the
            # change adds counts as deployed (a new overlay wrapped by a new decoy)
            kustomize_roots=[_moved_dir(r, rename) for r in before.kustomize_roots],
            kustomize_known=[_moved_dir(d, rename) for d in before.kustomize_dirs],
        )
        head_links = _scoped(gitdiff.gitlinks(top, None, ""), scope)
        base_links = _scoped(gitdiff.gitlinks(top, base, ""), base_scope)
        head_diags = [*head.diagnostics, *_submodule_notes(head_links)]
        back = {new: old for old, new in rename.items()}
        base_diags = [*before.diagnostics, *_submodule_notes(base_links)]
        changed = _changed_files(head_diags, back, top, base_tree)
        # a submodule that now pins another commit (or another repository) is new content
        changed |= {p for p, sha in head_links.items() if base_links.get(back.get(p, p)) != sha}
    diff = prdiff.classify(
        head.findings,
        before.findings,
        rename,
        base_ref,
        base,
        head_excepted=[e.finding for e in head.excepted],
        head_diagnostics=head_diags,
        base_diagnostics=base_diags,
        changed_paths=changed,
    )
    return dataclasses.replace(head, diff=diff, diagnostics=head_diags)


def _moved_dir(directory: str, rename: dict[str, str]) -> str:
    """Where a change moved a kustomization's directory: where its kustomization file went."""
    for name in sorted(kubernetes.KUSTOMIZATION_NAMES):
        old = f"{directory}/{name}" if directory else name
        if old in rename:
            return posixpath.dirname(rename[old])
    return directory


def _scoped(found: dict[str, str], scope: Collection[str] | None) -> dict[str, str]:
    """The entries of `found` (submodule path -> commit) inside the scanned paths."""
    return found if scope is None else {p: v for p, v in found.items() if within(p, scope)}


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
    diags: list[Diagnostic], back: dict[str, str], head: Path, base: gitdiff.Export
) -> set[str]:
    """Paths of head diagnostics whose file differs from the merge base's: a file that was
    unreadable before and that the change rewrote is the change's own unreadable file (a new
    manifest hidden in an old broken or oversized file must not pass as old debt). `back`:
    head path -> base path for renamed files. Content is compared as git identifies it
    (gitdiff.changed): an oversized file, a sparse stand-in in the base, by its blob id."""
    paths = sorted({d.path for d in diags if d.path and not d.path.startswith("/")})
    return gitdiff.changed(head, base, [(p, back.get(p, p)) for p in paths])


def _rules_edited(applied: config_mod.Applied, approved: gitdiff.Export, head: Path) -> bool:
    """Whether the change edits the repository rule directories the policy lets it keep
    (each checked to lie inside its tree before anything under it is read): another set of
    files in one, or a file whose content git identifies as another (gitdiff.changed; a link
    by its text and the file it leads to inside the directory)."""
    before = config_mod.resolve_rule_dirs(applied, approved.root)
    after = config_mod.resolve_rule_dirs(applied, head)
    approved_top = os.path.realpath(approved.root)
    head_top = os.path.realpath(head)
    for a, b in zip(before, after, strict=True):
        names = _tree_files(b)
        if names != _tree_files(a):
            return True
        rel_a = _relative(a, approved_top)
        rel_b = _relative(b, head_top)
        pairs = [(posixpath.join(rel_b, n), posixpath.join(rel_a, n)) for n in names]
        if gitdiff.changed(head, approved, pairs, within=(rel_b, rel_a)):
            return True
    return False


def _relative(d: Path, top: str) -> str:
    rel = os.path.relpath(d, top)
    return "" if rel == "." else rel.replace(os.sep, "/")


def _tree_files(d: Path) -> list[str]:
    """The files and links under a directory (not a link to one), relative to it, in walk
    order; links to directories are not followed."""
    out: list[str] = []
    if d.is_dir() and not d.is_symlink():
        for dirpath, dirnames, files in os.walk(d):
            dirnames.sort()
            for f in sorted(files):
                out.append((Path(dirpath) / f).relative_to(d).as_posix())
    return out


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


# what the approved revision's configuration is read from (config.discover, exceptions.load_repo)
_CONFIGURATION = (*config_mod.CONFIG_NAMES, *exceptions_mod.REPO_FILES)


def _everything(path: str) -> bool:
    return True


def _nothing(path: str) -> bool:
    return False


def _write_rule_dirs(tree: gitdiff.Export, applied: config_mod.Applied) -> None:
    """Write out the repository rule directories the configuration names, every file in
    them: their rules are loaded, and the whole directory is compared with the head's
    (_rules_edited). One outside the repository is left to the scan to refuse."""
    try:
        dirs = config_mod.resolve_rule_dirs(applied, tree.root)
    except ConfigError:
        return
    real = os.path.realpath(tree.root)
    for d in dirs:
        rel = os.path.relpath(d, real)
        tree.write_under("" if rel == "." else rel.replace(os.sep, "/"))


def _write_read(tree: gitdiff.Export, excludes: Sequence[str], *, whole: bool) -> None:
    """Write out what the scan of an exported revision reads beyond the files it classifies:
    the files kustomizations list (kustomize reads them as YAML whatever their names, and a
    listed kustomization lists more), and, for a scan of the whole repository, the file its
    repository-level findings are shown at (the summary's anchor, whose first line is read),
    found as the scan finds it (the excludes apply)."""
    from .facts import repository
    from .scanning import kustomization_listed

    names = kubernetes.KUSTOMIZATION_NAMES
    done: set[str] = set()
    todo = [p for p in tree.written if posixpath.basename(p) in names]
    while todo:
        done.update(todo)
        listed = kustomization_listed(tree.root, todo)
        tree.write(listed)
        todo = [p for p in listed if posixpath.basename(p) in names and p not in done]
    if not whole:
        return
    seen: list[str] = []
    for _ in walk(tree.root, tuple(excludes), seen, [p for p in tree.files if "/" not in p]):
        pass
    if not seen:  # no file at the top: the anchor is the first of all
        for _ in walk(tree.root, tuple(excludes), seen, tree.files):
            pass
    anchor = repository.anchor(seen)
    if anchor is not None:
        tree.write([anchor])
