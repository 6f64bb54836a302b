"""Issue 10, console: colour rules, quiet, the verdict line, plurals, honest timings."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import main

POD = (
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
    "    - name: c\n      image: quay.io/x/y:latest\n"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "r"
    (r / "k8s").mkdir(parents=True)
    (r / "k8s" / "pod.yaml").write_text(POD)
    return r


def run(*args: str, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(main, ["scan", *args], env=env or {})


def test_verdict_line_names_the_fail_level(repo: Path) -> None:
    res = run("--root", str(repo))
    assert res.exit_code == 1  # type: ignore[attr-defined]
    last = res.stdout.rstrip().splitlines()[-1]  # type: ignore[attr-defined]
    assert last.startswith("FAIL: fails on error findings or above")
    res = run("--root", str(repo), "--fail-on", "never")
    assert res.stdout.rstrip().splitlines()[-1].startswith("PASS: findings are reported")  # type: ignore[attr-defined]


def test_quiet_prints_only_the_summary_and_the_verdict(repo: Path) -> None:
    res = run("--root", str(repo), "-q")
    lines = res.stdout.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 2 and "finding" in lines[0] and lines[1].startswith("FAIL")


def test_plurals(repo: Path) -> None:
    res = run("--root", str(repo / "k8s"))
    assert "1 file scanned" in res.stdout  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "env", "coloured"),
    [
        ([], {}, False),  # not a terminal
        ([], {"FORCE_COLOR": "1"}, True),
        ([], {"FORCE_COLOR": "1", "NO_COLOR": "1"}, True),  # forcing wins, as documented
        (["--color"], {"NO_COLOR": "1"}, True),  # the flag wins
        (["--no-color"], {"FORCE_COLOR": "1"}, False),
    ],
)
def test_colour_rules(repo: Path, args: list[str], env: dict[str, str], coloured: bool) -> None:
    res = run("--root", str(repo), *args, env=env)
    assert ("\x1b[" in res.stdout) is coloured  # type: ignore[attr-defined]


def test_never_colour_in_an_output_file(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    run("--root", str(repo), "--color", "-o", str(out), env={"FORCE_COLOR": "1"})
    assert "\x1b[" not in out.read_text() and "FAIL" in out.read_text()


def test_helm_template_notes_are_one_line_per_chart(tmp_path: Path) -> None:
    r = tmp_path / "r"
    tpl = r / "charts" / "web" / "templates"
    tpl.mkdir(parents=True)
    (r / "charts" / "web" / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 1.0.0\n")
    for i in range(30):
        (tpl / f"t{i}.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.a }}-{{ .Values.b }}\n"
        )
    res = run("--root", str(r), "--fail-on", "never")
    notes = [x for x in res.stdout.splitlines() if "not-scanned-template" in x]  # type: ignore[attr-defined]
    assert len(notes) == 1 and notes[0].startswith("charts/web  ") and "30 templates" in notes[0]
    res = run("--root", str(r), "--fail-on", "never", "--format", "json")
    import json

    diags = json.loads(res.stdout)["diagnostics"]  # type: ignore[attr-defined]
    assert sum(d["code"] == "not-scanned-template" for d in diags) == 30


def test_a_charts_values_files_are_not_manifests(tmp_path: Path) -> None:
    """Issue 10: a chart's values.yaml is the templates' input (its `kind: Deployment` is a
    setting), never a template or an object; the same file outside a chart is judged."""
    r = tmp_path / "r"
    chart = r / "charts" / "web"
    chart.mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 1.0.0\n")
    values = (
        "apiVersion: apps/v1\nkind: Deployment\nimage: {repository: nginx, tag: latest}\n"
        "spec:\n  template:\n    spec:\n      containers: [{name: c, image: 'nginx:latest'}]\n"
    )
    for name in ("values.yaml", "values-prod.yaml", "values.dev.yml"):
        (chart / name).write_text(values)
    (r / "k8s").mkdir()
    (r / "k8s" / "values.yaml").write_text(values)
    import json

    res = run("--root", str(r), "--fail-on", "never", "--format", "json")
    data = json.loads(res.stdout)  # type: ignore[attr-defined]
    assert {f["path"] for f in data["findings"] if f["rule_id"].startswith("K8S")} == {
        "k8s/values.yaml"
    }
    assert not any(d["path"].startswith("charts/") for d in data["diagnostics"])


def test_format_github_and_markdown_from_the_plain_cli(repo: Path) -> None:
    res = run("--root", str(repo), "--format", "github", "--fail-on", "never")
    lines = res.stdout.splitlines()  # type: ignore[attr-defined]
    assert lines and all(x.startswith(("::error ", "::warning ", "::notice ")) for x in lines)
    assert lines[0].startswith("::error file=k8s/pod.yaml,line=")  # most severe first
    res = run("--root", str(repo), "--format", "markdown", "--fail-on", "never")
    assert res.stdout.startswith("## tether")  # type: ignore[attr-defined]
    from scanner import action
    from scanner.report import github

    assert action.annotation is github.annotation  # the Action uses the same code


def test_explain_for_a_terminal_several_ids_and_the_values_it_reads() -> None:
    res = CliRunner().invoke(main, ["explain", "K8S003", "gha002"])
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "K8S003 image-tag-pinned" in out and "GHA002" in out
    assert "```" not in out and "### " not in out  # rendered, not raw Markdown
    assert "kubernetes.floating_tags = [" in out and "default.yml:" in out
