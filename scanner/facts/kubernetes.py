"""Facts from Kubernetes manifests: every object (apiVersion/kind), pod-bearing workloads and
their labels, containers and their images, kustomizations."""

from __future__ import annotations

import contextlib
import dataclasses
import posixpath
import re
import types
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ..imageref import is_templated, parse_image
from ..model import Fact, Span
from ..parsers.yaml import Node, YamlError, compose_all, compose_json_values, json_values
from ..source import classify

# Kubernetes' own pod-bearing kinds -> path from the object to its pod template (matched by
# kind whatever the apiVersion). Custom resources keep theirs where their authors chose: the
# baseline's `kubernetes.pod_templates` table (see `pod_templates`) says where.
_POD_TEMPLATE: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "PodTemplate": ("template",),
}


@dataclass(frozen=True)
class CustomPods:
    """Where a custom resource keeps its pod templates: key paths (`*` for every item of a
    list or value of a map), and whether its pods run to completion (as a Job's)."""

    templates: tuple[tuple[str, ...], ...]
    completes: bool = False
    operator_probes: bool = False  # the operator probes each pod's first (main) container


# "group/Kind" -> its pod templates; set for a scan by `pod_templates`
PodTemplates = Mapping[str, CustomPods]
_CUSTOM: ContextVar[PodTemplates | None] = ContextVar("pod_templates", default=None)


def pod_template_table(baseline: Mapping[str, Any]) -> dict[str, CustomPods]:
    """The baseline's `kubernetes.pod_templates` (validated by the baseline schema:
    `group/Kind: {templates: [dotted.path, ...], completes: bool}`)."""
    table = (baseline.get("kubernetes") or {}).get("pod_templates") or {}
    return {
        str(kind): CustomPods(
            tuple(tuple(str(p).split(".")) for p in entry.get("templates") or ()),
            bool(entry.get("completes")),
            bool(entry.get("operator_probes")),
        )
        for kind, entry in table.items()
        if isinstance(entry, Mapping)
    }


@contextlib.contextmanager
def pod_templates(table: PodTemplates) -> Iterator[None]:
    """Judge the pod templates of the custom resources in `table` while extracting (forked
    parse workers inherit it)."""
    token = _CUSTOM.set(table or None)
    try:
        yield
    finally:
        _CUSTOM.reset(token)


_ITEM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def _item_name(item: Node) -> str | None:
    """A list item's own name (`name`, or KubeRay's `groupName`), when it is plain text."""
    if not item.is_map:
        return None
    for key in ("name", "groupName"):
        n = item.get(key)
        text = n.str_value() if n is not None and not n.is_template else None
        if text and not text.isdigit() and _ITEM_NAME.fullmatch(text):
            return text
    return None


def _resolve(node: Node, keys: tuple[str, ...], shown: str) -> Iterator[tuple[str, Node]]:
    """The nodes at a key path (`*`: every list item or map value), each with its path as
    shown to a reader (`spec.workerGroupSpecs[0].template`)."""
    if not keys:
        yield shown, node
        return
    key, rest = keys[0], keys[1:]
    if key != "*":
        child = node.get(key) if node.is_map else None
        if child is not None:
            yield from _resolve(child, rest, f"{shown}.{key}" if shown else key)
        return
    if node.is_seq:
        for i, item in enumerate(node.items()):
            # by name where the item has one (a worker group, a replicated job): the name
            # outlives a reordering, so targets, fingerprints and exceptions stay put
            yield from _resolve(item, rest, f"{shown}[{_item_name(item) or i}]")
    elif node.is_map:
        for k, v in node.items():
            yield from _resolve(v, rest, f"{shown}.{k.str_value()}")


# (field, init): ephemeral containers are debug containers added to a running pod
_CONTAINER_FIELDS = (
    ("initContainers", True),
    ("containers", False),
    ("ephemeralContainers", False),
)


def is_manifest(node: Node | None) -> bool:
    """A Kubernetes object: a mapping with `apiVersion` (a scalar, or a template action
    standing for one) and `kind`."""
    if node is None or not node.is_map:
        return False
    api = node.get("apiVersion")
    return (
        api is not None
        and (api.str_value() is not None or api.is_template)
        and node.get("kind") is not None
    )


# Where a manifest's `apiVersion` or `kind` key could be spelled without those letters: a
# double-quoted YAML escape of an ASCII letter (`\x6b`, `\u006b`, `\U0000006b`; the letters of
# both keys lie in 0x56-0x72) or an escaped line break, which joins two parts of a key with
# nothing between (`"ki\<newline>  nd"`). JSON has only `\u006b`. No other spelling yields
# the letters: plain, single-quoted and block scalars are taken as written (their line folding
# adds a space), tags and anchors do not change a key's text, and an alias repeats text written
# elsewhere in the file.
_KEY_ESCAPE = re.compile(
    r"\\(?:x[5-7][0-9a-fA-F]|u00[5-7][0-9a-fA-F]|U0000[5-7][0-9a-fA-F]|[\r\n\x85\u2028\u2029])"
)
_JSON_KEY_ESCAPE = re.compile(r"\\u00[5-7][0-9a-fA-F]")


def may_hold_manifest(text: str, json_text: bool = False) -> bool:
    """A sound textual pre-check, before composing: False only when no document of the text
    can be a Kubernetes object once parsed. An object needs the keys `apiVersion` and
    `kind`; written as they read, both words are in the text, and any other spelling needs
    a backslash escape of a letter or of a line break (see _KEY_ESCAPE)."""
    if "apiVersion" in text and "kind" in text:
        return True
    if "\\" not in text:
        return False
    return (_JSON_KEY_ESCAPE if json_text else _KEY_ESCAPE).search(text) is not None


_PATCH_OP_WORD = re.compile(r"\b(?:add|replace)\b")


def may_set_image(text: str, json_text: bool = False) -> bool:
    """A sound textual pre-check for JSON 6902 patches that set an image (see
    json_patch_images): the word `image` (a key, or the last segment of a path) and the
    operation `add` or `replace` (a scalar, or an alias of one written elsewhere in the text),
    written as they read or with a backslash escape (every letter of these words lies in
    0x56-0x72, as the letters of the manifest keys do)."""
    if "image" in text and _PATCH_OP_WORD.search(text) is not None:
        return True
    # an operation patch_unjudged reports (a remove, a copy or move, an unsafe value)
    if "op" in text and _UNMODELLED_OP.search(text) is not None:
        return True
    if "\\" not in text:
        return False
    return (_JSON_KEY_ESCAPE if json_text else _KEY_ESCAPE).search(text) is not None


_UNMODELLED_OP = re.compile(
    r"\b(?:remove|copy|move|privileged|allowPrivilegeEscalation|runAsNonRoot|runAsUser|host(?:PID|IPC|Network))\b"
)
_JSON_START = re.compile(r"\A[ \t\r\n]*[{\[]")


def is_json_text(text: str) -> bool:
    """Whether kubectl reads a file as JSON: it decodes a stream as JSON when its first
    character (after whitespace) opens an object or array, and as YAML otherwise, whatever
    the file's name."""
    return _JSON_START.match(text) is not None


# what a JSON manifest that fails to parse still shows: its keys, quoted
_JSON_KEYS = (re.compile(r'"apiVersion"\s*:'), re.compile(r'"kind"\s*:'))


def read_json(text: str) -> tuple[list[Node | None], list[YamlError]]:
    """The documents of a JSON file (one value, or a stream of values as kubectl reads
    it), composed for positions, when one of them is a Kubernetes object; none otherwise
    (other JSON is none of tether's business). The check runs on Python's JSON decoder,
    far faster than composing: escapes are decoded there too, and a key written twice keeps
    its last value, as in Go. A JSON text that does not parse is an error when it shows a
    manifest's keys; valid JSON the composer cannot place (a key over 1024 characters) is
    an error when it holds a manifest."""
    try:
        values = json_values(text)
    except YamlError as e:
        return ([], [e]) if all(k.search(text) for k in _JSON_KEYS) else ([], [])
    if not any(_json_manifest(v) or _json_patch(v) for _, v in values):
        return [], []
    try:
        return compose_json_values(text, [start for start, _ in values]), []
    except YamlError as e:
        msg = f"valid JSON that tether cannot read with positions ({e.message}); not scanned"
        return [], [YamlError(msg, e.span)]


def _json_patch(value: Any) -> bool:
    return isinstance(value, list) and any(
        isinstance(op, dict) and op.get("op") in _PATCH_OPS and "value" in op for op in value
    )


def _json_manifest(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and "kind" in value
        and "apiVersion" in value
        and not isinstance(value["apiVersion"], (dict, list))
    )


