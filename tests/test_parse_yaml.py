"""YAML reading: node spans, multi-document streams, List kinds, kustomizations, templates
(Helm vs GitHub `${{ }}` vs `{{ }}` that is data), invalid YAML, anchors and merge keys, and
the limits that keep hostile YAML from hanging or crashing a scan."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scanner.model import Diagnostic, Fact, Level, Span
from scanner.parsers.yaml import (
    YamlError,
    ambiguous_merges,
    compose_all,
    compose_each,
    compose_json,
    duplicate_keys,
    looks_like_go_template,
)
from scanner.scanning import facts_for
from scanner.source import SourceFile, classify


def scan_text(path: str, text: str) -> tuple[list[Fact], list[Diagnostic]]:
    kind = classify(path)
    assert kind is not None
    diags: list[Diagnostic] = []
    facts = facts_for(SourceFile(path, "/nonexistent/" + path, kind), text, diags)
    return facts, diags


def dd(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# ---------------------------------------------------------------- nodes and spans


def test_node_spans_are_exact() -> None:
    (doc,) = compose_all("metadata:\n  name: web\n  labels: {app: web}\n")
    assert doc is not None
    meta = doc.get("metadata")
    assert meta is not None
    k, v = meta.get_pair("name") or (None, None)
    assert k is not None and v is not None
    assert (k.span, v.span) == (Span(2, 3, 2, 7), Span(2, 9, 2, 12))
    labels = meta.get("labels")
    assert labels is not None and labels.span == Span(3, 11, 3, 21)
    assert labels.to_python() == {"app": "web"}


def test_utf16_columns() -> None:
    (doc,) = compose_all('a: "é😀"\nb: x\nc: 😀x # ü\n')
    assert doc is not None
    assert doc.get("a").span == Span(1, 4, 1, 9)  # type: ignore[union-attr]
    assert doc.get("c").span == Span(3, 4, 3, 7)  # type: ignore[union-attr]


def test_scalar_types_follow_yaml_1_2() -> None:
    (doc,) = compose_all("a: 1\nb: 1.5\nc: true\nd: null\ne: yes\nf: '1'\ng: 0x1F\nh: on\n")
    assert doc is not None
    assert doc.to_python() == {
        "a": 1,
        "b": 1.5,
        "c": True,
        "d": None,
        "e": "yes",
        "f": "1",
        "g": 31,
        "h": "on",
    }


def test_anchors_and_merge_keys() -> None:
    (doc,) = compose_all(
        dd(
            """
            base: &base
              image: nginx:1.25
              labels: {team: web}
            c1:
              <<: *base
              name: one
            c2:
              <<: [*base]
              image: nginx:1.26
            """
        )
    )
    assert doc is not None
    c1 = doc.get("c1")
    c2 = doc.get("c2")
    assert c1 is not None and c2 is not None
    assert c1.to_python() == {"image": "nginx:1.25", "labels": {"team": "web"}, "name": "one"}
    assert c2.to_python()["image"] == "nginx:1.26"  # explicit keys win over merged ones
    # merged keys are found where they are written (in the anchored map)
    assert c1.get_pair("image")[1].span == Span(2, 10, 2, 20)  # type: ignore[index]
    # in document order, as kubectl (go-yaml v2) applies them: the merged keys where `<<` is
    assert [k.raw.value for k, _ in c1.items()] == ["image", "labels", "name"]


def test_merge_keys_apply_in_document_order_as_kubectl_reads_them() -> None:
    """go-yaml v2 (sigs.k8s.io/yaml, kubectl) applies a merge where it is written: over the
    keys before it, under those after; the later of two merges wins; of a sequence of
    merged maps the earlier wins. A quoted "<<" is an ordinary key."""
    (doc,) = compose_all(
        "a: {image: good, <<: {image: evil}}\n"
        "b: {<<: {x: 1}, <<: {x: 2}}\n"
        "c: {<<: [{x: 1}, {x: 2}], y: 3}\n"
        'd: {image: good, "<<": {image: evil}}\n'
    )
    assert doc is not None
    assert doc.to_python() == {
        "a": {"image": "evil"},
        "b": {"x": 2},
        "c": {"x": 1, "y": 3},
        "d": {"image": "good", "<<": {"image": "evil"}},
    }
    assert doc.path("a", "image").value == "evil"  # type: ignore[union-attr]
    assert doc.path("b", "x").value == 2  # type: ignore[union-attr]
    assert [n.line for n in ambiguous_merges(doc)] == [1, 2, 2]


def test_application_tags_are_inert() -> None:
    (doc,) = compose_all("a: !!python/object/apply:os.system ['echo pwned']\nb: !Ref X\n")
    assert doc is not None
    assert doc.to_python() == {"a": ["echo pwned"], "b": "X"}


def test_invalid_yaml_error_is_located() -> None:
    with pytest.raises(YamlError) as e:
        compose_all("a: 1\nb: [1, 2\nc: 3\n")
    assert e.value.span.start_line == 3


def test_compose_json_keeps_columns_with_tabs() -> None:
    node = compose_json("x.json", '{\n\t"a": {"b": 1}\n}')
    assert node is not None
    assert node.get("a").span == Span(2, 7, 2, 15)  # type: ignore[union-attr]


# ---------------------------------------------------------------- manifests in a scan


DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx:1.25
"""


