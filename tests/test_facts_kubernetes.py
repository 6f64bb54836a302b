"""Kubernetes facts: objects, workloads and their containers (Deployment, CronJob, Pod...),
image references split and normalised, labels, namespaces."""

from __future__ import annotations

import textwrap

import pytest

from scanner.facts.kubernetes import extract, image_data, is_manifest
from scanner.model import Fact, Span
from scanner.parsers.yaml import compose_all


def k8s(text: str, path: str = "deploy/app.yaml") -> list[Fact]:
    out: list[Fact] = []
    for i, doc in enumerate(compose_all(textwrap.dedent(text).lstrip("\n"))):
        if is_manifest(doc):
            assert doc is not None
            out.extend(extract(path, doc, i))
    return out


def kind(facts: list[Fact], k: str) -> list[Fact]:
    return [f for f in facts if f.kind == k]


DIGEST = "sha256:" + "0123456789abcdef" * 4
DEPLOYMENT = f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web
    team: storefront
spec:
  template:
    metadata:
      labels:
        app: web-pod
        tier: frontend
    spec:
      initContainers:
        - name: migrate
          image: ghcr.io/acme/migrate:1.2.0
      containers:
        - name: app
          image: nginx
          resources:
            limits: {{cpu: 500m}}
          readinessProbe: {{httpGet: {{path: /, port: 80}}}}
        - name: sidecar
          image: registry.example.com:5000/tools/proxy@{DIGEST}
"""


def test_deployment_object_workload_and_containers() -> None:
    facts = k8s(DEPLOYMENT)
    (obj,) = kind(facts, "k8s.object")
    assert obj.target == "Deployment/shop/web"
    assert obj.data == {
        "api_version": "apps/v1",
        "kind": "Deployment",
        "name": "web",
        "namespace": "shop",
        "labels": {"app": "web", "team": "storefront"},
    }
    assert obj.span == Span(2, 7, 2, 17)  # the kind's value
    assert obj.spans["api_version"] == Span(1, 13, 1, 20)

    (wl,) = kind(facts, "k8s.workload")
    assert wl.data["pod_labels"] == {"app": "web-pod", "tier": "frontend"}
    # the union: the object's labels win over the pod template's
    assert wl.data["all_labels"] == {"app": "web", "tier": "frontend", "team": "storefront"}
    assert wl.spans["labels"] == Span(6, 3, 6, 9)
    assert wl.spans["name"] == Span(4, 9, 4, 12)

    cs = kind(facts, "k8s.container")
    assert [(c.data["container"], c.data["init"]) for c in cs] == [
        ("migrate", True),
        ("app", False),
        ("sidecar", False),
    ]
    assert [c.target for c in cs] == [
        "Deployment/shop/web/migrate",
        "Deployment/shop/web/app",
        "Deployment/shop/web/sidecar",
    ]
    migrate, app, sidecar = cs
    assert migrate.span == Span(18, 18, 18, 44)
    assert migrate.spans["image"] == migrate.span
    assert (migrate.data["registry"], migrate.data["repository"], migrate.data["tag"]) == (
        "ghcr.io",
        "acme/migrate",
        "1.2.0",
    )
    # Docker Hub official image: docker.io and library/ are implied
    assert (app.data["registry"], app.data["repository"], app.data["name"]) == (
        "docker.io",
        "library/nginx",
        "docker.io/library/nginx",
    )
    assert (app.data["tag"], app.data["digest"], app.data["image_valid"]) == (None, None, True)
    assert app.data["resources"] == {"limits": {"cpu": "500m"}}
    assert (app.data["readiness_probe"], app.data["liveness_probe"]) == (True, False)
    assert app.data["namespace"] == "shop"
    assert sidecar.data["registry"] == "registry.example.com:5000"
    assert sidecar.data["repository"] == "tools/proxy"
    assert sidecar.data["digest"] == DIGEST
    assert sidecar.data["tag"] is None


def test_cronjob_containers() -> None:
    facts = k8s(
        """
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: nightly}
        spec:
          schedule: "0 3 * * *"
          jobTemplate:
            spec:
              template:
                metadata:
                  labels: {app: nightly}
                spec:
                  containers:
                    - name: job
                      image: docker.io/acme/report:2024.1
        """
    )
    (c,) = kind(facts, "k8s.container")
    assert c.target == "CronJob/nightly/job"
    assert (c.data["repository"], c.data["tag"], c.data["namespace"]) == (
        "acme/report",
        "2024.1",
        None,
    )
    (wl,) = kind(facts, "k8s.workload")
    assert wl.data["pod_labels"] == {"app": "nightly"}


def test_bare_pod() -> None:
    facts = k8s(
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: debug
          labels: {app: debug}
        spec:
          containers:
            - image: busybox:1.36
          ephemeralContainers:
            - name: dbg
              image: busybox
        """
    )
    (wl,) = kind(facts, "k8s.workload")
    assert wl.data["pod_labels"] == {"app": "debug"}
    cs = kind(facts, "k8s.container")
    assert [c.data["container"] for c in cs] == ["containers[0]", "dbg"]  # unnamed: its index
    assert [(c.data["init"], c.data["ephemeral"]) for c in cs] == [(False, False), (False, True)]


