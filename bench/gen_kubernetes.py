#!/usr/bin/env python3
"""Deterministic generator of a realistic, Kubernetes-heavy GitOps repository.

The 1x corpus is shaped like a platform team's deployment repository: ``apps/<app>/base``
(a Deployment or StatefulSet, its Services, ConfigMaps, ServiceAccount and RBAC, an
autoscaler and a disruption budget, and a ``kustomization.yaml``), ``apps/<app>/overlays/
{dev,staging,prod}`` (kustomizations with image overrides by tag or digest, replica counts,
strategic-merge and JSON 6902 patches, ConfigMap generators), ``clusters/<cluster>``
(namespaces, quotas, limit ranges and network policies in multi-document files, and a
kustomization listing the overlays), ``platform/<component>/manifests.yaml`` (large
multi-document bundles: DaemonSets, ClusterRoles, ConfigMaps holding whole configuration
files) and ``jobs/`` (CronJobs). Images are written with tags, digests and both, from
several registries; containers vary in resources, probes, security contexts, sidecars,
init containers, volumes, affinity and tolerations, and a minority are written the way
legacy services are (no limits, ``:latest``, privileged sidecars), so a policy has
something to find.

All text comes from this script's own word lists and templates; nothing is copied from a
public repository.

Usage::

    python bench/gen_kubernetes.py OUTDIR [--scale N] [--seed 20261202]

``--scale N`` (1 to 64) writes the 1x corpus at the root of OUTDIR and N-1 variants of it
(other apps, clusters and values, drawn from the seed and the variant's number) under
``teams/<team>/``: the corpus grows linearly and the 1x corpus is always a part of the Nx
one. The same arguments always give byte-identical files; YAML and JSON files already in
OUTDIR are removed first.

The module also holds the small YAML emitter (``dump``) that bench/gen_workflows.py uses.
Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

DEFAULT_SEED = 20261202
MAX_SCALE = 64

# --------------------------------------------------------------------------------------
# A small YAML emitter: block style, comments, flow sequences, quoting where YAML needs it
# --------------------------------------------------------------------------------------


class Comment(str):
    """A mapping key that is emitted as a ``# comment`` line (its value is ignored)."""


class Flow(list[Any]):
    """A sequence emitted in flow style: ``[a, b]``."""


class FlowMap(dict[str, Any]):
    """A mapping emitted in flow style: ``{a: 1}``."""


class Quoted(str):
    """A string always emitted double-quoted."""


class Single(str):
    """A string always emitted single-quoted."""


class Literal(str):
    """A string always emitted as a literal block scalar (``|`` / ``|-``)."""


class Folded(str):
    """A string emitted as a folded block scalar (``>-``); single line breaks fold."""


class Noted(str):
    """A plain-or-quoted string followed by a ``# note`` on its line (a pinned SHA's tag)."""

    note: str

    def __new__(cls, value: str, note: str) -> Noted:
        self = super().__new__(cls, value)
        self.note = note
        return self


# words the YAML 1.1 resolver reads as booleans or null (kubectl's go-yaml v2 among them)
_SPECIAL_WORDS = frozenset(
    (
        "y",
        "n",
        "yes",
        "no",
        "true",
        "false",
        "on",
        "off",
        "null",
        "~",
        ".inf",
        "-.inf",
        "+.inf",
        ".nan",
        "Y",
        "N",
        "Yes",
        "No",
        "True",
        "False",
        "On",
        "Off",
        "Null",
        "NULL",
        "TRUE",
        "FALSE",
        "YES",
        "NO",
        "ON",
        "OFF",
    )
)
_NUMBERISH = re.compile(
    r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?0[xX][0-9a-fA-F_]+|[-+]?0[oO]?[0-7_]+|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?"
)
_PLAIN_BLOCK = re.compile(r"(?:[A-Za-z0-9_/.$(<=^]|-(?=[^ ]))[^\n]*")
_PLAIN_FLOW = re.compile(r"(?:[A-Za-z0-9_/.$(<=^]|-(?=[^ ]))[^\n,\[\]{}:]*")
# plain keys that YAML 1.1 would read as booleans but that tools expect written bare
PLAIN_KEYS = frozenset({"on"})


def _plain_ok(s: str, flow: bool) -> bool:
    if not s or s != s.strip() or s in _SPECIAL_WORDS or _NUMBERISH.fullmatch(s):
        return False
    if not (_PLAIN_FLOW if flow else _PLAIN_BLOCK).fullmatch(s):
        return False
    return not (": " in s or " #" in s or s.endswith(":") or "\t" in s)


def scalar(value: Any, flow: bool = False, key: bool = False) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return str(value)
    s = str(value)
    if isinstance(value, Single):
        return "'" + s.replace("'", "''") + "'"
    if isinstance(value, Quoted):
        return json.dumps(s, ensure_ascii=False)
    if key and s in PLAIN_KEYS:
        return s
    if _plain_ok(s, flow):
        return s
    return json.dumps(s, ensure_ascii=False)


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        inner = ", ".join(f"{scalar(k, True, True)}: {_flow(v)}" for k, v in value.items())
        return "{" + inner + "}" if inner else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return scalar(value, flow=True)


def _block_scalar(text: str, indent: int, style: str) -> list[str]:
    chomp = "" if text.endswith("\n") else "-"
    body = text[:-1] if text.endswith("\n") else text
    pad = " " * indent
    head = ("|" if style == "literal" else ">") + chomp
    return [head] + [pad + line if line else "" for line in body.split("\n")]


def _value_lines(value: Any, indent: int, seq_indent: int) -> tuple[str, list[str]]:
    """(text on the key's line, following lines) for a mapping value or sequence item."""
    if isinstance(value, FlowMap | Flow):
        return " " + _flow(value), []
    if isinstance(value, Literal | Folded) or (
        isinstance(value, str) and not isinstance(value, Quoted | Single) and "\n" in value
    ):
        style = "folded" if isinstance(value, Folded) else "literal"
        head, *rest = _block_scalar(str(value), indent + 2, style)
        return " " + head, rest
    if isinstance(value, Mapping):
        if not value:
            return " {}", []
        return "", _map_lines(value, indent + 2, seq_indent)
    if isinstance(value, list | tuple):
        if not value:
            return " []", []
        return "", _seq_lines(value, indent + seq_indent, seq_indent)
    if isinstance(value, Noted):
        return f" {scalar(value)} # {value.note}", []
    return " " + scalar(value), []