def test_multi_document_stream() -> None:
    text = (
        "---\n"
        + DEPLOY
        + "---\n# just a comment\n---\napiVersion: v1\nkind: Service\n"
        + ("metadata:\n  name: web\n...\n")
    )
    facts, diags = scan_text("k8s/app.yaml", text)
    assert diags == []
    objs = [f for f in facts if f.kind == "k8s.object"]
    assert [f.target for f in objs] == ["Deployment/shop/web", "Service/web"]
    assert objs[1].span == Span(17, 7, 17, 14)  # `Service`, after an empty document


def test_a_stream_of_many_documents_is_observed_one_document_at_a_time() -> None:
    """A file of many documents never holds them all: each is composed, observed and let go
    before the next (46,000 documents at the size cap took 530 MB when composed at once)."""
    import tracemalloc

    doc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s{n}\n  labels: {{team: a}}\n"
    text = "".join("---\n" + doc.format(n=n) for n in range(4000))
    tracemalloc.start()
    try:
        facts, diags = scan_text("k8s/all.yaml", text)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(facts) == 4000 and diags == []
    # what is kept at the end (the facts) against the most ever held: with every document
    # composed at once, the peak was 5.5 times what is kept
    assert peak < 2 * kept, (peak, kept)


def test_a_broken_document_in_a_stream_costs_that_document_only() -> None:
    """Documents are observed as they are composed; one that does not compose makes the file
    observed again part by part, each fact once."""
    svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s{n}\n"
    text = "---\n".join([svc.format(n=1), svc.format(n=2), "kind: [broken\n", svc.format(n=4)])
    facts, diags = scan_text("k8s/all.yaml", text)
    assert [f.target for f in facts if f.kind == "k8s.object"] == [
        "Service/s1",
        "Service/s2",
        "Service/s4",
    ]
    assert [(d.code, d.span.start_line) for d in diags] == [("parse-error", 11)]


def test_list_kind_items_are_objects() -> None:
    text = dd(
        """
        apiVersion: v1
        kind: List
        items:
          - apiVersion: v1
            kind: ConfigMap
            metadata: {name: a}
          - apiVersion: apps/v1
            kind: DeploymentList
            items:
              - apiVersion: apps/v1
                kind: Deployment
                metadata: {name: nested}
          - not-a-manifest
        """
    )
    facts, diags = scan_text("list.yaml", text)
    assert diags == []
    assert [f.target for f in facts if f.kind == "k8s.object"] == [
        "ConfigMap/a",
        "Deployment/nested",
    ]