@pytest.mark.parametrize(
    "kind_name",
    ["StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"],
)
def test_other_workload_kinds(kind_name: str) -> None:
    facts = k8s(
        f"""
        apiVersion: x/v1
        kind: {kind_name}
        metadata: {{name: w}}
        spec:
          template:
            spec:
              containers: [{{name: c, image: "nginx:1"}}]
        """
    )
    (c,) = kind(facts, "k8s.container")
    assert c.target == f"{kind_name}/w/c"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", ("docker.io", "library/nginx", None, None, True)),
        ("nginx:1.25", ("docker.io", "library/nginx", "1.25", None, True)),
        ("library/nginx:1.25", ("docker.io", "library/nginx", "1.25", None, True)),
        ("index.docker.io/library/nginx", ("docker.io", "library/nginx", None, None, True)),
        ("bitnami/redis:7", ("docker.io", "bitnami/redis", "7", None, True)),
        ("localhost:5000/app:dev", ("localhost:5000", "app", "dev", None, True)),
        ("gcr.io/distroless/static", ("gcr.io", "distroless/static", None, None, True)),
        ("Nginx:1", (None, None, None, None, False)),  # upper-case repository: invalid
        ("{{ .Values.image }}", (None, None, None, None, False)),
        ("$(IMAGE)", (None, None, None, None, False)),
        ("", (None, None, None, None, False)),
    ],
)
def test_image_split(image: str, expected: tuple[object, ...]) -> None:
    d = image_data(image)
    assert (d["registry"], d["repository"], d["tag"], d["digest"], d["image_valid"]) == expected


def test_templated_image_is_flagged() -> None:
    assert image_data("{{ .Values.image }}")["templated"] is True
    assert image_data("${IMAGE}:1")["templated"] is True
    assert image_data("nginx")["templated"] is False


def test_container_without_image() -> None:
    facts = k8s(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: x\n"
    )
    (c,) = kind(facts, "k8s.container")
    assert (c.data["image"], c.data["image_valid"]) == (None, False)
    assert c.span == Span(6, 5, 6, 12)  # the container's map


def test_non_workload_objects_and_unnamed() -> None:
    facts = k8s(
        """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: shop
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          generateName: cm-
          namespace: shop
          labels: {a: 1, b: null, c: true}
        """
    )
    objs = kind(facts, "k8s.object")
    # generateName: named as the API server names it, its prefix and a suffix (issue 10: was
    # ConfigMap/shop/<unnamed#1>, which a Markdown summary swallowed as an HTML tag)
    assert [o.target for o in objs] == ["Namespace/shop", "ConfigMap/shop/cm-*"]
    nameless = k8s("apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: shop}\n")
    assert [o.target for o in kind(nameless, "k8s.object")] == [
        "ConfigMap/shop/(unnamed, document 1)"
    ]
    # label values are strings; null is the empty string
    assert objs[1].data["labels"] == {"a": "1", "b": "", "c": "True"}
    assert kind(facts, "k8s.workload") == []


