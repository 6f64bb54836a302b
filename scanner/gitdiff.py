"""PR mode: what a change introduces, fixes and leaves alone.

The head is the working tree being scanned; the base is the merge base of HEAD and the given
ref. The base revision is exported with `git archive` into a temporary directory (nothing is
checked out over the user's tree, and nothing from the repository is executed: git archive
runs no hooks, filters or attributes-driven commands for a plain tar export), scanned with the
same rules and baseline, and findings are matched by their logical identity (rule, path,
target, occurrence), with renames followed (`git diff -M`), so moved lines and renamed files do
not count as new debt.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .model import Finding

# git must never run repository-controlled programs: no pager, no external diff, no textconv,
# no fsmonitor, no credential prompts
_GIT_ENV = {
    "GIT_PAGER": "cat",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_EXTERNAL_DIFF": "",
    "GIT_CONFIG_NOSYSTEM": "1",
}
_GIT_SAFE = [
    "-c",
    "core.fsmonitor=false",
    "-c",
    "diff.external=",
    "-c",
    "core.hooksPath=/dev/null",
]


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **_GIT_ENV}
    try:
        proc = subprocess.run(
            ["git", *_GIT_SAFE, "-C", str(repo), *args],
            capture_output=True,
            env=env,
            check=False,
        )
    except FileNotFoundError:
        raise ConfigError(
            str(repo), None, "--diff-base needs git, which is not installed"
        ) from None
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ConfigError(
            str(repo), None, f"git {' '.join(args[:2])} failed: {msg[-1] if msg else 'error'}"
        )
    return proc.stdout.decode("utf-8", "replace")


def merge_base(repo: Path, ref: str) -> str:
    if ref.startswith("-"):
        raise ConfigError(str(repo), None, f"invalid --diff-base {ref!r}")
    try:
        git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except ConfigError:
        raise ConfigError(
            str(repo),
            None,
            f"--diff-base {ref!r} is not a commit in this repository "
            "(in CI, fetch it: actions/checkout with fetch-depth: 0)",
        ) from None
    try:
        git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except ConfigError:
        raise ConfigError(
            str(repo), None, "--diff-base needs a commit to compare: HEAD has none"
        ) from None
    try:
        return git(repo, "merge-base", ref, "HEAD").strip()
    except ConfigError:
        raise ConfigError(
            str(repo),
            None,
            f"HEAD and {ref!r} have no common ancestor here (a shallow clone? "
            "fetch the history, e.g. actions/checkout with fetch-depth: 0)",
        ) from None


def toplevel(path: Path) -> Path:
    return Path(git(path, "rev-parse", "--show-toplevel").strip())


@contextmanager
def exported(repo: Path, rev: str) -> Iterator[Path]:
    """The tree of `rev` in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="tether-base-") as tmp:
        env = {**os.environ, **_GIT_ENV}
        proc = subprocess.Popen(
            ["git", *_GIT_SAFE, "-C", str(repo), "archive", "--format=tar", rev],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            _extract(tar, tmp)
        if proc.wait() != 0:
            raise ConfigError(str(repo), None, f"git archive {rev} failed")
        yield Path(tmp)


def _extract(tar: tarfile.TarFile, dest: str) -> None:
    """Extract safely, member by member: no absolute paths, no `..`, no links leaving the
    directory, no devices or fifos. A member the filter refuses is skipped (the scan of the
    base reports nothing for it, as a scan of a checkout would not follow such a link)."""
    safe = hasattr(tarfile, "data_filter")  # Python 3.10.12+, 3.11.4+
    for member in tar:
        name = member.name
        if name.startswith("/") or ".." in name.split("/"):
            continue
        if not safe and not (member.isfile() or member.isdir()):
            continue  # older patch releases: regular files and directories only
        try:
            if safe:
                tar.extract(member, dest, filter="data")
            else:
                tar.extract(member, dest)
        except (tarfile.TarError, OSError):  # FilterError is a TarError
            continue


def renames(repo: Path, base: str, prefix: str) -> dict[str, str]:
    """base path -> head path for files renamed between base and the working tree, relative to
    the scanned directory (prefix: its path inside the repository, '' at the top)."""
    out = git(repo, "diff", "--no-ext-diff", "--no-textconv", "-M", "--name-status", "-z", base)
    fields = out.split("\0")
    result: dict[str, str] = {}
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i]
        if status.startswith(("R", "C")):
            old, new = fields[i + 1], fields[i + 2]
            i += 3
            if status.startswith("R") and old.startswith(prefix) and new.startswith(prefix):
                result[old[len(prefix) :]] = new[len(prefix) :]
        else:
            i += 2
    return result


@dataclass(frozen=True)
class Diff:
    base_ref: str
    base_commit: str
    new: list[Finding]
    fixed: list[Finding]  # as they were in the base
    unchanged: list[Finding]


def _keys(findings: Sequence[Finding], rename: dict[str, str]) -> list[tuple[str, str, str, int]]:
    seen: dict[tuple[str, str, str], int] = defaultdict(int)
    out = []
    for f in findings:
        # repository-level findings sit on an anchor file (the README, else the first root
        # file) that a change may add or rename: their identity is the repository itself
        path = "" if f.fact_kind == "repo.summary" else rename.get(f.path, f.path)
        k = (f.rule_id, path, f.target)
        seen[k] += 1
        out.append((*k, seen[k]))
    return out


def classify(
    head: Sequence[Finding],
    base: Sequence[Finding],
    rename: dict[str, str],
    base_ref: str,
    base_commit: str,
) -> Diff:
    head_keys = _keys(head, {})
    base_keys = _keys(base, rename)
    base_set, head_set = set(base_keys), set(head_keys)
    new = [f for f, k in zip(head, head_keys, strict=True) if k not in base_set]
    unchanged = [f for f, k in zip(head, head_keys, strict=True) if k in base_set]
    fixed = [f for f, k in zip(base, base_keys, strict=True) if k not in head_set]
    return Diff(base_ref, base_commit, new, fixed, unchanged)