def _map_lines(mapping: Mapping[Any, Any], indent: int, seq_indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    for k, v in mapping.items():
        if isinstance(k, Comment):
            out.append(f"{pad}# {k}" if k else "")
            continue
        inline, rest = _value_lines(v, indent, seq_indent)
        out.append(f"{pad}{scalar(k, key=True)}:{inline}")
        out.extend(rest)
    return out


def _seq_lines(items: Sequence[Any], indent: int, seq_indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    for item in items:
        if isinstance(item, Mapping) and item and not isinstance(item, FlowMap):
            lines = _map_lines(item, indent + 2, seq_indent)
            lines[0] = pad + "- " + lines[0][indent + 2 :]
            out.extend(lines)
        elif isinstance(item, list | tuple) and item and not isinstance(item, Flow):
            lines = _seq_lines(item, indent + 2, seq_indent)
            lines[0] = pad + "- " + lines[0][indent + 2 :]
            out.extend(lines)
        else:
            inline, rest = _value_lines(item, indent, seq_indent)
            out.append(f"{pad}-{inline}")
            out.extend(rest)
    return out


def dump(doc: Mapping[str, Any], seq_indent: int = 2) -> str:
    """One YAML document in block style. ``seq_indent`` 0 writes sequences as kubectl
    does (``- `` under the key), 2 as most people indent them."""
    return "\n".join(_map_lines(doc, 0, seq_indent)) + "\n"


def dump_all(docs: Iterable[Mapping[str, Any]], seq_indent: int = 2, leading: bool = False) -> str:
    """A multi-document stream separated by ``---`` lines."""
    parts = [dump(d, seq_indent) for d in docs]
    text = "---\n".join(parts)
    return "---\n" + text if leading else text


def sha(text: str, n: int = 64) -> str:
    """A stable hex digest of ``text`` (image digests, commit SHAs)."""
    return hashlib.sha256(text.encode()).hexdigest()[:n]


# --------------------------------------------------------------------------------------
# Word lists
# --------------------------------------------------------------------------------------

APPS = [
    "checkout-api",
    "payments-worker",
    "catalog",
    "search-indexer",
    "notifications",
    "auth-gateway",
    "ledger",
    "inventory-sync",
    "pricing",
    "recommendations",
    "media-transcoder",
    "orders",
    "shipping-tracker",
    "fraud-scorer",
    "session-store",
    "feature-flags",
    "audit-log",
    "report-builder",
    "webhooks",
    "image-resizer",
    "customer-profile",
    "loyalty-points",
    "tax-engine",
    "geo-lookup",
    "email-renderer",
    "event-router",
    "quota-keeper",
    "billing-export",
]
STATEFUL_HINTS = ("store", "ledger", "indexer", "log", "keeper", "queue")
TEAMS = [
    "storefront",
    "money",
    "discovery",
    "fulfilment",
    "trust",
    "growth",
    "core",
    "data",
    "mobile",
    "partners",
    "identity",
    "insights",
]
CLUSTERS = ["prod-eu-west", "prod-us-east", "staging-eu", "dev-shared"]
ENVS = ["dev", "staging", "prod"]
REGISTRIES = [
    "registry.acme.internal/{team}",
    "ghcr.io/acme-corp",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/{team}",
    "europe-docker.pkg.dev/acme-prod/containers",
    "quay.io/acme",
]
SIDECARS = [
    ("envoy", "envoyproxy/envoy", ["v1.29.4", "v1.30.2", "v1.31.0"]),
    ("log-shipper", "fluent/fluent-bit", ["3.0.7", "3.1.4", "2.2.3"]),
    ("otel-agent", "otel/opentelemetry-collector-contrib", ["0.102.1", "0.104.0", "0.98.0"]),
    ("cloud-sql-proxy", "gcr.io/cloud-sql-connectors/cloud-sql-proxy", ["2.11.3", "2.13.0"]),
]
INIT_IMAGES = [
    ("busybox", ["1.36.1", "1.36", "1.35.0-musl"]),
    ("alpine", ["3.20.1", "3.19", "3.18.6"]),
    ("curlimages/curl", ["8.8.0", "8.5.0"]),
]
PLATFORM = [
    ("metrics-agent", "prom/node-exporter", ["v1.8.1", "v1.7.0"]),
    ("log-collector", "fluent/fluent-bit", ["3.1.4", "3.0.7"]),
    ("ingress-edge", "registry.k8s.io/ingress-nginx/controller", ["v1.10.1", "v1.11.0"]),
    ("cert-rotator", "quay.io/acme/cert-rotator", ["2.4.0", "2.5.1"]),
    ("dns-cache", "registry.k8s.io/dns/k8s-dns-node-cache", ["1.23.1", "1.22.28"]),
    ("policy-agent", "openpolicyagent/opa", ["0.65.0-static", "0.66.0-static"]),
]
CRON_JOBS = [
    ("nightly-export", "0 2 * * *"),
    ("cache-warmer", "*/15 * * * *"),
    ("stale-session-reaper", "30 * * * *"),
    ("invoice-run", "0 6 1 * *"),
    ("db-vacuum", "15 3 * * 0"),
    ("report-digest", "0 7 * * 1-5"),
    ("cert-expiry-check", "0 9 * * *"),
    ("orphan-volume-sweeper", "45 4 * * *"),
    ("search-reindex", "0 */6 * * *"),
    ("usage-rollup", "5 0 * * *"),
]
LOG_LEVELS = ["debug", "info", "info", "warn"]
FLUENT_PLUGINS = ["tail", "kubernetes", "modify", "grep", "record_modifier"]
PHRASES = [
    "Keep in step with the service's release notes before changing",
    "Values tuned after the load test of the last quarter",
    "Owned by the on-call rotation; page before editing",
    "Defaults for every environment; overlays patch what differs",
    "Do not lower without checking the dashboards first",
    "Rendered into the pod as a file, read once at start-up",
]


def pick(rng: random.Random, items: Sequence[Any]) -> Any:
    return items[rng.randrange(len(items))]


def chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p


# --------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------


def image_ref(rng: random.Random, repo: str, tag: str, legacy: bool = False) -> str:
    """An image reference written one of the ways people write them."""
    roll = rng.random()
    if legacy and roll < 0.4:
        return f"{repo}:latest" if roll < 0.25 else repo
    if roll < 0.55:
        return f"{repo}:{tag}"
    if roll < 0.8:
        return f"{repo}@sha256:{sha(repo + tag)}"
    return f"{repo}:{tag}@sha256:{sha(repo + tag)}"


def labels(app: str, team: str, component: str, version: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": f"{team}-platform",
        "app.kubernetes.io/managed-by": "kustomize",
    }
    if version:
        out["app.kubernetes.io/version"] = version
    out["acme.io/team"] = team
    return out


def resources(rng: random.Random, legacy: bool, heavy: bool = False) -> dict[str, Any] | None:
    if legacy and chance(rng, 0.5):
        return None
    cpu = pick(rng, [50, 100, 200, 250, 500, 750, 1000, 2000] if heavy else [25, 50, 100, 250])
    mem = pick(rng, [256, 384, 512, 1024, 2048, 4096] if heavy else [64, 96, 128, 256])
    req = {"cpu": f"{cpu}m" if cpu < 1000 else str(cpu // 1000), "memory": f"{mem}Mi"}
    out: dict[str, Any] = {"requests": req}
    lim: dict[str, Any] = {"memory": f"{mem * 2}Mi" if mem < 2048 else f"{mem * 2 // 1024}Gi"}
    if chance(rng, 0.35):
        lim["cpu"] = f"{cpu * 2}m" if cpu * 2 < 1000 else str(cpu * 2 // 1000)
    if legacy and chance(rng, 0.5):
        return {"limits": lim}
    out["limits"] = lim
    return out


def probe(rng: random.Random, kind: str, port: str | int, path: str) -> dict[str, Any]:
    style = rng.random()
    p: dict[str, Any]
    if style < 0.6:
        p = {"httpGet": {"path": path, "port": port}}
        if chance(rng, 0.2):
            p["httpGet"]["httpHeaders"] = [{"name": "X-Probe", "value": kind}]
    elif style < 0.8:
        p = {"tcpSocket": {"port": port}}
    elif style < 0.9:
        p = {"grpc": {"port": 9000 if port == "http" else port}}
    else:
        p = {"exec": {"command": Flow(["/bin/healthcheck", f"--{kind}", "--timeout=2s"])}}
    if kind == "startup":
        p.update({"failureThreshold": pick(rng, [30, 60]), "periodSeconds": 5})
    else:
        if chance(rng, 0.6):
            p["initialDelaySeconds"] = pick(rng, [5, 10, 15, 30])
        p["periodSeconds"] = pick(rng, [5, 10, 15, 20])
        p["timeoutSeconds"] = pick(rng, [1, 2, 3, 5])
        p["failureThreshold"] = pick(rng, [3, 3, 5, 6])
    return p


def container_security(rng: random.Random, legacy: bool, privileged: bool = False) -> Any:
    if privileged:
        return {"privileged": True, "capabilities": {"add": Flow(["NET_ADMIN", "SYS_TIME"])}}
    if legacy and chance(rng, 0.5):
        return None if chance(rng, 0.5) else {"allowPrivilegeEscalation": True}
    sc: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": chance(rng, 0.8),
        "capabilities": {"drop": Flow(["ALL"]) if chance(rng, 0.5) else ["ALL"]},
    }
    if chance(rng, 0.4):
        sc["runAsNonRoot"] = True
        sc["runAsUser"] = pick(rng, [10001, 65532, 1000, 2000])
    if chance(rng, 0.3):
        sc["seccompProfile"] = {"type": "RuntimeDefault"}
    return sc


def env_list(rng: random.Random, app: str, n: int) -> list[dict[str, Any]]:
    upper = app.upper().replace("-", "_")
    pool: list[dict[str, Any]] = [
        {"name": "LOG_LEVEL", "value": pick(rng, LOG_LEVELS)},
        {"name": "LOG_FORMAT", "value": "json"},
        {"name": "PORT", "value": Quoted(str(pick(rng, [8080, 8000, 3000, 9000])))},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "NODE_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        {
            "name": "GOMEMLIMIT",
            "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
        },
        {
            "name": f"{upper}_DB_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": f"{app}-db", "key": "password"}},
        },
        {
            "name": f"{upper}_API_TOKEN",
            "valueFrom": {
                "secretKeyRef": {"name": f"{app}-tokens", "key": "api", "optional": True}
            },
        },
        {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-agent.observability:4317"},
        {"name": "OTEL_SERVICE_NAME", "value": app},
        {"name": "FEATURE_FLAGS_URL", "value": "http://feature-flags.core.svc.cluster.local"},
        {"name": "CACHE_TTL_SECONDS", "value": Quoted(str(pick(rng, [30, 60, 300, 900])))},
        {"name": "JAVA_TOOL_OPTIONS", "value": "-XX:MaxRAMPercentage=75 -XX:+UseG1GC"},
        {"name": "TZ", "value": "UTC"},
    ]
    rng.shuffle(pool)
    return pool[:n]


def app_config(rng: random.Random, app: str, team: str) -> str:
    """A service's own configuration file, as a ConfigMap carries it."""
    lines = [
        f"# {app} configuration ({pick(rng, PHRASES).lower()})",
        "server:",
        f"  port: {pick(rng, [8080, 8000, 9000])}",
        f"  shutdownGracePeriod: {pick(rng, [10, 20, 30])}s",
        "  cors:",
        "    allowedOrigins:",
    ]
    for sub in rng.sample(["www", "app", "admin", "partners", "m"], 3):
        lines.append(f"      - https://{sub}.acme.example")
    lines += [
        "database:",
        f"  host: {app}-db.{team}.svc.cluster.local",
        f"  pool: {{ min: {pick(rng, [2, 4])}, max: {pick(rng, [10, 20, 40])} }}",
        f"  statementTimeout: {pick(rng, [2, 5, 15])}s",
        "cache:",
        f"  ttl: {pick(rng, [60, 300, 600])}",
        f"  maxEntries: {pick(rng, [1000, 10000, 50000])}",
        "features:",
    ]
    for flag in rng.sample(
        ["newCheckout", "asyncExport", "betaSearch", "dualWrite", "shadowTraffic", "v2Api"], 4
    ):
        lines.append(f"  {flag}: {'true' if chance(rng, 0.5) else 'false'}")
    lines += ["upstreams:"]
    for dep in rng.sample(APPS, 4):
        lines += [
            f"  - name: {dep}",
            f"    url: http://{dep}.{pick(rng, TEAMS)}.svc.cluster.local:8080",
            f"    timeout: {pick(rng, [250, 500, 1000, 2000])}ms",
            f"    retries: {pick(rng, [0, 1, 2, 3])}",
        ]
    return "\n".join(lines) + "\n"


def nginx_conf(rng: random.Random, app: str) -> str:
    lines = [
        f"worker_processes {pick(rng, ['auto', '2', '4'])};",
        "events { worker_connections 1024; }",
        "http {",
        '  log_format json escape=json \'{"time":"$time_iso8601","status":$status,\'',
        '                              \'"path":"$uri","rt":$request_time}\';',
        "  access_log /dev/stdout json;",
        f"  client_max_body_size {pick(rng, ['1m', '8m', '32m'])};",
        f"  upstream {app.replace('-', '_')} {{",
    ]
    for i in range(rng.randint(1, 3)):
        lines.append(f"    server 127.0.0.1:{8080 + i} max_fails=3 fail_timeout=10s;")
    lines += [
        "    keepalive 32;",
        "  }",
        "  server {",
        "    listen 8443 ssl;",
        "    ssl_certificate /etc/tls/tls.crt;",
        "    ssl_certificate_key /etc/tls/tls.key;",
    ]
    for loc in rng.sample(["/api/", "/static/", "/healthz", "/metrics", "/v2/", "/admin/"], 3):
        lines += [
            f"    location {loc} {{",
            f"      proxy_pass http://{app.replace('-', '_')};",
            "      proxy_set_header X-Request-Id $request_id;",
            f"      proxy_read_timeout {pick(rng, [5, 30, 60])}s;",
            "    }",
        ]
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def features_json(rng: random.Random, app: str) -> str:
    flags = {
        f"{app}.{name}": {
            "enabled": chance(rng, 0.5),
            "rollout": pick(rng, [0, 5, 25, 50, 100]),
            "segments": rng.sample(["internal", "beta", "eu", "us", "mobile", "partners"], 2),
        }
        for name in rng.sample(["search", "export", "quickpay", "bulk", "preview", "audit"], 4)
    }
    return json.dumps({"version": rng.randint(10, 400), "flags": flags}, indent=2) + "\n"


# --------------------------------------------------------------------------------------
# Objects
# --------------------------------------------------------------------------------------


class App:
    def __init__(self, rng: random.Random, name: str, team: str, variant: int) -> None:
        self.name = name
        self.team = team
        self.stateful = any(h in name for h in STATEFUL_HINTS)
        self.legacy = chance(rng, 0.2)
        self.registry = pick(rng, REGISTRIES).format(team=team)
        major, minor, patch = rng.randint(0, 4), rng.randint(0, 30), rng.randint(0, 12)
        self.version = f"{major}.{minor}.{patch}"
        self.repo = f"{self.registry}/{name}"
        self.port = pick(rng, [8080, 8000, 3000, 9000])
        self.metrics = pick(rng, [9090, 9102, 8081])
        self.seq_indent = pick(rng, [0, 2, 2])
        self.variant = variant
        self.replicas = pick(rng, [2, 3, 3, 4, 6])
        self.heavy = chance(rng, 0.5)


def workload(rng: random.Random, app: App) -> dict[str, Any]:
    name = app.name
    component = "database" if app.stateful else pick(rng, ["api", "worker", "frontend", "backend"])
    lab = labels(name, app.team, component, app.version)
    selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component}
    main: dict[str, Any] = {
        "name": name,
        "image": image_ref(rng, app.repo, app.version, app.legacy),
    }
    if chance(rng, 0.7):
        main["imagePullPolicy"] = pick(rng, ["IfNotPresent", "IfNotPresent", "Always"])
    if chance(rng, 0.6):
        main["args"] = [
            f"--config=/etc/{name}/application.yaml",
            f"--listen=:{app.port}",
            f"--metrics-listen=:{app.metrics}",
        ] + (["--log-format=json"] if chance(rng, 0.5) else [])
    main["ports"] = [
        {"name": "http", "containerPort": app.port, "protocol": "TCP"},
        {"name": "metrics", "containerPort": app.metrics},
    ]
    if chance(rng, 0.3):
        main["ports"].append({"name": "grpc", "containerPort": 9000})
    main["env"] = env_list(rng, name, rng.randint(4, 10))
    if chance(rng, 0.5):
        main["envFrom"] = [{"configMapRef": {"name": f"{name}-env"}}]
        if chance(rng, 0.4):
            main["envFrom"].append({"secretRef": {"name": f"{name}-secrets", "optional": True}})
    res = resources(rng, app.legacy, app.heavy)
    if res is not None:
        main["resources"] = res
    if not (app.legacy and chance(rng, 0.5)):
        if chance(rng, 0.4):
            main["startupProbe"] = probe(rng, "startup", "http", "/healthz")
        main["livenessProbe"] = probe(rng, "liveness", "http", "/healthz")
        main["readinessProbe"] = probe(rng, "readiness", "http", "/ready")
    if chance(rng, 0.3):
        main["lifecycle"] = {"preStop": {"exec": {"command": Flow(["sleep", "10"])}}}
    sc = container_security(rng, app.legacy)
    if sc is not None:
        main["securityContext"] = sc
    mounts = [{"name": "config", "mountPath": f"/etc/{name}", "readOnly": True}]
    volumes: list[dict[str, Any]] = [
        {"name": "config", "configMap": {"name": f"{name}-config", "defaultMode": 420}}
    ]
    if chance(rng, 0.7):
        mounts.append({"name": "tmp", "mountPath": "/tmp"})
        volumes.append({"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}})
    if chance(rng, 0.4):
        mounts.append({"name": "tls", "mountPath": "/etc/tls", "readOnly": True})
        volumes.append({"name": "tls", "secret": {"secretName": f"{name}-tls"}})
    if app.stateful:
        mounts.append({"name": "data", "mountPath": "/var/lib/data"})
    main["volumeMounts"] = mounts
    containers = [main]
    for sname, srepo, tags in rng.sample(SIDECARS, rng.choice([0, 0, 1, 1, 2])):
        side: dict[str, Any] = {
            "name": sname,
            "image": image_ref(rng, srepo, pick(rng, tags), app.legacy),
        }
        if sname == "envoy":
            side["args"] = Flow(["-c", "/etc/envoy/envoy.yaml", "--log-level", "warn"])
            side["ports"] = [{"name": "proxy", "containerPort": 15001}]
        side_res = resources(rng, app.legacy)
        if side_res is not None:
            side["resources"] = side_res
        side_sc = container_security(rng, app.legacy, privileged=app.legacy and chance(rng, 0.3))
        if side_sc is not None:
            side["securityContext"] = side_sc
        containers.append(side)
    spec: dict[str, Any] = {}
    if chance(rng, 0.8):
        spec["serviceAccountName"] = name
        spec["automountServiceAccountToken"] = chance(rng, 0.3)
    if not app.legacy or chance(rng, 0.3):
        spec["securityContext"] = {
            "runAsNonRoot": True,
            "runAsUser": pick(rng, [10001, 65532]),
            "runAsGroup": pick(rng, [10001, 65532]),
            "fsGroup": pick(rng, [10001, 65532]),
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    if chance(rng, 0.3):
        spec["priorityClassName"] = pick(rng, ["business-critical", "batch-low", "platform"])
    spec["terminationGracePeriodSeconds"] = pick(rng, [30, 45, 60, 120])
    if chance(rng, 0.5):
        init_repo, init_tags = pick(rng, INIT_IMAGES)
        spec["initContainers"] = [
            {
                "name": "wait-for-deps",
                "image": image_ref(rng, init_repo, pick(rng, init_tags), app.legacy),
                "command": ["sh", "-c"],
                "args": [
                    Literal(
                        f"until nc -z {name}-db.{app.team} 5432; do\n"
                        '  echo "waiting for the database"; sleep 2\n'
                        "done\n"
                    )
                ],
                "resources": {"limits": {"cpu": "50m", "memory": "32Mi"}},
            }
        ]
    spec["containers"] = containers
    spec["volumes"] = volumes
    if chance(rng, 0.6):
        spec["affinity"] = {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
                        },
                    }
                ]
            }
        }
    if chance(rng, 0.5):
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": pick(rng, ["ScheduleAnyway", "DoNotSchedule"]),
                "labelSelector": {"matchLabels": dict(selector)},
            }
        ]
    if chance(rng, 0.3):
        spec["tolerations"] = [
            {
                "key": "acme.io/dedicated",
                "operator": "Equal",
                "value": app.team,
                "effect": "NoSchedule",
            }
        ]
        spec["nodeSelector"] = {"acme.io/pool": pick(rng, ["general", "memory", "compute"])}
    pod_meta: dict[str, Any] = {"labels": dict(lab)}
    if chance(rng, 0.7):
        pod_meta["annotations"] = {
            "prometheus.io/scrape": Quoted("true"),
            "prometheus.io/port": Quoted(str(app.metrics)),
            "prometheus.io/path": "/metrics",
        }
    meta: dict[str, Any] = {"name": name, "labels": lab}
    if chance(rng, 0.4):
        meta["annotations"] = {
            "acme.io/owner": f"team-{app.team}@acme.example",
            "acme.io/runbook": f"https://runbooks.acme.example/{app.team}/{name}",
        }
    body: dict[str, Any] = {}
    if app.stateful:
        body["serviceName"] = f"{name}-headless"
        body["replicas"] = pick(rng, [1, 3, 5])
        body["podManagementPolicy"] = pick(rng, ["OrderedReady", "Parallel"])
        body["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    else:
        body["replicas"] = app.replicas
        body["revisionHistoryLimit"] = pick(rng, [3, 5, 10])
        body["strategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": pick(rng, ["25%", 1]), "maxUnavailable": 0},
        }
    body["selector"] = {"matchLabels": selector}
    body["template"] = {"metadata": pod_meta, "spec": spec}
    if app.stateful:
        body["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": Flow(["ReadWriteOnce"]),
                    "storageClassName": pick(rng, ["gp3", "premium-rwo", "fast-ssd"]),
                    "resources": {"requests": {"storage": f"{pick(rng, [10, 20, 50, 100])}Gi"}},
                },
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet" if app.stateful else "Deployment",
        "metadata": meta,
        "spec": body,
    }