def test_odd_shapes_do_not_crash() -> None:
    for text in [
        "apiVersion: v1\nkind: Pod\n",
        "apiVersion: v1\nkind: Pod\nmetadata: []\nspec: 3\n",
        "apiVersion: v1\nkind: Deployment\nspec:\n  template: []\n",
        "apiVersion: v1\nkind: Pod\nspec:\n  containers: {a: b}\n  initContainers: [1, [2]]\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  labels: [a]\nspec:\n  containers:\n"
        "  - image: [x]\n",
        "apiVersion: v1\nkind: List\nitems: 3\n",
    ]:
        k8s(text)
    assert not is_manifest(compose_all("apiVersion: [v1]\nkind: Pod\n")[0])
    assert not is_manifest(compose_all("kind: Pod\n")[0])


def test_security_context_in_effect_container_over_pod() -> None:
    facts = k8s(
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          template:
            spec:
              securityContext:
                runAsNonRoot: true
                runAsUser: 1000
                fsGroup: 2000
              containers:
                - name: inherits
                  image: nginx:1
                - name: overrides
                  image: nginx:1
                  securityContext:
                    runAsNonRoot: false
                    runAsUser: 0
                    privileged: true
                    allowPrivilegeEscalation: true
                - name: unknown
                  image: nginx:1
                  securityContext:
                    runAsNonRoot: "true"
                    runAsUser: true
                    allowPrivilegeEscalation: null
        """
    )
    inherits, overrides, unknown = kind(facts, "k8s.container")
    assert inherits.data["pod_security_context"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "fsGroup": 2000,
    }
    assert inherits.data["security_context"] is None
    effective = ("run_as_non_root", "run_as_user", "privileged", "allow_privilege_escalation")
    assert [inherits.data[k] for k in effective] == [True, 1000, None, None]
    assert [overrides.data[k] for k in effective] == [False, 0, True, True]
    # a quoted boolean or a boolean user id is not statically a valid value: null, and an
    # explicit null falls back to the pod's value as Kubernetes does
    assert [unknown.data[k] for k in effective] == [None, None, None, None]


def test_pod_without_security_context() -> None:
    text = 'apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: c, image: "nginx:1"}]\n'
    (c,) = kind(k8s(text), "k8s.container")
    assert (c.data["pod_security_context"], c.data["run_as_non_root"], c.data["run_as_user"]) == (
        None,
        None,
        None,
    )
    assert (c.data["restart_policy"], c.data["pod_resources"], c.data["probes"]) == (None, None, [])
    assert c.data["pod_os"] is None


def test_probes_restart_policy_and_pod_resources() -> None:
    facts = k8s(
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          restartPolicy: OnFailure
          os: {name: linux}
          resources:
            requests: {cpu: "1", memory: 1Gi}
          containers:
            - name: all
              image: nginx:1
              livenessProbe: {tcpSocket: {port: 80}}
              readinessProbe: {httpGet: {path: /, port: 80}}
              startupProbe: {exec: {command: [true]}}
            - name: empty
              image: nginx:1
              livenessProbe: {}
              readinessProbe:
        """
    )
    full, empty = kind(facts, "k8s.container")
    assert full.data["probes"] == ["liveness", "readiness", "startup"]
    assert (full.data["liveness_probe"], full.data["readiness_probe"]) == (True, True)
    # an empty or null probe configures nothing
    assert empty.data["probes"] == []
    assert (empty.data["liveness_probe"], empty.data["readiness_probe"]) == (False, False)
    assert (full.data["restart_policy"], full.data["pod_os"]) == ("OnFailure", "linux")
    assert full.data["pod_resources"] == {"requests": {"cpu": "1", "memory": "1Gi"}}


