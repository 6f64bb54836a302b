"""Environment variables where they are set: Kubernetes containers (`env:`), GitHub Actions
workflows (`env:` of the workflow, a job, a step, a job's container or service) and Dockerfile
`ENV`. Each becomes an `env.var` fact; each Kubernetes workload also gets an `env.workload`
fact (the variable names and hosts of all its containers, its labels and annotations).

Secrets never enter a fact. A literal value is recorded only when neither the variable's name
nor the value looks like a credential (`*_KEY`, `*TOKEN*`, `*PASSWORD*`...; `sk-...`, long
random strings, URLs with a password or a key in the query): otherwise the fact says only that
a literal exists (`withheld`). A reference records which secret it names, never its content.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from ..model import Fact, Span
from ..parsers.dockerfile import DockerfileDocument, Instruction
from ..parsers.yaml import Node
from .kubernetes import (
    _CONTAINER_FIELDS,
    ObjectView,
    WorkloadView,
    _labels,
    _objects,
    fragment_reason,
    object_view,
    shape_templated,
    workload_views,
)

_SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|PWD|CREDENTIAL|AUTH|PRIVATE|CERT|SIGNATURE|SALT|DSN|SESSION|COOKIE",
    re.IGNORECASE,
)
# Formats of well-known credentials, and anything long and random enough to be one.
_SECRET_VALUE = re.compile(
    r"(?:sk-|sk_|rk_|pk_|AIza|ghp_|gho_|ghs_|ghu_|github_pat_|glpat-|xox[abprs]-|AKIA|ASIA|eyJ"
    r"|-----BEGIN)"
)
_RANDOM = re.compile(r"[A-Za-z0-9_\-+/=]{24,}")
_URL_SECRET_QUERY = re.compile(
    r"(?:^|[&;])(?:[\w.-]*(?:key|token|secret|sig|signature|password|pwd|auth)[\w.-]*)=",
    re.IGNORECASE,
)
# a dotted host name (for bare values), or any host name (in a URL, where a single label such
# as a Kubernetes service name is a host too)
_HOSTNAME = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$", re.IGNORECASE
)
_URL_HOSTNAME = re.compile(
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$",
    re.IGNORECASE,
)
_BARE_HOST = re.compile(r"^([A-Za-z0-9.-]+)(?::\d{1,5})?(?:/\S*)?$")
_GHA_EXPR = re.compile(r"\$\{\{")
_GHA_SECRET = re.compile(r"\bsecrets\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_-]*)|\[\s*'([^']+)'\s*\])")
_GHA_WHOLE = re.compile(
    r"^\s*\$\{\{\s*(secrets|vars)\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_-]*)"
    r"|\[\s*'([^']+)'\s*\])\s*\}\}\s*$"
)
_SHELL_VAR = re.compile(r"\$(?:\{[A-Za-z_][A-Za-z0-9_]*|[A-Za-z_])")
_K8S_VAR = re.compile(r"(?<!\$)\$\([A-Za-z_][A-Za-z0-9_]*\)")


def secret_like_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def secret_like_value(value: str) -> bool:
    """A value that is, or embeds, a credential: a known key format, a long random token, a
    URL with a password (`user:pass@`) or a key, token or signature in its query."""
    v = value.strip()
    if _SECRET_VALUE.match(v):
        return True
    if _RANDOM.fullmatch(v) and re.search(r"\d", v) and re.search(r"[A-Za-z]", v):
        return True
    if "://" in v:
        try:
            parts = urlsplit(v)
        except ValueError:
            return True
        if parts.password is not None or "@" in parts.netloc:
            return True
        if parts.query and _URL_SECRET_QUERY.search(parts.query):
            return True
    return False


def host_of(value: str) -> str | None:
    """The host a value names: a URL's host, or a bare `host[:port][/path]`; lower-case,
    without port. None when the value names no host."""
    v = value.strip()
    if not v:
        return None
    url = "://" in v
    if url:
        try:
            host = urlsplit(v).hostname
        except ValueError:
            return None
    else:
        m = _BARE_HOST.match(v)
        host = m.group(1) if m else None
    if not host:
        return None
    host = host.lower().rstrip(".")
    if (_URL_HOSTNAME if url else _HOSTNAME).match(host):
        return host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return host


_PLACEHOLDER = re.compile(
    r"<[^<>]*>|\$\{?[A-Za-z_]\w*\}?|\{\{.*\}\}|[A-Z0-9_]*_VAL(UE)?|"
    r"(?i:replace[_-]?me|change[_-]?me|your[_-].*|xxx+|todo|placeholder|dummy|none|null)"
)


def _var(
    name: str,
    raw_value: str | None,
    value_kind: str,
    source: str,
    owner: str,
    owner_kind: str,
    *,
    secret_name: str | None = None,
    secret_key: str | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The data of one env.var fact. The value is kept only when it is a literal that neither
    the name nor the value marks as a credential."""
    value: str | None = None
    host: str | None = None
    withheld = False
    if value_kind == "literal" and (raw_value is None or not raw_value.strip()):
        value_kind = "empty"  # declared without a value: nothing is injected
    elif (
        value_kind == "literal"
        and raw_value is not None
        and _PLACEHOLDER.fullmatch(raw_value.strip())
    ):
        value_kind = "placeholder"  # filled in at deploy time (REPLACE_ME, <key>, X_VAL)
    if value_kind == "literal" and raw_value is not None:
        if secret_like_name(name):
            withheld = True
        else:
            host = host_of(raw_value)
            if secret_like_value(raw_value):
                withheld = True
            else:
                value = raw_value
    return {
        "name": name,
        "value": value,
        "value_kind": value_kind,
        "withheld": withheld,
        "host": host,
        "secret_name": secret_name,
        "secret_key": secret_key,
        "source": source,
        "owner": owner,
        "owner_kind": owner_kind,
        "labels": labels,
    }


