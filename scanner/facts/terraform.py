"""Facts from Terraform: required providers and version, backend, module calls, resources and
their tags, provider configurations (default tags).

`extract` observes one file. `link_module_facts` is an after-pass over the facts of a whole
scan: it gives each resource the default tags of the provider configuration it uses (in its
module directory or, for a local child module, in the calling module) and the tags that are
therefore in effect. Tags are judged only as far as they are statically known: a map written
out, the literal objects of a `merge()`, `default_tags` in the provider block."""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import unquote

from ..model import Fact, Span
from ..parsers.terraform import Attribute, Block, Call, TerraformDocument, Unknown, to_json_value

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
    ref_m = re.search(r"[?&]ref=([^&#]+)", s)
    if ref_m:  # go-getter reads the query decoded: ?ref=tags%2Fv1.0 is tags/v1.0
        info["git_ref"] = unquote(ref_m.group(1))
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
                at = getattr(a.item_spans, "values_at", {}).get("version")
                if at is not None:
                    spans["version_value"] = at  # the literal alone: what a remedy replaces
            else:  # legacy `aws = "~> 3.0"`: a version constraint, implied source
                src, ver = None, a.value
                spans = {"version": a.value_span, "source": a.key_span}
                spans["version_value"] = a.value_span
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


_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_SECRET_PARAM = re.compile(
    r"([?&](?:[^=&]*(?:token|secret|password|passwd|signature|sig|key|credential|auth)"
    r"[^=&]*|x-amz-[^=&]*))=([^&#]*)",
    re.IGNORECASE,
)


def redact_url(s: str) -> str:
    """`https://user:token@host/x?access_token=..` -> `https://host/x?access_token=REDACTED`."""
    s = _USERINFO.sub("", s)
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=REDACTED", s)


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
        "has_version": ver is not None,
        "providers": _providers_map(b.attr("providers")),
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
    # credentials in a source address (user info, signed or token query parameters) are
    # never kept: facts end up in messages, reports and job summaries
    for field in ("source", "source_raw", "module"):
        if isinstance(data.get(field), str):
            data[field] = redact_url(data[field])
    spans: dict[str, Span] = {}
    if src is not None:
        spans["source"] = src.span
    spans["version"] = ver.span if ver is not None else (src.span if src else b.header_span)
    if ver is not None:
        spans["version_value"] = ver.value_span  # the literal alone: what a remedy replaces
    return Fact("tf.module_call", path, b.header_span, f"{module_dir}:module.{name}", data, spans)


def _providers_map(a: Attribute | None) -> dict[str, str] | None:
    """`providers = { aws = aws.us }`: the child's provider address to the caller's, as
    written (the values are references). Null when absent; {} when not a static map."""
    if a is None:
        return None
    if not isinstance(a.value, dict):
        return {}
    out: dict[str, str] = {}
    for k, v in a.value.items():
        ref = v.text if isinstance(v, Unknown) else v
        if isinstance(ref, str) and ref.strip():
            out[k] = ref.strip()
    return out


def known_entries(value: Any) -> tuple[dict[str, Any], bool]:
    """The entries of a tags-like map value that are statically known, and whether that is
    all of it. A map written out is all known (a value that is not is null: the key is
    there, its value unknown); `null` is no tags. Of `merge(...)` the literal objects are
    known: every key they hold is applied, and a value is known unless a later argument
    that is not a literal may override it. `tomap(x)` is x. Anything else: nothing known."""
    if value is None:
        return {}, True
    if isinstance(value, dict):
        return to_json_value(value), True
    if isinstance(value, Call) and not value.expanded:
        if value.name == "tomap" and len(value.args) == 1:
            return known_entries(value.args[0])
        if value.name == "merge":
            out: dict[str, Any] = {}
            complete = True
            for arg in value.args:
                entries, arg_complete = known_entries(arg)
                if not arg_complete:
                    out = dict.fromkeys(out)  # the unknown part may override any value so far
                    complete = False
                out.update(entries)
            return out, complete
    return {}, False


# Providers whose resources carry `labels` instead of `tags` (Google Cloud).
_LABEL_PROVIDERS = frozenset({"google", "google-beta"})


