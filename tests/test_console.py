"""Issue 10, console: colour rules, quiet, the verdict line (PASS/FAIL and why, from the
gate's own decision; on stderr too when -o writes the report to a file), plurals, honest
timings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.gate import decide, failing
from scanner.model import Category, Diagnostic, Finding, Level, Report, Span, Timings
from scanner.prdiff import Diff
from scanner.report import text

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


def _finding(level: Level = Level.ERROR, path: str = "main.tf", enforced: bool = True) -> Finding:
    return Finding(
        rule_id="TF001",
        category=Category.DRIFT,
        level=level,
        path=path,
        span=Span(1, 1, 1, 2),
        message="m",
        target="t",
        fingerprint=f"fp-{path}-{level.value}",
        fact_kind="tf.required_provider",
        enforced=enforced,
    )


def _diag(level: Level = Level.ERROR, code: str = "parse-error") -> Diagnostic:
    return Diagnostic("x.tf", Span(1, 1, 1, 2), code, "bad", level)


def _report(
    findings: list[Finding] | None = None,
    diagnostics: list[Diagnostic] | None = None,
    fail_on: str = "error",
    diff: Diff | None = None,
) -> Report:
    return Report(
        root=".",
        findings=findings or [],
        diagnostics=diagnostics or [],
        tallies={},
        rules={},
        baseline_files=[],
        timings=Timings(),
        fail_on=fail_on,
        diff=diff,
    )


def _verdict(report: Report, strict: bool = False) -> str:
    return text.verdict_line(decide(report, report.fail_on, strict))


E, W, N = Level.ERROR, Level.WARNING, Level.NOTE


@pytest.mark.parametrize(
    ("findings", "diags", "fail_on", "strict", "line"),
    [
        # fails on findings: how many, at which level, and the fail level
        (
            [E] * 31 + [W],
            [],
            "error",
            False,
            "FAIL: 31 findings at error level (fail level: error)",
        ),
        ([E], [], "error", False, "FAIL: 1 finding at error level (fail level: error)"),
        (
            [E, E, W, N],
            [],
            "warning",
            False,
            "FAIL: 3 findings at warning level or above (2 errors, 1 warning; fail level: warning)",
        ),
        ([W, N], [], "warning", False, "FAIL: 1 finding at warning level (fail level: warning)"),
        # fails on diagnostics: error-level ones always, warning-level ones with --strict
        ([], [E, E], "error", False, "FAIL: 2 error-level diagnostics (parse-error 2)"),
        ([W], [E], "error", True, "FAIL: 1 error-level diagnostic (parse-error)"),
        (
            [],
            [E, W],
            "error",
            True,
            "FAIL: 1 error-level and 1 warning-level diagnostics (parse-error 2; --strict)",
        ),
        (
            [],
            [W],
            "never",
            True,
            "FAIL: 1 warning-level diagnostic (parse-error; --strict; diagnostics fail the run "
            "whatever the fail level)",
        ),
        (
            [E],
            [E],
            "error",
            False,
            "FAIL: 1 finding at error level (fail level: error); "
            "1 error-level diagnostic (parse-error)",
        ),
        # passes: nothing at the fail level, and what was found below it
        (
            [W] * 12 + [N] * 3,
            [],
            "error",
            False,
            "PASS: no findings at error level or above (12 warnings, 3 notes below the fail level)",
        ),
        (
            [N],
            [W],
            "warning",
            False,
            "PASS: no findings at warning level or above (1 note below the fail level)",
        ),
        ([], [], "error", False, "PASS: no findings at error level or above"),
        # fail level never
        (
            [E, E, W],
            [],
            "never",
            False,
            "PASS: fail level never (3 findings reported; findings never fail the run)",
        ),
        (
            [],
            [],
            "never",
            False,
            "PASS: fail level never (no findings reported; findings never fail the run)",
        ),
    ],
)
def test_verdict_line_says_why(
    findings: list[Level], diags: list[Level], fail_on: str, strict: bool, line: str
) -> None:
    report = _report(
        [_finding(lv, f"f{i}.tf") for i, lv in enumerate(findings)],
        [_diag(lv) for lv in diags],
        fail_on,
    )
    assert _verdict(report, strict) == line
    # the same decision as the exit status
    assert line.startswith("FAIL") is failing(report, fail_on, strict)


def test_verdict_line_names_staged_findings_that_do_not_fail_yet() -> None:
    report = _report([_finding(E, enforced=False), _finding(W, "b.tf")])
    assert _verdict(report) == (
        "PASS: no findings at error level or above (1 warning below the fail level; "
        "1 finding of staged rules not yet enforced)"
    )


def test_verdict_line_in_pr_mode_counts_only_new_findings() -> None:
    old = [_finding(E, f"old{i}.tf") for i in range(3)]
    warn = _finding(W, "new.tf")
    diff = Diff(base_ref="main", base_commit="0" * 40, new=[warn], fixed=[], unchanged=old)
    assert _verdict(_report([*old, warn], diff=diff)) == (
        "PASS: no new findings at error level or above (1 new warning below the fail level)"
    )
    err = _finding(E, "new2.tf")
    diff = Diff(base_ref="main", base_commit="0" * 40, new=[err, warn], fixed=[], unchanged=old)
    assert _verdict(_report([*old, err, warn], diff=diff)) == (
        "FAIL: 1 new finding at error level (fail level: error)"
    )
    # an old unreadable file is old debt; one the change made unreadable fails
    diff = Diff(
        base_ref="main",
        base_commit="0" * 40,
        new=[],
        fixed=[],
        unchanged=old,
        new_diagnostics=[_diag()],
        unchanged_diagnostics=[_diag(), _diag()],
    )
    report = _report(old, [_diag(), _diag(), _diag()], diff=diff)
    assert _verdict(report) == "FAIL: 1 new error-level diagnostic (parse-error)"


def test_verdict_line_colours_only_the_word() -> None:
    d = decide(_report([_finding()]), "error", False)
    assert text.verdict_line(d, color=True) == (
        "\x1b[31mFAIL\x1b[0m: 1 finding at error level (fail level: error)"
    )


def test_verdict_line_on_the_console(repo: Path) -> None:
    res = run("--root", str(repo))
    assert res.exit_code == 1  # type: ignore[attr-defined]
    *_, summary, last = res.stdout.rstrip().splitlines()  # type: ignore[attr-defined]
    errors = re.search(r"; error (\d+)", summary)
    assert errors, summary
    n = int(errors[1])
    assert last == f"FAIL: {n} finding{'s' if n > 1 else ''} at error level (fail level: error)"
    res = run("--root", str(repo), "--fail-on", "never")
    assert res.exit_code == 0  # type: ignore[attr-defined]
    last = res.stdout.rstrip().splitlines()[-1]  # type: ignore[attr-defined]
    assert re.fullmatch(
        r"PASS: fail level never \(\d+ findings reported; findings never fail the run\)", last
    )


def test_verdict_line_on_a_pass_with_findings_below_the_fail_level(tmp_path: Path) -> None:
    r = tmp_path / "r"
    (r / ".github" / "workflows").mkdir(parents=True)
    (r / ".github" / "workflows" / "ci.yml").write_text(
        "on: push\npermissions: {}\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v3\n"
    )
    res = run("--root", str(r))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    last = res.stdout.rstrip().splitlines()[-1]  # type: ignore[attr-defined]
    assert re.fullmatch(
        r"PASS: no findings at error level or above \(\d+ warnings? below the fail level\)",
        last,
    )


def test_verdict_line_on_a_strict_failure(tmp_path: Path) -> None:
    """A warning-level diagnostic (a link into an excluded directory) fails only --strict,
    and the line says so."""
    r = tmp_path / "r"
    (r / "vendor" / "x").mkdir(parents=True)
    (r / "vendor" / "x" / "pod.yaml").write_text(POD)
    (r / "deploy").symlink_to("vendor/x")
    (r / ".tether.yaml").write_text("exclude: ['vendor/**']\n")
    res = run("--root", str(r), "--strict")
    assert res.exit_code == 1, res.output  # type: ignore[attr-defined]
    assert res.stdout.rstrip().splitlines()[-1] == (  # type: ignore[attr-defined]
        "FAIL: 1 warning-level diagnostic (link-to-unjudged-directory; --strict)"
    )
    res = run("--root", str(r))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert res.stdout.rstrip().splitlines()[-1].startswith("PASS: ")  # type: ignore[attr-defined]


def test_verdict_line_on_an_unreadable_file(tmp_path: Path) -> None:
    r = tmp_path / "r"
    r.mkdir()
    (r / "main.tf").write_text("resource {{{\n")
    for extra in ([], ["--fail-on", "never"]):
        res = run("--root", str(r), *extra)
        assert res.exit_code == 1, res.output  # type: ignore[attr-defined]
        last = res.stdout.rstrip().splitlines()[-1]  # type: ignore[attr-defined]
        assert last.startswith("FAIL: 1 error-level diagnostic (parse-error"), last


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
    res = run("--root", str(repo), "--color", "-o", str(out), env={"FORCE_COLOR": "1"})
    assert "\x1b[" not in out.read_text() and "FAIL" in out.read_text()
    # the console (standard error, a CI log) says why the step failed, in colour if asked
    assert res.stdout == ""  # type: ignore[attr-defined]
    summary, verdict = res.stderr.splitlines()  # type: ignore[attr-defined]
    assert "finding" in summary and verdict.startswith("\x1b[31mFAIL\x1b[0m: ")


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown", "github"])
@pytest.mark.parametrize("quiet", [[], ["-q"]])
def test_output_file_keeps_the_summary_and_verdict_on_stderr(
    repo: Path, tmp_path: Path, fmt: str, quiet: list[str]
) -> None:
    out = tmp_path / "report.out"
    res = run("--root", str(repo), "--format", fmt, "-o", str(out), *quiet)
    assert res.exit_code == 1  # type: ignore[attr-defined]
    assert res.stdout == ""  # type: ignore[attr-defined]
    summary, verdict = res.stderr.splitlines()  # type: ignore[attr-defined]
    assert re.match(r"\d+ findings \(", summary)
    assert re.fullmatch(r"FAIL: \d+ findings? at error level \(fail level: error\)", verdict)
    body = out.read_text()
    assert "\x1b[" not in body
    if fmt == "text":
        # the file is the console report: the full one, or with -q the same two lines
        assert body.rstrip().splitlines()[-1] == verdict
        assert (body.splitlines() == [summary, verdict]) is bool(quiet)
    # a pass says why too
    res = run("--root", str(repo), "--format", fmt, "-o", str(out), "--fail-on", "never")
    assert res.stderr.splitlines()[-1].startswith("PASS: fail level never (")  # type: ignore[attr-defined]


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

    # a Chart.yaml that is a link (perhaps out of the repository) makes no chart
    (r / "linked").mkdir()
    (r / "linked" / "Chart.yaml").symlink_to(chart / "Chart.yaml")
    (r / "linked" / "values.yaml").write_text(values)
    res = run("--root", str(r), "--fail-on", "never", "--format", "json")
    data = json.loads(res.stdout)  # type: ignore[attr-defined]
    assert {f["path"] for f in data["findings"] if f["rule_id"].startswith("K8S")} == {
        "k8s/values.yaml",
        "linked/values.yaml",
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