def test_kustomization() -> None:
    text = dd(
        """
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources:
          - deployment.yaml
          - ../base
        images:
          - name: nginx
            newTag: "1.25"
        """
    )
    facts, diags = scan_text("overlays/prod/kustomization.yaml", text)
    assert diags == []
    (k,) = [f for f in facts if f.kind == "k8s.kustomization"]
    assert k.data["resources"] == ["deployment.yaml", "../base"]
    assert k.data["images"] == [{"name": "nginx", "newTag": "1.25"}]
    assert k.span == Span(2, 7, 2, 20)


# ---------------------------------------------------------------- templates


HELM = """\
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
        - image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"""


def test_helm_template_is_a_note_not_a_parse_error() -> None:
    facts, diags = scan_text("charts/web/templates/deployment.yaml", HELM)
    assert facts == []
    (d,) = diags
    assert (d.code, d.level) == ("not-scanned-template", Level.NOTE)
    assert d.span == Span(1, 1, 1, 20)  # the first line


def test_a_template_that_is_valid_yaml_is_judged_as_written() -> None:
    # every action quoted, or read by YAML as a nested flow mapping: the file parses, so it is
    # judged as written (kubectl would apply it so); the actions are values not known
    text = dd(
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: "{{ .Release.Name }}-config"
        data:
          a: "1"
        """
    )
    facts, diags = scan_text("templates/cm.yaml", text)
    assert diags == []
    assert [f.target for f in facts if f.kind == "k8s.object"] == [
        "ConfigMap/{{ .Release.Name }}-config"
    ]
    assert not looks_like_go_template(text)
    pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ x }}\n  labels: {{ y }}\n"
    facts2, diags2 = scan_text("t.yaml", pod)
    assert diags2 == []
    (w,) = [f for f in facts2 if f.kind == "k8s.workload"]
    assert w.data["templated_fields"] == ["all_labels", "labels", "pod_labels"]  # a Pod


def test_template_nodes() -> None:
    text = dd(
        """
        a: "{{ .Values.a }}"
        b: {{ .Values.b }}
        c: |
          {{ .Values.c }}
        d: {x: 1}
        e: ${{ github.sha }}
        f: app-{{ .Chart.Name }}
        """
    )
    (doc,) = compose_all(text)
    assert doc is not None
    got = {str(k.raw.value): v.is_template for k, v in doc.items()}
    assert got == {"a": True, "b": True, "c": False, "d": False, "e": False, "f": True}
    b = doc.get("b")
    assert b is not None and b.source() == "{{ .Values.b }}"


@pytest.mark.parametrize(
    "snippet",
    [
        # ArgoCD ApplicationSet parameters, quoted and plain
        "  template:\n    metadata:\n      name: '{{.cluster}}-app'\n"
        "    spec:\n      path: apps/{{.path.basename}}\n",
        # Prometheus / Alertmanager templates in a block scalar of a ConfigMap
        "data:\n  alerts.yml: |\n    {{ range .Alerts }}\n    summary: {{ $labels.instance }}\n"
        "    {{ end }}\n",
        # a config file template for another tool, in a literal block
        "data:\n  config.yaml: |\n    project: {{PROJECT_ID}}\n",
    ],
)
def test_braces_that_are_data_do_not_make_a_template(snippet: str) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n" + snippet
    assert not looks_like_go_template(text)
    facts, diags = scan_text("cm.yaml", text)
    assert diags == []
    assert [f.target for f in facts if f.kind == "k8s.object"] == ["ConfigMap/x"]


def test_github_expressions_are_not_templates() -> None:
    wf = dd(
        """
        on: push
        jobs:
          build:
            runs-on: ${{ matrix.os }}
            steps:
              - uses: actions/checkout@v4
                with:
                  ref: ${{ github.head_ref }}
              - run: echo "${{ format('{{0}}', github.sha) }}"
        """
    )
    assert not looks_like_go_template(wf)
    facts, diags = scan_text(".github/workflows/ci.yml", wf)
    assert diags == []
    assert any(f.kind == "gha.step_uses" for f in facts)


# ---------------------------------------------------------------- invalid and other YAML


def test_invalid_manifest_is_a_located_parse_error() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n"
    facts, diags = scan_text("cm.yaml", text)
    assert facts == []
    (d,) = diags
    assert (d.code, d.level, d.path) == ("parse-error", Level.ERROR, "cm.yaml")
    assert d.span == Span(5, 7, 5, 8)
    assert d.message.startswith("invalid YAML:")


def test_invalid_workflow_is_a_located_parse_error() -> None:
    _, diags = scan_text(".github/workflows/ci.yml", "on: push\njobs:\n  a: [\n\n")
    (d,) = diags
    assert (d.code, d.span) == ("parse-error", Span(3, 6, 3, 7))  # the unclosed `[`


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("a: [", Span(1, 4, 1, 5)),
        ('a: "unterminated\n\n', Span(1, 4, 1, 5)),
        ("a: [é😀, [1\n", Span(1, 10, 1, 11)),  # the inner `[`, after a two-unit 😀
        ("a: 1\n  b: 2\n", Span(2, 4, 2, 5)),
    ],
)
def test_yaml_error_locations(text: str, span: Span) -> None:
    with pytest.raises(YamlError) as e:
        compose_all(text)
    assert e.value.span == span


@pytest.mark.parametrize(
    "text",
    [
        "key: value\nlist: [1, 2]\n",
        "not: [valid yaml\n",  # broken, but not a manifest: none of tether's business
        "{{ .Values.x }}\n",
        "",
    ],
)
def test_other_yaml_is_ignored_quietly(text: str) -> None:
    facts, diags = scan_text("config/app.yaml", text)
    assert (facts, diags) == ([], [])


def test_yaml_that_mentions_apiversion_but_is_no_manifest() -> None:
    facts, diags = scan_text("values.yaml", "docs: the apiVersion and kind fields\nx: 1\n")
    assert (facts, diags) == ([], [])


# ---------------------------------------------------------------- hostile input


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: x", "data:"]
    lines.append("  a0: &a0 [x, x, x, x, x, x, x, x, x, x]")
    for i in range(1, 10):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    facts, diags = scan_text("bomb.yaml", "\n".join(lines) + "\n")
    assert facts == []
    (d,) = diags
    assert d.code == "parse-error" and "aliases expand" in d.message


def test_recursive_alias_is_refused() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: &a\n    self: *a\n"
    facts, diags = scan_text("rec.yaml", text)
    assert facts == []
    (d,) = diags
    assert d.code == "parse-error" and "recursive alias" in d.message
    assert d.span == Span(5, 11, 5, 12)


def test_aliases_that_nest_deeper_than_the_limit_are_refused() -> None:
    """Anchors chained through aliases, each well under the limit as written, make a value
    hundreds of levels deep once expanded, which everything that reads values recursively
    would meet (it crashed the verdict memo's key): refused, located, like deep nesting."""

    def chain(n: int, inner: str) -> str:
        return "{k: " * n + inner + "}" * n

    lines = ["apiVersion: v1", "kind: Pod", "metadata: {name: p}"]
    prev = "v"
    for i in range(3):
        lines.append(f"x{i}: &a{i} " + chain(120, prev))
        prev = f"*a{i}"
    lines += ["spec:", "  containers:", "  - name: c", "    image: nginx:1.25"]
    lines.append("    resources: " + chain(20, prev))
    facts, diags = scan_text("k8s/p.yaml", "\n".join(lines) + "\n")
    assert facts == []
    (d,) = diags
    assert d.code == "parse-error" and "deeper than 200 levels through aliases" in d.message
    # two chained anchors, 190 levels: judged
    lines[3:] = ["x0: &a0 " + chain(90, "v"), "x1: " + chain(100, "*a0")]
    facts, diags = scan_text("k8s/p.yaml", "\n".join(lines) + "\n")
    assert diags == [] and facts


def test_modest_alias_use_is_fine() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: &l {a: b}\n" + (
        "data: {x: *l, y: *l}\n"
    )
    facts, diags = scan_text("ok.yaml", text)
    assert diags == [] and len(facts) == 1


@pytest.mark.parametrize(
    "body",
    [
        "a: " + "[" * 50_000 + "]" * 50_000,  # libyaml's composer would overflow the C stack
        "a:\n" + "- " * 50_000 + "x",
    ],
)
def test_deep_nesting_is_refused_not_a_crash(body: str) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\n" + body + "\n"
    facts, diags = scan_text("deep.yaml", text)
    assert facts == []
    (d,) = diags
    assert d.code == "parse-error" and "nesting deeper" in d.message


def test_reasonable_nesting_is_fine() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: " + "[" * 60 + "]" * 60
    facts, diags = scan_text("ok.yaml", text + "\n")
    assert diags == [] and len(facts) == 1


# ---------------------------------------------------------------- duplicate keys


def test_a_key_written_twice_keeps_its_last_value_and_is_reported_once() -> None:
    text = dd(
        """
        base: &b {image: a, name: x, image: b}
        one:
          <<: *b
          name: own
          name: own2
        two: *b
        """
    )
    (doc,) = compose_all(text)
    assert doc is not None
    one = doc.get("one")
    assert one is not None
    assert one.to_python() == {"image": "b", "name": "own2"}
    assert {str(k.raw.value): v.str_value() for k, v in one.items()} == {
        "name": "own2",
        "image": "b",
    }
    assert doc.path("base", "image") is not None and doc.path("base", "image").str_value() == "b"
    dups = [(d.span, f.line) for d, f in duplicate_keys(doc)]
    assert dups == [(Span(1, 30, 1, 35), 1), (Span(5, 3, 5, 7), 4)]


def test_collections_of_a_document_composed_apart_end_where_they_end() -> None:
    # a broken first document: the rest is composed apart, padded to keep rows and columns
    text = "a: [\n---\nmetadata:\n  labels:\n    x: y\n\nspec: 1\n"
    docs, errors = compose_each(text)
    assert errors and docs[0] is not None
    meta = docs[0].get("metadata")
    assert meta is not None and meta.span == Span(4, 3, 5, 9)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("c: [{name: c, image: nginx:1.25}]\n", {"c": [{"name": "c", "image": "nginx:1.25"}]}),
        (
            "resources: [https://example.com/x.yaml]\n",
            {"resources": ["https://example.com/x.yaml"]},
        ),
        ("t: [AWS::Serverless-2016-10-31]\n", {"t": ["AWS::Serverless-2016-10-31"]}),
    ],
)
def test_a_colon_inside_a_flow_scalar_reads_as_kubectl_reads_it(text: str, value: object) -> None:
    """YAML 1.2 and go-yaml (kubectl, kustomize) accept `:` inside a plain scalar in a flow
    collection; libyaml's scanner (ruamel's C path) refuses it as YAML 1.1 did, which made
    valid manifests parse errors. A `: ` there is still an error."""
    from scanner.parsers.yaml import compose_all

    (doc,) = compose_all(text)
    assert doc is not None and doc.to_python() == value
    with pytest.raises(YamlError):
        compose_all("a: {b: c: d}\n")