def _fact(path: str, data: dict[str, Any], name_span: Span, value_span: Span | None) -> Fact:
    spans = {"name": name_span, "value": value_span or name_span}
    return Fact("env.var", path, name_span, f"{data['owner']}/env/{data['name']}", data, spans)


# ---------------------------------------------------------------------------
# Kubernetes


def _k8s_entry(item: Node) -> tuple[str, str | None, str | None, str | None, Node | None]:
    """(value_kind, literal value, secret name, secret key, the node of the value) of one
    entry of a container's env list; the name is read by the caller."""
    value = item.get("value")
    value_from = item.get("valueFrom")
    if value_from is not None and value_from.is_map:
        ref = value_from.get("secretKeyRef")
        if ref is not None and ref.is_map:
            sn, sk = ref.get("name"), ref.get("key")
            return (
                "secret-ref",
                None,
                sn.str_value() if sn else None,
                sk.str_value() if sk else None,
                value_from,
            )
        if value_from.get("configMapKeyRef") is not None:
            return "config-ref", None, None, None, value_from
        return "expression", None, None, None, value_from  # fieldRef, resourceFieldRef
    if value is None:
        return "literal", "", None, None, None
    text = value.str_value()
    if text is None or _K8S_VAR.search(text):
        return "expression", None, None, None, value  # $(OTHER_VAR) is expanded at run time
    return "literal", text, None, None, value


def extract_k8s(path: str, root: Node, doc_index: int) -> list[Fact]:
    """env.var facts of every container of every workload in a manifest, and one
    env.workload fact per workload."""
    facts: list[Fact] = []
    for obj in _objects(root):
        _workload(path, obj, doc_index, facts)
    return facts


def _annotations(meta: Node | None) -> dict[str, Any]:
    return _labels(meta.get("annotations")) if meta is not None and meta.is_map else {}


