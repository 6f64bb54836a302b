"""Issue 7, "Nothing unjudged, silently" (items 12 and 13): a pull request must not get a
workload, a workflow or an image past the gate by writing it in a form tether reads as
"none of its business". Each test writes a fixture, scans it through `scan()` and asserts the
safe behaviour: the finding at the right place, or a located diagnostic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from scanner.config import RepoConfig
from scanner.model import Diagnostic, Finding, Level, Report
from scanner.scanning import ScanOptions, scan

from ..conftest import write_tree

TODAY = dt.date(2026, 11, 25)


def _scan(root: Path, files: dict[str, str]) -> Report:
    write_tree(root, files)
    return scan(root, ScanOptions(today=TODAY, preview=True), config=RepoConfig())


def _at(report: Report, rule: str) -> list[tuple[str, int, int]]:
    return [
        (f.path, f.span.start_line, f.span.start_col)
        for f in report.findings
        if f.rule_id == rule
    ]


def _diags(report: Report, code: str) -> list[Diagnostic]:
    return [d for d in report.diagnostics if d.code == code]


def _findings(report: Report, path: str) -> list[Finding]:
    """Findings about the file's content (not the repository-wide REPO rules)."""
    return [f for f in report.findings if f.path == path and not f.rule_id.startswith("REPO")]


_DEPLOY_JSON = """\
{
  "apiVersion": "apps/v1",
  "kind": "Deployment",
  "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web", "team": "shop"}},
  "spec": {
    "template": {
      "spec": {
        "containers": [
          {"name": "app",\t"image": "quay.io/evil/app:1.0"}
        ]
      }
    }
  }
}
"""


def test_kubernetes_manifest_written_as_json_is_judged(tmp_path: Path) -> None:
    """Item 12: a Deployment in `deploy.json` (kubectl applies .json as readily as .yaml) is
    judged by the Kubernetes rules, located exactly; CloudFormation JSON is still recognised;
    package.json, tsconfig.json (with comments) and other JSON stay silent; a broken JSON
    manifest is a located parse error, not a silent skip."""
    report = _scan(
        tmp_path,
        {
            "k8s/deploy.json": _DEPLOY_JSON,
            # a stream of two objects, as kubectl reads it, the second one hostile
            "k8s/stream.json": (
                '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}\n'
                '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},\n'
                ' "spec": {"containers": [{"name": "x", "image": "quay.io/evil/pod:2"}]}}\n'
            ),
            "k8s/broken.json": '{\n  "apiVersion": "v1",\n  "kind": "Pod",\n  "spec": [\n}\n',
            "cfn/stack.json": (
                '{"AWSTemplateFormatVersion": "2010-09-09",\n'
                ' "Resources": {"B": {"Type": "AWS::S3::Bucket"}}}\n'
            ),
            "web/package.json": '{"name": "web", "version": "1.0.0", "kind": "app"}\n',
            "web/tsconfig.json": '{\n  // comments are fine here\n  "compilerOptions": {}\n}\n',
            "data/emoji.json": '{"apiVersion": "x", "msg": "\\ud83d\\ude00"}\n',
        },
    )
    assert ("k8s/deploy.json", 9, 36) in _at(report, "K8S001")
    assert ("k8s/stream.json", 3, 49) in _at(report, "K8S001")
    f = next(f for f in report.findings if f.rule_id == "K8S001" and f.path == "k8s/deploy.json")
    assert (f.span.end_line, f.span.end_col) == (9, 58)
    assert {(f.path, f.rule_id) for f in report.findings if f.rule_id == "TF009"} == {
        ("cfn/stack.json", "TF009")
    }
    (broken,) = [d for d in report.diagnostics if d.path == "k8s/broken.json"]
    assert (broken.code, broken.level, broken.span.start_line) == ("parse-error", Level.ERROR, 5)
    quiet = ("web/package.json", "web/tsconfig.json", "data/emoji.json", "cfn/stack.json")
    assert not [d for d in report.diagnostics if d.path in quiet]
    assert not [f for f in report.findings if f.path.startswith(("web/", "data/"))]


def test_escaped_manifest_keys_are_recognised_after_parsing(tmp_path: Path) -> None:
    """Item 12: `"\\x6bind"` (YAML double-quoted escape) and `"\\u006bind"` (JSON) are `kind`
    once parsed; the textual pre-filter must not skip such a file."""
    report = _scan(
        tmp_path,
        {
            "k8s/a.yaml": (
                'apiVersion: apps/v1\n"\\x6bind": Deployment\nmetadata: {name: a}\n'
                "spec:\n  template:\n    spec:\n      containers:\n"
                "        - {name: app, image: \"quay.io/evil/a:1\"}\n"
            ),
            "k8s/b.json": (
                '{"\\u0061piVersion": "v1", "\\u006bind": "Pod", "metadata": {"name": "b"},\n'
                ' "spec": {"containers": [{"name": "x", "image": "quay.io/evil/b:1"}]}}\n'
            ),
            # an escaped line break joins "ki" and "nd" too
            "k8s/c.yaml": (
                'apiVersion: v1\n? "ki\\\n  nd"\n: Pod\nmetadata: {name: c}\n'
                "spec:\n  containers:\n    - {name: x, image: \"quay.io/evil/c:1\"}\n"
            ),
        },
    )
    got = set(_at(report, "K8S001"))
    assert {("k8s/a.yaml", 8, 30), ("k8s/b.json", 2, 49), ("k8s/c.yaml", 8, 24)} <= got