def services(rng: random.Random, app: App) -> list[dict[str, Any]]:
    sel = {"app.kubernetes.io/name": app.name}
    out: list[dict[str, Any]] = []
    svc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": app.name, "labels": labels(app.name, app.team, "service")},
        "spec": {
            "type": "ClusterIP",
            "selector": sel,
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                {"name": "metrics", "port": app.metrics, "targetPort": "metrics"},
            ],
        },
    }
    if chance(rng, 0.15):
        svc["metadata"]["annotations"] = {
            "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
            "service.beta.kubernetes.io/aws-load-balancer-internal": Quoted("true"),
        }
        svc["spec"]["type"] = "LoadBalancer"
        svc["spec"]["loadBalancerSourceRanges"] = ["10.0.0.0/8", "172.16.0.0/12"]
    out.append(svc)
    if app.stateful:
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"{app.name}-headless"},
                "spec": {
                    "clusterIP": "None",
                    "publishNotReadyAddresses": True,
                    "selector": sel,
                    "ports": [{"name": "peer", "port": 7000, "targetPort": 7000}],
                },
            }
        )
    return out


def configmaps(rng: random.Random, app: App) -> list[dict[str, Any]]:
    data: dict[str, Any] = {"application.yaml": Literal(app_config(rng, app.name, app.team))}
    if chance(rng, 0.4):
        data["nginx.conf"] = Literal(nginx_conf(rng, app.name))
    if chance(rng, 0.5):
        data["features.json"] = Literal(features_json(rng, app.name))
    out = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"{app.name}-config",
                "labels": labels(app.name, app.team, "config"),
            },
            "data": data,
        }
    ]
    if chance(rng, 0.6):
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{app.name}-env"},
                "data": {
                    "LOG_LEVEL": pick(rng, LOG_LEVELS),
                    "REGION": pick(rng, ["eu-west-1", "us-east-1"]),
                    "MAX_WORKERS": Quoted(str(pick(rng, [2, 4, 8, 16]))),
                    "ENABLE_TRACING": Quoted(pick(rng, ["true", "false"])),
                },
            }
        )
    return out