def _workload(path: str, obj: Node, doc_index: int, facts: list[Fact]) -> None:
    o = object_view(obj, doc_index)
    views = workload_views(o)
    # a patch's env values are deployed, but it is not a workload (see fragment_reason;
    # marked here, settled by kubernetes.drop_patch_facts)
    fragment = fragment_reason(o, views)
    for w in views:
        _pod(path, o, w, fragment, facts)


def _pod(
    path: str, o: ObjectView, w: WorkloadView, fragment: str | None, facts: list[Fact]
) -> None:
    kind, name, namespace, target, meta = o.kind, w.name, o.namespace, w.target, o.meta
    all_labels = w.all_labels
    pod_meta = w.pod_meta if w.templated else None
    annotations = {**_annotations(pod_meta), **_annotations(meta)}
    templated = ["labels"] if "all_labels" in w.templated_fields else []
    if any(
        m is not None and (m.is_template or (m.is_map and shape_templated(m.get("annotations"), 1)))
        for m in (meta, pod_meta)
    ):
        templated.append("annotations")
    names: set[str] = set()
    hosts: set[str] = set()
    containers: list[str] = []
    pod_spec = w.pod_spec
    for field, _init in _CONTAINER_FIELDS:
        cs = pod_spec.get(field) if pod_spec is not None and pod_spec.is_map else None
        if cs is None or not cs.is_seq:
            continue
        for i, c in enumerate(cs.items()):
            if not c.is_map:
                continue
            cname_n = c.get("name")
            cname = (cname_n.str_value() if cname_n else None) or f"{field}[{i}]"
            containers.append(cname)
            env = c.get("env")
            if env is None or not env.is_seq:
                continue
            for item in env.items():
                pair = item.get_pair("name") if item.is_map else None
                var = pair[1].str_value() if pair else None
                if pair is None or not var:
                    continue
                value_kind, literal, sn, sk, vnode = _k8s_entry(item)
                data = _var(
                    var,
                    literal,
                    value_kind,
                    "k8s",
                    f"{target}/{cname}",
                    "container",
                    secret_name=sn,
                    secret_key=sk,
                    labels=all_labels,
                )
                names.add(var)
                if data["host"]:
                    hosts.add(data["host"])
                facts.append(_fact(path, data, pair[1].span, vnode.span if vnode else None))
    mark = {"fragment": fragment} if fragment else {}
    facts.append(
        Fact(
            "env.workload",
            path,
            o.span,
            target,
            {
                "kind": kind,
                "name": name,
                "namespace": namespace,
                "labels": all_labels,
                "labels_declared": o.labels_pair is not None,
                "annotations": annotations,
                "containers": containers,
                "env_names": sorted(names),
                "env_hosts": sorted(hosts),
                "templated_fields": templated,
                **mark,
            },
            w.spans,
        )
    )


# ---------------------------------------------------------------------------
# GitHub Actions


def _gha_value(node: Node) -> tuple[str, str | None, str | None]:
    """(value_kind, literal value, secret name) of a workflow env value."""
    text = node.str_value()
    if text is None:
        return "expression", None, None  # a map or a list: not a value GitHub accepts as is
    whole = _GHA_WHOLE.match(text)
    if whole:
        ref = whole.group(2) or whole.group(3)
        if whole.group(1) == "secrets":
            return "secret-ref", None, ref
        return "config-ref", None, None
    if _GHA_EXPR.search(text):
        m = _GHA_SECRET.search(text)
        return "expression", None, (m.group(1) or m.group(2)) if m else None
    return "literal", text, None


def _gha_env(path: str, env: Node | None, owner: str, owner_kind: str, out: list[Fact]) -> None:
    if env is None or not env.is_map:
        return  # absent, or an expression (env: ${{ fromJSON(...) }}): names unknown
    for key, val in env.items():
        name = key.str_value()
        if not name:
            continue
        value_kind, literal, secret = _gha_value(val)
        data = _var(name, literal, value_kind, "gha", owner, owner_kind, secret_name=secret)
        out.append(_fact(path, data, key.span, val.span))


