#!/usr/bin/env python3
"""Deterministic generator of a realistic, GitHub-Actions-heavy repository.

The 1x corpus is shaped like a busy monorepo's ``.github``: about forty workflows under
``.github/workflows/`` (CI with ``strategy.matrix`` include/exclude and service containers,
image builds, releases on tags, deployments with environments and OIDC credentials,
reusable ``workflow_call`` workflows and their callers, code scanning, Terraform plans,
documentation sites, dependency bots, scheduled maintenance, and a few ``pull_request_target``
triage workflows), and composite, Docker and JavaScript actions under ``.github/actions/``
(each an ``action.yml``; the Docker one with its ``Dockerfile``). ``uses:`` references are
written with major tags, full tags, branches, 40-hex commit SHAs followed by a ``# vX.Y.Z``
comment, ``docker://`` images, local actions and local and remote reusable workflows; jobs
have ``needs``, ``if``, ``permissions``, ``concurrency``, ``environment``, ``outputs``,
``container`` and ``services``; ``run:`` steps hold multi-line shell scripts with
``${{ }}`` expressions, a few of them the unsafe way (event data straight into the shell),
so the analysers have something to find.

All text comes from this script's own word lists and templates; nothing is copied from a
public repository.

Usage::

    python bench/gen_workflows.py OUTDIR [--scale N] [--seed 20261202]

``--scale N`` (1 to 64) writes the 1x corpus and N-1 variants of it (other components,
versions, pins and values, drawn from the seed and the variant's number). GitHub reads
workflows only from the repository's own ``.github/workflows/``, so the variants' workflows
go there too, as ``<name>-vNN.yml``, and their actions under ``.github/actions/<name>-vNN/``;
the 1x corpus is always a part of the Nx one. The same arguments always give byte-identical
files; YAML files and Dockerfiles already in OUTDIR are removed first.

Standard library only (the YAML emitter is bench/gen_kubernetes.py's).
"""

# The templates keep the line lengths real workflows have (long `run:` lines, ARNs, scripts).
# ruff: noqa: E501
from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_kubernetes import (  # noqa: E402
    Comment,
    Flow,
    Folded,
    Literal,
    Noted,
    Quoted,
    Single,
    chance,
    dump,
    pick,
    sha,
    write_files,
)

DEFAULT_SEED = 20261202
MAX_SCALE = 64

# --------------------------------------------------------------------------------------
# Word lists
# --------------------------------------------------------------------------------------

COMPONENTS = [
    "api",
    "web",
    "worker",
    "cli",
    "sdk-python",
    "sdk-node",
    "gateway",
    "scheduler",
    "billing",
    "search",
    "mobile-bff",
    "ingest",
    "notifier",
    "admin",
    "ledger",
    "exporter",
]
ORG = "acme-corp"
# action -> versions it is referenced at (major tags and full releases)
ACTIONS: dict[str, list[str]] = {
    "actions/checkout": ["v4", "v4.1.7", "v4.2.2", "v3"],
    "actions/setup-python": ["v5", "v5.1.1", "v5.3.0", "v4"],
    "actions/setup-node": ["v4", "v4.0.3", "v4.1.0"],
    "actions/setup-go": ["v5", "v5.0.2", "v5.2.0"],
    "actions/setup-java": ["v4", "v4.2.2"],
    "actions/cache": ["v4", "v4.0.2", "v4.1.2"],
    "actions/upload-artifact": ["v4", "v4.3.6", "v4.4.3"],
    "actions/download-artifact": ["v4", "v4.1.8"],
    "actions/github-script": ["v7", "v7.0.1"],
    "actions/labeler": ["v5", "v5.0.0"],
    "actions/stale": ["v9", "v9.0.0"],
    "actions/configure-pages": ["v5", "v5.0.0"],
    "actions/upload-pages-artifact": ["v3", "v3.0.1"],
    "actions/deploy-pages": ["v4", "v4.0.5"],
    "docker/setup-qemu-action": ["v3", "v3.2.0"],
    "docker/setup-buildx-action": ["v3", "v3.7.1"],
    "docker/login-action": ["v3", "v3.3.0"],
    "docker/metadata-action": ["v5", "v5.5.1"],
    "docker/build-push-action": ["v6", "v6.9.0", "v5"],
    "aws-actions/configure-aws-credentials": ["v4", "v4.0.2"],
    "aws-actions/amazon-ecr-login": ["v2", "v2.0.1"],
    "google-github-actions/auth": ["v2", "v2.1.7"],
    "azure/login": ["v2", "v2.2.0"],
    "hashicorp/setup-terraform": ["v3", "v3.1.2"],
    "github/codeql-action/init": ["v3", "v3.27.0"],
    "github/codeql-action/analyze": ["v3", "v3.27.0"],
    "github/codeql-action/upload-sarif": ["v3", "v3.27.0"],
    "codecov/codecov-action": ["v4", "v4.6.0", "v5"],
    "softprops/action-gh-release": ["v2", "v2.0.8"],
    "sigstore/cosign-installer": ["v3", "v3.7.0"],
    "azure/setup-kubectl": ["v4", "v4.0.0"],
    "peter-evans/create-pull-request": ["v7", "v7.0.5"],
    "dorny/paths-filter": ["v3", "v3.0.2"],
    "slackapi/slack-github-action": ["v1.27.0", "v2.0.0"],
    f"{ORG}/ci-toolkit/setup": ["v2", "v2.3.1", "main"],
    f"{ORG}/ci-toolkit/notify": ["v2", "v2.3.1"],
}
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
NODES = ["18", "20", "22"]
GOS = ["1.22", "1.23"]
OSES = ["ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04", "macos-14", "windows-2022"]
RUNNERS = ["ubuntu-latest", "ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04"]
SELF_HOSTED = Flow(["self-hosted", "linux", "x64"])
REGIONS = ["eu-west-1", "us-east-1", "eu-central-1"]
ENVIRONMENTS = ["dev", "staging", "production"]
TOOLS = ["make", "just", "task", "tox", "nox", "npm run", "pnpm"]
SERVICE_HEALTH = (
    "--health-cmd pg_isready --health-interval 10s --health-timeout 5s --health-retries 5"
)
STALE_MESSAGE = Folded(
    "This pull request has had no activity for a while.\n"
    "It will be closed in a week unless someone comments or pushes to it.\n"
)


# --------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------


class Ctx:
    """What one variant's files refer to: its suffix, its actions and reusable workflows."""

    def __init__(self, rng: random.Random, variant: int) -> None:
        self.rng = rng
        self.variant = variant
        self.suffix = "" if variant == 0 else f"-v{variant:02d}"
        # how this "team" pins actions: mostly SHAs, mostly tags, or a mix
        self.pin_style = pick(rng, ["sha", "tag", "mixed", "mixed"])
        self.indent = pick(rng, [2, 2, 0])

    def name(self, base: str) -> str:
        return f"{base}{self.suffix}"

    def local_action(self, base: str) -> str:
        return f"./.github/actions/{self.name(base)}"

    def local_workflow(self, base: str) -> str:
        return f"./.github/workflows/{self.name(base)}.yml"


