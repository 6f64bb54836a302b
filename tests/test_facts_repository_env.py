"""Facts of the repository and ai-gateway packs: the repository summary (which files exist,
where ownership is declared), template markers in workflows, and environment variables of
Kubernetes containers, workflows and Dockerfiles. Secrets never reach a fact or a report."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner import ScanOptions, scan
from scanner.cli import main
from scanner.config import RepoConfig
from scanner.facts import env, repository
from scanner.facts.kinds import KINDS
from scanner.model import Fact, Span, Timings
from scanner.parsers import dockerfile as docker_parser
from scanner.parsers.yaml import compose_all
from scanner.scanning import collect, repository_summary

from .conftest import EXAMPLES

MakeRepo = Callable[[Mapping[str, str]], Path]


def _facts(root: Path, kind_prefix: str = "") -> list[Fact]:
    seen: list[str] = []
    facts, _ = collect(root, [], Timings(), seen=seen)
    summary = repository_summary(root, seen)
    out = facts + ([summary] if summary else [])
    return [f for f in out if f.kind.startswith(kind_prefix)]


def _summary(root: Path) -> Fact:
    (f,) = _facts(root, "repo.summary")
    return f


# ---------------------------------------------------------------------------
# repo.summary


def test_summary_sees_unread_files_and_excludes(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            "README.md": "# svc\n",
            "SECURITY.md": "x\n",
            "src/app.py": "print(1)\n",
            "vendor/x/SECURITY.md": "x\n",
            "node_modules/p/README.md": "x\n",
            "node_modules/.package-lock.json": "{}\n",
        }
    )
    seen: list[str] = []
    collect(root, ["vendor/**"], Timings(), seen=seen)
    assert sorted(seen) == ["README.md", "SECURITY.md", "src/app.py"]
    f = _summary(root)
    assert f.path == "README.md" and f.span == Span(1, 1, 1, 6) and f.target == "repository"
    assert "src/app.py" in f.data["files"] and "node_modules/p/README.md" not in f.data["files"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlinks_count_only_inside_the_repository(make_repo: MakeRepo, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "SECURITY.md").write_text("elsewhere\n")
    root = make_repo({"README.md": "# svc\n", "docs/SECURITY.md": "x\n", "docs/d/x.md": "x\n"})
    (root / "SECURITY.md").symlink_to(root / "docs" / "SECURITY.md")  # inside: present
    (root / "CODEOWNERS").symlink_to(outside / "SECURITY.md")  # out of the repo: absent
    (root / "dangling.md").symlink_to(root / "nope.md")  # dangling: absent
    (root / "linked-dir").symlink_to(outside)  # directories are never followed
    files = _summary(root).data["files"]
    assert files == ["README.md", "SECURITY.md", "docs/SECURITY.md", "docs/d/x.md"]
    assert _summary(root).data["has_codeowners"] is False


def test_codeowners_where_github_reads_it(make_repo: MakeRepo) -> None:
    root = make_repo(
        {
            "CODEOWNERS": "* @acme/a\n",
            "docs/CODEOWNERS": "* @acme/b\n",
            ".github/CODEOWNERS": "# none yet\n*.md\n",
            "main.tf": "",
        }
    )
    d = _summary(root).data
    assert (d["has_codeowners"], d["codeowners_path"], d["codeowners_rules"]) == (
        True,
        ".github/CODEOWNERS",
        0,
    )
    assert _summary(root).path == "CODEOWNERS"  # no README: the first root file


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ("", 0),
        ("# comment\n\n", 0),
        ("* @acme/team\n", 1),
        ("*.js @a @b # trailing comment\n/docs/ docs@acme.example\n", 2),
        ("/build/  # no owner: unassigned\n", 0),
        ("*.md\n", 0),
        ("\t/infra/\t@acme/platform\r\n", 1),
    ],
)
def test_codeowners_rules(text: str, rules: int) -> None:
    assert repository.codeowners_rules(text) == rules


def test_catalog_owner() -> None:
    assert repository.catalog_owner("kind: Component\nspec: {owner: team-a}\n") == "team-a"
    assert repository.catalog_owner("spec: {type: service}\n---\nspec: {owner: ' b '}\n") == "b"
    # null (or a number) names no owner; a quoted "null" is a name
    assert repository.catalog_owner("spec: {owner: null}\n") is None
    assert repository.catalog_owner("spec: {owner: 'null'}\n") == "null"
    assert repository.catalog_owner("spec: [unclosed\n") is None
    assert repository.catalog_owner("- a\n- b\n") is None


def test_anchor() -> None:
    assert repository.anchor(["a.txt", "README", "README.md", "x/README.md"]) == "README.md"
    assert repository.anchor(["b.tf", "a.tf"]) == "a.tf"
    # issue 10: without a README, the repository's own tether config, not whichever file
    # sorts first (REPO001 showed up at Dockerfile:1)
    assert repository.anchor(["Dockerfile", ".tether.yaml", "a.tf"]) == ".tether.yaml"
    assert repository.anchor(["x/y.tf", "w/z.tf"]) == "w/z.tf"
    assert repository.anchor([]) is None


def test_an_empty_directory_has_no_summary(tmp_path: Path) -> None:
    assert repository_summary(tmp_path, []) is None
    report = scan(tmp_path, ScanOptions(), config=RepoConfig())
    assert report.findings == [] and report.diagnostics == []


# ---------------------------------------------------------------------------
# repo.template


def _template(text: str) -> list[Fact]:
    return repository.template_facts(".github/workflows/ci.yml", compose_all(text)[0], text)


def test_template_marker_and_step_actions() -> None:
    text = (
        "name: ci\r\n"
        "#  tether-template:  acme/ci-templates/node-ci@v3.1  \r\n"
        "on: push\r\n"
        "jobs:\r\n"
        "  a:\r\n"
        "    steps:\r\n"
        "      - uses: actions/checkout@v4\r\n"
        "      - uses: acme/scan/sarif@8f4b7f84864484a7bf31766abe9204da3cbe65b3 # v2\r\n"
        "      - uses: ./local\r\n"
        "      - uses: docker://alpine:3\r\n"
        "      - run: make\r\n"
        "  b:\r\n"
        "    uses: acme/wf/.github/workflows/x.yml@v1\r\n"
    )
    (f,) = _template(text)
    assert f.data == {
        "template": "acme/ci-templates/node-ci",
        "version": "v3.1",
        "marker": "acme/ci-templates/node-ci@v3.1",
        "workflow": ".github/workflows/ci.yml",
        "actions": ["./local", "acme/scan/sarif", "actions/checkout", "docker://alpine:3"],
    }
    assert f.span == Span(2, 1, 2, 52) and f.spans["template"] == f.span


def test_template_marker_variants() -> None:
    assert _template("on: push\n") == []
    assert _template("# tether-template acme/x\non: push\n") == []  # no colon: not a marker
    (f,) = _template("on: push\n# tether-template: acme/t/x\n")
    assert (f.data["template"], f.data["version"]) == ("acme/t/x", None)
    (g,) = _template("# tether-template: acme/t/x@v1\n# tether-template: acme/t/y@v2\non: [push]\n")
    assert g.data["template"] == "acme/t/x"  # the first marker counts


# ---------------------------------------------------------------------------
# env.var and env.workload


def _by_name(facts: list[Fact]) -> dict[str, dict[str, Any]]:
    return {f.data["name"]: dict(f.data) for f in facts if f.kind == "env.var"}


def test_kubernetes_env_kinds_and_owner() -> None:
    text = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {team: a}
  annotations: {acme.dev/ai: "yes"}
spec:
  template:
    metadata:
      labels: {cost-center: cc-1}
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/web:1.0.0
          env:
            - name: PLAIN
              value: https://api.openai.com/v1
            - name: NUMBER
              value: 8080
            - name: EMPTY
            - name: DEPENDENT
              value: http://$(HOST):80
            - name: FROM_SECRET
              valueFrom: {secretKeyRef: {name: s, key: k}}
            - name: FROM_CONFIG
              valueFrom: {configMapKeyRef: {name: c, key: k}}
            - name: POD_IP
              valueFrom: {fieldRef: {fieldPath: status.podIP}}
            - name: DB_PASSWORD
              value: hunter2
            - name: DATABASE_URL
              value: postgres://app:pw@db.shop.svc:5432/app
"""
    facts = env.extract_k8s("k8s/web.yaml", compose_all(text)[0], 0)
    v = _by_name(facts)
    assert v["PLAIN"]["value"] == "https://api.openai.com/v1"
    assert v["PLAIN"]["host"] == "api.openai.com"
    assert (v["PLAIN"]["owner"], v["PLAIN"]["owner_kind"]) == (
        "Deployment/shop/web/app",
        "container",
    )
    assert v["PLAIN"]["labels"] == {"team": "a", "cost-center": "cc-1"}
    assert v["NUMBER"]["value"] == "8080"
    assert (v["EMPTY"]["value"], v["EMPTY"]["value_kind"]) == (None, "empty")
    assert [v[n]["value_kind"] for n in ("DEPENDENT", "FROM_SECRET", "FROM_CONFIG", "POD_IP")] == [
        "expression",
        "secret-ref",
        "config-ref",
        "expression",
    ]
    assert (v["FROM_SECRET"]["secret_name"], v["FROM_SECRET"]["secret_key"]) == ("s", "k")
    pw = v["DB_PASSWORD"]
    assert (pw["value"], pw["host"], pw["withheld"], pw["value_kind"]) == (
        None,
        None,
        True,
        "literal",
    )
    url = v["DATABASE_URL"]
    assert (url["value"], url["host"], url["withheld"]) == (None, "db.shop.svc", True)
    (workload,) = [f for f in facts if f.kind == "env.workload"]
    assert workload.data["annotations"] == {"acme.dev/ai": "yes"}
    assert workload.data["env_hosts"] == ["api.openai.com", "db.shop.svc"]
    assert "DB_PASSWORD" in workload.data["env_names"]
    plain = next(f for f in facts if f.data.get("name") == "PLAIN")
    assert plain.spans["name"] == Span(17, 21, 17, 26)
    assert plain.spans["value"] == Span(18, 22, 18, 47)


