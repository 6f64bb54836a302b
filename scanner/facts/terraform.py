"""Facts from Terraform: required providers and version, backend, module calls, resources and
their tags, provider configurations (default_tags)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Any

from ..model import Fact, Span
from ..parsers.terraform import Attribute, Block, TerraformDocument, Unknown, to_json_value

DEFAULT_REGISTRY = "registry.terraform.io"
_REGISTRY_MODULE = re.compile(
    r"^(?:(?P<host>[a-z0-9.-]+\.[a-z]{2,}(?::\d+)?)/)?"
    r"(?P<ns>[A-Za-z0-9][A-Za-z0-9_-]*)/(?P<name>[A-Za-z0-9][A-Za-z0-9_-]*)/"
    r"(?P<provider>[a-z0-9]+)(?://(?P<subdir>.*))?$"
)


def _str(a: Attribute | None) -> str | None:
    if a is None or not isinstance(a.value, str):
        return None
    return a.value


def _raw(a: Attribute | None) -> str | None:
    if a is None:
        return None
    if isinstance(a.value, Unknown):
        return a.value.text
    return a.value if isinstance(a.value, str) else str(a.value)


def provider_source(local_name: str, source: str | None) -> dict[str, Any]:
    """Normalise a provider source address (`hashicorp/aws`, `registry.terraform.io/x/y`)."""
    raw = source if source is not None else f"hashicorp/{local_name}"
    parts = raw.strip().lower().split("/")
    if len(parts) == 3:
        host, ns, typ = parts
    elif len(parts) == 2:
        host, (ns, typ) = DEFAULT_REGISTRY, parts
    elif len(parts) == 1:  # a bare type, like an implied source, is in hashicorp/
        host, ns, typ = DEFAULT_REGISTRY, "hashicorp", parts[0]
    else:  # not a valid address: kept as written so that no baseline entry matches it
        return {
            "source": raw.strip().lower(),
            "hostname": DEFAULT_REGISTRY,
            "namespace": "",
            "type": parts[-1],
        }
    short = f"{ns}/{typ}" if host == DEFAULT_REGISTRY else f"{host}/{ns}/{typ}"
    return {"source": short, "hostname": host, "namespace": ns, "type": typ}


def module_source(source: str) -> dict[str, Any]:
    """Classify a module source address the way `terraform init` reads it."""
    info: dict[str, Any] = {
        "source_type": "other",
        "registry": None,
        "namespace": None,
        "module_name": None,
        "target_system": None,
        "git_ref": None,
        "git_repo": None,
    }
    s = source.strip()
    if s.startswith(("./", "../")) or s in (".", ".."):
        info["source_type"] = "local"
        return info
    ref_m = re.search(r"[?&]ref=([^&]+)", s)
    if ref_m:
        info["git_ref"] = ref_m.group(1)
    if (
        s.startswith("git::")
        or s.startswith("git@")
        or re.match(r"^(github\.com|bitbucket\.org|gitlab\.com)/", s)
    ):
        info["source_type"] = "git"
        info["git_repo"] = _git_repo(re.sub(r"^git::", "", s))
        return info
    if re.match(r"^(hg|s3|gcs)::", s):
        info["source_type"] = s.split("::", 1)[0]
        return info
    # go-getter's detectors: bucket URLs without a forced getter are S3 or GCS too
    if re.match(r"^[\w.-]*\.?amazonaws\.com/", s):
        info["source_type"] = "s3"
        return info
    if re.match(r"^www\.googleapis\.com/storage/", s):
        info["source_type"] = "gcs"
        return info
    if re.match(r"^https?://", s):
        info["source_type"] = "http"
        return info
    m = _REGISTRY_MODULE.match(s)
    if m:
        info.update(
            source_type="registry",
            registry=m.group("host") or DEFAULT_REGISTRY,
            namespace=m.group("ns"),
            module_name=m.group("name"),
            target_system=m.group("provider"),
        )
    return info


def _git_repo(url: str) -> str:
    """`host/org/repo` of a Git URL: scheme, user info (which may hold a token), port,
    `.git`, `//subdir` and `?query` removed, so that baselines match on the repository."""
    scp = re.match(r"^[\w.-]+@([^:/]+):(?!\d+/)(.*)$", url)  # git@host:org/repo
    if scp:
        host, path = scp.groups()
    else:
        rest = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url)
        rest = re.sub(r"^[^@/]+@", "", rest)
        hostport, _, path = rest.partition("/")
        host = hostport.split(":")[0]
    path = path.split("?")[0].split("//")[0].rstrip("/")
    return f"{host.lower()}/{re.sub(r'[.]git$', '', path)}"


def _terraform_block(path: str, module_dir: str, b: Block) -> Iterator[Fact]:
    rv = b.attr("required_version")
    if rv is not None:
        yield Fact(
            "tf.required_version",
            path,
            rv.span,
            f"{module_dir}:terraform.required_version",
            {"constraint": _str(rv), "constraint_raw": _raw(rv), "module_dir": module_dir},
            {"constraint": rv.value_span},
        )
    for rp in b.blocks_of("required_providers"):
        for name, a in rp.attributes.items():
            if isinstance(a.value, dict):
                src = a.value.get("source")
                ver = a.value.get("version")
                spans = {
                    "source": a.item_spans.get("source", a.span),
                    "version": a.item_spans.get("version", a.span),
                }
            else:  # legacy `aws = "~> 3.0"`: a version constraint, implied source
                src, ver = None, a.value
                spans = {"version": a.value_span, "source": a.key_span}
            data = provider_source(name, src if isinstance(src, str) else None)
            data.update(
                name=name,
                source_declared=isinstance(src, str),
                version=ver if isinstance(ver, str) else None,
                module_dir=module_dir,
            )
            yield Fact(
                "tf.required_provider",
                path,
                a.span,
                f"{module_dir}:required_providers.{name}",
                data,
                spans,
            )
    for be in b.blocks_of("backend"):
        yield Fact(
            "tf.backend",
            path,
            be.header_span,
            f"{module_dir}:backend",
            {"type": be.labels[0] if be.labels else "", "module_dir": module_dir},
            {"type": be.header_span},
        )
    for cl in b.blocks_of("cloud"):
        yield Fact(
            "tf.backend",
            path,
            cl.header_span,
            f"{module_dir}:backend",
            {"type": "cloud", "module_dir": module_dir},
            {"type": cl.header_span},
        )


def _module(path: str, module_dir: str, b: Block) -> Fact | None:
    name = b.labels[0] if b.labels else ""
    src = b.attr("source")
    ver = b.attr("version")
    source = _str(src)
    data: dict[str, Any] = {
        "name": name,
        "address": f"module.{name}",
        "source": source,
        "source_raw": _raw(src),
        "version": _str(ver),
        "module_dir": module_dir,
    }
    data.update(module_source(source) if source is not None else module_source(""))
    if source is None:
        data["source_type"] = "unknown"
    if data["source_type"] == "registry":
        reg, ns = data["registry"], data["namespace"]
        mod = f"{ns}/{data['module_name']}/{data['target_system']}"
        data["module"] = mod if reg == DEFAULT_REGISTRY else f"{reg}/{mod}"
    else:
        data["module"] = data["git_repo"] or source
    spans: dict[str, Span] = {}
    if src is not None:
        spans["source"] = src.span
    spans["version"] = ver.span if ver is not None else (src.span if src else b.header_span)
    return Fact("tf.module_call", path, b.header_span, f"{module_dir}:module.{name}", data, spans)


def _resource(path: str, module_dir: str, b: Block) -> Fact:
    rtype = b.labels[0] if b.labels else ""
    name = b.labels[1] if len(b.labels) > 1 else ""
    tags = b.attr("tags")
    prov = b.attr("provider")
    data = {
        "type": rtype,
        "name": name,
        "address": f"{rtype}.{name}",
        "provider": rtype.split("_", 1)[0],
        "provider_ref": _raw(prov),
        "has_tags": tags is not None,
        "tags_known": tags is not None and isinstance(tags.value, dict),
        "tags": to_json_value(tags.value)
        if tags is not None and isinstance(tags.value, dict)
        else None,
        "module_dir": module_dir,
    }
    spans = {"tags": tags.span} if tags is not None else {}
    return Fact("tf.resource", path, b.header_span, f"{module_dir}:{rtype}.{name}", data, spans)


def _provider(path: str, module_dir: str, b: Block) -> Fact:
    name = b.labels[0] if b.labels else ""
    alias = _str(b.attr("alias"))
    default_tags = None
    known = False
    for dt in b.blocks_of("default_tags"):
        t = dt.attr("tags")
        if t is not None and isinstance(t.value, dict):
            default_tags, known = to_json_value(t.value), True
    data = {
        "name": name,
        "alias": alias,
        "default_tags": default_tags,
        "default_tags_known": known,
        "module_dir": module_dir,
    }
    return Fact(
        "tf.provider",
        path,
        b.header_span,
        f"{module_dir}:provider.{name}" + (f".{alias}" if alias else ""),
        data,
    )


def extract(doc: TerraformDocument) -> list[Fact]:
    module_dir = posixpath.dirname(doc.path) or "."
    facts: list[Fact] = []
    for b in doc.blocks_of("resource", "module", "terraform", "provider"):
        if b.has_error:
            continue  # reported as a diagnostic; a half-parsed block would mislead rules
        t = b.type
        if t == "resource":
            facts.append(_resource(doc.path, module_dir, b))
        elif t == "module":
            m = _module(doc.path, module_dir, b)
            if m is not None:
                facts.append(m)
        elif t == "terraform":
            facts.extend(_terraform_block(doc.path, module_dir, b))
        elif t == "provider":
            facts.append(_provider(doc.path, module_dir, b))
    return facts