def extract_gha(path: str, root: Node | None) -> list[Fact]:
    """env.var facts of a workflow: workflow, job, step, job container and service env."""
    facts: list[Fact] = []
    if root is None or not root.is_map:
        return facts
    _gha_env(path, root.get("env"), "workflow", "workflow", facts)
    jobs = root.get("jobs")
    if jobs is None or not jobs.is_map:
        return facts
    for key, job in jobs.items():
        job_id = key.str_value() or ""
        if not job.is_map:
            continue
        _gha_env(path, job.get("env"), f"jobs.{job_id}", "job", facts)
        container = job.get("container")
        if container is not None and container.is_map:
            _gha_env(path, container.get("env"), f"jobs.{job_id}.container", "container", facts)
        services = job.get("services")
        if services is not None and services.is_map:
            for skey, svc in services.items():
                if svc.is_map:
                    owner = f"jobs.{job_id}.services.{skey.str_value()}"
                    _gha_env(path, svc.get("env"), owner, "service", facts)
        steps = job.get("steps")
        if steps is None or not steps.is_seq:
            continue
        for i, step in enumerate(steps.items()):
            if not step.is_map:
                continue
            sid = step.get("id")
            label = (sid.str_value() if sid else None) or f"steps[{i}]"
            _gha_env(path, step.get("env"), f"{job_id}/{label}", "step", facts)
    return facts


# ---------------------------------------------------------------------------
# Dockerfile


def _env_pairs(ins: Instruction) -> list[tuple[str, str, Span, Span]]:
    """(name, value, name span, value span) of an ENV instruction: `ENV A=1 B="two words"`,
    or the legacy `ENV NAME value with spaces`."""
    words = list(ins.words)
    if not words:
        return []
    if "=" not in words[0].text:
        name = words[0].text
        rest = words[1:]
        value = _unquote(" ".join(w.text for w in rest))
        vspan = (
            Span(
                rest[0].span.start_line,
                rest[0].span.start_col,
                rest[-1].span.end_line,
                rest[-1].span.end_col,
            )
            if rest
            else words[0].span
        )
        return [(name, value, words[0].span, vspan)]
    out: list[tuple[str, str, Span, Span]] = []
    i = 0
    while i < len(words):
        first = words[i]
        name, eq, value = first.text.partition("=")
        j = i
        # a quoted value may span several words: join until the quote closes
        while eq and _open_quote(value) and j + 1 < len(words):
            j += 1
            value += " " + words[j].text
        last = words[j]
        vcol = first.span.start_col + len(name) + 1  # just after the `=`
        span = Span(first.span.start_line, vcol, last.span.end_line, last.span.end_col)
        name_span = Span(
            first.span.start_line,
            first.span.start_col,
            first.span.start_line,
            first.span.start_col + len(name),
        )
        if name and eq:
            out.append((name, _unquote(value), name_span, span))
        i = j + 1
    return out


def _open_quote(s: str) -> bool:
    for q in ('"', "'"):
        if s.startswith(q) and (len(s) == 1 or not s.endswith(q) or s.endswith("\\" + q)):
            return True
    return False


def _unquote(s: str) -> str:
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        return s[1:-1]
    return s


def extract_dockerfile(doc: DockerfileDocument) -> list[Fact]:
    """env.var facts of every ENV instruction, owned by its build stage."""
    facts: list[Fact] = []
    stage = -1
    owner = "global"
    for ins in doc.instructions:
        if ins.keyword == "FROM":
            stage += 1
            f = doc.froms[stage] if stage < len(doc.froms) else None
            owner = f"stage[{(f.alias if f else None) or stage}]"
            continue
        if ins.keyword != "ENV":
            continue
        for name, value, name_span, value_span in _env_pairs(ins):
            kind = "expression" if _SHELL_VAR.search(value) else "literal"
            data = _var(
                name, value if kind == "literal" else None, kind, "dockerfile", owner, "stage"
            )
            facts.append(_fact(doc.path, data, name_span, value_span))
    return facts