def test_workflow_env_at_every_level() -> None:
    text = """\
on: push
env:
  A: ${{ secrets.A_SECRET }}
jobs:
  build:
    env:
      B: ${{ vars.B }}
    container:
      image: node:22
      env: {C: literal}
    services:
      db:
        image: postgres:16
        env: {D: "${{ secrets['D_SECRET'] }}"}
    steps:
      - id: test
        env:
          E: Bearer ${{ secrets.E_SECRET }}
      - env: ${{ fromJSON(inputs.env) }}
"""
    v = _by_name(env.extract_gha(".github/workflows/ci.yml", compose_all(text)[0]))
    got = {
        n: (d["owner"], d["owner_kind"], d["value_kind"], d["secret_name"]) for n, d in v.items()
    }
    assert got == {
        "A": ("workflow", "workflow", "secret-ref", "A_SECRET"),
        "B": ("jobs.build", "job", "config-ref", None),
        "C": ("jobs.build.container", "container", "literal", None),
        "D": ("jobs.build.services.db", "service", "secret-ref", "D_SECRET"),
        "E": ("build/test", "step", "expression", "E_SECRET"),
    }


def test_dockerfile_env_forms() -> None:
    text = (
        "ENV GLOBAL=1\n"
        "FROM python:3.12 AS build\n"
        "ENV A=1 B=\"two words\" C='x y z' \\\n"
        "    D=$HOME/bin\n"
        "FROM build\n"
        "ENV LEGACY some value here\n"
        "ENV OPENAI_API_KEY=sk-live-0123456789\n"
    )
    facts = env.extract_dockerfile(docker_parser.parse("Dockerfile", text))
    got = {f.data["name"]: (f.data["owner"], f.data["value"], f.data["value_kind"]) for f in facts}
    assert got == {
        "GLOBAL": ("global", "1", "literal"),
        "A": ("stage[build]", "1", "literal"),
        "B": ("stage[build]", "two words", "literal"),
        "C": ("stage[build]", "x y z", "literal"),
        "D": ("stage[build]", None, "expression"),
        "LEGACY": ("stage[1]", "some value here", "literal"),
        "OPENAI_API_KEY": ("stage[1]", None, "literal"),
    }
    b = next(f for f in facts if f.data["name"] == "B")
    assert b.spans["name"] == Span(3, 9, 3, 10) and b.spans["value"] == Span(3, 11, 3, 22)


