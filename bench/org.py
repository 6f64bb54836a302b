#!/usr/bin/env python3
"""Benchmark of `tether org` on a generated organization served by a local fake GitHub.

Usage::

    python bench/org.py [--repos 1000] [--jobs 4] [--pacing real|none|both] [--seed N]

It generates N repositories (GitHub-shaped tarballs built with tarfile + gzip, and each
commit's recursive tree; cached under bench/.work/), serves them with tests/github_fake.py
in a separate process (so the server's CPU is not charged to tether), and runs `tether org`
three times as a child process:

1. cold: a fresh --state directory, every repository fetched and scanned;
2. warm: nothing changed, same state: must make no per-repository call at all;
3. changed: 5% of the scanned repositories get a new commit (SHA, tarball, tree, pushed_at).

For each run it prints the wall time (fork to reap), the API requests the server saw (total,
per-repository routes, listing pages and how many of them were 304s), the repositories
scanned/unchanged/skipped/failed (from summary.json) and the peak RSS of the tether process.

Pacing: tether's GitHub client keeps PyGithub's ``seconds_between_requests=0.25`` per client
(one client per ``--jobs`` worker), which is what a run against github.com waits. ``real``
runs tether as it ships; ``none`` runs it through a small launcher that only sets that
default to 0 (tether has no flag for it), which isolates tether's own cost; ``both`` runs
the three phases with each (a fresh state for the second set).

Exit status: 1 when the warm rescan made a per-repository call, a run exited nonzero or had
a failed repository, or the changed phase did not scan exactly the changed repositories; 2 on
a setup error. The goals (warm ≤ 15 s, peak RSS ≤ 300 MB) are reported, not enforced.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import multiprocessing as mp
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tarfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"
sys.path.insert(0, str(BENCH_DIR))

from run import SetupError, measure  # noqa: E402  (bench/run.py: the fork+wait4 launcher)

ORG = "acme"
TOKEN = "ghp_BenchToken0123456789abcdefABCDEF01"
PAGE_SIZE = 100  # GitHub's per_page maximum: 1,000 repositories are 10 listing pages
RATE_LIMIT = 5000  # a PAT's hourly budget; every phase starts with a fresh one
CHANGED_SHARE = 0.05
WARM_GOAL_S = 15.0
RSS_GOAL_MB = 300.0
GEN_VERSION = 2  # bump when the generator changes: the cache key
BASE_TIME = datetime(2026, 11, 1, 9, tzinfo=UTC)

# tether with PyGithub's pacing default set to 0 (``--pacing none``); nothing else differs
UNPACED = """
import dataclasses, sys
from scanner.github import client

@dataclasses.dataclass(frozen=True)
class Unpaced(client.RetryPolicy):
    seconds_between_requests: float = 0.0

client.RetryPolicy = Unpaced
from scanner.cli import main
main(prog_name="tether")
"""


# --------------------------------------------------------------------------------------
# The generated organization
# --------------------------------------------------------------------------------------

_WORDS = (
    "payments ledger billing checkout search catalog identity auth gateway notify mailer "
    "reports audit inventory pricing orders shipping fraud risk ml feature-store etl "
    "warehouse events stream metrics logging tracing infra platform network dns vpc eks "
    "cluster runner docs portal admin mobile web api worker scheduler cache edge cdn"
)
WORDS = tuple(_WORDS.split())
KINDS = ("svc", "lib", "infra", "tf", "app", "tool", "chart", "job")

TF_VERSIONS = """\
terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.%d"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      team        = "%s"
      cost-center = "cc-%d"
    }
  }
}
"""

TF_VARIABLES = """\
variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "name" {
  type        = string
  description = "Name prefix for %s"
  default     = "%s"
}

variable "environment" {
  type = string
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}
"""

TF_BUCKET = """\
resource "aws_s3_bucket" "%(id)s" {
  bucket = "${var.name}-%(id)s-${var.environment}"
}