def shape_templated(node: Node | None, depth: int) -> bool:
    """A Go/Helm template action stands where structure is expected, so what the mapping
    holds is not statically known: the node itself, or within `depth` levels of mappings a
    key, or a value that should be a mapping. A templated leaf value (`team: "{{ x }}"`) is
    a value that is present, not an unknown shape."""
    if node is None:
        return False
    if node.is_template:
        return True
    if depth <= 0 or not node.is_map:
        return False
    for k, v in node.items():
        if k.is_template or (depth > 1 and shape_templated(v, depth - 1)):
            return True
    return False


def image_data(image: str) -> dict[str, Any]:
    base: dict[str, Any] = {
        "image": image,
        "registry": None,
        "repository": None,
        "name": None,
        "tag": None,
        "digest": None,
        "image_valid": False,
        "templated": is_templated(image),
    }
    if base["templated"]:
        return base
    try:
        ref = parse_image(image)
    except ValueError:
        return base
    base.update(
        registry=ref.registry,
        repository=ref.repository,
        name=ref.name,
        tag=ref.tag,
        digest=ref.digest,
        image_valid=True,
    )
    return base


def _objects(node: Node) -> Iterator[Node]:
    """The object and, for `List` kinds, its items (recursively)."""
    kind = node.get("kind")
    items = node.get("items")
    k = kind.str_value() if kind else None
    if k and (k == "List" or k.endswith("List")) and items is not None and items.is_seq:
        for item in items.items():
            if is_manifest(item):
                yield from _objects(item)
        return
    yield node


def _labels(node: Node | None) -> dict[str, Any]:
    if node is None or not node.is_map:
        return {}
    v = node.to_python()
    if not isinstance(v, dict):
        return {}
    return {str(k): ("" if x is None else str(x)) for k, x in v.items()}


def extract(path: str, root: Node, doc_index: int) -> list[Fact]:
    facts: list[Fact] = []
    for obj in _objects(root):
        _object_facts(path, obj, doc_index, facts)
    return facts


@dataclass(frozen=True)
class ObjectView:
    """What identifies a manifest object, read once for every extractor (k8s and env facts)."""

    obj: Node
    kind_n: Node | None
    kind: str
    meta: Node | None
    name_n: Node | None
    name: str
    namespace: str | None
    labels_pair: tuple[Node, Node] | None
    labels: dict[str, Any]
    labels_templated: bool  # a template action stands for metadata or its labels

    @property
    def target(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}"

    @property
    def span(self) -> Span:
        return self.kind_n.span if self.kind_n else self.obj.span


@dataclass(frozen=True)
class WorkloadView:
    """A pod-bearing object: its identity, and its pod template's metadata and spec."""

    object: ObjectView
    pod_meta: Node | None  # the template's metadata (a Pod's own metadata for a Pod)
    pod_labels: dict[str, Any]
    pod_spec: Node | None
    templated: bool  # the pod is a template inside the object (not a bare Pod)
    pod_labels_templated: bool  # a Go/Helm template action stands for the pod's labels
    # where the template lies in a custom resource with several (`spec.workerGroupSpecs[0]
    # .template`), else ""
    where: str = ""
    completes: bool = False  # its pods run to completion (a Job's, or a batch CRD's)
    operator_probes: bool = False  # its operator probes the first container (KubeRay's)

    @property
    def target(self) -> str:
        return f"{self.object.target}[{self.where}]" if self.where else self.object.target

    @property
    def name(self) -> str:
        """The workload as a reader names it: the object's name, and the template's place
        where the object has several."""
        return f"{self.object.name} {self.where}" if self.where else self.object.name

    @property
    def all_labels(self) -> dict[str, Any]:
        return {**self.pod_labels, **self.object.labels}

    @property
    def templated_fields(self) -> list[str]:
        """Label fields a Go/Helm template action stands for (not statically known)."""
        out = []
        if self.object.labels_templated:
            out.append("labels")
        if self.pod_labels_templated:
            out.append("pod_labels")
        if out:
            out.append("all_labels")
        return sorted(out)

    @property
    def spans(self) -> dict[str, Span]:
        o = self.object
        return workload_spans(o.obj, o.meta, o.labels_pair, o.name_n)


def _generated_name(meta: Node | None, doc_index: int) -> str:
    """What to call an object without metadata.name: `pi-*` for generateName `pi-` (the API
    server appends a random suffix), else its position in the file."""
    gen = meta.get("generateName") if meta else None
    prefix = gen.str_value() if gen is not None else None
    if prefix:
        return f"{prefix}*"
    return f"(unnamed, document {doc_index + 1})"


def _name(node: Node | None) -> str | None:
    """metadata.name as a reader knows it: the text, or the template action as written
    (`{{ include "app.fullname" . }}`, which YAML reads as a flow mapping)."""
    if node is None:
        return None
    if node.is_template and not node.is_scalar:
        return " ".join(node.source().split())
    return node.str_value()


def object_view(obj: Node, doc_index: int) -> ObjectView:
    kind_n = obj.get("kind")
    meta = obj.get("metadata")
    name_n = meta.get("name") if meta else None
    ns_n = meta.get("namespace") if meta else None
    labels_pair = meta.get_pair("labels") if meta else None
    return ObjectView(
        obj=obj,
        kind_n=kind_n,
        kind=(kind_n.str_value() if kind_n else "") or "",
        meta=meta,
        name_n=name_n,
        name=_name(name_n) or _generated_name(meta, doc_index),
        namespace=ns_n.str_value() if ns_n else None,
        labels_pair=labels_pair,
        labels=_labels(labels_pair[1] if labels_pair else None),
        labels_templated=meta is not None
        and (meta.is_template or shape_templated(labels_pair[1] if labels_pair else None, 1)),
    )


def workload_views(o: ObjectView) -> list[WorkloadView]:
    """The pod templates of a workload: one for Kubernetes' own kinds, those the baseline's
    table names for a custom resource (`kubernetes.pod_templates`), none for other objects."""
    tpl_path = _POD_TEMPLATE.get(o.kind)
    if tpl_path is not None:
        tpl = o.obj.path(*tpl_path) if tpl_path else o.obj
        completes = o.kind in ("Job", "CronJob")
        if tpl is None or not tpl.is_map:
            return []
        return [_view(o, tpl, bool(tpl_path), "", completes)]
    custom = _CUSTOM.get()
    if not custom or not o.kind:
        return []
    api = o.obj.get("apiVersion")
    api_s = (api.str_value() if api is not None else None) or ""
    group = api_s.rsplit("/", 1)[0] if "/" in api_s else ""
    entry = custom.get(f"{group}/{o.kind}")
    if entry is None or not entry.templates:
        return []
    paths = entry.templates
    # a template's place is part of the name only where the kind has several
    several = len(paths) > 1 or any("*" in p for p in paths)
    return [
        _view(o, tpl, True, shown if several else "", entry.completes, entry.operator_probes)
        for keys in paths
        for shown, tpl in _resolve(o.obj, keys, "")
        if tpl.is_map
    ]


def _view(
    o: ObjectView,
    tpl: Node,
    templated: bool,
    where: str,
    completes: bool,
    operator_probes: bool = False,
) -> WorkloadView:
    pod_meta = tpl.get("metadata") if templated else o.meta
    pod_labels_pair = pod_meta.get_pair("labels") if pod_meta else None
    return WorkloadView(
        o,
        pod_meta,
        _labels(pod_labels_pair[1] if pod_labels_pair else None),
        tpl.get("spec"),
        templated,
        pod_meta is not None
        and (
            pod_meta.is_template
            or shape_templated(pod_labels_pair[1] if pod_labels_pair else None, 1)
        ),
        where,
        completes,
        operator_probes,
    )