def rbac(rng: random.Random, app: App) -> list[dict[str, Any]]:
    sa: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": app.name, "labels": labels(app.name, app.team, "identity")},
    }
    if chance(rng, 0.5):
        sa["metadata"]["annotations"] = {
            "eks.amazonaws.com/role-arn": f"arn:aws:iam::123456789012:role/{app.team}-{app.name}"
        }
    docs = [sa]
    if chance(rng, 0.6):
        docs += [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": f"{app.name}-reader"},
                "rules": [
                    {
                        "apiGroups": Flow([""]),
                        "resources": Flow(["configmaps", "secrets"]),
                        "verbs": Flow(["get", "list", "watch"]),
                    },
                    {
                        "apiGroups": Flow(["coordination.k8s.io"]),
                        "resources": Flow(["leases"]),
                        "verbs": Flow(["get", "create", "update"]),
                    },
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": f"{app.name}-reader"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": f"{app.name}-reader",
                },
                "subjects": [{"kind": "ServiceAccount", "name": app.name}],
            },
        ]
    return docs


def scaling(rng: random.Random, app: App) -> list[dict[str, Any]]:
    kind = "StatefulSet" if app.stateful else "Deployment"
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": app.name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": app.name},
            "minReplicas": app.replicas,
            "maxReplicas": app.replicas * pick(rng, [3, 4, 5]),
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
            "behavior": {
                "scaleDown": {
                    "stabilizationWindowSeconds": 300,
                    "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                }
            },
        },
    }
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": app.name},
        "spec": {
            pick(rng, ["minAvailable", "maxUnavailable"]): 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app.name}},
        },
    }
    return [hpa, pdb] if not app.stateful else [pdb]