@pytest.mark.parametrize(
    "body",
    [
        "a: " + "[" * 230 + "]" * 230,  # flow, composed first then measured
        "a: " + "{b: " * 205 + "x" + "}" * 205,
        "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 215)) + "  " * 215 + "v",
        "a: " + "[" * 120 + "]" * 120 + "\nb: " + "[" * 201 + "]" * 201,  # the second one
        # an alias is no level as written (190 levels once expanded: under the limit too)
        "a: &x "
        + "[" * 150
        + "]" * 150
        + "\nb: "
        + "[" * 40
        + "*x"
        + "]" * 40
        + "\nc: "
        + "[" * 10
        + "]" * 10,
        "a: " + "[" * 230 + "]" * 229 + "\nb: [",  # too deep and broken: depth said first
    ],
)
def test_nesting_measured_after_composing_is_the_same_verdict(body: str) -> None:
    """Texts whose cheap bound is not enough are composed first and measured on the nodes:
    the verdict, and the location of a refusal, are those of the parser's events."""
    from scanner.parsers import yaml as y

    text = "apiVersion: v1\nkind: ConfigMap\n" + body + "\n"
    assert y.MAX_DEPTH <= y._depth_bound(text) < y._COMPOSE_FIRST_BELOW
    try:
        y._check_depth(text)
        expected: tuple[str, Span] | None = None
    except y.YamlError as e:
        expected = (e.message, e.span)
    y._compose_cached.cache_clear()
    try:
        y.compose_all(text)
        got: tuple[str, Span] | None = None
    except y.YamlError as e:
        got = (e.message, e.span)
    if expected is not None:
        assert got == expected
    else:
        assert got is None or "nesting deeper" not in got[0]