def _object_facts(path: str, obj: Node, doc_index: int, facts: list[Fact]) -> None:
    o = object_view(obj, doc_index)
    api = obj.get_pair("apiVersion")
    kind, name, namespace, labels, target = o.kind, o.name, o.namespace, o.labels, o.target
    api_version = api[1].str_value() if api else None
    views = workload_views(o)
    # a patch's object is not an object, it only changes one: marked here, settled by
    # drop_patch_facts once it is known whether a kustomization builds the file
    fragment = fragment_reason(o, views)
    mark = {"fragment": fragment} if fragment else {}
    facts.append(
        Fact(
            "k8s.object",
            path,
            o.span,
            target,
            {
                "api_version": api_version,
                "kind": kind,
                "name": name,
                "namespace": namespace,
                "labels": labels,
                **mark,
            },
            {"api_version": api[1].span} if api else {},
        )
    )
    # kustomize's own kinds; Flux's Kustomization (kustomize.toolkit.fluxcd.io) is a custom
    # resource that points a controller at a directory, not a kustomization
    if posixpath.basename(path) in KUSTOMIZATION_NAMES and (
        (kind == "Kustomization" and not api_version)
        or (api_version or "").startswith("kustomize.config.k8s.io")
    ):
        # kustomize's own objects are files, not named objects: `Kustomization`, not
        # `Kustomization/(unnamed, document 1)`
        facts.extend(extract_kustomization(path, obj, target if o.name_n else kind))
        return
    if kind == "ImageTagTransformer":  # `transformers: [file]`: what `images:` does
        tag = obj.get("imageTag")
        if tag is not None:
            image = image_override(path, tag, f"{target}/imageTag", "transformer")
            if image is not None:
                facts.append(image)
        return
    for w in views:
        _workload_facts(path, o, w, api_version, facts, fragment)


# the names kustomize reads a kustomization from, in a directory it builds
# (exactly: kustomize on Linux, where CI builds, reads no `Kustomization.yaml`)
KUSTOMIZATION_NAMES = frozenset(("kustomization.yaml", "kustomization.yml", "Kustomization"))


def _workload_facts(
    path: str,
    o: ObjectView,
    w: WorkloadView,
    api_version: str | None,
    facts: list[Fact],
    fragment: str | None,
) -> None:
    kind, namespace, labels, target = o.kind, o.namespace, o.labels, w.target
    pod_labels, pod_spec, kind_n = w.pod_labels, w.pod_spec, o.kind_n
    mark = {"fragment": fragment} if fragment else {}
    facts.append(
        Fact(
            "k8s.workload",
            path,
            kind_n.span if kind_n else o.obj.span,
            target,
            {
                "api_version": api_version,
                "kind": kind,
                "name": w.name,
                "namespace": namespace,
                "labels": labels,
                "pod_labels": pod_labels,
                "all_labels": {**pod_labels, **labels},
                # metadata.labels is there (a remedy adds entries to it, else the mapping)
                "labels_declared": o.labels_pair is not None,
                "templated_fields": w.templated_fields,
                **mark,
            },
            w.spans,
        )
    )
    if pod_spec is None or not pod_spec.is_map:
        return
    # what every container of this pod shares
    pod_res = pod_spec.get("resources")
    pod_sc = pod_spec.get("securityContext")
    pod: dict[str, Any] = {
        "workload_kind": kind,
        "workload_name": w.name,
        "namespace": namespace,
        "labels": {**pod_labels, **labels},
        "restart_policy": _scalar_str(pod_spec.get("restartPolicy")),
        "pod_os": _scalar_str(pod_spec.path("os", "name")),
        "pod_resources": None if _is_template(pod_res) else _python(pod_res),
        "pod_security_context": None if _is_template(pod_sc) else _python(pod_sc),
        "patch": False,  # drop_patch_facts marks the containers of kustomize patch files
        "runs_to_completion": w.completes,
        "tag_set_by": [],  # and those whose tag kustomize overrides set
        "kustomized": False,  # a kustomization builds the file (its images: may rename)
        "probes_by_operator": False,
    }
    pod_templated = _templated_keys(pod_sc)
    pod_unknown = ["pod_resources"] if shape_templated(pod_res, 2) else []
    if pod_templated is None:
        pod_unknown.append("pod_security_context")
    for field, init in _CONTAINER_FIELDS:
        cs = pod_spec.get(field)
        if cs is None or not cs.is_seq:
            continue
        for i, c in enumerate(cs.items()):
            if not c.is_map:
                continue
            fact = _container_fact(
                path, c, field, init, i, target, pod, (pod_templated, pod_unknown)
            )
            if w.operator_probes and field == "containers" and i == 0:
                fact = dataclasses.replace(fact, data={**fact.data, "probes_by_operator": True})
            if fragment:
                fact = dataclasses.replace(fact, data={**fact.data, "fragment": fragment})
            facts.append(fact)


def fragment_reason(o: ObjectView, views: list[WorkloadView]) -> str | None:
    """Why a workload object is a patch (strategic merge, as kustomize and kubeadm apply
    them) and not an object the API server would accept, or None: only what makes the
    object undeployable as written counts, so no file name, directory or `$patch` key (which
    the API server ignores) can turn a real workload into a patch. A patch holds only the
    fields it changes: its completeness (labels, resources, probes, security settings) is
    the patched object's, while what it sets (an image, `privileged: true`) is deployed and
    judged. Only Kubernetes' own kinds: a custom resource's schema may not require an image
    (an operator may supply it), so nothing it lacks makes it a patch."""
    if o.kind not in _POD_TEMPLATE:
        return None
    for w in views:
        pod = w.pod_spec
        if pod is None and w.templated:
            return "a pod template without spec"
        if pod is None or not pod.is_map or pod.is_template:
            continue
        if pod.get_pair("containers") is None:
            return "a pod template without containers"
        for field, _init in _CONTAINER_FIELDS[:2]:
            cs = pod.get(field)
            for c in cs.items() if cs is not None and cs.is_seq else ():
                if c.is_map and not c.is_template and c.get_pair("image") is None:
                    return "a container without an image"
    return None


def _is_template(node: Node | None) -> bool:
    return node is not None and node.is_template


def _templated_keys(sc: Node | None) -> frozenset[str] | None:
    """The keys of a securityContext whose value a template action stands for; None when
    one stands for the whole context."""
    if sc is None:
        return frozenset()
    if sc.is_template:
        return None
    if not sc.is_map:
        return frozenset()
    return frozenset(str(k.raw.value) for k, v in sc.items() if k.is_scalar and v.is_template)


# (fact field, securityContext key, type, also read from the pod's securityContext)
_SECURITY = (
    ("run_as_non_root", "runAsNonRoot", bool, True),
    ("run_as_user", "runAsUser", int, True),
    ("privileged", "privileged", bool, False),
    ("allow_privilege_escalation", "allowPrivilegeEscalation", bool, False),
)


def _container_fact(
    path: str,
    c: Node,
    field: str,
    init: bool,
    index: int,
    target: str,
    pod: dict[str, Any],
    pod_templates: tuple[frozenset[str] | None, list[str]],
) -> Fact:
    cname_n = c.get("name")
    cname = (cname_n.str_value() if cname_n else None) or f"{field}[{index}]"
    img_pair = c.get_pair("image")
    image = img_pair[1].str_value() if img_pair else None
    if img_pair and image is None and img_pair[1].is_template:
        image = img_pair[1].source()  # `image: {{ .Values.image }}`, unquoted
    sc_pair = c.get_pair("securityContext")
    sc_templated = _templated_keys(sc_pair[1] if sc_pair else None)
    sc = _python(sc_pair[1]) if sc_pair and sc_templated is not None else None
    pod_sc = pod["pod_security_context"]
    res_node = c.get("resources")
    data: dict[str, Any] = {
        **pod,
        "labels": dict(pod["labels"]),
        "container": cname,
        "init": init,
        "ephemeral": field == "ephemeralContainers",
        "resources": None if _is_template(res_node) else _python(res_node),
        "probes": [p for p, key in _PROBES if _is_set(c.get(key))],
        "security_context": sc,
    }
    pod_templated, unknown = pod_templates[0], list(pod_templates[1])
    if shape_templated(res_node, 2):
        unknown.append("resources")
    if sc_templated is None:
        unknown.append("security_context")
    for name, key, typ, from_pod in _SECURITY:
        if _unknown(key, sc, sc_templated, pod_templated if from_pod else frozenset()):
            unknown.append(name)
            data[name] = None
        else:
            data[name] = _effective(sc, pod_sc if from_pod else None, key, typ)
    data["templated_fields"] = sorted(unknown)
    data["liveness_probe"] = "liveness" in data["probes"]
    data["readiness_probe"] = "readiness" in data["probes"]
    data.update(image_data(image or ""))
    if image is None:
        data["image"] = None
    elif img_pair and img_pair[1].is_template:
        data["templated"] = True
    span = img_pair[1].span if img_pair else c.span
    # where findings about the container as a whole point: its name, else its first line
    whole = cname_n.span if cname_n else Span.point(c.span.start_line, c.span.start_col)
    res_pair = c.get_pair("resources")
    return Fact(
        "k8s.container",
        path,
        span,
        f"{target}/{cname}",
        data,
        {
            "image": span,
            "name": cname_n.span if cname_n else span,
            "container": whole,
            "resources": res_pair[0].span if res_pair else whole,
            "security_context": sc_pair[0].span if sc_pair else whole,
            "probes": whole,
        },
    )