def _resource(path: str, module_dir: str, b: Block) -> Fact:
    rtype = b.labels[0] if b.labels else ""
    name = b.labels[1] if len(b.labels) > 1 else ""
    tags = b.attr("tags")
    labels = b.attr("labels")
    prov = b.attr("provider")
    provider = rtype.split("_", 1)[0]
    tag_attribute = "labels" if provider in _LABEL_PROVIDERS else "tags"
    own = labels if tag_attribute == "labels" else tags
    entries, complete = known_entries(own.value if own is not None else None)
    data = {
        "type": rtype,
        "name": name,
        "address": f"{rtype}.{name}",
        "provider": provider,
        "provider_ref": _raw(prov),
        "has_tags": tags is not None,
        "tags_known": tags is not None and isinstance(tags.value, dict),
        "tags": to_json_value(tags.value)
        if tags is not None and isinstance(tags.value, dict)
        else None,
        "labels_known": labels is not None and isinstance(labels.value, dict),
        "labels": to_json_value(labels.value)
        if labels is not None and isinstance(labels.value, dict)
        else None,
        "tag_attribute": tag_attribute,
        "resource_tags": entries,
        "resource_tags_known": complete,
        "module_dir": module_dir,
    }
    spans = {}
    if tags is not None:
        spans["tags"] = tags.span
    if labels is not None:
        spans["labels"] = labels.span
    if own is not None:
        spans["resource_tags"] = spans["effective_tags"] = own.span
    # where a remedy adds tags: above the first entry of a literal tags map, else (no tags
    # attribute) above the block's first attribute
    items = own.item_spans if own is not None and isinstance(own.value, dict) else None
    first = min(items.values(), key=lambda sp: (sp.start_line, sp.start_col)) if items else None
    if first is None and own is None and b.attributes:
        first = min(
            (a.span for a in b.attributes.values()), key=lambda sp: (sp.start_line, sp.start_col)
        )
    if first is not None:
        spans["tags_insert"] = first
    data["tags_declared"] = own is not None
    return Fact("tf.resource", path, b.header_span, f"{module_dir}:{rtype}.{name}", data, spans)


def _provider(path: str, module_dir: str, b: Block) -> Fact:
    name = b.labels[0] if b.labels else ""
    alias = _str(b.attr("alias"))
    default_tags: dict[str, Any] = {}
    known = True
    spans: dict[str, Span] = {}
    for dt in b.blocks_of("default_tags"):  # AWS
        t = dt.attr("tags")
        default_tags, known = known_entries(t.value if t is not None else None)
        spans["default_tags"] = t.span if t is not None else dt.span
    dl = b.attr("default_labels")  # Google
    if dl is not None:
        default_tags, known = known_entries(dl.value)
        spans["default_tags"] = dl.span
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
        spans,
    )


# What `extract` reads of each kind of top-level block: attributes by name, and nested
# blocks by type (read whole). Of a block too large to parse at once, only these are kept
# (parsers/terraform.py parses it in pieces); tests check that nothing else is read.
READS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "resource": (frozenset({"tags", "labels", "provider"}), frozenset()),
    "module": (frozenset({"source", "version", "providers"}), frozenset()),
    "terraform": (
        frozenset({"required_version"}),
        frozenset({"required_providers", "backend", "cloud"}),
    ),
    "provider": (frozenset({"alias", "default_labels"}), frozenset({"default_tags"})),
}


def extract(doc: TerraformDocument) -> list[Fact]:
    if doc.observed is not None:  # a large file: observed chunk by chunk as it was parsed
        return list(doc.observed)
    module_dir = posixpath.dirname(doc.path) or "."
    facts: list[Fact] = []
    for b in doc.blocks_of(*READS):
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


# ---------------------------------------------------------------- after-pass over a scan

_MAX_MODULE_DEPTH = 32  # local module nesting deeper than this is not followed

# How a provider configuration was resolved: its known default tags, whether they are all
# known, and the configuration's target (None when several callers resolve differently).
_Resolved = tuple[dict[str, Any], bool, str | None]
_UNRESOLVED: _Resolved = ({}, False, None)


def _address(ref: str) -> tuple[str, str | None]:
    name, _, alias = ref.strip().partition(".")
    return name, alias or None


def _agree(values: list[Any]) -> Any:
    if all(v == values[0] for v in values[1:]):
        return values[0]
    return "" if "" in values else None  # an empty value in any instance is an empty value


def _combine(results: list[_Resolved | None]) -> _Resolved | None:
    """A module called from several places is instantiated once per call: what every
    instance gets is the keys all of them apply (a value they disagree on is null, or empty
    if one of them is empty); complete when every caller's tags are."""
    if not results or any(r is None for r in results):
        return None
    found = [r for r in results if r is not None]
    first = found[0]
    if all(r == first for r in found[1:]):
        return first
    entries = {
        k: _agree([r[0][k] for r in found]) for k in first[0] if all(k in r[0] for r in found[1:])
    }
    configs = {r[2] for r in found}
    return entries, all(r[1] for r in found), configs.pop() if len(configs) == 1 else None