def cronjob(rng: random.Random, name: str, schedule: str, team: str, legacy: bool) -> Any:
    repo = f"{pick(rng, REGISTRIES).format(team=team)}/{name}"
    tag = f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    container: dict[str, Any] = {
        "name": name,
        "image": image_ref(rng, repo, tag, legacy),
        "command": Flow(["/app/run"]),
        "args": [f"--job={name}", f"--batch-size={pick(rng, [100, 500, 1000])}"],
        "env": env_list(rng, name, rng.randint(2, 5)),
    }
    res = resources(rng, legacy)
    if res is not None:
        container["resources"] = res
    sc = container_security(rng, legacy)
    if sc is not None:
        container["securityContext"] = sc
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "labels": labels(name, team, "job")},
        "spec": {
            "schedule": Quoted(schedule) if chance(rng, 0.5) else Single(schedule),
            "timeZone": pick(rng, ["Etc/UTC", "Europe/Dublin"]),
            "concurrencyPolicy": pick(rng, ["Forbid", "Replace", "Allow"]),
            "startingDeadlineSeconds": pick(rng, [60, 300]),
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": pick(rng, [1, 3, 5]),
            "jobTemplate": {
                "spec": {
                    "backoffLimit": pick(rng, [0, 2, 4]),
                    "activeDeadlineSeconds": pick(rng, [600, 1800, 3600]),
                    "ttlSecondsAfterFinished": 86400,
                    "template": {
                        "metadata": {"labels": {"app.kubernetes.io/name": name}},
                        "spec": {
                            "restartPolicy": pick(rng, ["OnFailure", "Never"]),
                            "serviceAccountName": f"{team}-jobs",
                            "containers": [container],
                        },
                    },
                }
            },
        },
    }