# (name in the fact, container key)
_PROBES = (
    ("liveness", "livenessProbe"),
    ("readiness", "readinessProbe"),
    ("startup", "startupProbe"),
)


def _is_set(node: Node | None) -> bool:
    """A probe is set when it is a non-empty mapping (null or `{}` configures nothing), or
    a template action that stands for one."""
    if node is None:
        return False
    return node.is_template or (node.is_map and any(True for _ in node.items()))


def _unknown(
    key: str, sc: Any, sc_templated: frozenset[str] | None, pod_templated: frozenset[str] | None
) -> bool:
    """Whether a template action decides a securityContext setting: the container's
    context or its value for the key is one, or the container leaves the key to the pod and
    the pod's is one."""
    if sc_templated is None or key in sc_templated:
        return True
    if isinstance(sc, dict) and sc.get(key) is not None:
        return False
    return pod_templated is None or key in pod_templated


def _effective(container: Any, pod: Any, key: str, typ: type) -> Any:
    """A securityContext setting in effect: the container's, else the pod's. Kubernetes
    lets the container's override the pod's; a value of the wrong type (a quoted "true",
    an expression) is not statically known and gives null."""
    for sc in (container, pod):
        if isinstance(sc, dict) and sc.get(key) is not None:
            v = sc[key]
            # bool is an int subclass: runAsUser: true is not a user id
            return v if isinstance(v, typ) and (typ is bool or not isinstance(v, bool)) else None
    return None


def _scalar_str(node: Node | None) -> str | None:
    """A scalar string value; null, numbers and collections give None."""
    v = node.to_python() if node is not None and node.is_scalar else None
    return v if isinstance(v, str) else None


def _python(node: Node | None) -> Any:
    return node.to_python() if node is not None else None


def workload_spans(
    obj: Node, meta: Node | None, labels_pair: tuple[Node, Node] | None, name_n: Node | None
) -> dict[str, Span]:
    """Where workload findings point: the labels key (else metadata), and the name."""
    spans: dict[str, Span] = {}
    if labels_pair:
        spans["labels"] = labels_pair[0].span
    elif meta is not None:
        pair = obj.get_pair("metadata")
        if pair is not None:
            spans["labels"] = pair[0].span
    if name_n:
        spans["name"] = name_n.span
    # where a remedy adds labels: above the first label (entries), else above metadata's
    # first key (a `labels:` mapping)
    labels = labels_pair[1] if labels_pair else None
    first = _first_key(labels) if labels is not None else None
    if first is not None:
        spans["labels_insert"] = first
    elif labels_pair is None and meta is not None:
        first = _first_key(meta)
        if first is not None:
            spans["labels_insert"] = first
    return spans


def _first_key(node: Node) -> Span | None:
    if not node.is_map:
        return None
    for k, _v in node.items():
        span: Span = k.span
        return span
    return None


# kustomization keys whose entries are files or directories kustomize reads (local paths),
# or remote targets (URLs, Git repositories) it fetches
_KUSTOMIZE_INPUTS = (
    "resources",
    "bases",
    "components",
    "generators",
    "transformers",
    "validators",
)


def extract_kustomization(path: str, obj: Node, target: str = "Kustomization") -> list[Fact]:
    """A kustomization, with or without apiVersion/kind (kustomize accepts both): the
    kustomization itself, each image override (`images:`) and each input it reads
    (`resources:`, `components:`, ..., `helmCharts:` with a repository)."""
    if not obj.is_map:
        return []
    kind_n = obj.get("kind")
    imgs = obj.get("images")
    images = imgs.to_python() if imgs is not None else []
    here = posixpath.dirname(path)
    inputs: list[Fact] = []
    local: list[str] = []
    for field in _KUSTOMIZE_INPUTS:
        node = obj.get(field)
        for entry in node.items() if node is not None and node.is_seq else ():
            text = entry.str_value()
            if text is None or not text.strip() or "\n" in text.strip():
                continue  # an inline config (see unjudged_kustomize), not a path
            fact = _input_fact(path, here, target, field, text.strip(), entry.span)
            inputs.append(fact)
            if fact.data["local_path"] is not None:
                local.append(fact.data["local_path"])
    charts = obj.get("helmCharts")
    for chart in charts.items() if charts is not None and charts.is_seq else ():
        repo_pair = chart.get_pair("repo") if chart.is_map else None
        repo = repo_pair[1].str_value() if repo_pair else None
        if repo_pair is None or not repo or not repo.strip():
            continue  # a chart under the kustomization's chartHome: local files
        name = _scalar_str(chart.get("name")) or ""
        inputs.append(
            Fact(
                "k8s.kustomize_resource",
                path,
                repo_pair[1].span,
                f"{target}/helmCharts/{name}",
                {
                    "resource": f"{repo.strip().rstrip('/')}/{name}",
                    "field": "helmCharts",
                    "remote": True,
                    "host": _remote_host(repo.strip()),
                    "local_path": None,
                },
            )
        )
    patches = _patch_paths(obj)
    inputs.extend(_remote_patch_facts(path, here, target, obj))
    for p in patches:
        patch_path = None if _remote(p) else _local_path(here, p)
        if patch_path is not None:
            local.append(patch_path)
    overrides = []
    for i, entry in enumerate(imgs.items() if imgs is not None and imgs.is_seq else ()):
        original = _scalar_str(entry.get("name")) if entry.is_map else None
        where = f"{target}/images/{original or f'[{i}]'}"
        override = image_override(path, entry, where, "images")
        if override is not None:
            overrides.append(override)
    return [
        Fact(
            "k8s.kustomization",
            path,
            kind_n.span if kind_n is not None else obj.span,
            target,
            {
                "resources": _str_list(obj.get("resources")),
                "images": images if isinstance(images, list) else [],
                "patches": patches,
                "local_paths": sorted(set(local)),
                "added_labels": _added_labels(obj),
            },
        ),
        *overrides,
        *inputs,
        *_inline_patch_facts(path, obj, target),
    ]


def _remote_patch_facts(path: str, here: str, target: str, obj: Node) -> list[Fact]:
    """Patches kustomize fetches from elsewhere (`patches: [{path: https://...}]`, a URL in
    `patchesStrategicMerge:` or `patchesJson6902:`): foreign configuration, judged as remote
    resources are (K8S009)."""
    out: list[Fact] = []
    for key in ("patches", "patchesStrategicMerge", "patchesJson6902"):
        node = obj.get(key)
        for item in node.items() if node is not None and node.is_seq else ():
            entry = item.get("path") if item.is_map else item
            text = entry.str_value() if entry is not None else None
            if entry is None or text is None or "\n" in text.strip() or not _remote(text):
                continue
            out.append(_input_fact(path, here, target, key, text.strip(), entry.span))
    return out


def unjudged_pods(node: Node) -> list[tuple[Span, str]]:
    """Containers tether does not judge, each object once, located with why: those of a
    custom resource whose pod templates the baseline's `kubernetes.pod_templates` table does
    not list (an Argo CronWorkflow's `container:`, a Kruise AdvancedCronJob's template)."""
    out: list[tuple[Span, str]] = []
    for obj in _objects(node):
        kind = _scalar_str(obj.get("kind"))
        # Kubernetes' own kinds are judged by extract already: no second look at them
        if not kind or kind in _NO_PODS or kind in _POD_TEMPLATE:
            continue
        api_n = obj.get("apiVersion")
        if (_api_group(_scalar_str(api_n) or ""), kind) in _BUILTIN_WITHOUT_PODS:
            continue  # (not walked: most of a GitOps repository's objects are these)
        o = object_view(obj, 0)
        if workload_views(o):
            continue
        found = _first_container(obj, "", 0)
        if found is None:
            continue
        where, span = found
        api = obj.get("apiVersion")
        api_s = (api.str_value() if api is not None else None) or ""
        group = api_s.rsplit("/", 1)[0] if "/" in api_s else ""
        out.append(
            (
                span,
                f"not judged: {o.kind} ({group or 'core'}) holds containers ({where}) in no pod "
                "template tether knows, so the workload and image rules do not see them; where "
                "the kind keeps pod templates, list them in the baseline's "
                f"kubernetes.pod_templates ({group}/{o.kind}: {{templates: [...]}})",
            )
        )
    return out