@pytest.mark.parametrize(
    ("value", "secret"),
    [
        ("sk-proj-abc", True),
        ("AIzaSyA-not-real", True),
        ("ghp_0123", True),
        ("Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==", True),  # long and random
        ("https://u:p@host/x", True),
        ("https://host/x?api-key=abc", True),
        ("https://api.openai.com/v1", False),
        ("info", False),
        ("ghcr.io/acme/app:1.2.3", False),
        ("true", False),
    ],
)
def test_secret_like_values(value: str, secret: bool) -> None:
    assert env.secret_like_value(value) is secret


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("https://API.OpenAI.com/v1", "api.openai.com"),
        ("http://vllm:8000/v1", "vllm"),
        ("bedrock-runtime.us-east-1.amazonaws.com", "bedrock-runtime.us-east-1.amazonaws.com"),
        ("gateway.internal:8443/openai", "gateway.internal"),
        ("10.0.0.7:80", "10.0.0.7"),
        ("vllm", None),  # a bare word is not a host
        ("1.2.3", None),
        ("two words", None),
        ("", None),
    ],
)
def test_host_of(value: str, host: str | None) -> None:
    assert env.host_of(value) == host


def test_secrets_never_reach_facts_or_reports(make_repo: MakeRepo, tmp_path: Path) -> None:
    keys = {
        "openai": "sk-proj-SECRETVALUE0001",
        "plain": "not-a-key-format-SECRETVALUE0002",
        "url": "SECRETVALUE0003",
    }
    root = make_repo(
        {
            "Dockerfile": f"FROM python:3.12\nENV OPENAI_API_KEY={keys['openai']}\n",
            ".github/workflows/ci.yml": (
                "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    env:\n"
                f"      ANTHROPIC_API_KEY: {keys['plain']}\n"
                f"      LLM_URL: https://bot:{keys['url']}@api.anthropic.com/v1\n"
                "    steps:\n      - run: make\n"
            ),
        }
    )
    facts = _facts(root)
    dumped = json.dumps([dict(f.data) for f in facts])
    sarif, js = tmp_path / "r.sarif", tmp_path / "r.json"
    r = CliRunner().invoke(main, ["scan", str(root), "--sarif", str(sarif), "--json", str(js)])
    assert "AI002" in r.output and "AI001" in r.output
    for secret in keys.values():
        assert secret not in dumped
        assert secret not in r.output
        assert secret not in sarif.read_text() and secret not in js.read_text()


def test_example_facts_match_the_kind_registry() -> None:
    for example in sorted(EXAMPLES.iterdir()):
        for f in _facts(example):
            if f.kind.startswith(("repo.summary", "repo.template", "env.")):
                assert set(f.data) <= set(KINDS[f.kind]), (f.kind, set(f.data) - set(KINDS[f.kind]))
    kinds = {f.kind for f in _facts(EXAMPLES / "acme-payments")}
    assert {"repo.summary", "repo.template", "env.var", "env.workload"} <= kinds