def base_files(rng: random.Random, app: App, prefix: str) -> dict[str, str]:
    si = app.seq_indent
    files: dict[str, str] = {}
    kind_file = "statefulset.yaml" if app.stateful else "deployment.yaml"
    header = f"# {app.name}: {pick(rng, PHRASES).lower()}\n"
    files[kind_file] = header + dump(workload(rng, app), si)
    files["service.yaml"] = dump_all(services(rng, app), si, leading=chance(rng, 0.3))
    files["configmap.yaml"] = dump_all(configmaps(rng, app), si)
    files["rbac.yaml"] = dump_all(rbac(rng, app), si)
    resources_list = [kind_file, "service.yaml", "configmap.yaml", "rbac.yaml"]
    if chance(rng, 0.8):
        files["scaling.yaml"] = dump_all(scaling(rng, app), si)
        resources_list.append("scaling.yaml")
    kust: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources_list,
    }
    if chance(rng, 0.5):
        kust["labels"] = [
            {"pairs": {"acme.io/team": app.team}, "includeSelectors": False},
        ]
    else:
        kust["commonLabels"] = {"acme.io/team": app.team}
    if chance(rng, 0.4):
        kust["configMapGenerator"] = [
            {
                "name": f"{app.name}-extra",
                "literals": [f"RELEASE_CHANNEL={pick(rng, ['stable', 'fast'])}", "TRACE_RATIO=0.1"],
            }
        ]
    files["kustomization.yaml"] = dump(kust, si)
    return {f"{prefix}/base/{k}": v for k, v in files.items()}