_MAX_CONTAINER_DEPTH = 12
# kinds that hold no pods whatever their contents say (a CRD's schema describes containers)
_NO_PODS = frozenset(("CustomResourceDefinition", "ConfigMap", "Secret", "Kustomization"))
# Kubernetes' own kinds that hold no pod, by API group ("" is the core group): a custom
# resource of the same kind name in another group may (Knative's serving.knative.dev Service)
_BUILTIN_WITHOUT_PODS = frozenset(
    [
        ("", k)
        for k in (
            "Service",
            "ServiceAccount",
            "Namespace",
            "Endpoints",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "ResourceQuota",
            "LimitRange",
        )
    ]
    + [
        ("rbac.authorization.k8s.io", k)
        for k in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
    ]
    + [
        ("networking.k8s.io", "NetworkPolicy"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "IngressClass"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("policy", "PodDisruptionBudget"),
        ("storage.k8s.io", "StorageClass"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("coordination.k8s.io", "Lease"),
        ("node.k8s.io", "RuntimeClass"),
        ("apiregistration.k8s.io", "APIService"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ]
)


def _api_group(api_version: str) -> str:
    """The API group of an apiVersion (`apps/v1` -> apps, `v1` -> the core group, "")."""
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _first_container(node: Node, at: str, depth: int) -> tuple[str, Span] | None:
    """The first container (a mapping with an image, under `containers`, `initContainers`
    or `container`) in a custom resource, with its path."""
    if depth > _MAX_CONTAINER_DEPTH:
        return None
    if node.is_map:
        for k, v in node.items():
            key = k.str_value() or ""
            here = f"{at}.{key}" if at else key
            if key in ("containers", "initContainers") and v.is_seq:
                for i, c in enumerate(v.items()):
                    if c.is_map and c.get_pair("image") is not None:
                        return f"{here}[{i}]", c.span
            elif key == "container" and v.is_map and v.get_pair("image") is not None:
                return here, v.span
            found = _first_container(v, here, depth + 1)
            if found is not None:
                return found
    elif node.is_seq:
        for i, item in enumerate(node.items()):
            found = _first_container(item, f"{at}[{i}]", depth + 1)
            if found is not None:
                return found
    return None


# kustomize transformer configs that can change any field of what is built: not modelled
_UNMODELLED_TRANSFORMERS = frozenset(
    (
        "PatchTransformer",
        "PatchStrategicMergeTransformer",
        "PatchJson6902Transformer",
        "ReplacementTransformer",
    )
)
_RENDER = "render with `kustomize build` and scan the output"


def unjudged_kustomize(node: Node, kustomization: bool) -> list[tuple[Span, str]]:
    """What kustomize does that tether does not model, each located with why: in a
    kustomization (`kustomization`, or an object of kind Kustomization or Component),
    each `replacements:` entry and each transformer or generator config written inline; in
    any document, a transformer config of a kind that patches or replaces fields."""
    out: list[tuple[Span, str]] = []
    if not node.is_map:
        return out
    kind = _scalar_str(node.get("kind"))
    api = _scalar_str(node.get("apiVersion")) or ""
    if kind in _UNMODELLED_TRANSFORMERS and is_manifest(node):
        k = node.get_pair("kind")
        where = k[1].span if k else node.span
        out.append((where, f"not judged: a kustomize {kind} can change any field; {_RENDER}"))
        return out
    if not (
        kustomization
        or kind in ("Kustomization", "Component")
        or api.startswith("kustomize.config.k8s.io")
    ):
        return out
    for _key, _i, text_n, docs in _inline_patches(node):
        move = _block_mover(text_n)
        out.extend(
            (move(span), message)
            for doc in docs
            if doc is not None
            for span, message in patch_unjudged(doc)
        )
    charts = node.get("helmCharts")
    for chart in charts.items() if charts is not None and charts.is_seq else ():
        repo = _scalar_str(chart.get("repo")) if chart.is_map else None
        if chart.is_map and not (repo and repo.strip()):
            out.append(
                (
                    chart.span,
                    "not judged: kustomize renders this local Helm chart with its values "
                    "(valuesInline, valuesFile) when built with --enable-helm; render with "
                    "`kustomize build --enable-helm` and scan the output",
                )
            )
    reps = node.get("replacements")
    for item in reps.items() if reps is not None and reps.is_seq else ():
        out.append(
            (item.span, f"not judged: kustomize replacements can change any field; {_RENDER}")
        )
    for field in ("transformers", "generators"):
        entries = node.get(field)
        for item in entries.items() if entries is not None and entries.is_seq else ():
            text = item.str_value()
            if item.is_map or (text is not None and "\n" in text.strip()):
                what = field[:-1]
                out.append(
                    (
                        item.span,
                        f"not judged: an inline kustomize {what} config can change any field; "
                        f"{_RENDER}",
                    )
                )
    return out


def _inline_patches(obj: Node) -> Iterator[tuple[str, int, Node, list[Node | None]]]:
    """The patches written inside a kustomization, composed: (field, index, the text's node,
    its documents). `patchesStrategicMerge` lists file names and inline patches alike; a
    patch that does not parse is left out (kustomize refuses the kustomization: nothing is
    deployed)."""
    for key in ("patches", "patchesJson6902", "patchesStrategicMerge"):
        node = obj.get(key)
        for i, item in enumerate(node.items() if node is not None and node.is_seq else ()):
            text_n = item.get("patch") if item.is_map else item
            text = text_n.str_value() if text_n is not None and text_n.is_scalar else None
            if text_n is None or text is None or (not item.is_map and not _inline_text(text)):
                continue
            try:
                docs = compose_all(text)
            except YamlError:
                continue
            yield key, i, text_n, docs


def _inline_patch_facts(path: str, obj: Node, target: str) -> list[Fact]:
    """What the patches written inside a kustomization set, as a patch file's facts: the
    containers of a strategic-merge patch (marked `patch`) and the images a JSON 6902 patch
    puts in place. Located in the kustomization: exactly, for a literal block (`patch: |`),
    else at the patch's first line."""
    out: list[Fact] = []
    for key, i, text_n, docs in _inline_patches(obj):
        where = f"{target}/{key}[{i}]"
        found: list[Fact] = []
        for d, doc in enumerate(docs):
            if doc is None:
                continue
            if is_manifest(doc):
                found.extend(
                    as_patch(f) for f in extract(path, doc, d) if f.kind == "k8s.container"
                )
            else:
                found.extend(json_patch_images(path, doc, where))
        move = _block_mover(text_n)
        out.extend(
            dataclasses.replace(
                f, span=move(f.span), spans={k: move(v) for k, v in f.spans.items()}
            )
            for f in found
        )
    return out


_BLOCK_HEADER = re.compile(r"\A[|>][+-]?[ \t]*(?:#.*)?\Z")


def _block_mover(node: Node) -> Any:
    """Where a span of a scalar's text lies in the file: shifted by the block's first line
    and indentation for a literal block scalar (`|`, `|-`, `|+` without an indentation
    digit), else the scalar's own span (its text is not laid out as written)."""
    whole = node.span
    lines = node.source().split("\n")
    if node.raw.style == "|" and len(lines) > 1 and _BLOCK_HEADER.match(lines[0].strip()):
        content = [ln for ln in lines[1:] if ln.strip()]
        if content:
            indent = len(content[0]) - len(content[0].lstrip(" "))
            first = whole.start_line

            def shift(sp: Span) -> Span:
                return Span(
                    sp.start_line + first,
                    sp.start_col + indent,
                    sp.end_line + first,
                    sp.end_col + indent,
                )

            return shift
    return lambda _sp: whole


# JSON 6902 operations that put a value in place (copy and move reuse one already there)
_PATCH_OPS = ("add", "replace")


def json_patch_images(path: str, doc: Node, target: str) -> list[Fact]:
    """The images a JSON 6902 patch (a list of operations, as kustomize applies from
    `patches:` or `patchesJson6902:`) puts in place: the value of an add or replace whose
    path ends in /image, and every `image` of a value that is a mapping or a list (a
    container added whole). Judged as kustomize image overrides (via: patch)."""
    out: list[Fact] = []
    if not doc.is_seq:
        return out
    for i, op in enumerate(doc.items()):
        if not op.is_map or _scalar_str(op.get("op")) not in _PATCH_OPS:
            continue
        where = _scalar_str(op.get("path")) or ""
        value = op.get("value")
        if value is None:
            continue
        here = f"{target}[{i}]{where}"
        if value.is_scalar:
            if where.rstrip("/").rsplit("/", 1)[-1] == "image":
                out.append(_patch_image(path, value, here))
        else:
            out.extend(_patch_image(path, v, f"{here}{sub}") for sub, v in _images_in(value, ""))
    return out


# fields the workload rules judge: a patch that removes or replaces one is not modelled
_JUDGED_FIELDS = frozenset(
    (
        "securityContext",
        "resources",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "labels",
        "runAsNonRoot",
        "runAsUser",
        "privileged",
        "allowPrivilegeEscalation",
    )
)
# ... and what holds them, when removed or replaced whole
_JUDGED_HOLDERS = frozenset(("containers", "initContainers", "template", "metadata", "spec"))
# values that make a pod less safe, whatever patch sets them
_UNSAFE = {
    "privileged": True,
    "allowPrivilegeEscalation": True,
    "runAsNonRoot": False,
    "runAsUser": 0,
    "hostPID": True,
    "hostNetwork": True,
    "hostIPC": True,
}
_PATCH_NOTE = "render with `kustomize build` and scan the output"


def patch_unjudged(doc: Node) -> list[tuple[Span, str]]:
    """What a patch does that the rules do not judge, located: in a JSON 6902 patch (a list
    of operations), a `copy` or `move` into an image, a `remove` of a field the rules judge,
    an `add` or `replace` that sets an unsafe value (privileged, host namespaces, root); in a
    strategic-merge patch, a `$patch: delete` or `$patch: replace` directive on such a field.
    A patch that only sets fields (an image, resources, probes) is judged where it is."""
    out: list[tuple[Span, str]] = []
    if doc.is_seq:
        for op in doc.items():
            if not op.is_map:
                continue
            kind = _scalar_str(op.get("op"))
            where = _scalar_str(op.get("path")) or ""
            parts = [p for p in where.split("/") if p]
            if kind in ("copy", "move") and parts and parts[-1] == "image":
                out.append(
                    (
                        op.span,
                        f"not judged: this JSON patch "
                        f"{'copies' if kind == 'copy' else 'moves'} a value into {where}, "
                        f"so the image that runs is not known here; {_PATCH_NOTE}",
                    )
                )
            elif kind == "remove" and (
                _JUDGED_FIELDS.intersection(parts) or (parts and parts[-1] in _JUDGED_HOLDERS)
            ):
                out.append(
                    (
                        op.span,
                        f"not judged: this JSON patch removes {where}, which the workload "
                        f"rules judge; {_PATCH_NOTE}",
                    )
                )
            elif kind in _PATCH_OPS:
                value = op.get("value")
                bad = _unsafe_in(value, parts[-1] if parts else "")
                if value is not None and bad:
                    out.append(
                        (
                            value.span,
                            f"not judged: this JSON patch sets {bad} at {where}; {_PATCH_NOTE}",
                        )
                    )
    elif doc.is_map:
        out.extend(_directives(doc, 0))
    return out


def _unsafe_in(node: Node | None, key: str, depth: int = 0) -> str | None:
    """The first unsafe setting in a patch value (`privileged: true`), as text, or None."""
    if node is None or depth > 12:
        return None
    if node.is_scalar:
        want = _UNSAFE.get(key, ...)
        return f"{key}: {node.str_value()}" if want is not ... and node.value == want else None
    if node.is_map:
        for k, v in node.items():
            found = _unsafe_in(v, k.str_value() or "", depth + 1)
            if found:
                return found
    elif node.is_seq:
        for v in node.items():
            found = _unsafe_in(v, key, depth + 1)
            if found:
                return found
    return None


def _directives(
    node: Node, depth: int, judged: bool = False, key: str = ""
) -> list[tuple[Span, str]]:
    """`$patch: delete|replace` directives on (or inside) fields the rules judge, or on what
    holds them whole (a container list, the pod template, the spec)."""
    out: list[tuple[Span, str]] = []
    if depth > 16:
        return out
    if node.is_map:
        for k, v in node.items():
            name = k.str_value() or ""
            if name == "$patch" and (judged or key in _JUDGED_HOLDERS):
                if _scalar_str(v) in ("delete", "replace"):
                    out.append(
                        (
                            k.span,
                            f"not judged: a strategic-merge $patch: {_scalar_str(v)} removes or "
                            f"replaces fields the workload rules judge; {_PATCH_NOTE}",
                        )
                    )
            elif not v.is_scalar:
                out.extend(_directives(v, depth + 1, judged or name in _JUDGED_FIELDS, name))
    elif node.is_seq:
        for v in node.items():
            out.extend(_directives(v, depth + 1, judged, key))
    return out


def _images_in(node: Node, at: str) -> Iterator[tuple[str, Node]]:
    if node.is_map:
        for k, v in node.items():
            key = k.str_value() or ""
            if key == "image" and v.is_scalar:
                yield f"{at}/image", v
            else:
                yield from _images_in(v, f"{at}/{key}")
    elif node.is_seq:
        for i, v in enumerate(node.items()):
            yield from _images_in(v, f"{at}/{i}")


def _patch_image(path: str, value: Node, target: str) -> Fact:
    data: dict[str, Any] = {
        "via": "patch",
        "original": None,
        "new_name": None,
        "new_tag": None,
        **image_data(value.str_value() or ""),
    }
    return Fact("k8s.kustomize_image", path, value.span, target, data, {"image": value.span})


def _input_fact(path: str, here: str, target: str, field: str, entry: str, span: Span) -> Fact:
    remote = _remote(entry)
    return Fact(
        "k8s.kustomize_resource",
        path,
        span,
        f"{target}/{field}/{entry}",
        {
            "resource": entry,
            "field": field,
            "remote": remote,
            "host": _remote_host(entry) if remote else None,
            "local_path": None if remote else _local_path(here, entry),
        },
    )


def _local_path(here: str, entry: str) -> str | None:
    """The repository path of a local entry, relative to the kustomization's directory; None
    for an absolute path or one that climbs out of the repository (no file of it)."""
    joined = posixpath.normpath(posixpath.join(here, entry))
    if entry.startswith("/") or joined == ".." or joined.startswith("../"):
        return None
    return joined


# `host.tld/...` (kustomize reads `github.com/org/repo/path?ref=x` as a Git repository): a
# first path segment that is a host name whose last label is letters (a TLD); `./` makes a
# local directory of the same name explicit
_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?::[0-9]+)?$", re.IGNORECASE)
_SCP = re.compile(r"^[A-Za-z0-9._-]+@([A-Za-z0-9.-]+):")


def _remote(entry: str) -> bool:
    """Whether kustomize fetches a resource entry from elsewhere: a URL, a Git address
    (`git@host:org/repo`, `git::...`), or `host.tld/org/repo[//path][?ref=...]`."""
    e = entry.strip()
    if e.startswith(("./", "../", "/")) or e in (".", ".."):
        return False
    if "://" in e or e.startswith(("git::", "gh:")) or _SCP.match(e):
        return True
    first, sep, _ = e.partition("/")
    return bool(sep) and _HOST.match(first) is not None


def _remote_host(entry: str) -> str | None:
    e = entry.strip()
    if e.startswith("git::"):
        e = e[5:]
    if "://" in e:
        e = e.split("://", 1)[1]
        e = e.rsplit("@", 1)[-1] if "@" in e.split("/", 1)[0] else e
    else:
        scp = _SCP.match(e)
        if scp:
            return scp.group(1).lower()
    host = e.split("/", 1)[0].split("?", 1)[0]
    host = host.rsplit(":", 1)[0] if re.search(r":[0-9]*$", host) else host
    return host.lower() or None


def _added_labels(obj: Node) -> dict[str, str]:
    """The labels a kustomization puts on every object it builds: `commonLabels`, and the
    `pairs` of each `labels:` entry (both land in metadata.labels)."""
    out: dict[str, str] = {}
    common = obj.get("commonLabels")
    if common is not None and common.is_map and not common.is_template:
        out.update(_labels(common))
    entries = obj.get("labels")
    for entry in entries.items() if entries is not None and entries.is_seq else ():
        pairs = entry.get("pairs") if entry.is_map else None
        if pairs is not None and pairs.is_map and not pairs.is_template:
            out.update(_labels(pairs))
    return out


def image_override(path: str, entry: Node, target: str, via: str) -> Fact | None:
    """A kustomize image override (an `images:` entry, or an ImageTagTransformer's
    `imageTag`): the image that runs in place of `name`, judged like a container's. kustomize
    sets the name to newName (else keeps it), the tag to newTag and the digest to digest;
    with neither newTag nor digest the base's tag is kept, which this override does not say."""
    if not entry.is_map:
        return None
    pairs = {k: entry.get_pair(k) for k in ("name", "newName", "newTag", "digest")}
    text = {k: (p[1].str_value() or None) if p else None for k, p in pairs.items()}
    name = text["newName"] or text["name"]
    if not name:
        return None
    image = name
    if text["newTag"]:
        image += f":{text['newTag']}"
    if text["digest"]:
        image += f"@{text['digest']}"
    where = pairs["newName"] if text["newName"] else pairs["name"]
    span = where[1].span if where else entry.span
    spans = {"image": span}
    for key, field in (("newTag", "new_tag"), ("digest", "digest"), ("name", "original")):
        pair = pairs[key]
        if pair is not None:
            spans[field] = pair[1].span
    data: dict[str, Any] = {
        "via": via,
        "original": text["name"],
        "new_name": text["newName"],
        "new_tag": text["newTag"],
        **image_data(image),
    }
    return Fact("k8s.kustomize_image", path, span, target, data, spans)


def _inline_text(entry: str) -> bool:
    """Whether a `patchesStrategicMerge:` string is the patch itself rather than a file name:
    several lines, or one line of JSON (kustomize tries a file first, then the content)."""
    return "\n" in entry.strip() or entry.lstrip().startswith(("{", "["))


def _patch_paths(obj: Node) -> list[str]:
    """Files a kustomization applies as patches (partial objects, not workloads)."""
    out: list[str] = []
    for key in ("patches", "patchesStrategicMerge", "patchesJson6902"):
        node = obj.get(key)
        items = node.to_python() if node is not None else None
        for item in items if isinstance(items, list) else []:
            if isinstance(item, str) and not _inline_text(item):
                out.append(item)
            elif isinstance(item, dict) and isinstance(item.get("path"), str):
                out.append(item["path"])
    return out


# the facts of a patch file that are not observations of a whole object: its objects and
# workloads are fragments (completeness rules must not judge them), but what it sets is
# deployed: container images (kept, marked `patch`), env values, image overrides
_FRAGMENT_KINDS = frozenset(("k8s.object", "k8s.workload", "env.workload"))


def drop_patch_facts(
    facts: list[Fact],
    roots: Collection[str] = (),
    known: Collection[str] | None = None,
    diags: list[tuple[str, Span, str]] | None = None,
) -> list[Fact]:
    """The cross-file pass over Kubernetes facts.

    Files that a kustomization in the scan uses as patches hold only the fields they change,
    so their objects and workloads are not judged (their `k8s.object`, `k8s.workload` and
    `env.workload` facts are dropped), but what a patch sets is deployed: its containers are
    kept, marked `patch: true` (the registry and tag rules judge their images; completeness
    rules skip them), and so are its env values. A file named as a patch by a kustomization
    that nothing uses loses nothing that decides what runs. A workload the API server would
    refuse whole (see `fragment_reason`) is treated the same way, unless a kustomization
    builds its file as a resource: kustomize may complete it before anything is applied, so
    it is judged as the object it is.

    What kustomize does to the files it builds (see `_builds`) is applied: the tag an
    `images:` override sets, the labels a kustomization adds. `roots` names kustomization
    directories that count as deployed even when another kustomization builds them (in PR
    mode, the merge base's roots: a change cannot make a deployed overlay stop counting by
    wrapping it); with `known` (the merge base's kustomization directories), every
    kustomization the change adds counts as deployed too. What kustomize would refuse builds
    nothing (`diags` receives (path, span, message) for what is said about it).

    A file that kustomizations list but whose name tether does not read as YAML is read
    once for each kustomization slice that lists it (see scan._observe): its facts are kept
    once."""
    graph = KustomizeGraph(facts, roots, known, diags)
    return graph.finalize(facts)


# what the cross-file pass reads of a scan, by kind: kustomization files' facts, and those
# of the files their `transformers:` list (see KustomizeGraph, graph_fact)
_GRAPH_FIELDS = {
    "k8s.kustomization": ("patches", "local_paths", "added_labels"),
    "k8s.kustomize_resource": ("local_path", "field"),
    "k8s.kustomize_image": (
        "via",
        "original",
        "image_valid",
        "templated",
        "new_tag",
        "digest",
        "new_name",
    ),
}
_GRAPH_KINDS = frozenset(_GRAPH_FIELDS)
_NO_SPANS: Mapping[str, Span] = types.MappingProxyType({})


def graph_fact(f: Fact) -> Fact | None:
    """What `KustomizeGraph`, `kustomize_roots` and the scan's lists of what kustomizations
    read need of a fact, and no more (None when nothing): a scan keeps these for every
    kustomization while it reads the rest, so they are kept small."""
    fields = _GRAPH_FIELDS.get(f.kind)
    if fields is None:
        return None
    data = f.data
    if f.kind == "k8s.kustomize_resource" and data.get("field") not in _KEPT_FIELDS:
        return None
    if f.kind == "k8s.kustomize_image" and data.get("via") not in ("images", "transformer"):
        return None
    return Fact(
        f.kind,
        f.path,
        f.span,
        "",
        {k: data[k] for k in fields if k in data},
        _NO_SPANS,
    )


class KustomizeGraph:
    """What the kustomizations of a scan make of the other files' facts (see
    `drop_patch_facts`), worked out from the facts of the kustomization files and of the
    files they list as transformers alone, so that every other file's facts can be finished
    (`finalize`) as soon as they are made, and judged and let go."""

    def __init__(
        self,
        facts: Iterable[Fact],
        roots: Collection[str] = (),
        known: Collection[str] | None = None,
        diags: list[tuple[str, Span, str]] | None = None,
    ) -> None:
        graph = [f for f in facts if f.kind in _GRAPH_KINDS]
        kustomizations = [f for f in graph if f.kind == "k8s.kustomization"]
        if known is not None:
            added = {posixpath.dirname(k.path) for k in kustomizations} - set(known)
            roots = {*roots, *added}
        self._builds, built_resources = _builds(graph, kustomizations, roots, diags)
        self._built_resources = built_resources
        # a file a kustomization builds as a resource is an object, whoever names it a patch
        self._patches = {
            p
            for f in kustomizations
            for p in _inside(posixpath.dirname(f.path), f.data.get("patches"))
            if p not in built_resources
        }
        self._extra = {
            p
            for f in kustomizations
            for p in f.data.get("local_paths") or []
            if not reads_as_yaml(p)
        }
        self._seen: set[tuple[str, str, Span, str]] = set()

    def finalize(self, facts: Iterable[Fact]) -> list[Fact]:
        """`facts` as the kustomizations make them: patch files' objects dropped and their
        containers marked, what builds set applied; the facts of a file read for several
        kustomization slices kept once (across calls)."""
        extra, patches, builds, seen = self._extra, self._patches, self._builds, self._seen
        out: list[Fact] = []
        for f in facts:
            if f.path in extra:
                key = (f.kind, f.path, f.span, f.target)
                if key in seen:
                    continue
                seen.add(key)
            fragment = "fragment" in f.data
            if fragment:
                f = dataclasses.replace(
                    f, data={k: v for k, v in f.data.items() if k != "fragment"}
                )
                fragment = f.path not in self._built_resources
            if f.path in patches or fragment:
                if f.kind in _FRAGMENT_KINDS:
                    continue
                if f.kind == "k8s.container":
                    f = as_patch(f)
            if f.path in builds:
                f = _as_built(f, builds[f.path])
            out.append(f)
        return out


def _inside(here: str, entries: Any) -> list[str]:
    """Repository paths of a kustomization's local file entries that kustomize loads: inside
    its directory (by default kustomize refuses a file above it)."""
    out = []
    for p in entries or []:
        path = posixpath.normpath(posixpath.join(here, p))
        if (
            path != ".."
            and not path.startswith("../")
            and (not here or path.startswith(here + "/"))
        ):
            out.append(path)
    return out


def _as_built(f: Fact, builds: list[_Build]) -> Fact:
    """A fact of a file kustomizations build, with what every build does to it: the tag an
    `images:` override sets (`tag_set_by`), the labels `commonLabels`/`labels:` add."""
    data = f.data
    if f.kind == "k8s.container":
        by = _overridden_by(data.get("image"), builds)
        data = {**data, "kustomized": True, **({"tag_set_by": by} if by else {})}
    added = dict(builds[0].labels)
    for b in builds[1:]:
        added = {k: v for k, v in added.items() if k in b.labels}
    if added and f.kind in ("k8s.workload", "k8s.container", "env.workload"):
        data = {**data, "labels": {**(data.get("labels") or {}), **added}}
        if "all_labels" in data:
            data["all_labels"] = {**data["all_labels"], **added}
    return f if data is f.data else dataclasses.replace(f, data=data)


# kustomization fields whose local entries kustomize builds into its output
_BUILT = frozenset(("resources", "bases", "components"))
_KEPT_FIELDS = _BUILT | {"transformers"}
_MAX_BUILD_STEPS = 100_000  # a bound on walking kustomizations (diamonds multiply paths)


_UNKNOWN = "\x00unknown"  # an image name no entry can match


@dataclass(frozen=True, slots=True)  # (one per images: entry; a scan keeps them all)
class _Override:
    """One `images:` entry, as kustomize applies it: to every image named `name` (the
    output of the entries and kustomizations applied before it)."""

    name: str
    new_name: str | None  # None: keeps the name; _UNKNOWN: a name not statically known
    touches_tag: bool  # sets newTag or digest
    sets_tag: bool  # ... as K8S010 judges it (a valid, literal reference)
    where: str  # the kustomization


@dataclass(frozen=True, slots=True)  # (one per way a file is built; a scan keeps them all)
class _Build:
    """One way of building a file: the kustomizations from a root down to the one that
    lists it (outermost first), and the labels they add to every object."""

    chain: tuple[tuple[_Override, ...], ...]  # each kustomization's images:, in order
    labels: dict[str, str]


def _builds(
    facts: list[Fact],
    kustomizations: list[Fact],
    roots: Collection[str] = (),
    diags: list[tuple[str, Span, str]] | None = None,
) -> tuple[dict[str, list[_Build]], set[str]]:
    """For each file the kustomizations in the scan build (resources, and the patches they
    apply), each way of building it: one `_Build` per root kustomization (one no other
    kustomization in the scan builds, or one `roots` names) and path from it, since each
    build deploys what its own transformers make of the file; and the files built as
    resources. kustomize applies a kustomization's `images:` (then its ImageTagTransformer
    configs) and labels to everything it builds, its bases' output and its patches'
    included; a component's, to its parent's resources, before the parent's own. What
    kustomize refuses builds nothing: a directory with two kustomization files, a resource
    file above the kustomization's directory. Past a bound on the walk, nothing is taken as
    set by a build (images are judged as written) and that is said."""
    files: dict[str, list[Fact]] = {}
    for k in kustomizations:
        files.setdefault(posixpath.dirname(k.path), []).append(k)
    by_dir: dict[str, Fact] = {}
    for d, ks in files.items():
        if len({k.path for k in ks}) > 1:
            if diags is not None:
                for k in ks:
                    diags.append(
                        (
                            k.path,
                            k.span,
                            "not judged as a kustomization: its directory holds several "
                            "kustomization files, which kustomize refuses to build",
                        )
                    )
            continue
        by_dir[d] = ks[0]
    children: dict[str, list[tuple[str, str]]] = {d: [] for d in by_dir}
    images: dict[str, list[_Override]] = {d: [] for d in by_dir}
    transformers: dict[str, list[str]] = {d: [] for d in by_dir}
    by_file: dict[str, list[_Override]] = {}
    patched = {d: _inside(d, k.data.get("patches")) for d, k in by_dir.items()}
    for f in facts:
        here = posixpath.dirname(f.path)
        if f.kind == "k8s.kustomize_image" and f.data.get("via") == "transformer":
            o = _override(f)
            if o is not None:
                by_file.setdefault(f.path, []).append(o)
            continue
        if here not in by_dir or by_dir[here].path != f.path:
            continue
        if f.kind == "k8s.kustomize_resource":
            local = f.data.get("local_path")
            field = f.data.get("field")
            if local and field in _BUILT:
                children[here].append((posixpath.normpath(local), str(field)))
            elif local and field == "transformers":
                transformers[here].append(posixpath.normpath(local))
        elif f.kind == "k8s.kustomize_image" and f.data.get("via") == "images":
            o = _override(f)
            if o is not None:
                images[here].append(o)
    # each kustomization's own image transformers: images:, then its ImageTagTransformers
    own = {
        d: (*images[d], *(o for t in transformers[d] for o in by_file.get(t, ()))) for d in by_dir
    }
    built = {c for cs in children.values() for c, _ in cs if c in by_dir}
    out: dict[str, list[_Build]] = {}
    resources: set[str] = set()
    steps = 0
    exhausted = False
    for root in sorted(by_dir):
        if root in built and root not in roots:
            continue
        # iterative: a chain of thousands of kustomizations must not exhaust Python's stack
        stack: list[tuple[str, _Build, tuple[str, ...]]] = [(root, _Build((), {}), ())]
        while stack:
            d, acc, ancestors = stack.pop()
            steps += 1
            if steps > _MAX_BUILD_STEPS:
                exhausted = True
                break
            if d in ancestors:
                continue  # kustomize refuses a cycle
            comps = [c for c, field in children[d] if field == "components" and c in by_dir]
            # a component's transformers run on its parent's resources, in order, before the
            # parent's own; an outer kustomization's after the inner ones' (chain: outermost
            # first, applied in reverse)
            chain = (*acc.chain, own[d], *(own[c] for c in reversed(comps)))
            labels = {**(by_dir[d].data.get("added_labels") or {}), **acc.labels}
            for c in comps:
                labels = {**(by_dir[c].data.get("added_labels") or {}), **labels}
            build = _Build(chain, labels)
            for p in patched[d]:
                out.setdefault(p, []).append(build)
            for c, _field in reversed(children[d]):
                if c in by_dir:
                    stack.append((c, build, (*ancestors, d)))
                elif not d or c.startswith(d + "/"):
                    resources.add(c)
                    out.setdefault(c, []).append(build)
                # a resource file above the kustomization's directory: kustomize refuses it
        if exhausted:
            break
    if exhausted:
        if diags is not None:
            first = by_dir[sorted(by_dir)[0]]
            diags.append(
                (
                    first.path,
                    first.span,
                    f"kustomizations too many ways built (over {_MAX_BUILD_STEPS:,} steps): "
                    "no image override or label they set is taken as applied; images are "
                    "judged as written. Render with kustomize build and scan the output",
                )
            )
        return {}, resources
    return out, resources


def _override(f: Fact) -> _Override | None:
    """An `images:` entry or ImageTagTransformer as kustomize applies it (see _Override)."""
    data = f.data
    if not data.get("original"):
        return None
    literal = bool(data.get("image_valid")) and not data.get("templated")
    touches = bool(data.get("new_tag") or data.get("digest"))
    new_name = data.get("new_name")
    return _Override(
        str(data["original"]),
        (new_name if literal else _UNKNOWN) if new_name else None,
        touches,
        literal and touches,
        f.path,
    )


def kustomize_roots(facts: Sequence[Fact]) -> list[str]:
    """The directories of the root kustomizations among the facts (none builds them)."""
    kustomizations = [f for f in facts if f.kind == "k8s.kustomization"]
    dirs = {posixpath.dirname(k.path) for k in kustomizations}
    built = {
        posixpath.normpath(str(f.data["local_path"]))
        for f in facts
        if f.kind == "k8s.kustomize_resource"
        and f.data.get("field") in _BUILT
        and f.data.get("local_path")
        and posixpath.dirname(f.path) in dirs
    }
    return sorted(dirs - built)


def _overridden_by(image: Any, builds: list[_Build]) -> list[str]:
    """The kustomizations whose `images:` set this image's tag or digest, when every build
    of its file has one (else []). Each build applies its kustomizations innermost first,
    each one's entries in order, as kustomize does: an entry matches the image's current
    name (the image as written without tag and digest, or what a `newName` before made of
    it), and only an override K8S010 judges (a literal, valid reference) counts as setting
    the tag."""
    if not isinstance(image, str) or not image:
        return []
    name = image.split("@", 1)[0]
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name = name[:colon]
    found: set[str] = set()
    for build in builds:
        current, set_by = name, None
        for entries in reversed(build.chain):
            for e in entries:
                if e.name != current:
                    continue
                if e.touches_tag:  # a tag K8S010 cannot judge is no pin
                    set_by = e.where if e.sets_tag else None
                if e.new_name:
                    current = e.new_name
        if set_by is None:
            return []
        found.add(set_by)
    return sorted(found)


def as_patch(f: Fact) -> Fact:
    """A container of a kustomize patch: marked `patch`, and the security settings it does
    not write are not statically known (the base, or nothing, sets them), as a template
    action's are: what it writes is judged (`privileged: true` in a patch is deployed), what
    it leaves out is not."""
    unknown = set(f.data.get("templated_fields") or [])
    unknown.update(name for name, *_ in _SECURITY if f.data.get(name) is None)
    return dataclasses.replace(
        f, data={**f.data, "patch": True, "templated_fields": sorted(unknown)}
    )


def reads_as_yaml(path: str) -> bool:
    """Whether the scan reads a file's manifests by its name alone (else a kustomization
    that lists it has it read: kustomize reads every file it lists as YAML)."""
    return classify(path) in ("yaml", "json", "gha-workflow", "gha-action")


def _str_list(node: Node | None) -> list[str]:
    if node is None:
        return []
    v = node.to_python()
    return [str(x) for x in v] if isinstance(v, list) else []