def uses(ctx: Ctx, action: str) -> str:
    """A ``uses:`` reference to a public action, pinned the way this variant pins."""
    rng = ctx.rng
    version = pick(rng, ACTIONS[action])
    style = ctx.pin_style
    if style == "mixed":
        style = pick(rng, ["sha", "tag", "tag"])
    if style == "sha" and version != "main":
        full = version if version.count(".") == 2 else version + ".0.0"
        return Noted(f"{action}@{sha(action + full, 40)}", full)
    return f"{action}@{version}"


def step(name: str | None = None, /, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if name:
        out["name"] = name
    for k, v in fields.items():
        out[k.replace("_", "-") if k in ("working_directory", "continue_on_error") else k] = v
    return out


def checkout(ctx: Ctx, **with_: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"uses": uses(ctx, "actions/checkout")}
    opts = dict(with_)
    if chance(ctx.rng, 0.5):
        opts.setdefault("persist-credentials", False)
    if opts:
        s["with"] = opts
    return s


def script(rng: random.Random, *lines: str, strict: bool = True) -> Literal:
    body = (["set -euo pipefail"] if strict and chance(rng, 0.7) else []) + list(lines)
    return Literal("\n".join(body) + "\n")


def perms(rng: random.Random, **scopes: str) -> Any:
    if not scopes:
        return pick(rng, [{"contents": "read"}, {}, {"contents": "read"}])
    return dict(scopes)


def triggers(rng: random.Random, comp: str, paths: bool = True) -> dict[str, Any]:
    on: dict[str, Any] = {}
    push: dict[str, Any] = {
        "branches": Flow(["main"]) if chance(rng, 0.5) else ["main", "release/**"]
    }
    pr: dict[str, Any] = {"branches": Flow(["main"])}
    if paths:
        p = [f"services/{comp}/**", f".github/workflows/ci-{comp}*.yml"]
        if chance(rng, 0.5):
            p.append("libs/shared/**")
        push["paths"] = p
        pr["paths"] = list(p)
    if chance(rng, 0.3):
        pr["types"] = Flow(["opened", "synchronize", "reopened"])
    on["push"] = push
    on["pull_request"] = pr
    if chance(rng, 0.4):
        on["merge_group"] = {}
    if chance(rng, 0.5):
        on["workflow_dispatch"] = {}
    return on


def concurrency(rng: random.Random) -> dict[str, Any]:
    return {
        "group": "${{ github.workflow }}-${{ github.event.pull_request.number || github.ref }}",
        "cancel-in-progress": pick(rng, [True, "${{ github.event_name == 'pull_request' }}"]),
    }


# --------------------------------------------------------------------------------------
# Workflows
# --------------------------------------------------------------------------------------


def wf_ci(ctx: Ctx, comp: str) -> dict[str, Any]:
    rng = ctx.rng
    lang = pick(rng, ["python", "node", "go"])
    tool = pick(rng, TOOLS)
    wd = f"services/{comp}"
    matrix: dict[str, Any]
    if lang == "python":
        versions = rng.sample(PYTHONS, 3)
        setup = step(
            "Set up Python",
            uses=uses(ctx, "actions/setup-python"),
            **{
                "with": {
                    "python-version": "${{ matrix.python }}",
                    "cache": "pip",
                    "cache-dependency-path": f"{wd}/requirements*.txt",
                }
            },
        )
        install = script(
            rng,
            "python -m pip install --upgrade pip",
            "pip install -r requirements.txt -r requirements-dev.txt",
        )
        test = script(
            rng,
            f"pytest -q --cov={comp.replace('-', '_')} --cov-report=xml "
            "--junitxml=reports/junit-${{ matrix.python }}.xml",
        )
        matrix = {"os": ["ubuntu-latest"], "python": Flow(versions)}
    elif lang == "node":
        versions = rng.sample(NODES, 2)
        setup = step(
            "Set up Node.js",
            uses=uses(ctx, "actions/setup-node"),
            **{
                "with": {
                    "node-version": "${{ matrix.node }}",
                    "cache": pick(rng, ["npm", "pnpm", "yarn"]),
                }
            },
        )
        install = script(rng, "npm ci --no-audit --no-fund")
        test = script(rng, "npm run lint", "npm test -- --ci --reporters=default --coverage")
        matrix = {"os": ["ubuntu-latest"], "node": Flow(versions)}
    else:
        versions = list(GOS)
        setup = step(
            "Set up Go",
            uses=uses(ctx, "actions/setup-go"),
            **{"with": {"go-version": "${{ matrix.go }}", "cache-dependency-path": f"{wd}/go.sum"}},
        )
        install = script(rng, "go mod download", "go install gotest.tools/gotestsum@latest")
        test = script(
            rng,
            "gotestsum --junitfile reports/unit.xml -- -race -coverprofile=coverage.out ./...",
        )
        matrix = {"os": ["ubuntu-latest"], "go": Flow(versions)}
    if chance(rng, 0.5):
        matrix["os"] = Flow(rng.sample(OSES, 2))
        matrix["exclude"] = [{"os": matrix["os"][1], list(matrix)[1]: versions[0]}]
    if chance(rng, 0.4):
        matrix["include"] = [
            {"os": "ubuntu-latest", list(matrix)[1]: versions[-1], "experimental": True}
        ]
    lint = {
        "name": "Lint",
        "runs-on": pick(rng, RUNNERS),
        "timeout-minutes": pick(rng, [10, 15]),
        "steps": [
            checkout(ctx),
            {"uses": ctx.local_action("setup-toolchain"), "with": {"language": lang}},
            step(
                "Lint", run=script(rng, f"{tool} lint", f"{tool} typecheck"), working_directory=wd
            ),
        ],
    }
    test_job: dict[str, Any] = {
        "name": f"Test ({lang} ${{{{ matrix.{list(matrix)[1]} }}}} on ${{{{ matrix.os }}}})",
        "needs": "lint",
        "runs-on": "${{ matrix.os }}",
        "timeout-minutes": pick(rng, [20, 30, 45]),
        "continue-on-error": "${{ matrix.experimental == true }}",
        "strategy": {"fail-fast": chance(rng, 0.3), "matrix": matrix},
        "defaults": {"run": {"working-directory": wd, "shell": "bash"}},
    }
    if chance(rng, 0.5):
        test_job["services"] = {
            "postgres": {
                "image": pick(rng, ["postgres:16.4", "postgres:15-alpine", "postgres:16"]),
                "env": {"POSTGRES_PASSWORD": "postgres", "POSTGRES_DB": comp.replace("-", "_")},
                "ports": Flow(["5432:5432"]),
                "options": SERVICE_HEALTH,
            },
            "redis": {"image": pick(rng, ["redis:7.2", "redis:7-alpine"]), "ports": ["6379:6379"]},
        }
        test_job["env"] = {
            "DATABASE_URL": "postgres://postgres:postgres@localhost:5432/test",
            "REDIS_URL": "redis://localhost:6379/0",
        }
    test_job["steps"] = [
        checkout(ctx, **({"fetch-depth": 0} if chance(rng, 0.3) else {})),
        setup,
        {
            "name": "Cache build outputs",
            "uses": uses(ctx, "actions/cache"),
            "with": {
                "path": Literal(f"~/.cache\n{wd}/.build\n"),
                "key": "${{ runner.os }}-" + comp + "-${{ hashFiles('**/lockfile', '**/*.lock') }}",
                "restore-keys": Literal("${{ runner.os }}-" + comp + "-\n"),
            },
        },
        step("Install", run=install),
        step("Test", run=test),
        step(
            "Upload coverage",
            uses=uses(ctx, "codecov/codecov-action"),
            **{
                "if": "${{ !cancelled() }}",
                "with": {
                    "files": f"{wd}/coverage.xml",
                    "flags": comp,
                    "token": "${{ secrets.CODECOV_TOKEN }}",
                },
            },
        ),
        step(
            "Keep test reports",
            uses=uses(ctx, "actions/upload-artifact"),
            **{
                "if": "failure()",
                "with": {
                    "name": f"reports-{comp}-${{{{ strategy.job-index }}}}",
                    "path": f"{wd}/reports/",
                    "retention-days": pick(rng, [3, 7, 14]),
                },
            },
        ),
    ]
    jobs: dict[str, Any] = {"lint": lint, "test": test_job}
    if chance(rng, 0.5):
        jobs["summary"] = {
            "if": "always()",
            "needs": Flow(["lint", "test"]),
            "runs-on": "ubuntu-latest",
            "steps": [
                step(
                    "Fail when a needed job failed",
                    run=script(
                        rng,
                        'if [[ "${{ contains(needs.*.result, \'failure\') }}" == "true" ]]; then',
                        '  echo "::error::a required job failed"; exit 1',
                        "fi",
                        strict=False,
                    ),
                )
            ],
        }
    wf: dict[str, Any] = {"name": f"CI / {comp}", "on": triggers(rng, comp)}
    wf["permissions"] = perms(rng)
    if chance(rng, 0.7):
        wf["concurrency"] = concurrency(rng)
    if chance(rng, 0.4):
        wf["env"] = {"FORCE_COLOR": Quoted("1"), "PIP_DISABLE_PIP_VERSION_CHECK": Quoted("1")}
    wf["jobs"] = jobs
    return wf


def wf_images(ctx: Ctx, comp: str) -> dict[str, Any]:
    rng = ctx.rng
    image = f"ghcr.io/{ORG}/{comp}"
    build_with: dict[str, Any] = {
        "context": f"services/{comp}",
        "file": f"services/{comp}/Dockerfile",
        "platforms": "linux/amd64,linux/arm64" if chance(rng, 0.5) else "linux/amd64",
        "push": "${{ github.event_name != 'pull_request' }}",
        "tags": "${{ steps.meta.outputs.tags }}",
        "labels": "${{ steps.meta.outputs.labels }}",
        "cache-from": "type=gha,scope=" + comp,
        "cache-to": f"type=gha,mode=max,scope={comp}",
    }
    if chance(rng, 0.5):
        build_with["build-args"] = Literal(
            f"VERSION=${{{{ github.ref_name }}}}\nCOMMIT=${{{{ github.sha }}}}\nSERVICE={comp}\n"
        )
    if chance(rng, 0.5):
        build_with["provenance"] = "mode=max"
        build_with["sbom"] = True
    steps: list[Any] = [
        checkout(ctx),
        {"uses": uses(ctx, "docker/setup-qemu-action")},
        {"uses": uses(ctx, "docker/setup-buildx-action")},
        step(
            "Log in to GHCR",
            uses=uses(ctx, "docker/login-action"),
            **{
                "if": "github.event_name != 'pull_request'",
                "with": {
                    "registry": "ghcr.io",
                    "username": "${{ github.actor }}",
                    "password": "${{ secrets.GITHUB_TOKEN }}",
                },
            },
        ),
        step(
            "Image metadata",
            id="meta",
            uses=uses(ctx, "docker/metadata-action"),
            **{
                "with": {
                    "images": image,
                    "tags": Literal(
                        "type=ref,event=branch\ntype=ref,event=pr\n"
                        "type=semver,pattern={{version}}\ntype=sha,format=long\n"
                    ),
                }
            },
        ),
        step(
            "Build and push",
            id="build",
            uses=uses(ctx, "docker/build-push-action"),
            **{"with": build_with},
        ),
    ]
    if chance(rng, 0.6):
        steps += [
            {"uses": uses(ctx, "sigstore/cosign-installer")},
            step(
                "Sign the image",
                **{"if": "github.event_name != 'pull_request'"},
                env={
                    "DIGEST": "${{ steps.build.outputs.digest }}",
                    "TAGS": "${{ steps.meta.outputs.tags }}",
                },
                run=script(
                    rng,
                    "for tag in ${TAGS}; do",
                    '  cosign sign --yes "${tag}@${DIGEST}"',
                    "done",
                ),
            ),
        ]
    return {
        "name": f"Images / {comp}",
        "on": {
            "push": {
                "branches": ["main"],
                "tags": Flow([Single("v*")]),
                "paths": [f"services/{comp}/**"],
            },
            "pull_request": {"paths": [f"services/{comp}/**"]},
        },
        "permissions": {"contents": "read"},
        "jobs": {
            "image": {
                "runs-on": pick(rng, RUNNERS),
                "permissions": {"contents": "read", "packages": "write", "id-token": "write"},
                "outputs": {"digest": "${{ steps.build.outputs.digest }}"},
                "steps": steps,
            }
        },
    }


def wf_release(ctx: Ctx, comp: str) -> dict[str, Any]:
    rng = ctx.rng
    targets = rng.sample(
        [
            {"os": "ubuntu-latest", "target": "x86_64-unknown-linux-gnu"},
            {"os": "ubuntu-24.04-arm", "target": "aarch64-unknown-linux-gnu"},
            {"os": "macos-14", "target": "aarch64-apple-darwin"},
            {"os": "macos-13", "target": "x86_64-apple-darwin"},
            {"os": "windows-2022", "target": "x86_64-pc-windows-msvc"},
        ],
        3,
    )
    build = {
        "strategy": {"matrix": {"include": targets}},
        "runs-on": "${{ matrix.os }}",
        "steps": [
            checkout(ctx),
            {"uses": ctx.local_action("setup-toolchain"), "with": {"language": "rust"}},
            step(
                "Build",
                shell="bash",
                run=script(
                    rng,
                    "cargo build --release --locked --target ${{ matrix.target }}",
                    f"mkdir -p dist && cp target/${{{{ matrix.target }}}}/release/{comp}* dist/",
                    f'tar -czf "{comp}-${{GITHUB_REF_NAME}}-${{{{ matrix.target }}}}.tar.gz" -C dist .',
                ),
            ),
            {
                "uses": uses(ctx, "actions/upload-artifact"),
                "with": {
                    "name": "dist-${{ matrix.target }}",
                    "path": "*.tar.gz",
                    "if-no-files-found": "error",
                },
            },
        ],
    }
    publish = {
        "needs": "build",
        "runs-on": "ubuntu-latest",
        "environment": {"name": "release", "url": f"https://github.com/{ORG}/{comp}/releases"},
        "permissions": {"contents": "write", "id-token": "write", "attestations": "write"},
        "steps": [
            {
                "uses": uses(ctx, "actions/download-artifact"),
                "with": {"pattern": "dist-*", "merge-multiple": True},
            },
            step(
                "Checksums",
                run=script(rng, "sha256sum *.tar.gz | tee SHA256SUMS"),
            ),
            step(
                "Publish the release",
                uses=uses(ctx, "softprops/action-gh-release"),
                **{
                    "with": {
                        "files": Literal("*.tar.gz\nSHA256SUMS\n"),
                        "generate_release_notes": True,
                        "prerelease": "${{ contains(github.ref_name, '-rc') }}",
                    }
                },
            ),
        ],
    }
    return {
        "name": f"Release {comp}",
        "on": {"push": {"tags": [Single(f"{comp}/v*"), Single("v[0-9]+.[0-9]+.[0-9]+")]}},
        "permissions": {},
        "jobs": {"build": build, "publish": publish},
    }


def wf_reusable_deploy(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    return {
        "name": "Deploy (reusable)",
        "on": {
            "workflow_call": {
                "inputs": {
                    "service": {"required": True, "type": "string"},
                    "environment": {"required": True, "type": "string"},
                    "image-digest": {"required": False, "type": "string", "default": ""},
                    "dry-run": {"required": False, "type": "boolean", "default": False},
                },
                "secrets": {"SLACK_WEBHOOK": {"required": False}},
                "outputs": {
                    "revision": {
                        "description": "The rollout revision",
                        "value": "${{ jobs.deploy.outputs.revision }}",
                    }
                },
            }
        },
        "permissions": {"contents": "read", "id-token": "write"},
        "jobs": {
            "deploy": {
                "runs-on": pick(rng, [SELF_HOSTED, "ubuntu-latest"]),
                "environment": {
                    "name": "${{ inputs.environment }}",
                    "url": "https://${{ inputs.service }}.${{ inputs.environment }}.acme.example",
                },
                "concurrency": {"group": "deploy-${{ inputs.environment }}-${{ inputs.service }}"},
                "outputs": {"revision": "${{ steps.rollout.outputs.revision }}"},
                "steps": [
                    checkout(ctx),
                    step(
                        "AWS credentials",
                        uses=uses(ctx, "aws-actions/configure-aws-credentials"),
                        **{
                            "with": {
                                "role-to-assume": "arn:aws:iam::123456789012:role/gha-deploy-${{ inputs.environment }}",
                                "aws-region": pick(rng, REGIONS),
                                "role-session-name": "deploy-${{ github.run_id }}",
                            }
                        },
                    ),
                    {"uses": uses(ctx, "azure/setup-kubectl"), "with": {"version": "v1.30.4"}},
                    {
                        "uses": ctx.local_action("kube-deploy"),
                        "id": "rollout",
                        "with": {
                            "service": "${{ inputs.service }}",
                            "environment": "${{ inputs.environment }}",
                            "digest": "${{ inputs.image-digest }}",
                            "dry-run": "${{ inputs.dry-run }}",
                        },
                    },
                    step(
                        "Notify",
                        **{"if": "${{ always() && !inputs.dry-run }}"},
                        uses=ctx.local_action("notify-slack"),
                        **{
                            "with": {
                                "webhook": "${{ secrets.SLACK_WEBHOOK }}",
                                "message": "${{ inputs.service }} → ${{ inputs.environment }}: ${{ job.status }}",
                            }
                        },
                    ),
                ],
            }
        },
    }


def wf_reusable_test(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    return {
        "name": "Test (reusable)",
        "on": {
            "workflow_call": {
                "inputs": {
                    "working-directory": {"type": "string", "required": True},
                    "python-version": {"type": "string", "default": pick(rng, PYTHONS)},
                    "extras": {"type": "string", "default": "test"},
                },
                "secrets": {"CODECOV_TOKEN": {"required": False}},
            }
        },
        "permissions": {"contents": "read"},
        "jobs": {
            "test": {
                "runs-on": "ubuntu-latest",
                "defaults": {"run": {"working-directory": "${{ inputs.working-directory }}"}},
                "steps": [
                    checkout(ctx),
                    {
                        "uses": uses(ctx, "actions/setup-python"),
                        "with": {"python-version": "${{ inputs.python-version }}"},
                    },
                    step(
                        run=script(
                            rng,
                            'pip install -e ".[${{ inputs.extras }}]"',
                            "pytest -q -p no:cacheprovider",
                        )
                    ),
                ],
            }
        },
    }


def wf_deploy(ctx: Ctx, comp: str) -> dict[str, Any]:
    rng = ctx.rng
    remote = chance(rng, 0.4)
    target = (
        Noted(
            f"{ORG}/platform-workflows/.github/workflows/deploy.yml@{sha(comp + 'deploy', 40)}",
            "v3.4.0",
        )
        if remote and ctx.pin_style != "tag"
        else f"{ORG}/platform-workflows/.github/workflows/deploy.yml@v3"
        if remote
        else ctx.local_workflow("reusable-deploy")
    )
    jobs: dict[str, Any] = {
        "build": {
            "uses": ctx.local_workflow(f"images-{comp}")
            if chance(rng, 0.3)
            else ctx.local_workflow("reusable-test"),
            "with": {"working-directory": f"services/{comp}"},
            "secrets": "inherit",
        }
    }
    prev = "build"
    for env in ENVIRONMENTS:
        job: dict[str, Any] = {
            "needs": prev,
            "uses": target,
            "with": {
                "service": comp,
                "environment": env,
                "dry-run": "${{ inputs.dry-run == true }}",
            },
            "secrets": pick(
                rng, ["inherit", {"SLACK_WEBHOOK": "${{ secrets.SLACK_WEBHOOK_DEPLOYS }}"}]
            ),
        }
        if env == "production":
            job["if"] = (
                "github.ref == 'refs/heads/main' || github.event_name == 'workflow_dispatch'"
            )
        jobs[f"deploy-{env}"] = job
        prev = f"deploy-{env}"
    return {
        "name": f"Deploy {comp}",
        "on": {
            "push": {"branches": ["main"], "paths": [f"services/{comp}/**", f"deploy/{comp}/**"]},
            "workflow_dispatch": {
                "inputs": {
                    "dry-run": {
                        "description": "Render without applying",
                        "type": "boolean",
                        "default": False,
                    },
                    "reason": {
                        "description": "Why deploy by hand",
                        "required": False,
                        "type": "string",
                    },
                }
            },
        },
        "permissions": {"contents": "read", "id-token": "write"},
        "concurrency": {"group": f"deploy-{comp}", "cancel-in-progress": False},
        "jobs": jobs,
    }


def wf_codeql(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    langs = rng.sample(["python", "javascript-typescript", "go", "java-kotlin", "actions"], 3)
    return {
        "name": "CodeQL",
        "on": {
            "push": {"branches": Flow(["main"])},
            "pull_request": {"branches": Flow(["main"])},
            "schedule": [
                {
                    "cron": Single(
                        f"{rng.randint(0, 59)} {rng.randint(0, 23)} * * {rng.randint(0, 6)}"
                    )
                }
            ],
        },
        "permissions": {"contents": "read"},
        "jobs": {
            "analyze": {
                "name": "Analyze (${{ matrix.language }})",
                "runs-on": "ubuntu-latest",
                "permissions": {"security-events": "write", "actions": "read", "contents": "read"},
                "strategy": {"fail-fast": False, "matrix": {"language": Flow(langs)}},
                "steps": [
                    checkout(ctx),
                    {
                        "uses": uses(ctx, "github/codeql-action/init"),
                        "with": {
                            "languages": "${{ matrix.language }}",
                            "queries": "security-extended",
                        },
                    },
                    {
                        "uses": uses(ctx, "github/codeql-action/analyze"),
                        "with": {"category": "/language:${{ matrix.language }}"},
                    },
                ],
            }
        },
    }


def wf_triage(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    unsafe = chance(rng, 0.5)
    greet = (
        'echo "Thanks for ${{ github.event.pull_request.title }} (#${{ github.event.number }})"'
        if unsafe
        else 'echo "Thanks for ${PR_TITLE} (#${PR_NUMBER})"'
    )
    greet_step = step("Greet", run=script(rng, greet))
    if not unsafe:
        greet_step["env"] = {
            "PR_TITLE": "${{ github.event.pull_request.title }}",
            "PR_NUMBER": "${{ github.event.number }}",
        }
    return {
        "name": "Triage",
        "on": {"pull_request_target": {"types": Flow(["opened", "edited", "synchronize"])}},
        "permissions": {"contents": "read", "pull-requests": "write"},
        "jobs": {
            "label": {
                "runs-on": "ubuntu-latest",
                "steps": [
                    {"uses": uses(ctx, "actions/labeler"), "with": {"sync-labels": True}},
                    greet_step,
                    step(
                        "Size label",
                        uses=uses(ctx, "actions/github-script"),
                        **{
                            "with": {
                                "script": Literal(
                                    "const { data: files } = await github.rest.pulls.listFiles({\n"
                                    "  ...context.repo, pull_number: context.issue.number, per_page: 100,\n"
                                    "});\n"
                                    "const changed = files.reduce((n, f) => n + f.changes, 0);\n"
                                    f"const size = changed > {pick(rng, [400, 500, 800])} ? 'size/L' : changed > 100 ? 'size/M' : 'size/S';\n"
                                    "await github.rest.issues.addLabels({ ...context.repo, issue_number: context.issue.number, labels: [size] });\n"
                                )
                            }
                        },
                    ),
                ],
            }
        },
    }


def wf_stale(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    return {
        "name": "Close stale issues and PRs",
        "on": {
            "schedule": [{"cron": Single(f"{rng.randint(0, 59)} 1 * * *")}],
            "workflow_dispatch": {},
        },
        "permissions": {"issues": "write", "pull-requests": "write"},
        "jobs": {
            "stale": {
                "runs-on": "ubuntu-latest",
                "steps": [
                    {
                        "uses": uses(ctx, "actions/stale"),
                        "with": {
                            "days-before-stale": pick(rng, [30, 60, 90]),
                            "days-before-close": pick(rng, [7, 14]),
                            "stale-issue-label": "stale",
                            "exempt-issue-labels": "pinned,security,roadmap",
                            "stale-pr-message": STALE_MESSAGE,
                            "operations-per-run": pick(rng, [100, 250]),
                        },
                    }
                ],
            }
        },
    }


def wf_terraform(ctx: Ctx, stack: str) -> dict[str, Any]:
    rng = ctx.rng
    wd = f"infra/{stack}"
    return {
        "name": f"Terraform {stack}",
        "on": {
            "pull_request": {"paths": [f"{wd}/**"]},
            "push": {"branches": Flow(["main"]), "paths": [f"{wd}/**"]},
        },
        "permissions": {"contents": "read", "id-token": "write", "pull-requests": "write"},
        "env": {"TF_IN_AUTOMATION": Quoted("true"), "TF_INPUT": Quoted("0")},
        "jobs": {
            "plan": {
                "runs-on": "ubuntu-latest",
                "defaults": {"run": {"working-directory": wd}},
                "steps": [
                    checkout(ctx),
                    {
                        "uses": uses(ctx, "hashicorp/setup-terraform"),
                        "with": {"terraform_version": pick(rng, ["1.9.8", "1.8.5", "~1.9"])},
                    },
                    step(
                        "Credentials",
                        uses=uses(ctx, "google-github-actions/auth")
                        if "gcp" in stack
                        else uses(ctx, "aws-actions/configure-aws-credentials"),
                        **{
                            "with": {
                                "workload_identity_provider": "projects/123/locations/global/workloadIdentityPools/gha/providers/github",
                                "service_account": f"tf-{stack}@acme-prod.iam.gserviceaccount.com",
                            }
                            if "gcp" in stack
                            else {
                                "role-to-assume": f"arn:aws:iam::123456789012:role/tf-{stack}",
                                "aws-region": pick(rng, REGIONS),
                            }
                        },
                    ),
                    step("fmt", run="terraform fmt -check -recursive"),
                    step("init", run="terraform init -lockfile=readonly"),
                    step(
                        "plan",
                        id="plan",
                        run=script(
                            rng,
                            "terraform plan -no-color -out=tfplan | tee plan.txt",
                            'echo "summary=$(grep -E \'^Plan:|^No changes\' plan.txt | tail -1)" >> "$GITHUB_OUTPUT"',
                        ),
                    ),
                    step(
                        "Comment the plan",
                        **{"if": "github.event_name == 'pull_request'"},
                        uses=uses(ctx, "actions/github-script"),
                        env={"SUMMARY": "${{ steps.plan.outputs.summary }}"},
                        **{
                            "with": {
                                "script": Literal(
                                    "const body = `#### Terraform plan for "
                                    + stack
                                    + "\\n${process.env.SUMMARY}`;\n"
                                    "await github.rest.issues.createComment({ ...context.repo, issue_number: context.issue.number, body });\n"
                                )
                            }
                        },
                    ),
                ],
            },
            "apply": {
                "if": "github.ref == 'refs/heads/main' && github.event_name == 'push'",
                "needs": "plan",
                "runs-on": "ubuntu-latest",
                "environment": "infra-" + stack,
                "steps": [
                    checkout(ctx),
                    {"uses": uses(ctx, "hashicorp/setup-terraform")},
                    step(
                        "apply",
                        run="terraform init && terraform apply -auto-approve",
                        working_directory=wd,
                    ),
                ],
            },
        },
    }


def wf_docs(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    return {
        "name": "Docs",
        "on": {
            "push": {"branches": ["main"], "paths": ["docs/**", "mkdocs.yml"]},
            "workflow_dispatch": {},
        },
        "permissions": {"contents": "read", "pages": "write", "id-token": "write"},
        "concurrency": {"group": "pages", "cancel-in-progress": False},
        "jobs": {
            "build": {
                "runs-on": "ubuntu-latest",
                "steps": [
                    checkout(ctx, **{"fetch-depth": 0}),
                    {
                        "uses": uses(ctx, "actions/setup-python"),
                        "with": {"python-version": pick(rng, PYTHONS)},
                    },
                    step(
                        run=script(
                            rng,
                            "pip install -r docs/requirements.txt",
                            "mkdocs build --strict --site-dir site",
                        )
                    ),
                    {"uses": uses(ctx, "actions/configure-pages")},
                    {"uses": uses(ctx, "actions/upload-pages-artifact"), "with": {"path": "site"}},
                ],
            },
            "deploy": {
                "needs": "build",
                "runs-on": "ubuntu-latest",
                "environment": {
                    "name": "github-pages",
                    "url": "${{ steps.deployment.outputs.page_url }}",
                },
                "steps": [{"id": "deployment", "uses": uses(ctx, "actions/deploy-pages")}],
            },
        },
    }


def wf_automerge(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    return {
        "name": "Dependency updates",
        "on": "pull_request"
        if chance(rng, 0.5)
        else {"pull_request": {"types": Flow(["opened", "reopened"])}},
        "permissions": {"contents": "write", "pull-requests": "write"},
        "jobs": {
            "automerge": {
                "if": "github.actor == 'dependabot[bot]' || github.actor == 'renovate[bot]'",
                "runs-on": "ubuntu-latest",
                "steps": [
                    step(
                        "Approve and merge minor updates",
                        run=script(
                            rng,
                            'gh pr review --approve "$PR_URL"',
                            'gh pr merge --auto --squash "$PR_URL"',
                        ),
                        env={
                            "PR_URL": "${{ github.event.pull_request.html_url }}",
                            "GH_TOKEN": "${{ secrets.GITHUB_TOKEN }}",
                        },
                    )
                ],
            }
        },
    }


def wf_nightly(ctx: Ctx, comp: str) -> dict[str, Any]:
    rng = ctx.rng
    suites = rng.sample(
        ["smoke", "checkout", "search", "payments", "accounts", "admin", "mobile"], 4
    )
    return {
        "name": f"Nightly e2e / {comp}",
        "on": {
            "schedule": [{"cron": Single(f"{rng.randint(0, 59)} {rng.randint(0, 5)} * * *")}],
            "workflow_dispatch": {
                "inputs": {
                    "suite": {"type": "choice", "options": suites, "default": suites[0]},
                    "ref": {"type": "string", "default": "main"},
                }
            },
        },
        "permissions": {"contents": "read"},
        "jobs": {
            "e2e": {
                "if": f"github.repository == '{ORG}/monorepo'",
                "runs-on": pick(rng, [SELF_HOSTED, "ubuntu-latest"]),
                "container": {
                    "image": pick(
                        rng,
                        [
                            "mcr.microsoft.com/playwright:v1.48.2-jammy",
                            "cypress/included:13.15.0",
                            "node:20-bookworm",
                        ],
                    ),
                    "options": "--user 1001 --ipc=host",
                },
                "strategy": {
                    "fail-fast": False,
                    "max-parallel": 2,
                    "matrix": {"suite": Flow(suites), "shard": Flow([1, 2, 3])},
                },
                "timeout-minutes": 60,
                "steps": [
                    checkout(ctx, ref="${{ inputs.ref || 'main' }}"),
                    step(
                        run=script(
                            rng,
                            "npm ci",
                            "npx playwright test --project=${{ matrix.suite }} --shard=${{ matrix.shard }}/3",
                        )
                    ),
                    step(
                        "Report",
                        **{"if": "failure()"},
                        uses=ctx.local_action("notify-slack"),
                        **{
                            "with": {
                                "webhook": "${{ secrets.SLACK_WEBHOOK_QA }}",
                                "message": f"nightly {comp} ${{{{ matrix.suite }}}} failed",
                            }
                        },
                    ),
                ],
            }
        },
    }


def wf_comment_bot(ctx: Ctx) -> dict[str, Any]:
    """A chat-ops workflow: reads a comment and runs a command (the classic risky shape)."""
    rng = ctx.rng
    return {
        "name": "Chat ops",
        "on": {"issue_comment": {"types": Flow(["created"])}},
        "permissions": {"contents": "read", "pull-requests": "write"},
        "jobs": {
            "command": {
                "if": "github.event.issue.pull_request && startsWith(github.event.comment.body, '/bench')",
                "runs-on": "ubuntu-latest",
                "steps": [
                    checkout(ctx),
                    step(
                        "Parse the command",
                        id="cmd",
                        run=script(
                            rng,
                            'body="${{ github.event.comment.body }}"',
                            'echo "args=${body#/bench }" >> "$GITHUB_OUTPUT"',
                        ),
                    ),
                    step(
                        "Run",
                        run=script(rng, "./scripts/bench.sh ${{ steps.cmd.outputs.args }}"),
                        env={"GITHUB_TOKEN": "${{ secrets.GITHUB_TOKEN }}"},
                    ),
                ],
            }
        },
    }


def wf_bump(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    return {
        "name": "Bump versions",
        "on": {"schedule": [{"cron": Single("0 5 * * 1")}], "workflow_dispatch": {}},
        "permissions": {"contents": "write", "pull-requests": "write"},
        "jobs": {
            "bump": {
                "runs-on": "ubuntu-latest",
                "steps": [
                    checkout(ctx),
                    {
                        "uses": ctx.local_action("version-bump"),
                        "id": "bump",
                        "with": {"part": pick(rng, ["minor", "patch"])},
                    },
                    step(
                        uses=uses(ctx, "peter-evans/create-pull-request"),
                        **{
                            "with": {
                                "branch": "chore/bump-${{ steps.bump.outputs.version }}",
                                "title": "chore: bump to ${{ steps.bump.outputs.version }}",
                                "body": "Automated version bump.",
                                "labels": "chore,automerge",
                            }
                        },
                    ),
                    step(
                        "Container smoke",
                        uses="docker://alpine:3.20.3",
                        **{"with": {"args": "echo ok"}},
                    ),
                ],
            }
        },
    }


def wf_paths(ctx: Ctx, comps: Sequence[str]) -> dict[str, Any]:
    """A monorepo dispatcher: which components changed, then a reusable call each."""
    rng = ctx.rng
    filters = "".join(f"{c}:\n  - 'services/{c}/**'\n" for c in comps)
    jobs: dict[str, Any] = {
        "changes": {
            "runs-on": "ubuntu-latest",
            "permissions": {"pull-requests": "read"},
            "outputs": {"components": "${{ steps.filter.outputs.changes }}"},
            "steps": [
                checkout(ctx),
                {
                    "uses": uses(ctx, "dorny/paths-filter"),
                    "id": "filter",
                    "with": {"filters": Literal(filters)},
                },
            ],
        },
        "test": {
            "needs": "changes",
            "if": "${{ needs.changes.outputs.components != '[]' }}",
            "strategy": {
                "matrix": {"component": "${{ fromJSON(needs.changes.outputs.components) }}"}
            },
            "uses": ctx.local_workflow("reusable-test"),
            "with": {
                "working-directory": "services/${{ matrix.component }}",
                "python-version": pick(rng, PYTHONS),
            },
            "secrets": {"CODECOV_TOKEN": "${{ secrets.CODECOV_TOKEN }}"},
        },
    }
    return {
        "name": "Monorepo changes",
        "on": {"pull_request": {}, "push": {"branches": Flow(["main"])}},
        "permissions": {"contents": "read"},
        "jobs": jobs,
    }


# --------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------


def act_setup(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    return {
        "name": "Set up the toolchain",
        "description": "Installs the language toolchain and the repository's build tools, with caching.",
        "inputs": {
            "language": {"description": "python, node, go or rust", "required": True},
            "cache": {"description": "Cache dependencies", "default": Quoted("true")},
        },
        "outputs": {
            "tool-version": {
                "description": "The version installed",
                "value": "${{ steps.v.outputs.version }}",
            }
        },
        "runs": {
            "using": "composite",
            "steps": [
                {
                    "if": "inputs.language == 'python'",
                    "uses": uses(ctx, "actions/setup-python"),
                    "with": {"python-version-file": ".python-version", "cache": "pip"},
                },
                {
                    "if": "inputs.language == 'node'",
                    "uses": uses(ctx, "actions/setup-node"),
                    "with": {"node-version-file": ".nvmrc"},
                },
                {
                    "if": "inputs.language == 'go'",
                    "uses": uses(ctx, "actions/setup-go"),
                    "with": {"go-version-file": "go.mod"},
                },
                {
                    "id": "v",
                    "shell": "bash",
                    "run": script(
                        rng,
                        'case "${{ inputs.language }}" in',
                        '  python) v="$(python --version | cut -d" " -f2)";;',
                        '  node) v="$(node --version)";;',
                        '  go) v="$(go env GOVERSION)";;',
                        '  rust) rustup toolchain install stable --profile minimal; v="$(rustc --version)";;',
                        "esac",
                        'echo "version=${v}" >> "$GITHUB_OUTPUT"',
                    ),
                },
                {
                    "name": "Build tools",
                    "shell": "bash",
                    "run": script(
                        rng,
                        f"pipx install {pick(rng, ['pre-commit', 'nox', 'tox'])}",
                        "pre-commit --version || true",
                    ),
                },
            ],
        },
    }


def act_notify(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    return {
        "name": "Notify Slack",
        "description": "Posts a message to a Slack channel through an incoming webhook.",
        "inputs": {
            "webhook": {"description": "Incoming webhook URL", "required": True},
            "message": {"description": "Text to post", "required": True},
        },
        "runs": {
            "using": "composite",
            "steps": [
                {
                    "shell": "bash",
                    "env": {"WEBHOOK": "${{ inputs.webhook }}", "MESSAGE": "${{ inputs.message }}"},
                    "run": script(
                        rng,
                        'payload="$(jq -n --arg t "$MESSAGE" \'{text: $t}\')"',
                        'curl -fsS --retry 3 -H "Content-Type: application/json" -d "$payload" "$WEBHOOK"',
                    ),
                }
            ],
        },
    }


def act_kube(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    unsafe = chance(rng, 0.3)
    apply_line = (
        "kubectl -n ${{ inputs.environment }} set image deploy/${{ inputs.service }} app=${{ inputs.digest }}"
        if unsafe
        else 'kubectl -n "$ENVIRONMENT" set image "deploy/$SERVICE" "app=$DIGEST"'
    )
    return {
        "name": "Kubernetes deploy",
        "description": "Renders the overlay and rolls the service out.",
        "inputs": {
            "service": {"required": True, "description": "Service name"},
            "environment": {"required": True, "description": "Target environment"},
            "digest": {"required": False, "description": "Image digest", "default": ""},
            "dry-run": {
                "required": False,
                "description": "Render only",
                "default": Quoted("false"),
            },
        },
        "outputs": {
            "revision": {
                "description": "Rollout revision",
                "value": "${{ steps.roll.outputs.revision }}",
            }
        },
        "runs": {
            "using": "composite",
            "steps": [
                {
                    "name": "Render",
                    "shell": "bash",
                    "run": script(
                        rng,
                        'kustomize build "deploy/${SERVICE}/overlays/${ENVIRONMENT}" > rendered.yaml',
                        "kubectl apply --dry-run=server -f rendered.yaml",
                    ),
                    "env": {
                        "SERVICE": "${{ inputs.service }}",
                        "ENVIRONMENT": "${{ inputs.environment }}",
                    },
                },
                {
                    "id": "roll",
                    "if": "inputs.dry-run != 'true'",
                    "shell": "bash",
                    "env": {
                        "SERVICE": "${{ inputs.service }}",
                        "ENVIRONMENT": "${{ inputs.environment }}",
                        "DIGEST": "${{ inputs.digest }}",
                    },
                    "run": script(
                        rng,
                        apply_line,
                        'kubectl -n "$ENVIRONMENT" rollout status "deploy/$SERVICE" --timeout=10m',
                        'echo "revision=$(kubectl -n "$ENVIRONMENT" get deploy "$SERVICE" -o jsonpath=\'{.metadata.generation}\')" >> "$GITHUB_OUTPUT"',
                    ),
                },
            ],
        },
    }


def act_bump(ctx: Ctx) -> dict[str, Any]:
    rng = ctx.rng
    return {
        "name": "Version bump",
        "description": "Bumps the version in every package manifest.",
        "inputs": {"part": {"description": "major, minor or patch", "default": "patch"}},
        "outputs": {
            "version": {"description": "New version", "value": "${{ steps.bump.outputs.version }}"}
        },
        "runs": {
            "using": "composite",
            "steps": [
                {
                    "uses": uses(ctx, "actions/setup-python"),
                    "with": {"python-version": pick(rng, PYTHONS)},
                },
                {
                    "id": "bump",
                    "shell": "bash",
                    "run": script(
                        rng,
                        "pip install bump-my-version==0.28.1",
                        'bump-my-version bump "${{ inputs.part }}" --no-commit --no-tag',
                        'echo "version=$(bump-my-version show current_version)" >> "$GITHUB_OUTPUT"',
                    ),
                },
            ],
        },
    }


def act_docker(ctx: Ctx) -> dict[str, Any]:
    return {
        "name": "Changelog",
        "description": "Builds the changelog section of a release from conventional commits.",
        "inputs": {
            "from": {"description": "Start ref", "required": True},
            "to": {"description": "End ref", "default": "HEAD"},
        },
        "outputs": {"changelog": {"description": "Markdown"}},
        "runs": {
            "using": "docker",
            "image": "Dockerfile",
            "args": ["--from", "${{ inputs.from }}", "--to", "${{ inputs.to }}"],
            "env": {"LOG_LEVEL": "info"},
        },
        "branding": {"icon": "book-open", "color": "blue"},
    }


def act_node(ctx: Ctx) -> dict[str, Any]:
    return {
        "name": "PR size",
        "description": "Labels a pull request by the size of its diff.",
        "inputs": {"token": {"description": "GitHub token", "default": "${{ github.token }}"}},
        "runs": {"using": "node20", "main": "dist/index.js", "post": "dist/cleanup.js"},
    }


def dockerfile(rng: random.Random) -> str:
    py = pick(rng, ["3.12-slim", "3.11-slim-bookworm", "3.13-alpine"])
    return (
        "# syntax=docker/dockerfile:1.7\n"
        f"FROM python:{py} AS build\n"
        "WORKDIR /src\n"
        "COPY requirements.txt .\n"
        "RUN --mount=type=cache,target=/root/.cache/pip \\\n"
        "    pip install --prefix=/install -r requirements.txt\n"
        "COPY changelog/ ./changelog/\n\n"
        f"FROM python:{py}\n"
        "ARG VERSION=dev\n"
        'LABEL org.opencontainers.image.title="changelog" org.opencontainers.image.version="${VERSION}"\n'
        "COPY --from=build /install /usr/local\n"
        "COPY --from=build /src/changelog /app/changelog\n"
        "RUN useradd --system --uid 10001 app\n"
        "USER 10001\n"
        'ENTRYPOINT ["python", "-m", "changelog"]\n'
    )


# --------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------

HEADERS = [
    "Maintained by the developer-experience team; ask in #ci-help before changing.",
    "Keep job names stable: branch protection refers to them.",
    "Pins are updated by the dependency bot every week.",
    "",
]


def render(ctx: Ctx, doc: dict[str, Any]) -> str:
    head = pick(ctx.rng, HEADERS)
    text = dump(doc, ctx.indent)
    return (f"# {head}\n" if head else "") + text


def generate_one(seed: int, variant: int) -> dict[str, str]:
    """One variant's files (repository-relative)."""
    rng = random.Random(f"gha:{seed}:{variant}")
    ctx = Ctx(rng, variant)
    comps = rng.sample(COMPONENTS, 10)
    wf: dict[str, dict[str, Any]] = {}
    for comp in comps:
        wf[f"ci-{comp}"] = wf_ci(ctx, comp)
    for comp in comps[:6]:
        wf[f"images-{comp}"] = wf_images(ctx, comp)
    for comp in comps[:4]:
        wf[f"release-{comp}"] = wf_release(ctx, comp)
    for comp in comps[:6]:
        wf[f"deploy-{comp}"] = wf_deploy(ctx, comp)
    for comp in comps[:4]:
        wf[f"nightly-{comp}"] = wf_nightly(ctx, comp)
    for stack in rng.sample(["network", "data-gcp", "iam", "dns", "observability", "edge-gcp"], 3):
        wf[f"terraform-{stack}"] = wf_terraform(ctx, stack)
    wf["reusable-deploy"] = wf_reusable_deploy(ctx)
    wf["reusable-test"] = wf_reusable_test(ctx)
    wf["codeql"] = wf_codeql(ctx)
    wf["triage"] = wf_triage(ctx)
    wf["stale"] = wf_stale(ctx)
    wf["docs"] = wf_docs(ctx)
    wf["dependency-updates"] = wf_automerge(ctx)
    wf["chat-ops"] = wf_comment_bot(ctx)
    wf["bump"] = wf_bump(ctx)
    wf["monorepo-changes"] = wf_paths(ctx, comps)
    files: dict[str, str] = {}
    for name, doc in wf.items():
        ext = pick(rng, [".yml", ".yml", ".yml", ".yaml"])
        files[f".github/workflows/{ctx.name(name)}{ext}"] = render(ctx, doc)
    actions = {
        "setup-toolchain": act_setup(ctx),
        "notify-slack": act_notify(ctx),
        "kube-deploy": act_kube(ctx),
        "version-bump": act_bump(ctx),
        "changelog": act_docker(ctx),
        "pr-size": act_node(ctx),
    }
    for name, doc in actions.items():
        files[f".github/actions/{ctx.name(name)}/action.yml"] = render(ctx, doc)
    files[f".github/actions/{ctx.name('changelog')}/Dockerfile"] = dockerfile(rng)
    if variant == 0:
        files["action.yml"] = render(
            ctx,
            {
                Comment(
                    "The repository is itself an action: the scan step other repositories call"
                ): None,
                "name": "acme monorepo checks",
                "description": "Runs the monorepo's checks from another repository's workflow.",
                "inputs": {"path": {"description": "Where to run", "default": "."}},
                "runs": {
                    "using": "composite",
                    "steps": [
                        {
                            "uses": ctx.local_action("setup-toolchain"),
                            "with": {"language": "python"},
                        },
                        {"shell": "bash", "run": 'make -C "${{ inputs.path }}" check'},
                    ],
                },
            },
        )
    return files


def generate(scale: int = 1, seed: int = DEFAULT_SEED) -> dict[str, str]:
    files: dict[str, str] = {}
    for variant in range(scale):
        files.update(generate_one(seed, variant))
    return files


def write_corpus(outdir: Path, scale: int = 1, seed: int = DEFAULT_SEED) -> tuple[int, int]:
    """Write the corpus under ``outdir``; return (file count, total bytes)."""
    return write_files(outdir, generate(scale, seed), (".yml", ".yaml", "Dockerfile"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("outdir", type=Path, help="directory to write the corpus into")
    parser.add_argument("--scale", type=int, default=1, help=f"1 to {MAX_SCALE} (default 1)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    args = parser.parse_args(argv)
    if not 1 <= args.scale <= MAX_SCALE:
        parser.error(f"--scale must be between 1 and {MAX_SCALE}")
    count, total = write_corpus(args.outdir, args.scale, args.seed)
    print(f"wrote {count} files, {total / 1024:.1f} KiB to {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