class _Providers:
    """Provider configurations by module directory, and who calls each local module."""

    def __init__(self, facts: Sequence[Fact]) -> None:
        self.configs: dict[tuple[str, str, str | None], Fact] = {}
        self.callers: dict[str, list[tuple[str, dict[str, str] | None]]] = defaultdict(list)
        for f in facts:
            d = f.data
            if f.kind == "tf.provider":
                self.configs.setdefault((d["module_dir"], d["name"], d["alias"]), f)
            elif f.kind == "tf.module_call" and d.get("source_type") == "local" and d["source"]:
                child = posixpath.normpath(posixpath.join(d["module_dir"], d["source"]))
                if child != ".." and not child.startswith("../"):
                    self.callers[child].append((d["module_dir"], d.get("providers")))
        self.memo: dict[tuple[str, str, str | None], _Resolved | None] = {}

    def resolve(
        self, module_dir: str, name: str, alias: str | None, depth: int = 0
    ) -> _Resolved | None:
        """The configuration `name[.alias]` means in `module_dir`: declared there, or passed
        down by every local caller (implicitly for a default configuration, through a
        `providers` map otherwise). None when it is not in the scan."""
        key = (module_dir, name, alias)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = None  # a cycle of local modules resolves to nothing
        config = self.configs.get(key)
        out: _Resolved | None
        if config is not None:
            out = (
                dict(config.data["default_tags"]),
                bool(config.data["default_tags_known"]),
                config.target,
            )
        elif module_dir in self.callers and depth < _MAX_MODULE_DEPTH:
            addr = name if alias is None else f"{name}.{alias}"
            results: list[_Resolved | None] = []
            for caller_dir, pmap in self.callers[module_dir]:
                if pmap is None:
                    # without `providers`, a child inherits its caller's default configurations
                    results.append(
                        self.resolve(caller_dir, name, None, depth + 1) if alias is None else None
                    )
                elif addr in pmap:
                    results.append(self.resolve(caller_dir, *_address(pmap[addr]), depth + 1))
                else:
                    results.append(None)
            out = _combine(results)
        else:
            out = None
        self.memo[key] = out
        return out


def link_module_facts(facts: Sequence[Fact], in_place: bool = False) -> list[Fact]:
    """After-pass over all facts of a scan (any order; other kinds pass through unchanged).

    Each `tf.resource` gets the default tags of the provider configuration it uses
    (`provider_config`, `default_tags`, `default_tags_known`) and the tags in effect
    (`effective_tags`: every key certainly applied, with its value or null when the value is
    not statically known; `effective_tags_known`: that is all of them). The configuration is
    the resource's `provider` (or the type's prefix) in its module directory, or the one a
    local caller passes down. Idempotent: it reads only what `extract` observed.

    `in_place`, for a caller that owns the list and drops it: each resource's fact is
    replaced in `facts` itself (which is returned), so the unlinked one can be freed at once
    rather than all of them at the end (a file of 137k resources peaked 50 MB higher).
    """
    if not any(f.kind == "tf.resource" for f in facts):
        return list(facts)
    providers = _Providers(facts)
    if in_place and isinstance(facts, list):
        for i, f in enumerate(facts):
            if f.kind == "tf.resource":
                facts[i] = _linked(providers, f)
        return facts
    return [_linked(providers, f) if f.kind == "tf.resource" else f for f in facts]


def resource_linker(context: Sequence[Fact]) -> Callable[[Fact], Fact]:
    """What `link_module_facts` does to each `tf.resource`, given only the provider
    configurations and module calls of the scan (`context`; other kinds are ignored): a scan
    links its resources as it reads them back, without holding them all at once."""
    providers = _Providers(context)
    return lambda f: _linked(providers, f)


def _linked(providers: _Providers, f: Fact) -> Fact:
    """A resource's fact with what its provider configuration applies."""
    d = f.data
    name, alias = _address(d["provider_ref"]) if d["provider_ref"] else (d["provider"], None)
    resolved = providers.resolve(d["module_dir"], name, alias)
    own, own_known = d["resource_tags"], d["resource_tags_known"]
    if resolved is None:
        default_tags, default_known, config = None, False, None
        base: dict[str, Any] = {}
    else:
        default_tags, default_known, config = resolved
        base = dict(default_tags)
    if not own_known:  # the resource's unknown tags may override any default value
        base = dict.fromkeys(base)
    effective = {**base, **own}
    data = dict(d)
    data.update(
        provider_config=config,
        default_tags=default_tags,
        default_tags_known=default_known,
        effective_tags=effective,
        effective_tags_known=resolved is not None and default_known and own_known,
    )
    return Fact(f.kind, f.path, f.span, f.target, data, f.spans)