resource "aws_s3_bucket_public_access_block" "%(id)s" {
  bucket                  = aws_s3_bucket.%(id)s.id
  block_public_acls       = %(flag)s
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = %(flag)s
}
%(sse)s"""

TF_SSE = """
resource "aws_s3_bucket_server_side_encryption_configuration" "%(id)s" {
  bucket = aws_s3_bucket.%(id)s.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
  }
}
"""

TF_SG = """\
resource "aws_security_group" "%(id)s" {
  name   = "${var.name}-%(id)s"
  vpc_id = var.vpc_id

  ingress {
    description = "https"
    from_port   = %(port)d
    to_port     = %(port)d
    protocol    = "tcp"
    cidr_blocks = ["%(cidr)s"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"""

TF_DB = """\
resource "aws_db_instance" "%(id)s" {
  identifier              = "${var.name}-%(id)s"
  engine                  = "postgres"
  engine_version          = "16.%(minor)d"
  instance_class          = "db.t4g.medium"
  allocated_storage       = %(storage)d
  storage_encrypted       = %(flag)s
  backup_retention_period = %(backup)d
  deletion_protection     = true
  skip_final_snapshot     = false
  tags = {
    service = "%(id)s"
  }
}
"""

TF_IAM = """\
data "aws_iam_policy_document" "%(id)s" {
  statement {
    actions   = ["s3:GetObject", "s3:ListBucket"%(extra)s]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "%(id)s" {
  name   = "${var.name}-%(id)s"
  policy = data.aws_iam_policy_document.%(id)s.json
}
"""

TF_MODULE = """\
module "%(id)s" {
  source  = "%(source)s"
  name    = "${var.name}-%(id)s"
  cidr    = "10.%(net)d.0.0/16"
  azs     = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  tags    = local.tags
}
"""

TF_LOCALS = """\
locals {
  tags = merge(var.extra_tags, {
    service     = var.name
    environment = var.environment
  })
  subnets = { for i, az in var.azs : az => cidrsubnet(var.cidr, 4, i) if i < %d }
}
"""

WORKFLOW = """\
name: %(name)s
on:
  %(trigger)s:
    branches: [main]
%(permissions)sjobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@%(checkout)s
      - uses: actions/setup-%(lang)s@v5
      - run: make test
      - run: echo "ref ${{ github.head_ref }}"
"""

DOCKERFILE = """\
FROM %(base)s AS build
WORKDIR /src
COPY . .
RUN %(build)s

FROM %(runtime)s
COPY --from=build /src/out /app
%(user)sEXPOSE %(port)d
ENTRYPOINT ["/app/%(name)s"]
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %(name)s
  labels:
    app.kubernetes.io/name: %(name)s
    team: %(team)s
spec:
  replicas: %(replicas)d
  selector:
    matchLabels:
      app.kubernetes.io/name: %(name)s
  template:
    metadata:
      labels:
        app.kubernetes.io/name: %(name)s
    spec:
      containers:
        - name: %(name)s
          image: %(image)s
          ports:
            - containerPort: %(port)d
%(security)s          resources:
            limits:
              memory: %(mem)dMi
"""

SECURITY = """\
          securityContext:
            runAsNonRoot: true
            readOnlyRootFilesystem: true
            allowPrivilegeEscalation: false
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: %(name)s
spec:
  selector:
    app.kubernetes.io/name: %(name)s
  ports:
    - port: 80
      targetPort: %(port)d
"""

SOURCE_LINE = "    total = sum(item.%s for item in batch if item.%s is not None)  # %d\n"


@dataclass
class RepoSpec:
    name: str
    kind: str  # "normal", "archived", "fork" or "empty"
    topics: list[str]
    sha: str | None = None  # generation 0
    pushed_at: str | None = None
    changed_sha: str | None = None  # generation 1 (only for the repositories that change)
    changed_pushed_at: str | None = None
    files: int = 0
    tar_bytes: int = 0


def git_tree(files: dict[str, str | bytes]) -> list[dict[str, Any]]:
    """The commit's recursive tree as ``GET /repos/{o}/{r}/git/trees/{sha}?recursive=1``
    lists it (blob ids are git's own; the archive holds every file, so no blob is read)."""
    entries: dict[str, dict[str, Any]] = {}
    for path in sorted(files):
        content = files[path]
        data = content.encode() if isinstance(content, str) else content
        oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324
        parts = path.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            tree_id = hashlib.sha1(d.encode()).hexdigest()  # noqa: S324
            entries.setdefault(d, {"path": d, "mode": "040000", "type": "tree", "sha": tree_id})
        entries[path] = {"path": path, "mode": "100644", "type": "blob", "sha": oid}
        entries[path]["size"] = len(data)
    return [entries[k] for k in sorted(entries)]


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def _tf_files(rng: random.Random, name: str, team: str, count: int) -> dict[str, str]:
    out = {
        "terraform/versions.tf": TF_VERSIONS % (rng.randint(30, 80), team, rng.randint(1, 40)),
        "terraform/variables.tf": TF_VARIABLES % (name, name),
    }
    for n in range(count):
        blocks = []
        for b in range(rng.randint(2, 9)):
            rid = f"{rng.choice(WORDS).replace('-', '_')}_{n}_{b}"
            kind = rng.random()
            if kind < 0.3:
                flag = rng.choice(("true", "true", "false"))
                sse = TF_SSE % {"id": rid} if rng.random() < 0.7 else ""
                blocks.append(TF_BUCKET % {"id": rid, "flag": flag, "sse": sse})
            elif kind < 0.5:
                cidr = rng.choice(("10.0.0.0/8", "0.0.0.0/0", "172.16.0.0/12"))
                blocks.append(
                    TF_SG % {"id": rid, "port": rng.choice((443, 22, 8443)), "cidr": cidr}
                )
            elif kind < 0.65:
                blocks.append(
                    TF_DB
                    % {
                        "id": rid,
                        "minor": rng.randint(1, 4),
                        "storage": rng.choice((20, 50, 100)),
                        "flag": rng.choice(("true", "false")),
                        "backup": rng.choice((0, 7, 14)),
                    }
                )
            elif kind < 0.8:
                extra = ', "s3:*"' if rng.random() < 0.2 else ""
                blocks.append(TF_IAM % {"id": rid, "extra": extra})
            elif kind < 0.9:
                source = rng.choice(
                    (
                        "terraform-aws-modules/vpc/aws",
                        "git::https://github.com/acme/tf-modules.git//vpc?ref=v1.4.0",
                        "../modules/network",
                    )
                )
                blocks.append(TF_MODULE % {"id": rid, "source": source, "net": rng.randint(0, 250)})
            else:
                blocks.append(TF_LOCALS % rng.randint(2, 6))
        where = "terraform" if n < 4 else f"terraform/modules/{rng.choice(WORDS)}"
        out[f"{where}/{rng.choice(WORDS)}_{n}.tf"] = "\n".join(blocks)
    return out


def _service_files(rng: random.Random, name: str, team: str) -> dict[str, str]:
    out: dict[str, str] = {}
    port = rng.choice((8080, 8000, 3000, 9090))
    lang = rng.choice(("go", "python", "node", "java"))
    base = {
        "go": "golang:1.23",
        "python": "python:3.12-slim",
        "node": "node:22",
        "java": "eclipse-temurin:21",
    }[lang]
    out["Dockerfile"] = DOCKERFILE % {
        "base": base if rng.random() < 0.8 else base.split(":")[0],
        "build": rng.choice(("make build", "go build -o out ./...", "npm ci && npm run build")),
        "runtime": rng.choice(
            ("gcr.io/distroless/static:nonroot", "alpine:3.20", "ubuntu:latest", "debian")
        ),
        "user": "USER 65532:65532\n" if rng.random() < 0.6 else "",
        "port": port,
        "name": name,
    }
    image = rng.choice(
        (
            f"ghcr.io/acme/{name}:1.{rng.randint(0, 40)}.{rng.randint(0, 9)}",
            f"ghcr.io/acme/{name}:latest",
            f"ghcr.io/acme/{name}@sha256:{rng.getrandbits(256):064x}",
        )
    )
    for env in rng.sample(("dev", "staging", "prod"), rng.randint(1, 3)):
        values = {
            "name": name,
            "team": team,
            "replicas": rng.randint(1, 6),
            "image": image,
            "port": port,
            "security": SECURITY if rng.random() < 0.6 else "",
            "mem": rng.choice((128, 256, 512, 1024)),
        }
        out[f"deploy/{env}/deployment.yaml"] = DEPLOYMENT % values
        out[f"deploy/{env}/service.yaml"] = SERVICE % values
    out[".github/workflows/ci.yml"] = _workflow(rng, "ci", lang)
    return out


def _workflow(rng: random.Random, wf_name: str, lang: str) -> str:
    return WORKFLOW % {
        "name": wf_name,
        "trigger": rng.choice(("push", "pull_request", "pull_request_target")),
        "permissions": rng.choice(
            ("permissions:\n  contents: read\n", "", "permissions: write-all\n")
        ),
        "checkout": rng.choice(("v4", "v4.2.2", f"{rng.getrandbits(160):040x}")),
        "lang": lang,
    }


def _source_files(rng: random.Random, count: int) -> dict[str, str]:
    """Code the extractor skips (it still has to read past it in the tar stream)."""
    out = {}
    for n in range(count):
        lines = ["def handler(batch):\n"]
        for i in range(rng.randint(20, 400)):
            a, b = rng.choice(WORDS).replace("-", "_"), rng.choice(WORDS).replace("-", "_")
            lines.append(SOURCE_LINE % (a, b, i))
        out[f"src/{rng.choice(WORDS).replace('-', '_')}_{n}.py"] = "".join(lines)
    return out


def repo_files(rng: random.Random, name: str, generation: int) -> dict[str, str | bytes]:
    """A repository's files; the same ``rng`` state gives the same files."""
    team = rng.choice(WORDS)
    profile = rng.random()
    files: dict[str, str | bytes] = {
        "README.md": f"# {name}\n\nOwned by {team}.\n" + "Some prose. " * rng.randint(5, 300)
    }
    if profile < 0.55:  # a service
        files.update(_service_files(rng, name, team))
        files.update(_tf_files(rng, name, team, rng.randint(0, 3)))
        files.update(_source_files(rng, rng.randint(2, 15)))
    elif profile < 0.80:  # infrastructure
        files.update(_tf_files(rng, name, team, rng.randint(4, 30)))
        files[".github/workflows/plan.yml"] = _workflow(rng, "plan", "go")
    elif profile < 0.95:  # a library: little configuration
        files[".github/workflows/ci.yml"] = _workflow(rng, "ci", "python")
        files.update(_source_files(rng, rng.randint(5, 30)))
    else:  # a big monorepo, with an incompressible asset the download must carry
        files.update(_service_files(rng, name, team))
        files.update(_tf_files(rng, name, team, rng.randint(30, 60)))
        files.update(_source_files(rng, rng.randint(40, 120)))
        files["assets/model.bin"] = rng.randbytes(rng.randint(1, 3) << 20)
    if rng.random() < 0.5:
        files["CODEOWNERS"] = f"* @acme/{team}\n"
    if rng.random() < 0.3:
        files["renovate.json"] = '{"extends": ["config:recommended"]}\n'
    if rng.random() < 0.2:
        files[".github/workflows/release.yml"] = _workflow(rng, "release", "node")
    if generation:  # the new commit: a bumped image and one more Terraform file
        if "Dockerfile" in files:
            files["Dockerfile"] = str(files["Dockerfile"]).replace("alpine:3.20", "alpine:3.21")
        files.update({f"terraform/change_{generation}.tf": TF_SG % _sg(rng)})
    return files


def _sg(rng: random.Random) -> dict[str, Any]:
    return {"id": f"added_{rng.randint(0, 999)}", "port": 443, "cidr": "0.0.0.0/0"}


def tarball(full_name: str, sha: str, when: datetime, files: dict[str, str | bytes]) -> bytes:
    """GitHub's layout: a pax global header naming the commit, one top-level directory
    ``owner-repo-sha7/``, directories before their files; gzip'd with a fixed mtime."""
    owner, repo = full_name.split("/")
    top = f"{owner}-{repo}-{sha[:7]}"
    mtime = int(when.timestamp())
    raw = io.BytesIO()
    with tarfile.open(
        fileobj=raw, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": sha}
    ) as tar:
        dirs = {""}
        for path in sorted(files):
            parts = path.split("/")[:-1]
            for i in range(len(parts)):
                dirs.add("/".join(parts[: i + 1]))
        for d in sorted(dirs):
            info = tarfile.TarInfo(f"{top}/{d}/" if d else f"{top}/")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o775, mtime
            tar.addfile(info)
        for path in sorted(files):
            content = files[path]
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size, info.mode, info.mtime = len(data), 0o664, mtime
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


def generate(repos: int, seed: int) -> Path:
    """The organization under bench/.work/ (built once per size and seed): manifest.json and
    one tarball per repository and generation."""
    root = WORK_DIR / f"org-{repos}-s{seed}-g{GEN_VERSION}"
    if (root / "manifest.json").is_file():
        return root
    started = time.perf_counter()
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "tarballs").mkdir(parents=True)
    rng = random.Random(seed)
    specs: list[RepoSpec] = []
    names: set[str] = set()
    while len(specs) < repos:
        name = f"{rng.choice(WORDS)}-{rng.choice(KINDS)}"
        if name in names:
            name = f"{name}-{len(specs)}"
        names.add(name)
        roll = rng.random()
        kind = (
            "archived"
            if roll < 0.04
            else "fork"
            if roll < 0.07
            else "empty"
            if roll < 0.08
            else "normal"
        )
        topics = rng.sample(("java-service", "terraform", "k8s", "golden-path", "legacy"), 2)
        specs.append(RepoSpec(name, kind, topics if rng.random() < 0.5 else []))
    scannable = [s for s in specs if s.kind == "normal"]
    changing = {s.name for s in rng.sample(scannable, round(len(scannable) * CHANGED_SHARE))}
    for i, spec in enumerate(specs):
        if spec.kind == "empty":
            continue
        full = f"{ORG}/{spec.name}"
        when = BASE_TIME + timedelta(minutes=i)
        for generation in (0, 1) if spec.name in changing else (0,):
            per_repo = random.Random(f"{seed}:{spec.name}")  # generation 1 edits generation 0
            files = repo_files(per_repo, spec.name, generation)
            sha = _sha(random.Random(f"{seed}:{spec.name}:{generation}"))
            stamp = when + timedelta(days=20 * generation)
            data = tarball(full, sha, stamp, files)
            (tmp / "tarballs" / f"{spec.name}.{generation}.tar.gz").write_bytes(data)
            tree = json.dumps(git_tree(files), separators=(",", ":"))
            (tmp / "tarballs" / f"{spec.name}.{generation}.tree.json").write_text(tree)
            iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
            if generation:
                spec.changed_sha, spec.changed_pushed_at = sha, iso
            else:
                spec.sha, spec.pushed_at = sha, iso
                spec.files, spec.tar_bytes = len(files), len(data)
    manifest = {
        "repos": repos,
        "seed": seed,
        "generator": GEN_VERSION,
        "seconds": round(time.perf_counter() - started, 2),
        "specs": [asdict(s) for s in specs],
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return root


def load_specs(root: Path) -> list[RepoSpec]:
    return [RepoSpec(**s) for s in json.loads((root / "manifest.json").read_text())["specs"]]


# --------------------------------------------------------------------------------------
# The fake GitHub, in its own process
# --------------------------------------------------------------------------------------


def _category(path: str) -> str:
    route = path.split("?", 1)[0]
    if route.startswith("/orgs/"):
        return "listing"
    if route.startswith(("/repos/", "/codeload/")):
        return "per_repo"
    return "other"


def _per_repo_kind(route: str) -> str:
    if route.startswith("/codeload/"):
        return "download"
    for kind in ("tarball", "branches", "trees", "blobs", "code-scanning", "issues"):
        if f"/{kind}/" in route or route.endswith(f"/{kind}"):
            return kind
    return "repo"


def serve(conn: Connection, root: str) -> None:
    """The server process: loads the organization, then answers commands on ``conn``."""
    sys.path.insert(0, str(REPO_ROOT))
    from tests.github_fake import FakeGitHub

    specs = {s.name: s for s in load_specs(Path(root))}
    fake = FakeGitHub(token=TOKEN, page_size=PAGE_SIZE)

    def publish(spec: RepoSpec, generation: int) -> None:
        full = f"{ORG}/{spec.name}"
        if spec.kind == "empty":
            fake.add_repo(full, size=0, pushed_at=None, topics=spec.topics)
            return
        sha = spec.changed_sha if generation else spec.sha
        pushed = spec.changed_pushed_at if generation else spec.pushed_at
        assert sha is not None
        stem = Path(root) / "tarballs" / f"{spec.name}.{generation}"
        data = stem.with_name(stem.name + ".tar.gz").read_bytes()
        tree = json.loads(stem.with_name(stem.name + ".tree.json").read_text())
        fake.add_repo(
            full,
            archived=spec.kind == "archived",
            fork=spec.kind == "fork",
            topics=spec.topics,
            size=max(1, len(data) // 1024),
            pushed_at=pushed,
        )
        with fake._lock:
            fake.branches[(full, "main")] = sha
            fake.tarballs[(full, sha)] = data
            fake.trees[(full, sha)] = tree

    for spec in specs.values():
        publish(spec, 0)
    statuses: Counter[tuple[str, int]] = Counter()
    answer = fake.answer

    def counted(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Any:
        status, data, extra = answer(method, path, headers, body)
        with fake._lock:
            statuses[(_category(path), status)] += 1
        return status, data, extra

    fake.answer = counted  # type: ignore[method-assign]
    mark, cpu = 0, 0.0
    with fake:
        conn.send(fake.url)
        while True:
            cmd, arg = conn.recv()
            if cmd == "stop":
                break
            if cmd == "mark":  # a phase starts: fresh hourly budget, counters from here
                with fake._lock:
                    mark = len(fake.requests)
                    statuses.clear()
                    fake.rate_remaining = RATE_LIMIT
                usage = resource.getrusage(resource.RUSAGE_SELF)
                cpu = usage.ru_utime + usage.ru_stime
                conn.send(None)
            elif cmd == "counts":
                with fake._lock:
                    seen = [r.path for r in fake.requests[mark:]]
                    by_status = dict(statuses)
                    remaining = fake.rate_remaining
                usage = resource.getrusage(resource.RUSAGE_SELF)
                conn.send(
                    {
                        "paths": seen,
                        "not_modified": by_status.get(("listing", 304), 0),
                        "errors": sum(n for (_, s), n in by_status.items() if s >= 400),
                        "rate_used": RATE_LIMIT - remaining,
                        "server_cpu_s": usage.ru_utime + usage.ru_stime - cpu,
                    }
                )
            elif cmd == "publish":  # [(name, generation)]
                for name, generation in arg:
                    publish(specs[name], generation)
                conn.send(None)


class Server:
    def __init__(self, root: Path) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=serve, args=(child, str(root)), daemon=True)
        self._proc.start()
        if not self._conn.poll(300):
            raise SetupError("the fake GitHub did not start")
        self.url: str = self._conn.recv()

    def call(self, cmd: str, arg: Any = None) -> Any:
        self._conn.send((cmd, arg))
        return self._conn.recv()

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, EOFError, OSError):
            self.call("stop")
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()


# --------------------------------------------------------------------------------------
# The phases
# --------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    pacing: str
    wall_s: float
    exit_code: int
    rss_mb: float
    cpu_s: float
    requests: int
    per_repo: int
    listing: int
    not_modified: int
    other: int
    rate_used: int
    server_cpu_s: float
    tether_requests: int | None
    totals: dict[str, int]
    per_repo_kinds: dict[str, int] = field(default_factory=dict)
    errors: int = 0


def tether_argv(pacing: str, url: str, out: Path, state: Path, jobs: int) -> list[str]:
    args = ["org", ORG, "--out", str(out), "--state", str(state), "--github-url", url]
    args += ["--jobs", str(jobs)]
    if pacing == "none":
        return [sys.executable, "-c", UNPACED, *args]
    return [sys.executable, "-m", "scanner.cli", *args]


def run_phase(name: str, pacing: str, server: Server, work: Path, state: Path, jobs: int) -> Phase:
    out = work / f"out-{name}-{pacing}"
    shutil.rmtree(out, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE",)}
    env["GITHUB_TOKEN"] = TOKEN
    env["PYTHONPATH"] = str(REPO_ROOT)
    server.call("mark")
    stdout, stderr = work / f"{name}-{pacing}.out", work / f"{name}-{pacing}.err"
    run = measure(
        f"tether org ({name})",
        tether_argv(pacing, server.url, out, state, jobs),
        stdout,
        stderr,
        env=env,
        timeout=3600,
    )
    counts = server.call("counts")
    paths: list[str] = counts["paths"]
    cats = Counter(_category(p) for p in paths)
    kinds = Counter(_per_repo_kind(p.split("?", 1)[0]) for p in paths if _category(p) == "per_repo")
    totals: dict[str, int] = {}
    with_summary = out / "summary.json"
    if with_summary.is_file():
        totals = json.loads(with_summary.read_text())["totals"]
    said = stderr.read_text(errors="replace") if stderr.is_file() else ""
    told = next(
        (
            int(w[i - 1])
            for line in said.splitlines()
            if line.startswith("tether org:")
            for w in [line.replace(";", " ").split()]
            for i in range(1, len(w))
            if w[i] == "API" and w[i - 1].isdigit()
        ),
        None,
    )
    if run.exit_code != 0:
        err = stderr.read_text(errors="replace")[-1500:] if stderr.is_file() else ""
        print(f"  {name}: tether exited {run.exit_code}\n{err}", file=sys.stderr)
    return Phase(
        name=name,
        pacing=pacing,
        wall_s=run.wall_s,
        exit_code=run.exit_code,
        rss_mb=run.max_rss_mib * 1024 * 1024 / 1e6,
        cpu_s=run.cpu_user_s + run.cpu_sys_s,
        requests=len(paths),
        per_repo=cats["per_repo"],
        listing=cats["listing"],
        not_modified=counts["not_modified"],
        other=cats["other"],
        rate_used=counts["rate_used"],
        server_cpu_s=counts["server_cpu_s"],
        tether_requests=told,
        totals={k: int(totals.get(k, 0)) for k in ("scanned", "unchanged", "skipped", "failed")},
        per_repo_kinds=dict(sorted(kinds.items())),
        errors=counts["errors"],
    )


def run_set(
    pacing: str, server: Server, work: Path, specs: list[RepoSpec], jobs: int
) -> list[Phase]:
    state = work / f"state-{pacing}"
    shutil.rmtree(state, ignore_errors=True)
    server.call("publish", [(s.name, 0) for s in specs if s.changed_sha])
    phases = []
    for name in ("cold", "warm", "changed"):
        if name == "changed":
            server.call("publish", [(s.name, 1) for s in specs if s.changed_sha])
        phase = run_phase(name, pacing, server, work, state, jobs)
        phases.append(phase)
        print(f"  {_row(phase)}", flush=True)
    return phases


HEADER = (
    "| phase | pacing | wall s | CPU s | API requests | per-repo | listing (304) | other "
    "| scanned | unchanged | skipped | failed | peak RSS MB |"
)


def _row(p: Phase) -> str:
    t = p.totals
    return (
        f"| {p.name} | {p.pacing} | {p.wall_s:.1f} | {p.cpu_s:.1f} | {p.requests} | "
        f"{p.per_repo} | {p.listing} ({p.not_modified}) | {p.other} | {t['scanned']} | "
        f"{t['unchanged']} | {t['skipped']} | {t['failed']} | {p.rss_mb:.0f} |"
    )


def check(phases: list[Phase], changed: int) -> tuple[list[str], list[str]]:
    """(problems that fail the benchmark, goal lines)."""
    problems, goals = [], []
    for p in phases:
        tag = f"{p.name} ({p.pacing} pacing)"
        if p.exit_code != 0:
            problems.append(f"{tag}: tether exited {p.exit_code}")
        if p.totals["failed"]:
            problems.append(f"{tag}: {p.totals['failed']} repositories failed")
        if p.name == "warm" and p.per_repo:
            problems.append(f"{tag}: {p.per_repo} per-repository calls ({p.per_repo_kinds})")
        if p.name == "warm" and p.totals["scanned"]:
            problems.append(f"{tag}: {p.totals['scanned']} repositories scanned again")
        if p.name == "changed" and p.totals["scanned"] != changed:
            problems.append(f"{tag}: scanned {p.totals['scanned']}, {changed} changed")
        if p.name == "warm":
            ok = p.wall_s <= WARM_GOAL_S
            goals.append(
                f"{tag}: {p.wall_s:.1f} s, goal <= {WARM_GOAL_S:.0f} s: {'met' if ok else 'MISSED'}"
            )
        ok = p.rss_mb <= RSS_GOAL_MB
        goals.append(
            f"{tag}: peak RSS {p.rss_mb:.0f} MB, goal <= {RSS_GOAL_MB:.0f} MB: "
            f"{'met' if ok else 'MISSED'}"
        )
    return problems, goals


def tether_revision() -> str:
    """The commit under test, and whether scanner/ differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "scanner"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "(unknown revision)"
    return f"{head}{' + uncommitted scanner/ changes' if dirty else ''}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--pacing", choices=("real", "none", "both"), default="real")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--results", type=Path, help="default bench/.work/org-results-N.json")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    revision = tether_revision()
    root = generate(args.repos, args.seed)
    specs = load_specs(root)
    kinds = Counter(s.kind for s in specs)
    changed = sum(1 for s in specs if s.changed_sha)
    size = sum(s.tar_bytes for s in specs)
    print(
        f"org: {len(specs)} repositories ({dict(sorted(kinds.items()))}), {changed} change "
        f"in the third phase; {size / 1e6:.1f} MB of tarballs, "
        f"{sum(s.files for s in specs)} files; cached in {root.relative_to(REPO_ROOT)} "
        f"(built in {json.loads((root / 'manifest.json').read_text())['seconds']} s)"
    )
    work = WORK_DIR / f"org-run-{args.repos}"
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(REPO_ROOT)
    # untimed warm-up: imports, .pyc files, page cache
    warmup = measure(
        "warm-up",
        [sys.executable, "-m", "scanner.cli", "--help"],
        work / "warmup.out",
        work / "warmup.err",
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    )
    if warmup.exit_code != 0:
        raise SetupError(f"tether does not start: {(work / 'warmup.err').read_text()[-500:]}")
    print(
        f"fake GitHub: tests/github_fake.py in a separate process (spawn), page_size "
        f"{PAGE_SIZE}, rate budget {RATE_LIMIT} per phase; tether {revision}: --jobs "
        f"{args.jobs}, a child process measured by bench/run.py's fork+wait4 launcher"
    )
    server = Server(root)
    phases: list[Phase] = []
    try:
        for pacing in ("real", "none") if args.pacing == "both" else (args.pacing,):
            print(f"pacing {pacing}:", flush=True)
            phases += run_set(pacing, server, work, specs, args.jobs)
    finally:
        server.close()

    print()
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1))
    for p in phases:
        print(_row(p))
    print()
    for p in phases:
        note = f" (tether counted {p.tether_requests})" if p.tether_requests is not None else ""
        print(
            f"{p.name}/{p.pacing}: per-repo {p.per_repo_kinds or '{}'}, rate used "
            f"{p.rate_used}{note}, fake server CPU {p.server_cpu_s:.1f} s, HTTP errors "
            f"{p.errors}"
        )
    problems, goals = check(phases, changed)
    print()
    for line in goals:
        print(f"goal: {line}")
    for line in problems:
        print(f"PROBLEM: {line}")
    results = args.results or WORK_DIR / f"org-results-{args.repos}.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "tether": revision,
                "repos": len(specs),
                "changed": changed,
                "jobs": args.jobs,
                "phases": [asdict(p) for p in phases],
                "problems": problems,
                "goals": goals,
            },
            indent=2,
        )
    )
    print(f"results: {results} ({time.perf_counter() - started:.0f} s in all)")
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SetupError as e:
        print(f"bench/org.py: {e}", file=sys.stderr)
        sys.exit(2)