def test_a_broken_stream_is_not_composed_whole_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream's own error is the whole text's: recovering part by part does not compose
    the whole text again first (a chart's templates: 2,907 files of bitnami/charts)."""
    from scanner.parsers import yaml as y

    composed: list[str] = []
    raw = y._compose_raw

    def counted(text: str) -> tuple[object, ...]:
        composed.append(text)
        return raw(text)

    monkeypatch.setattr(y, "_compose_raw", counted)
    y._compose_cached.cache_clear()
    svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s{n}\n"
    text = "---\n".join([svc.format(n=1), "kind: [broken\n", svc.format(n=3)])
    facts, diags = scan_text("k8s/all.yaml", text)
    assert [f.target for f in facts if f.kind == "k8s.object"] == ["Service/s1", "Service/s3"]
    assert [d.code for d in diags] == ["parse-error"]
    assert text not in composed and len(composed) == 3  # each part once


def test_the_shared_composer_keeps_no_record_of_every_stream() -> None:
    """ruamel records each stream an instance composes; tether's one instance serves every
    file of every scan (an org scan's whole run): the record stays a few entries long."""
    from scanner.parsers import yaml as y

    for n in range(500):
        y.compose_all(f"a: {n}\n")
        list(y.compose_stream(f"b: {n}\n---\nc: 1\n"))
    assert len(y._yaml().doc_infos) <= 16
    # the pure-Python parser, which reads the last record, still composes
    assert y.compose_all("img: {image: nginx:1.25}\n")[0] is not None
    assert len(y._yaml(pure=True).doc_infos) <= 16


def test_recovering_a_broken_stream_composes_each_part_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Parts are composed on their own, their positions moved after: padding each with the
    lines before it made a file of many documents quadratic (3,000 documents with one broken
    took 105 s, a lever for any change under review)."""
    from scanner.parsers import yaml as y

    composed: list[int] = []
    raw = y._compose_raw

    def counted(text: str) -> tuple[object, ...]:
        composed.append(len(text))
        return raw(text)

    monkeypatch.setattr(y, "_compose_raw", counted)
    svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s{n}\n"
    text = "---\n".join([*(svc.format(n=n) for n in range(2000)), "kind: [broken\n"])
    facts, diags = scan_text("k8s/all.yaml", text)
    assert len([f for f in facts if f.kind == "k8s.object"]) == 2000
    ((code, line),) = [(d.code, d.span.start_line) for d in diags]
    assert code == "parse-error" and line == text.count("\n")  # located in the whole file
    objs = [f for f in facts if f.kind == "k8s.object"]
    assert objs[-1].span.start_line == 4 * 1999 + 1999 + 2  # the last Service's kind
    assert sum(composed) <= 2 * len(text)


def test_the_nesting_bound_is_per_document() -> None:
    """Many documents of a few brackets each are not one text deep in brackets (the event
    check, a second parse of the whole file, ran on every such file); a document deeper than
    the limit among them is still refused, and one a `---` line cuts in two is a located error."""
    from scanner.parsers import yaml as y

    svc = "---\napiVersion: v1\nkind: Service\nmetadata: {name: s, labels: {a: b}}\n"
    assert y._depth_bound(svc * 300) < y.MAX_DEPTH
    deep = "---\napiVersion: v1\nkind: ConfigMap\ndata: " + "[" * 50_000 + "]" * 50_000 + "\n"
    facts, diags = scan_text("k8s/all.yaml", svc * 300 + deep + svc)
    assert len([f for f in facts if f.kind == "k8s.object"]) == 301
    assert [d.code for d in diags] == ["parse-error"] and "nesting deeper" in diags[0].message
    # a flow collection opened in one document and closed in the next
    cut = "---\na: " + "[" * 150 + "\n---\n" + "]" * 150 + "\n"
    facts, diags = scan_text("k8s/cut.yaml", svc * 2 + cut)
    assert diags and {d.code for d in diags} == {"parse-error"}  # (each part broken)
    assert len([f for f in facts if f.kind == "k8s.object"]) == 2


def test_the_flow_colon_fallback_does_not_bypass_the_depth_limit() -> None:
    """A `:` the C scanner refuses inside flow collections sends the text to the pure-Python
    parser, whose event check then failed silently: a document 230 levels deep went through
    to the recursive readers. It is refused like any other."""
    text = "apiVersion: v1\nkind: ConfigMap\na: " + "[" * 230 + "x: y:" + "]" * 230 + "\n"
    facts, diags = scan_text("deep.yaml", text)
    assert facts == []
    (d,) = diags
    assert d.code == "parse-error" and "nesting deeper than 200 levels" in d.message


def test_deep_nesting_in_a_thread_with_a_small_stack_is_refused_not_a_crash(
    tmp_path: Path,
) -> None:
    """An org scan judges repositories in threads, whose stacks may be 1 MiB or less: a text
    thousands of levels deep is checked before composing there (the C composer recurses per
    level), a parse error and not a crash of the whole process."""
    code = (
        "import threading, sys\n"
        "from scanner.parsers.yaml import compose_each, YamlError\n"
        "text = 'apiVersion: v1\\nkind: ConfigMap\\ndata: ' + '[' * 4990 + ']' * 4990 + '\\n'\n"
        "out = []\n"
        "def run():\n"
        "    try:\n"
        "        compose_each(text)\n"
        "        out.append('composed')\n"
        "    except YamlError as e:\n"
        "        out.append(e.message)\n"
        "threading.stack_size(1 << 20)\n"
        "t = threading.Thread(target=run); t.start(); t.join()\n"
        "print(out[0])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-500:]
    assert "nesting deeper than 200 levels" in r.stdout


def test_the_flow_colon_fallback_is_measured_whatever_the_bound() -> None:
    """More than 5,000 brackets elsewhere sent the text to the event check, which gives up at
    the C scanner's `:` error; what the pure-Python parser then composes is measured too."""
    text = (
        "apiVersion: v1\nkind: ConfigMap\nimg: {image: nginx:1.25}\npad: '"
        + "[" * 5200
        + "'\ndeep: "
        + "[" * 260
        + "]" * 260
        + "\n"
    )
    facts, diags = scan_text("deep.yaml", text)
    assert facts == []
    (d,) = diags
    assert "nesting deeper than 200 levels" in d.message
