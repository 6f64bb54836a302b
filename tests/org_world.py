"""A GitHub organization for org-scan tests: real git repositories on disk, published on
tests/github_fake.py with their branch heads and `git archive` tarballs (GitHub's layout: one
top-level directory `owner-repo-sha7/`)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.github_fake import FakeGitHub

GOLDEN_POD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: {app.kubernetes.io/name: api, team: payments, cost-center: cc-1}
spec:
  template:
    spec:
      containers:
        - name: api
          image: docker.io/library/nginx:latest
"""

WORKFLOW = """\
name: ci
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
"""


def _git(repo: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    full_env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(repo),
        **(env or {}),
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=full_env
    ).stdout.strip()


class World:
    """The fake GitHub plus the git repositories behind it."""

    def __init__(self, fake: FakeGitHub, root: Path, org: str = "acme") -> None:
        self.fake = fake
        self.root = root
        self.org = org
        self.clock = datetime(2026, 11, 30, 10, tzinfo=UTC)

    def repo_dir(self, name: str) -> Path:
        return self.root / self.org / name

    def publish(self, name: str, files: Mapping[str, str | bytes], **overrides: Any) -> str:
        """Commit ``files`` (on top of what the repository had) and publish the new head:
        branch, tarball, ``pushed_at`` one minute later than the last push."""
        repo = self.repo_dir(name)
        if not (repo / ".git").exists():
            repo.mkdir(parents=True, exist_ok=True)
            _git(repo, "init", "-q", "-b", "main")
        for rel, content in files.items():
            path = repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "--allow-empty", "-m", "change")
        sha = _git(repo, "rev-parse", "HEAD")
        full = f"{self.org}/{name}"
        prefix = f"{self.org}-{name}-{sha[:7]}/"
        tarball = subprocess.run(
            ["git", "-C", str(repo), "archive", "--format=tar.gz", f"--prefix={prefix}", sha],
            check=True,
            capture_output=True,
        ).stdout
        self.clock += timedelta(minutes=1)
        current = self.fake.repos.get(full, {})
        self.fake.add_repo(
            full,
            **{
                k: v
                for k, v in current.items()
                if k in ("topics", "archived", "fork", "visibility", "disabled")
            },
            pushed_at=self.clock.strftime("%Y-%m-%dT%H:%M:%SZ"),
            **overrides,
        )
        self.fake.branches[(full, self.fake.repos[full]["default_branch"])] = sha
        self.fake.tarballs[(full, sha)] = tarball
        self.fake.trees[(full, sha)] = self._tree(repo, sha)
        parents = _git(repo, "rev-list", "--parents", "-n", "1", sha).split()[1:]
        self.fake.add_commit(
            full,
            sha,
            {
                e["path"]: (e["mode"], e["sha"])
                for e in self.fake.trees[(full, sha)]
                if e["type"] == "blob"
            },
            parents,
        )
        return sha

    def _tree(self, repo: Path, sha: str) -> list[dict[str, Any]]:
        """The commit's recursive tree as GitHub's git/trees API lists it, its blobs served
        from the git/blobs API."""
        out = subprocess.run(
            ["git", "-C", str(repo), "ls-tree", "-r", "-t", "-l", "-z", "--full-tree", sha],
            check=True,
            capture_output=True,
        ).stdout
        entries: list[dict[str, Any]] = []
        full = f"{self.org}/{repo.name}"
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, path = record.split(b"\t", 1)
            mode, kind, oid, size = meta.split()
            entry: dict[str, Any] = {
                "path": path.decode("utf-8", "surrogateescape"),
                "mode": mode.decode(),
                "type": kind.decode(),
                "sha": oid.decode(),
            }
            if kind == b"blob":
                entry["size"] = int(size)
                self.fake.blobs[(full, oid.decode())] = subprocess.run(
                    ["git", "-C", str(repo), "cat-file", "blob", oid.decode()],
                    check=True,
                    capture_output=True,
                ).stdout
            entries.append(entry)
        return entries

    def set_properties(self, name: str, **values: str) -> None:
        self.fake.properties[f"{self.org}/{name}"] = [
            {"property_name": k, "value": v} for k, v in values.items()
        ]
