"""Regressions from review: hostile or odd repositories never crash, hang, leak or forge."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner import scan
from scanner.cli import main
from scanner.config import RepoConfig


def test_fifo_is_a_diagnostic_not_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "Dockerfile")
    report = scan(tmp_path, config=RepoConfig())
    assert [(d.path, d.message) for d in report.diagnostics] == [
        ("Dockerfile", "not a regular file; not scanned")
    ]


def test_undecodable_file_name_is_a_diagnostic(tmp_path: Path) -> None:
    name = os.fsencode(tmp_path) + b"/x\xff.Dockerfile"
    with open(name, "wb") as fh:
        fh.write(b"FROM node:22\n")
    report = scan(tmp_path, config=RepoConfig())
    assert [(d.path, d.code) for d in report.diagnostics] == [("x\\xff.Dockerfile", "unreadable")]


def test_credentials_in_module_sources_never_reach_output(make_repo: Any, tmp_path: Path) -> None:
    repo = make_repo(
        {
            "main.tf": (
                'module "b" { source = "https://bob:hunter2@example.com/mod.zip" }\n'
                'module "c" { source = "s3::https://s3.amazonaws.com/b/m.zip'
                '?aws_access_key_id=AKIAQUERY&aws_access_key_secret=SECRETQ" }\n'
                'module "q" { source = "https://example.com/mod.zip?access_token=TOKQUERY" }\n'
            )
        }
    )
    sarif, js, md = tmp_path / "o.sarif", tmp_path / "o.json", tmp_path / "o.md"
    r = CliRunner().invoke(
        main, ["scan", str(repo), "--sarif", str(sarif), "--json", str(js), "--markdown", str(md)]
    )
    everything = r.output + sarif.read_text() + js.read_text() + md.read_text()
    assert "TF003" in r.output
    for secret in ("hunter2", "AKIAQUERY", "SECRETQ", "TOKQUERY"):
        assert secret not in everything


def test_control_characters_cannot_forge_console_lines(make_repo: Any) -> None:
    repo = make_repo(
        {
            ".github/workflows/a.yml": (
                "on: push\npermissions: {contents: read}\njobs:\n  j:\n"
                '    runs-on: "evil\\n::error file=README.md,line=1::forged"\n'
                "    steps:\n"
                '      - uses: "evil/act@v1\\n::warning::forged too"\n'
            )
        }
    )
    out = CliRunner().invoke(main, ["scan", str(repo)]).output
    assert not [line for line in out.splitlines() if line.startswith("::")]
    assert "\\n::error" in out


def test_base_revision_with_links_out_of_the_repository(tmp_path: Path) -> None:
    r = tmp_path / "g"
    r.mkdir()

    def git(*a: str) -> None:
        subprocess.run(["git", "-C", str(r), *a], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (r / "Dockerfile").write_text("FROM evil/img:1\n")
    (r / "abs").symlink_to("/etc/passwd")
    (r / "rel").symlink_to("../../outside")
    git("add", "-A")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm1")
    (r / "Dockerfile").write_text("FROM evil/img:2\n")
    res = CliRunner().invoke(main, ["scan", str(r), "--diff-base", "main", "--format", "json"])
    assert res.exit_code == 0, res.output  # the Dockerfile finding is not new
    assert json.loads(res.output)["diff"]["new"] == []


@pytest.mark.parametrize(
    ("comment", "reason"),
    [
        (
            "# tether:ignore DOCKER001, vendor image mirrored here (until 2027-01-01)",
            "vendor image mirrored here",
        ),
        (
            "# tether:ignore dockerfile vendor image mirrored here (until 2027-01-01)",
            "vendor image mirrored here",
        ),
    ],
)
def test_inline_reason_after_a_trailing_comma(make_repo: Any, comment: str, reason: str) -> None:
    import datetime as dt

    from scanner.scanning import ScanOptions

    repo = make_repo({"Dockerfile": f"{comment}\nFROM evil/x:1\n"})
    report = scan(repo, ScanOptions(today=dt.date(2026, 12, 1)), config=RepoConfig())
    assert [e.record.justification for e in report.excepted] == [reason]
    assert not [f for f in report.findings if f.rule_id.startswith("EXC")]


def test_invalid_exception_dates_are_configuration_errors(make_repo: Any) -> None:
    repo = make_repo(
        {
            ".tether/exceptions.yaml": (
                "- rule: DOCKER001\n  justification: Vendor image mirrored in PLAT-9.\n"
                "  owner: a\n  ticket: T-1\n  expires: 2026-02-30\n"
            ),
            "Dockerfile": "FROM evil/x:1\n",
        }
    )
    r = CliRunner().invoke(main, ["scan", str(repo)])
    assert r.exit_code == 2 and "exceptions.yaml:5" in r.output


def test_kustomize_patch_files_are_not_judged_as_workloads(make_repo: Any) -> None:
    repo = make_repo(
        {
            "overlay/kustomization.yaml": (
                "resources:\n  - ../base\npatches:\n  - path: patch.yaml\n"
                "patchesStrategicMerge:\n  - more.yaml\n"
            ),
            "overlay/patch.yaml": (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
                "  template:\n    spec:\n      containers:\n        - name: web\n"
                "          volumeMounts: [{name: x, mountPath: /x}]\n"
            ),
            "overlay/more.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
        }
    )
    report = scan(repo, config=RepoConfig())
    assert not [f for f in report.findings if f.rule_id.startswith("K8S")]


def test_yaml_merge_keys_let_explicit_keys_win(make_repo: Any) -> None:
    repo = make_repo(
        {
            "pod.yaml": (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: "
                "{app.kubernetes.io/name: d, team: a}}\nspec:\n  containers:\n"
                "    - &c\n      name: c\n      image: ghcr.io/acme/x:1.0.0\n"
                "    - <<: *c\n      name: c2\n      image: busybox:latest\n"
            )
        }
    )
    report = scan(repo, config=RepoConfig())
    k3 = [(f.rule_id, f.target) for f in report.findings if f.rule_id == "K8S003"]
    assert k3 == [("K8S003", "Pod/p/c2")]


def test_empty_or_placeholder_provider_keys(make_repo: Any) -> None:
    repo = make_repo(
        {
            "pod.yaml": (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
                "    - name: c\n      image: ghcr.io/acme/x:1.0.0\n      env:\n"
                '        - {name: OPENAI_API_KEY, value: ""}\n'
                '        - {name: ANTHROPIC_API_KEY, value: "REPLACE_ME"}\n'
            )
        }
    )
    ai2 = [f for f in scan(repo, config=RepoConfig()).findings if f.rule_id == "AI002"]
    assert [f.span.start_line for f in ai2] == [10]
    assert "placeholder" in ai2[0].message and "rotate" not in ai2[0].message