def test_container_spans_for_whole_container_findings() -> None:
    facts = k8s(
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          containers:
            - name: configured
              image: nginx:1
              resources: {}
              securityContext: {}
            - name: bare
              image: nginx:1
            - image: nginx:1
        """
    )
    configured, bare, unnamed = kind(facts, "k8s.container")
    assert configured.spans["container"] == Span(6, 13, 6, 23)  # the name's value
    assert configured.spans["resources"] == Span(8, 7, 8, 16)  # the key
    assert configured.spans["security_context"] == Span(9, 7, 9, 22)
    assert configured.spans["probes"] == configured.spans["container"]
    # nothing to point at: the container's name
    assert bare.spans["resources"] == bare.spans["security_context"] == Span(10, 13, 10, 17)
    # no name either: the container's first line
    assert unnamed.spans["container"] == Span(12, 7, 12, 8)
    assert unnamed.spans["resources"] == unnamed.spans["container"]


def test_cronjob_pod_fields_come_from_the_job_template() -> None:
    (c,) = kind(
        k8s(
            """
            apiVersion: batch/v1
            kind: CronJob
            metadata: {name: nightly}
            spec:
              jobTemplate:
                spec:
                  template:
                    spec:
                      restartPolicy: Never
                      securityContext: {runAsUser: 65532}
                      containers:
                        - {name: job, image: "ghcr.io/acme/job:1"}
            """
        ),
        "k8s.container",
    )
    assert (c.data["workload_kind"], c.data["restart_policy"], c.data["run_as_user"]) == (
        "CronJob",
        "Never",
        65532,
    )


# -- kustomizations: image overrides, inputs, patches ------------------------------------------


def _kustomization(text: str, path: str = "overlays/prod/kustomization.yaml") -> list[Fact]:
    from scanner.facts.kubernetes import extract_kustomization

    (doc,) = compose_all(textwrap.dedent(text).lstrip("\n"))
    assert doc is not None
    return extract_kustomization(path, doc)


def test_kustomize_image_overrides_give_the_deployed_image() -> None:
    facts = _kustomization(
        f"""
        images:
          - name: ghcr.io/acme/app
            newName: evil.example/miner
            newTag: 1
          - name: ghcr.io/acme/app
            newTag: "2.0"
            digest: {DIGEST}
          - name: nginx
          - newTag: orphan
        """
    )
    images = kind(facts, "k8s.kustomize_image")
    assert [(f.data["image"], f.data["name"], f.data["tag"], f.data["digest"]) for f in images] == [
        ("evil.example/miner:1", "evil.example/miner", "1", None),
        (f"ghcr.io/acme/app:2.0@{DIGEST}", "ghcr.io/acme/app", "2.0", DIGEST),
        ("nginx", "docker.io/library/nginx", None, None),
    ]
    first = images[0]
    assert first.data["original"] == "ghcr.io/acme/app"
    assert first.data["new_name"] == "evil.example/miner" and first.data["via"] == "images"
    assert first.span.start_line == 3 and first.spans["new_tag"].start_line == 4
    assert first.target == "Kustomization/images/ghcr.io/acme/app"
    assert images[1].span.start_line == 5  # no newName: the name it keeps
    assert images[1].spans["digest"].start_line == 7


def test_image_tag_transformer_gives_an_override() -> None:
    facts = k8s(
        """
        apiVersion: builtin
        kind: ImageTagTransformer
        metadata: {name: swap}
        imageTag: {name: ghcr.io/acme/app, newName: evil.example/miner}
        """,
        path="k8s/swap.yaml",
    )
    (f,) = kind(facts, "k8s.kustomize_image")
    assert f.data["via"] == "transformer" and f.data["image"] == "evil.example/miner"
    assert f.target == "ImageTagTransformer/swap/imageTag"


@pytest.mark.parametrize(
    ("entry", "remote", "host", "local_path"),
    [
        ("deploy.yaml", False, None, "overlays/prod/deploy.yaml"),
        ("../../base", False, None, "base"),
        ("./github.com/vendored/x", False, None, "overlays/prod/github.com/vendored/x"),
        ("configs.d/x.yaml", False, None, "overlays/prod/configs.d/x.yaml"),
        ("app.v1/x.yaml", False, None, "overlays/prod/app.v1/x.yaml"),
        ("../../../outside", False, None, None),
        ("/etc/k8s", False, None, None),
        ("https://github.com/attacker/k8s//evil?ref=v1", True, "github.com", None),
        ("github.com/attacker/k8s/evil?ref=v1", True, "github.com", None),
        ("GitLab.com/a/b", True, "gitlab.com", None),
        ("git@github.com:attacker/k8s.git", True, "github.com", None),
        ("git::https://gitlab.com/a/b.git//dir", True, "gitlab.com", None),
        ("ssh://git@example.com:2222/org/repo", True, "example.com", None),
        ("git.example.com:8443/org/repo", True, "git.example.com", None),
    ],
)
def test_kustomize_resources_local_or_remote(
    entry: str, remote: bool, host: str | None, local_path: str | None
) -> None:
    facts = _kustomization(f"resources:\n  - {entry}\n")
    (f,) = kind(facts, "k8s.kustomize_resource")
    assert (f.data["remote"], f.data["host"], f.data["local_path"]) == (remote, host, local_path)
    assert f.data["field"] == "resources" and f.span.start_line == 2


def test_kustomization_lists_the_local_paths_it_reads() -> None:
    facts = _kustomization(
        """
        resources: [../../base, miner.txt, "https://example.com/x.yaml"]
        components: [../../components/tls]
        transformers: [swap.yaml]
        patches:
          - path: patch.txt
          - patch: |-
              - op: replace
        patchesStrategicMerge: [more.yaml]
        helmCharts:
          - {name: redis, repo: "oci://registry.example.com/charts", version: 1.0.0}
          - {name: local}
        """
    )
    (k,) = kind(facts, "k8s.kustomization")
    assert k.data["local_paths"] == [
        "base",
        "components/tls",
        "overlays/prod/miner.txt",
        "overlays/prod/more.yaml",
        "overlays/prod/patch.txt",
        "overlays/prod/swap.yaml",
    ]
    charts = [f for f in kind(facts, "k8s.kustomize_resource") if f.data["field"] == "helmCharts"]
    assert [(f.data["resource"], f.data["host"]) for f in charts] == [
        ("oci://registry.example.com/charts/redis", "registry.example.com")
    ]


def test_patch_files_keep_their_containers_marked() -> None:
    from scanner.facts.kubernetes import drop_patch_facts

    facts = [
        *_kustomization("patches:\n  - path: app.yaml\n", path="k8s/kustomization.yaml"),
        # kustomize loads no patch from above the kustomization's directory
        *_kustomization("patches:\n  - path: ../../k8s/other.yaml\n"),
        *k8s(DEPLOYMENT, path="k8s/app.yaml"),
        *k8s(DEPLOYMENT, path="k8s/other.yaml"),
    ]
    kept = drop_patch_facts(facts)
    app = [f for f in kept if f.path == "k8s/app.yaml"]
    assert {f.kind for f in app} == {"k8s.container"}
    assert all(f.data["patch"] for f in app) and len(app) == 3
    other = [f for f in kept if f.path == "k8s/other.yaml"]
    assert {f.kind for f in other} == {"k8s.object", "k8s.workload", "k8s.container"}
    assert not any(f.data.get("patch") for f in other)


def test_json_patch_images() -> None:
    from scanner.facts.kubernetes import json_patch_images

    (doc,) = compose_all(
        textwrap.dedent(
            """\
            - op: replace
              path: /spec/template/spec/containers/0/image
              value: evil.example/a:1
            - op: copy
              from: /spec/template/spec/containers/0/image
              path: /spec/template/spec/containers/1/image
            - op: test
              path: /spec/template/spec/containers/0/image
              value: evil.example/old:1
            - op: add
              path: /spec/template/spec/containers/-
              value: {name: m, image: "evil.example/b:1"}
            - op: replace
              path: /spec/template/spec/containers/0/name
              value: image
            """
        )
    )
    assert doc is not None
    facts = json_patch_images("ops.yaml", doc, "JsonPatch")
    assert [(f.target, f.data["image"], f.span.start_line, f.data["via"]) for f in facts] == [
        ("JsonPatch[0]/spec/template/spec/containers/0/image", "evil.example/a:1", 3, "patch"),
        ("JsonPatch[3]/spec/template/spec/containers/-/image", "evil.example/b:1", 12, "patch"),
    ]


def test_inline_patches_are_located_in_the_kustomization() -> None:
    facts = _kustomization(
        """
        patches:
          - patch: |-
              apiVersion: v1
              kind: Pod
              metadata: {name: p}
              spec:
                containers:
                  - name: c
                    image: evil.example/a:1
          - patch: >-
              [{"op": "add", "path": "/spec/containers/0/image", "value": "evil.example/b:1"}]
        patchesStrategicMerge:
          - |
            apiVersion: v1
            kind: Pod
            metadata: {name: q}
            spec: {containers: [{name: d}]}
        """
    )
    containers = kind(facts, "k8s.container")
    assert [(f.target, f.data["patch"], f.span[:2]) for f in containers] == [
        ("Pod/p/c", True, (9, 20)),
        ("Pod/q/d", True, (17, 25)),  # no image: the container
    ]
    (override,) = kind(facts, "k8s.kustomize_image")
    assert override.span[:2] == (10, 12)  # a folded block: the patch as a whole
    assert override.target == "Kustomization/patches[1][0]/spec/containers/0/image"


# --- patches recognised by what they lack, custom resources by the baseline's table ----------


def test_a_workload_the_api_server_would_refuse_whole_is_a_patch() -> None:
    from scanner.facts.kubernetes import drop_patch_facts

    facts = k8s(
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          template:
            spec:
              containers:
                - name: web
                  resources: {limits: {memory: 1Gi}}
                - name: proxy
                  image: evil.example/proxy:1
                  securityContext: {privileged: true}
        """
    )
    # marked while the file is read, settled by the cross-file pass: no object, no workload
    # (completeness is the patched object's), and what it sets is judged
    assert {f.data["fragment"] for f in facts} == {"a container without an image"}
    facts = drop_patch_facts(facts)
    assert {f.kind for f in facts} == {"k8s.container"}
    web, proxy = facts
    assert web.data["patch"] and web.data["image"] is None
    assert proxy.data["patch"] and proxy.data["name"] == "evil.example/proxy"
    assert proxy.data["privileged"] is True