_HELM_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "chart.fullname" . }}
  labels:
    {{- include "chart.labels" . | nindent 4 }}
spec:
  template:
    spec:
      containers:
        - name: app
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"""


def test_a_template_string_does_not_hide_a_plain_manifest(tmp_path: Path) -> None:
    """Item 12: one `{{ .Values.x }}` string in a manifest that parses as plain YAML no longer
    makes the whole file a "not scanned: template" note: it is judged, and the templated
    values (an image, a labels map, resources, a security setting) are unknown rather than
    failures. A chart template that does not parse as YAML is still a note."""
    report = _scan(
        tmp_path,
        {
            "k8s/plain.yaml": (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
                '  annotations: {note: "{{ .Values.x }}"}\n'
                "  labels: {app.kubernetes.io/name: web, team: shop}\n"
                "spec:\n  template:\n    spec:\n      containers:\n"
                "        - name: app\n          image: quay.io/evil/app:1\n"
            ),
            "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
            "charts/web/templates/deployment.yaml": _HELM_DEPLOYMENT,
            "charts/api/Chart.yaml": "apiVersion: v2\nname: api\nversion: 0.1.0\n",
            # a chart template that happens to be valid YAML
            "charts/api/templates/deployment.yaml": (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                "  name: {{ .Release.Name }}\n"
                "  labels: {{ include \"api.labels\" . }}\n"
                "spec:\n  template:\n    metadata:\n"
                "      labels: {{ include \"api.selectorLabels\" . }}\n"
                "    spec:\n"
                "      securityContext: {{ toYaml .Values.podSecurityContext }}\n"
                "      containers:\n"
                "        - name: api\n"
                '          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n'
                "          resources: {{ toYaml .Values.resources }}\n"
                "          livenessProbe: {httpGet: {path: /healthz, port: http}}\n"
                "          readinessProbe: {httpGet: {path: /ready, port: http}}\n"
                "          securityContext:\n"
                "            allowPrivilegeEscalation: {{ .Values.ape }}\n"
                "            seLinuxOptions: {level: \"{{ .Values.level }}\"}\n"
            ),
        },
    )
    assert ("k8s/plain.yaml", 12, 18) in _at(report, "K8S001")
    notes = _diags(report, "not-scanned-template")
    assert [d.path for d in notes] == ["charts/web/templates/deployment.yaml"]
    assert not [d for d in report.diagnostics if d.path == "k8s/plain.yaml"]
    api = "charts/api/templates/deployment.yaml"
    assert not [d for d in report.diagnostics if d.path == api]
    assert not _findings(report, api), [(f.rule_id, f.message) for f in _findings(report, api)]


def test_template_syntax_outside_a_chart_is_a_parse_error(tmp_path: Path) -> None:
    """Attack review: a manifest that kubectl reads but ruamel does not, with a `{{` in a
    comment, became a template *note*, which --strict lets through. Outside a Helm chart's
    templates/ directory it is an invalid-YAML error."""
    report = _scan(
        tmp_path,
        {
            "k8s/miner.yaml": (
                "# rendered from {{ .Values.x }}\napiVersion: v1\nkind: Pod\nmetadata: [\n"
            ),
        },
    )
    assert [(d.path, d.code, d.level.value) for d in report.diagnostics] == [
        ("k8s/miner.yaml", "parse-error", "error")
    ]


def test_a_known_bad_value_beside_a_template_still_fails(tmp_path: Path) -> None:
    """Item 12: a template beside a known value hides nothing: `privileged: true` next to a
    templated `seLinuxOptions` still fails, as does a missing required label next to a
    templated label value."""
    report = _scan(
        tmp_path,
        {
            "k8s/sc.yaml": (
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
                "  labels: {app.kubernetes.io/name: p, team: \"{{ .Values.team }}\"}\n"
                "spec:\n  containers:\n    - name: x\n      image: ghcr.io/acme/x:1\n"
                "      securityContext:\n        privileged: true\n"
                "        seLinuxOptions: {level: \"{{ .Values.level }}\"}\n"
            ),
        },
    )
    assert ("k8s/sc.yaml", 10, 7) in _at(report, "K8S007")
    assert _at(report, "K8S002") == []  # the templated label is present


def test_duplicate_keys_are_errors_and_the_last_value_is_judged(tmp_path: Path) -> None:
    """Item 12: a duplicate key in a manifest, a workflow or an action is a located error at
    its second occurrence, reported once (aliases do not repeat it), and the facts take the
    last value, as Helm and kubectl do: the image hidden behind an approved one fails."""
    report = _scan(
        tmp_path,
        {
            "k8s/dup.yaml": (
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
                "spec:\n  containers:\n    - &c\n      name: x\n"
                "      image: ghcr.io/acme/x:1\n      image: quay.io/evil/x:1\n"
                "  initContainers: [*c]\n"
            ),
            "k8s/dup.json": (
                '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q"},\n'
                ' "spec": {"containers": [{"name": "x", "image": "ghcr.io/acme/x:1",\n'
                '                          "image": "quay.io/evil/y:1"}]}}\n'
            ),
            ".github/workflows/ci.yml": (
                "on: push\npermissions: {contents: read}\njobs:\n  build:\n"
                "    runs-on: ubuntu-latest\n    steps:\n"
                "      - uses: actions/checkout@v4\n        uses: evil/steal-secrets@main\n"
            ),
            "action.yml": (
                "name: a\nruns:\n  using: composite\n  steps:\n"
                "    - uses: actions/checkout@v4\n      uses: evil/steal@main\n"
                "      shell: bash\n"
            ),
        },
    )
    assert ("k8s/dup.yaml", 10, 14) in _at(report, "K8S001")
    assert ("k8s/dup.json", 3, 36) in _at(report, "K8S001")
    assert ("k8s/dup.yaml", 9, 14) not in _at(report, "K8S001")
    assert (".github/workflows/ci.yml", 8, 15) in _at(report, "GHA001")
    assert ("action.yml", 6, 13) in _at(report, "GHA001")
    dups = sorted(
        (d.path, d.span.start_line, d.span.start_col) for d in _diags(report, "duplicate-key")
    )
    assert dups == [
        (".github/workflows/ci.yml", 8, 9),
        ("action.yml", 6, 7),
        ("k8s/dup.json", 3, 27),
        ("k8s/dup.yaml", 10, 7),
    ]
    assert all(d.level == Level.ERROR for d in _diags(report, "duplicate-key"))


def test_many_duplicate_keys_are_summarised(tmp_path: Path) -> None:
    """Item 12: a file full of duplicate keys is reported without flooding the reports: the
    first 20 one by one, then one diagnostic counting the rest."""
    data = "".join(f"  k{i % 5}: v{i}\n" for i in range(105))
    report = _scan(
        tmp_path,
        {"k8s/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n" + data},
    )
    dups = _diags(report, "duplicate-key")
    assert len(dups) == 21
    assert [d.span.start_line for d in dups[:2]] == [10, 11]
    assert dups[-1].span.start_line == 30 and dups[-1].message.startswith("80 more duplicate keys")


def test_images_that_run_like_base_images_are_judged(tmp_path: Path) -> None:
    """Item 13: an image that runs as much foreign code as a base image is judged against
    the approved registries: Dockerfile `COPY --from=IMAGE` and `RUN --mount=...,from=IMAGE`
    (not stage names or indexes), and in workflows `uses: docker://IMAGE`, a job's
    `container:` (string or map) and its `services:`. `${{ }}` references are not
    applicable."""
    report = _scan(
        tmp_path,
        {
            "Dockerfile": (
                "FROM golang:1.25 AS build\n"
                "COPY --from=quay.io/evil/tools:1 /bin/tool /bin/tool\n"
                "RUN --mount=type=bind,from=quay.io/evil/src:2,target=/src make\n"
                "FROM gcr.io/distroless/static-debian12\n"
                "COPY --from=build /out /app\n"
                "COPY --from=0 /out /app2\n"
                "COPY --from=later /x /x\n"
                "RUN --mount=type=cache,target=/root/.cache,from=build true\n"
                "FROM ghcr.io/acme/base:1 AS later\n"
            ),
            ".github/workflows/ci.yml": (
                "on: push\npermissions: {contents: read}\njobs:\n"
                "  build:\n    runs-on: ubuntu-latest\n"
                "    container: quay.io/evil/builder:1\n"
                "    services:\n      db:\n        image: quay.io/evil/postgres:16\n"
                "      cache:\n        image: ${{ matrix.cache }}\n"
                "    steps:\n      - uses: docker://quay.io/evil/step:1\n"
                "  test:\n    runs-on: ubuntu-latest\n"
                "    container:\n      image: quay.io/evil/test:1\n"
                "    steps:\n      - run: true\n"
            ),
        },
    )
    assert set(_at(report, "DOCKER001")) == {("Dockerfile", 2, 13), ("Dockerfile", 3, 28)}
    assert set(_at(report, "GHA009")) == {
        (".github/workflows/ci.yml", 6, 16),
        (".github/workflows/ci.yml", 9, 16),
        (".github/workflows/ci.yml", 13, 15),
        (".github/workflows/ci.yml", 17, 14),
    }