def overlay_files(rng: random.Random, app: App, prefix: str, env: str) -> dict[str, str]:
    si = app.seq_indent
    files: dict[str, str] = {}
    kind = "StatefulSet" if app.stateful else "Deployment"
    tag = f"{app.version}-{env}.{rng.randint(1, 40)}" if env != "prod" else app.version
    img: dict[str, Any] = {"name": app.repo}
    if env == "prod" and chance(rng, 0.6):
        img["digest"] = f"sha256:{sha(app.repo + env + tag)}"
    else:
        img["newTag"] = Quoted(tag) if chance(rng, 0.3) else tag
    kust: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": f"{app.team}-{env}",
        "resources": ["../../base"],
        "images": [img],
    }
    if env == "prod" and not app.stateful:
        kust["replicas"] = [{"name": app.name, "count": app.replicas * 2}]
    patches: list[dict[str, Any]] = []
    if env != "dev" or chance(rng, 0.3):
        patch = {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": app.name},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": app.name,
                                "resources": {
                                    "requests": {
                                        "cpu": pick(rng, ["250m", "500m", "1"]),
                                        "memory": pick(rng, ["512Mi", "1Gi"]),
                                    },
                                    "limits": {"memory": pick(rng, ["1Gi", "2Gi"])},
                                },
                                "env": [{"name": "ENVIRONMENT", "value": env}],
                            }
                        ]
                    }
                }
            },
        }
        files["patch-resources.yaml"] = dump(patch, si)
        patches.append({"path": "patch-resources.yaml"})
    if chance(rng, 0.35):
        ops: list[dict[str, Any]] = [
            {
                "op": "replace",
                "path": "/spec/template/spec/terminationGracePeriodSeconds",
                "value": 90,
            },
            {
                "op": "add",
                "path": "/spec/template/metadata/annotations/acme.io~1environment",
                "value": env,
            },
        ]
        files["patch-json6902.yaml"] = (
            "\n".join(line for op in ops for line in dump_seq_item(op, si)) + "\n"
        )
        patches.append({"path": "patch-json6902.yaml", "target": {"kind": kind, "name": app.name}})
    if patches:
        kust["patches"] = patches
    if chance(rng, 0.5):
        kust["configMapGenerator"] = [
            {
                "name": f"{app.name}-env",
                "behavior": "merge",
                "literals": [f"ENVIRONMENT={env}", f"LOG_LEVEL={pick(rng, LOG_LEVELS)}"],
            }
        ]
    files["kustomization.yaml"] = dump(kust, si)
    return {f"{prefix}/overlays/{env}/{k}": v for k, v in files.items()}


def dump_seq_item(item: Mapping[str, Any], seq_indent: int) -> list[str]:
    """A top-level sequence item (a JSON 6902 patch operation)."""
    return _seq_lines([item], 0, seq_indent)


def cluster_files(rng: random.Random, cluster: str, apps: Sequence[App]) -> dict[str, str]:
    env = "prod" if cluster.startswith("prod") else "staging" if "staging" in cluster else "dev"
    teams = sorted({a.team for a in apps})
    docs: list[dict[str, Any]] = []
    for team in teams:
        ns = f"{team}-{env}"
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": ns,
                    "labels": {
                        "acme.io/team": team,
                        "pod-security.kubernetes.io/enforce": pick(
                            rng, ["restricted", "baseline", "restricted"]
                        ),
                        "pod-security.kubernetes.io/warn": "restricted",
                    },
                },
            }
        )
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": {"name": "compute", "namespace": ns},
                "spec": {
                    "hard": {
                        "requests.cpu": str(pick(rng, [8, 16, 32])),
                        "requests.memory": f"{pick(rng, [16, 32, 64])}Gi",
                        "limits.memory": f"{pick(rng, [32, 64, 128])}Gi",
                        "pods": Quoted(str(pick(rng, [50, 100, 200]))),
                    }
                },
            }
        )
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "LimitRange",
                "metadata": {"name": "defaults", "namespace": ns},
                "spec": {
                    "limits": [
                        {
                            "type": "Container",
                            "default": {"memory": "512Mi"},
                            "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                        }
                    ]
                },
            }
        )
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny-ingress", "namespace": ns},
                "spec": {
                    "podSelector": {},
                    "policyTypes": Flow(["Ingress"]),
                    "ingress": [
                        {
                            "from": [
                                {
                                    "namespaceSelector": {
                                        "matchLabels": {"kubernetes.io/metadata.name": ns}
                                    }
                                },
                                {
                                    "namespaceSelector": {
                                        "matchLabels": {
                                            "kubernetes.io/metadata.name": "ingress-edge"
                                        }
                                    }
                                },
                            ]
                        }
                    ],
                },
            }
        )
    prefix = f"clusters/{cluster}"
    kust = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["namespaces.yaml"]
        + [f"../../apps/{a.name}/overlays/{env}" for a in apps]
        + [f"../../platform/{p[0]}" for p in PLATFORM[:3]],
    }
    return {
        f"{prefix}/namespaces.yaml": f"# {cluster}: namespaces and guard rails\n"
        + dump_all(docs, 0, leading=True),
        f"{prefix}/kustomization.yaml": dump(kust),
    }