@pytest.mark.parametrize(
    "spec",
    [
        "spec: {template: {metadata: {labels: {a: b}}}}",  # a template without a pod spec
        "spec: {template: {spec: {nodeSelector: {a: b}}}}",  # a pod spec without containers
    ],
)
def test_templates_without_containers_are_patches(spec: str) -> None:
    from scanner.facts.kubernetes import drop_patch_facts

    text = f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: w}}\n{spec}\n"
    assert drop_patch_facts(k8s(text)) == []
    # unless a kustomization builds the file as a resource: it may complete the object
    kz = _kustomization("resources: [app.yaml]\n", path="deploy/kustomization.yaml")
    kept = drop_patch_facts([*kz, *k8s(text)])
    assert {f.kind for f in kept if f.path == "deploy/app.yaml"} == {"k8s.object", "k8s.workload"}
    assert not any("fragment" in f.data for f in kept)


def test_only_what_makes_an_object_undeployable_makes_it_a_patch() -> None:
    # `$patch` is ignored by the API server: the object is deployed whole and judged whole
    facts = k8s(
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        $patch: merge
        spec:
          template:
            spec:
              containers: [{name: web, image: "nginx:1"}]
        """
    )
    assert {f.kind for f in facts} == {"k8s.object", "k8s.workload", "k8s.container"}
    assert not facts[-1].data["patch"]
    # a bare Pod without a spec is not a template: not a patch either
    assert [f.kind for f in k8s("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")] == [
        "k8s.object",
        "k8s.workload",
    ]


RAY = """
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: rc, namespace: ml}
spec:
  headGroupSpec:
    template:
      spec:
        containers: [{name: head, image: "ghcr.io/acme/ray:2"}]
  workerGroupSpecs:
    - groupName: small
      template:
        metadata: {labels: {team: ml}}
        spec:
          containers: [{name: worker, image: "ghcr.io/acme/ray:2"}]
    - groupName: large
      template:
        spec:
          containers: [{name: worker, image: "ghcr.io/acme/ray:2"}]