def platform_files(rng: random.Random, comp: str, repo: str, tags: Sequence[str]) -> dict[str, str]:
    ns = "platform-system"
    tag = pick(rng, tags)
    lab = labels(comp, "core", "platform", tag.lstrip("v"))
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": comp, "namespace": ns}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": comp, "labels": lab},
            "rules": [
                {
                    "apiGroups": Flow([""]),
                    "resources": Flow(
                        rng.sample(["nodes", "pods", "services", "endpoints", "namespaces"], 3)
                    ),
                    "verbs": Flow(["get", "list", "watch"]),
                },
                {
                    "apiGroups": Flow(["discovery.k8s.io"]),
                    "resources": Flow(["endpointslices"]),
                    "verbs": Flow(["list", "watch"]),
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": comp},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": comp,
            },
            "subjects": [{"kind": "ServiceAccount", "name": comp, "namespace": ns}],
        },
    ]
    conf_lines = [f"# {comp} settings", "[SERVICE]", "    Flush        5", "    Log_Level    info"]
    for i in range(rng.randint(8, 20)):
        conf_lines += [
            "",
            "[INPUT]" if i % 2 == 0 else "[FILTER]",
            f"    Name         {pick(rng, FLUENT_PLUGINS)}",
            f"    Tag          kube.{pick(rng, TEAMS)}.*",
            f"    Path         /var/log/containers/*_{pick(rng, TEAMS)}-*.log",
            f"    Mem_Buf_Limit {pick(rng, [5, 10, 50])}MB",
        ]
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{comp}-config", "namespace": ns},
            "data": {
                "agent.conf": Literal("\n".join(conf_lines) + "\n"),
                "rules.yaml": Literal(
                    "groups:\n"
                    + "".join(
                        f"  - name: {comp}-{i}\n"
                        "    rules:\n"
                        f"      - alert: {comp.title().replace('-', '')}Down{i}\n"
                        f'        expr: up{{job="{comp}"}} == 0\n'
                        f"        for: {pick(rng, [1, 5, 10])}m\n"
                        f"        labels: {{severity: {pick(rng, ['page', 'ticket'])}}}\n"
                        for i in range(rng.randint(3, 8))
                    )
                ),
            },
        }
    )
    legacy = chance(rng, 0.3)
    container: dict[str, Any] = {
        "name": comp,
        "image": image_ref(rng, repo, tag, legacy),
        "args": [f"--config=/etc/{comp}/agent.conf", "--health-port=2020"],
        "ports": [{"name": "metrics", "containerPort": 2020, "hostPort": 2020}],
        "resources": resources(rng, False) or {},
        "livenessProbe": probe(rng, "liveness", 2020, "/health"),
        "volumeMounts": [
            {"name": "config", "mountPath": f"/etc/{comp}"},
            {"name": "varlog", "mountPath": "/var/log", "readOnly": True},
        ],
    }
    sc = container_security(rng, legacy, privileged=legacy and chance(rng, 0.5))
    if sc is not None:
        container["securityContext"] = sc
    docs.append(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": comp, "namespace": ns, "labels": lab},
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": comp}},
                "updateStrategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "10%"},
                },
                "template": {
                    "metadata": {"labels": lab},
                    "spec": {
                        "serviceAccountName": comp,
                        "hostNetwork": legacy,
                        "priorityClassName": "system-node-critical",
                        "tolerations": [{"operator": "Exists"}],
                        "containers": [container],
                        "volumes": [
                            {"name": "config", "configMap": {"name": f"{comp}-config"}},
                            {"name": "varlog", "hostPath": {"path": "/var/log"}},
                        ],
                    },
                },
            },
        }
    )
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": comp, "namespace": ns, "labels": lab},
            "spec": {
                "selector": {"app.kubernetes.io/name": comp},
                "ports": [{"name": "metrics", "port": 2020, "targetPort": "metrics"}],
            },
        }
    )
    kust = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": ns,
        "resources": ["manifests.yaml"],
    }
    return {
        f"platform/{comp}/manifests.yaml": dump_all(docs, 0, leading=True),
        f"platform/{comp}/kustomization.yaml": dump(kust),
    }


def json_manifest(rng: random.Random, app: App) -> str:
    """A manifest written as JSON (kubectl applies .json files too)."""
    return (
        json.dumps(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": f"{app.name}-json", "labels": {"acme.io/team": app.team}},
                "spec": {
                    "maxUnavailable": pick(rng, [1, "25%"]),
                    "selector": {"matchLabels": {"app.kubernetes.io/name": app.name}},
                },
            },
            indent=2,
        )
        + "\n"
    )


# --------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------


def generate_one(seed: int, variant: int) -> dict[str, str]:
    """One 1x repository's files (paths relative to its root)."""
    rng = random.Random(f"k8s:{seed}:{variant}")
    n_apps = 16
    names = rng.sample(APPS, n_apps)
    team_pool = rng.sample(TEAMS, 4)
    apps = [App(rng, name, team_pool[i % len(team_pool)], variant) for i, name in enumerate(names)]
    files: dict[str, str] = {}
    for app in apps:
        prefix = f"apps/{app.name}"
        files.update(base_files(rng, app, prefix))
        for env in ENVS:
            files.update(overlay_files(rng, app, prefix, env))
        if chance(rng, 0.25):
            files[f"{prefix}/extra/pdb.json"] = json_manifest(rng, app)
    for cluster in CLUSTERS:
        files.update(cluster_files(rng, cluster, apps))
    for comp, repo, tags in PLATFORM:
        files.update(platform_files(rng, comp, repo, tags))
    jobs = rng.sample(CRON_JOBS, 8)
    for start in range(0, len(jobs), 4):
        chunk = jobs[start : start + 4]
        team = pick(rng, team_pool)
        docs = [cronjob(rng, n, s, team, chance(rng, 0.2)) for n, s in chunk]
        files[f"jobs/{team}-batch-{start // 4 + 1}.yaml"] = dump_all(docs, pick(rng, [0, 2]))
    files["README.md"] = (
        "# deployments\n\nGenerated benchmark corpus (bench/gen_kubernetes.py): "
        f"variant {variant}, seed {seed}.\n"
    )
    return files


def generate(scale: int = 1, seed: int = DEFAULT_SEED) -> dict[str, str]:
    """The Nx corpus: the 1x corpus at the root, variants 1..N-1 under teams/<team>/."""
    files = dict(generate_one(seed, 0))
    for variant in range(1, scale):
        team = f"{TEAMS[variant % len(TEAMS)]}-{variant:02d}"
        for rel, text in generate_one(seed, variant).items():
            files[f"teams/{team}/{rel}"] = text
    return files


def write_files(outdir: Path, files: Mapping[str, str], suffixes: Sequence[str]) -> tuple[int, int]:
    """Write ``files`` under ``outdir`` after removing files with ``suffixes`` left there."""
    outdir.mkdir(parents=True, exist_ok=True)
    for old in sorted(outdir.rglob("*")):
        if old.is_file() and old.name.endswith(tuple(suffixes)):
            old.unlink()
    total = 0
    for rel, text in files.items():
        dest = outdir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        dest.write_bytes(data)
        total += len(data)
    return len(files), total


def write_corpus(outdir: Path, scale: int = 1, seed: int = DEFAULT_SEED) -> tuple[int, int]:
    """Write the corpus under ``outdir``; return (file count, total bytes)."""
    return write_files(outdir, generate(scale, seed), (".yaml", ".yml", ".json", ".md"))


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