"""


def _default_table() -> dict[str, object]:
    from scanner.facts.kubernetes import pod_template_table
    from scanner.policy import baseline

    return dict(pod_template_table(baseline.load(["default"]).data))


def test_custom_resources_need_the_table() -> None:
    from scanner.facts.kubernetes import pod_templates

    assert kind(k8s(RAY), "k8s.container") == []  # no table: not a workload
    with pod_templates(_default_table()):  # type: ignore[arg-type]
        facts = k8s(RAY)
    assert [f.target for f in kind(facts, "k8s.workload")] == [
        "RayCluster/ml/rc[spec.headGroupSpec.template]",
        # list items by their names (a reordering keeps targets), else by position
        "RayCluster/ml/rc[spec.workerGroupSpecs[small].template]",
        "RayCluster/ml/rc[spec.workerGroupSpecs[large].template]",
    ]
    cs = kind(facts, "k8s.container")
    # each template's containers are told apart (fingerprints, exceptions) and named by place
    assert len({c.target for c in cs}) == 3
    assert cs[1].data["workload_name"] == "rc spec.workerGroupSpecs[small].template"
    assert cs[1].data["labels"] == {"team": "ml"}
    assert not any(c.data["runs_to_completion"] for c in cs)
    assert kind(k8s(RAY), "k8s.container") == []  # the table applies only inside the block


def test_the_table_matches_group_and_kind_and_marks_batch_kinds() -> None:
    from scanner.facts.kubernetes import pod_templates

    job = """
    apiVersion: jobset.x-k8s.io/v1alpha2
    kind: JobSet
    metadata: {name: js}
    spec:
      replicatedJobs:
        - name: workers
          template:
            spec:
              template:
                spec:
                  containers: [{name: w, image: "ghcr.io/acme/w:1"}]
    """
    with pod_templates(_default_table()):  # type: ignore[arg-type]
        (c,) = kind(k8s(job), "k8s.container")
        assert c.data["runs_to_completion"]
        assert c.target == "JobSet/js[spec.replicatedJobs[workers].template.spec.template]/w"
        assert kind(k8s(RAY.replace("ray.io/v1", "example.com/v1")), "k8s.workload") == []
    # Kubernetes' own batch kinds run to completion too
    (c,) = kind(
        k8s(
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n"
            "    spec:\n      containers: [{name: c, image: 'nginx:1'}]\n"
        ),
        "k8s.container",
    )
    assert c.data["runs_to_completion"]


def test_fluxs_kustomization_is_not_a_kustomization() -> None:
    flux = """
    apiVersion: kustomize.toolkit.fluxcd.io/v1
    kind: Kustomization
    metadata: {name: apps}
    spec:
      path: ./apps
      images: [{name: x, newTag: latest}]
    """
    assert [f.kind for f in k8s(flux)] == ["k8s.object"]
    own = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n"
    assert "k8s.kustomization" in {f.kind for f in k8s(own, path="k/kustomization.yaml")}
    # kustomize reads a kustomization only from kustomization.yaml, .yml or Kustomization:
    # the same object in another file builds nothing (and pins or patches nothing)
    assert [f.kind for f in k8s(own, path="k/pins.yaml")] == ["k8s.object"]


def test_a_templated_name_reads_as_written() -> None:
    facts = k8s(
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ include "app.fullname" . }}
        spec:
          template:
            spec:
              containers: [{name: web, image: "nginx:1"}]
        """
    )
    (w,) = kind(facts, "k8s.workload")
    assert w.target == 'Deployment/{{ include "app.fullname" . }}'
    own = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n"
    (k,) = kind(k8s(own, path="kustomization.yaml"), "k8s.kustomization")
    assert k.target == "Kustomization"


def test_containers_no_table_entry_covers_are_said_not_judged() -> None:
    from scanner.facts.kubernetes import unjudged_pods

    (doc,) = compose_all(
        textwrap.dedent(
            """\
            apiVersion: argoproj.io/v1alpha1
            kind: CronWorkflow
            metadata: {name: nightly}
            spec:
              workflowSpec:
                templates:
                  - name: main
                    container: {image: "quay.io/evil/miner:latest"}
            """
        )
    )
    assert doc is not None
    ((span, message),) = unjudged_pods(doc)
    assert span.start_line == 8
    assert "CronWorkflow (argoproj.io)" in message
    assert "spec.workflowSpec.templates[0].container" in message
    crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec:\n"
    crd += "  x:\n    containers: [{image: a}]\n"
    (doc,) = compose_all(crd)
    assert doc is not None and unjudged_pods(doc) == []


def test_a_custom_resource_named_like_a_builtin_kind_is_still_looked_into() -> None:
    """Kubernetes' own kinds that hold no pod (a core Service) are not walked for containers;
    a custom resource of the same kind name in another group is (Knative's Service)."""
    from scanner.facts.kubernetes import unjudged_pods

    body = "kind: Service\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n"
    body += "      containers: [{image: quay.io/acme/web:1.0}]\n"
    (knative,) = compose_all("apiVersion: serving.knative.dev/v1\n" + body)
    assert knative is not None
    ((span, message),) = unjudged_pods(knative)
    assert span.start_line == 7 and "Service (serving.knative.dev)" in message
    (core,) = compose_all("apiVersion: v1\n" + body)
    assert core is not None and unjudged_pods(core) == []
