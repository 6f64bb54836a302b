"""The scan pipeline: source -> documents -> facts -> policy -> findings -> Report."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import hashlib
import os
import posixpath
import re
import stat
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from . import config as config_mod
from . import exceptions as exceptions_mod
from . import factcache, memory, resultcache
from .config import RepoConfig
from .errors import ConfigError
from .facts import kubernetes, presence, repository
from .model import Diagnostic, Fact, Level, Report, Span, Timings, count
from .parsers.text import LineIndex, decode
from .parsers.yaml import YamlError, compose_each
from .policy import baseline as baseline_mod
from .policy import engine, operator
from .policy.cache import env_flag
from .policy.operator import Policy
from .policy.rules import Rule, load_rules
from .source import (
    MAX_FILE_BYTES,
    READ_FAILED,
    SourceFile,
    classify,
    file_diagnostic,
    read,
    read_regular,
    walk,
)
from .spool import Spool

T = TypeVar("T")
# far above any repository measured (argo-cd: 7,200 facts, 1,616 findings); a 5 MiB file of
# 30,000 Deployments stays well inside, four of them do not
MAX_FACTS = 250_000
MAX_FINDINGS = 50_000
# findings judged so far wait on disk a batch of this many at a time (engine.Evaluation)
FINDINGS_SPILL = 2000
_STALE = "exception-stale"  # the rule (EXC004) judging records that matched no finding


@dataclass(frozen=True)
class ScanOptions:
    """How to scan. The operator's policy plus flags (baselines, rule directories, excludes,
    central exception registries: operator input that extends the policy)."""

    baselines: Sequence[str] = ()  # empty: the policy's (and a chosen overlay), else default
    rule_dirs: Sequence[Path] = ()  # extra rule directories, beside the embedded ones
    excludes: Sequence[str] = ()
    today: dt.date = field(default_factory=dt.date.today)
    jobs: int | None = None  # parse workers; None: one per CPU where it pays, 1: serial
    preview: bool = False  # also run rules whose status is preview
    exceptions: Sequence[str] = ()  # central exception registries (files)
    repo_name: str | None = None  # owner/name, for exceptions scoped by repository
    policy: Policy = field(default_factory=Policy)
    repo_config: bool = True  # False: ignore .tether.yaml, repo exceptions and inline ignores
    fail_on: str | None = None  # the operator's flag, over the policy's
    # what the policy's `repos:` entries may match besides the name (the org scan reads
    # them through the API)
    repo_topics: Sequence[str] = ()
    repo_properties: Mapping[str, str | list[str]] = field(default_factory=dict)
    # read and write the fact cache (see factcache.py); off for a pull request's gate
    fact_cache: bool = True
    # and the result cache (see resultcache.py), which needs the fact cache's directory;
    # TETHER_NO_RESULT_CACHE=1 turns it off alone (to measure the fact cache, say)
    result_cache: bool = field(default_factory=lambda: not env_flag("TETHER_NO_RESULT_CACHE"))
    # bounds on what one scan holds (memory): past them, the rest is not judged and an
    # error-level `scan-limit` diagnostic says where it stopped
    max_facts: int = MAX_FACTS
    max_findings: int = MAX_FINDINGS

    def effective_policy(self) -> Policy:
        return operator.with_flags(
            self.policy,
            fail_on=self.fail_on,
            baselines=self.baselines,
            rule_dirs=self.rule_dirs,
            exceptions=self.exceptions,
            excludes=self.excludes,
            repo_config=self.repo_config,
        )


def embedded_rules_dir() -> Path:
    here = Path(__file__).resolve().parent
    for cand in (here / "_data" / "rules", here.parent / "rules"):
        if cand.is_dir():
            return cand
    raise FileNotFoundError("tether's embedded rules are missing from this install")


def _first_line(text: str) -> Span:
    return LineIndex(text).line_span(1) if text else Span(1, 1, 1, 1)


def _timed(timings: Timings | None, fn: Callable[[], T]) -> T:
    if timings is None:
        return fn()
    t = time.perf_counter()
    try:
        return fn()
    finally:
        timings.parse += time.perf_counter() - t


def _yaml_facts(
    sf: SourceFile,
    text: str,
    out: list[Fact],
    diags: list[Diagnostic],
    timings: Timings | None,
    values: bool,
) -> None:
    """YAML and JSON: presence of tools, Kubernetes manifests, workflows and actions. Nothing
    a tool could apply is left unjudged without a word: a file showing a tool may hold
    manifests too, a manifest may be JSON or spell its keys with escapes, and a file that
    parses as YAML is judged even when it holds template actions (only one that does not
    parse is a template note)."""
    from .parsers import yaml as yaml_doc  # parsing helpers beside compose_each

    kind = sf.kind
    kustomization = posixpath.basename(sf.path) in kubernetes.KUSTOMIZATION_NAMES
    as_json = kind == "json" and kubernetes.is_json_text(text)
    patch_only = False  # can only be a JSON 6902 patch that sets an image, not a manifest
    if kind in ("yaml", "json"):
        tool = presence.detect(sf.path, text)
        if tool is not None:
            out.append(_presence(sf.path, text, tool))
        cfn = presence.template_tool(text)
        if cfn is not None:
            out.append(_presence(sf.path, text, cfn))
        if not kustomization and not kubernetes.may_hold_manifest(text, as_json):
            if not kubernetes.may_set_image(text, as_json):
                return  # not a manifest: other YAML and JSON is none of tether's business
            patch_only = True
    docs: list[Any] = []
    errors: list[YamlError] = []
    if as_json:
        docs, errors = _timed(timings, lambda: kubernetes.read_json(text))
    else:
        # documents as kubectl splits them (`---#` separates for it, not for YAML)
        split = yaml_doc.kubectl_documents(text)
        # one document at a time, each observed and let go before the next is composed
        mark = len(out), len(diags)
        whole: YamlError | None = None
        try:
            stream = _timed_each(timings, yaml_doc.compose_stream(split))
            _documents(sf, text, stream, out, diags, values)
            return
        except yaml_doc.StreamError as err:
            # a document does not compose: the file is observed again as compose_each
            # recovers (each `---` part on its own), from the start
            whole = None if err.may_compose else err
        except YamlError:
            pass
        del out[mark[0] :], diags[mark[1] :]
        try:
            docs, errors = _timed(timings, lambda: compose_each(split, whole))
        except YamlError as err:
            errors = [err]
        errors = [YamlError(f"invalid YAML: {e.message}", e.span) for e in errors]
    if errors and patch_only:
        return  # kustomize refuses a patch that does not parse: nothing is deployed
    if errors and kind in ("yaml", "json") and yaml_doc.template_syntax(text):
        diags.append(
            Diagnostic(
                sf.path,
                _first_line(text),
                "not-scanned-template",
                "not scanned: template (Go/Helm template syntax that is not valid YAML as "
                "written); scan the rendered manifests (helm template ... > rendered.yaml) "
                "to check them",
                Level.NOTE,
            )
        )
    else:
        diags.extend(
            Diagnostic(sf.path, e.span, "parse-error", e.message, Level.ERROR) for e in errors
        )
    _documents(sf, text, docs, out, diags, values)


def _timed_each(timings: Timings | None, items: Iterator[T]) -> Iterator[T]:
    """`items`, the time spent making each counted as parsing."""
    while True:
        t = time.perf_counter()
        try:
            item = next(items)
        except StopIteration:
            return
        finally:
            if timings is not None:
                timings.parse += time.perf_counter() - t
        yield item


def _documents(
    sf: SourceFile,
    text: str,
    docs: Iterable[Any],
    out: list[Fact],
    diags: list[Diagnostic],
    values: bool,
) -> None:
    """Observe a YAML or JSON file's documents (composed Nodes, None for an empty one), in
    order: see _yaml_facts."""
    from .facts import env as env_facts
    from .facts import github_actions
    from .parsers import yaml as yaml_doc

    kind = sf.kind
    kustomization = posixpath.basename(sf.path) in kubernetes.KUSTOMIZATION_NAMES
    max_listed = 20  # duplicate keys listed one by one: one file must not flood the reports
    # looked for once per file, not once per document (a file of 10,000 documents)
    has_patch_directive = "$patch" in text
    has_merge_key = "<<" in text
    lines = text.split("\n") if kind in ("gha-workflow", "gha-action") else []
    dups: list[tuple[Any, Any]] = []
    merges: list[Any] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        manifest = kubernetes.is_manifest(doc)
        if values and not (manifest and _named(doc)):
            continue
        if kustomization and i > 0:
            # kustomize reads the first document of a kustomization file and no other
            diags.append(
                Diagnostic(
                    sf.path,
                    doc.span,
                    "kustomize-not-judged",
                    "ignored: kustomize reads only the first document of a kustomization "
                    "file, so nothing in this one is built or applied; remove it",
                    Level.WARNING,
                )
            )
            continue
        # a workflow or action file's name does not make its manifests none of tether's
        # business (`k8s/action.yaml` is applied by kubectl like any other): a manifest is
        # judged as one, and as workflow or action metadata only when it has jobs or runs
        gha = kind in ("gha-workflow", "gha-action") and (
            not manifest or doc.get("jobs" if kind == "gha-workflow" else "runs") is not None
        )
        if kustomization and not manifest:
            out.extend(kubernetes.extract_kustomization(sf.path, doc))
        elif gha and kind == "gha-workflow":
            out.extend(github_actions.extract_workflow(sf.path, doc, lines))
            out.extend(env_facts.extract_gha(sf.path, doc))
            if i == 0:
                out.extend(repository.template_facts(sf.path, doc, text))
        elif gha:
            out.extend(github_actions.extract_action(sf.path, doc, lines))
        elif not manifest:
            # a JSON 6902 patch (kustomize's patches:) that sets an image: judged as an
            # image override; what else it does to judged fields is said; other YAML is none
            # of tether's business
            images = kubernetes.json_patch_images(sf.path, doc, "JsonPatch")
            unjudged = kubernetes.patch_unjudged(doc) if doc.is_seq else []
            diags.extend(
                Diagnostic(sf.path, span, "kustomize-not-judged", message, Level.WARNING)
                for span, message in unjudged
            )
            if not images:
                continue
            out.extend(images)
        if manifest:
            out.extend(kubernetes.extract(sf.path, doc, i))
            out.extend(env_facts.extract_k8s(sf.path, doc, i))
            if has_patch_directive:  # strategic-merge directives on judged fields are said
                diags.extend(
                    Diagnostic(sf.path, span, "kustomize-not-judged", message, Level.WARNING)
                    for span, message in kubernetes.patch_unjudged(doc)
                )
            # containers of a custom resource the pod-template table does not list are said
            diags.extend(
                Diagnostic(sf.path, span, "pods-not-judged", message, Level.NOTE)
                for span, message in kubernetes.unjudged_pods(doc)
            )
        # what kustomize does that tether does not model is said, not passed over
        diags.extend(
            Diagnostic(sf.path, span, "kustomize-not-judged", message, Level.WARNING)
            for span, message in kubernetes.unjudged_kustomize(doc, kustomization)
        )
        # judged: a key written twice is read differently by different tools
        dups.extend(yaml_doc.duplicate_keys(doc))
        if has_merge_key:  # a merge key is `<<` as written, or there is none to judge
            merges.extend(yaml_doc.ambiguous_merges(doc))
    for dup, first in dups[:max_listed]:
        key = str(dup.raw.value)
        shown = key if len(key) <= 60 else key[:57] + "..."
        diags.append(
            Diagnostic(
                sf.path,
                dup.span,
                "duplicate-key",
                f'duplicate key "{shown}" (first at line {first.line}): tools disagree on '
                "which value counts; tether judges this last one. Keep only one.",
                Level.ERROR,
            )
        )
    for merge in merges[:max_listed]:
        diags.append(
            Diagnostic(
                sf.path,
                merge.span,
                "ambiguous-merge",
                "merge key (<<) that tools apply differently: kubectl (go-yaml v2) applies it "
                "over the keys written before it and the later of two merge keys wins, while "
                "kustomize (go-yaml v3) and YAML keep the map's own keys; tether judges "
                "kubectl's reading. Write the keys out instead.",
                Level.WARNING,
            )
        )
    if len(merges) > max_listed:
        diags.append(
            Diagnostic(
                sf.path,
                merges[max_listed].span,
                "ambiguous-merge",
                f"{len(merges) - max_listed} more ambiguous merge keys in this file from here "
                "on (not listed one by one); tether judges kubectl's reading of each.",
                Level.WARNING,
            )
        )
    if len(dups) > max_listed:
        diags.append(
            Diagnostic(
                sf.path,
                dups[max_listed][0].span,
                "duplicate-key",
                f"{len(dups) - max_listed} more duplicate keys in this file from here on "
                "(not listed one by one); tether judges the last value of each.",
                Level.ERROR,
            )
        )


# a generator's input named after the Dockerfile it makes (`Dockerfile.template`,
# `Dockerfile-alpine.tmpl`, `Dockerfile.j2`): template actions that docker never reads
_TEMPLATE_SUFFIXES = (".template", ".tmpl", ".tpl", ".j2", ".jinja", ".jinja2", ".gotmpl")
_TEMPLATE_ACTION = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def _dockerfile_template(path: str, text: str, found: Sequence[Diagnostic]) -> Sequence[Diagnostic]:
    """A Dockerfile template's errors, as one note: a file named as a template
    (`Dockerfile.template`) that does not parse as written because of its template actions
    (`{{ .alpine }}`, `{% if %}`) is a generator's input, like a Helm template, and is
    judged where it parses; any other Dockerfile's errors stand as they are."""
    errors = [d for d in found if d.level is Level.ERROR and d.code == "parse-error"]
    if not errors or not path.lower().endswith(_TEMPLATE_SUFFIXES):
        return found
    if not _TEMPLATE_ACTION.search(text):
        return found
    note = Diagnostic(
        path,
        errors[0].span,
        "not-scanned-template",
        f"not scanned in full: template ({len(errors)} line"
        f"{'' if len(errors) == 1 else 's'} with template actions that are not Dockerfile "
        "syntax as written); the rest is judged. Scan the generated Dockerfiles to check "
        "them",
        Level.NOTE,
    )
    return [*(d for d in found if d not in errors), note]


_VALUES_NAME = re.compile(r"values(?:[.\-_][^/]*)?\.(?:ya?ml|json)", re.IGNORECASE)


_CHART_FIELDS = (
    re.compile(r"^apiVersion:[ \t]*[\"']?v[12][\"']?[ \t]*(#.*)?$", re.MULTILINE),
    re.compile(r"^name:[ \t]*[^\s#]", re.MULTILINE),
    re.compile(r"^version:[ \t]*[^\s#]", re.MULTILINE),
)


def _chart_values(sf: SourceFile) -> bool:
    """A values file of a Helm chart: `values.yaml` (or `values-prod.yaml`, ...) beside a
    Chart.yaml that is one (apiVersion v1 or v2, name and version). Helm reads it as data for
    the templates; whatever apiVersion and kind it holds are settings, not objects."""
    if sf.kind not in ("yaml", "json") or not _VALUES_NAME.fullmatch(posixpath.basename(sf.path)):
        return False
    chart = os.path.join(os.path.dirname(sf.abspath), "Chart.yaml")
    try:  # the chart's own file: a link (perhaps out of the repository) makes no chart
        if not stat.S_ISREG(os.lstat(chart).st_mode):
            return False
    except OSError:
        return False
    data = read_regular(chart)
    text = data[: 64 * 1024].decode("utf-8", "replace") if data is not None else ""
    return bool(text) and all(p.search(text) for p in _CHART_FIELDS)


def _named(doc: Any) -> bool:
    """An object with a literal metadata.name or generateName: what kubectl would create."""
    meta = doc.get("metadata")
    if meta is None or not meta.is_map:
        return False
    return any(
        n is not None and bool(n.str_value()) for n in (meta.get("name"), meta.get("generateName"))
    )


def _presence(path: str, text: str, tool: presence.Detection) -> Fact:
    f = presence.fact(path, tool[0], tool[1], {"found": tool[2]})
    return Fact(f.kind, f.path, _first_line(text), f.target, f.data, f.spans)


def facts_for(
    sf: SourceFile,
    text: str,
    diags: list[Diagnostic],
    timings: Timings | None = None,
    values: bool | None = None,
) -> list[Fact]:
    """Parse one file and observe its facts; problems become diagnostics. `values`: whether
    the file is a Helm chart's values file (see _chart_values; worked out when None)."""
    out: list[Fact] = []
    k = sf.kind
    # each kind's parser and extractors are imported when a file of that kind is met: a
    # scan pays only for the kinds a repository has (start-up time, issue 11)
    if k in ("terraform", "terraform-json"):
        from .facts import terraform as tf_facts
        from .parsers import terraform as tf_parser

        parse = tf_parser.parse_json if k == "terraform-json" else tf_parser.parse_native
        doc = _timed(timings, lambda: parse(sf.path, text))
        diags.extend(doc.diagnostics)
        out.extend(tf_facts.extract(doc))
        _timed(timings, doc.release)  # freeing the syntax tree is part of parsing's cost
    elif k in ("yaml", "json", "gha-workflow", "gha-action"):
        # a Helm chart's values: the templates' input, whose `kind:` or `image:` are
        # settings; a document in it that is a whole named object is judged all the same
        # (kubectl -f and a kustomization's resources: would apply it)
        if values is None:
            values = _chart_values(sf)
        _yaml_facts(sf, text, out, diags, timings, values)
    elif k == "dockerfile":
        from .facts import dockerfile as docker_facts
        from .facts import env as env_facts
        from .parsers import dockerfile as docker_parser

        ddoc = _timed(timings, lambda: docker_parser.parse(sf.path, text))
        diags.extend(_dockerfile_template(sf.path, text, ddoc.diagnostics))
        out.extend(docker_facts.extract(ddoc))
        out.extend(env_facts.extract_dockerfile(ddoc))
    elif k == "presence":
        tool = presence.detect(sf.path, text)
        if tool is not None:
            out.append(_presence(sf.path, text, tool))
    elif k == "template":
        cfn = presence.template_tool(text)
        if cfn is not None:
            out.append(_presence(sf.path, text, cfn))
    return out


# A Git LFS pointer file (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md): under
# 1024 bytes, `key value` lines each ending in a line feed, `version` first (the spec's URL,
# or the one before the rename), then the others sorted: extension lines, `oid sha256:` and
# 64 hex digits, `size` and a number.
_LFS_POINTER = re.compile(
    rb"version https://(?:git-lfs|hawser)\.github\.com/spec/v1\n"
    rb"(?:ext-[0-9]-[a-z0-9]+ sha256:[0-9a-f]{64}\n)*"
    rb"oid sha256:[0-9a-f]{64}\n"
    rb"size [0-9]+\n?"
)


def _lfs_pointer(data: bytes) -> bool:
    """Whether a file is a Git LFS pointer exactly as the spec writes one: anything else
    that merely starts like one is content that kubectl and the other tools read."""
    return len(data) < 1024 and _LFS_POINTER.fullmatch(data) is not None


def _under_git(rel: str) -> bool:
    """A repository path inside a `.git` directory (any case: case-insensitive file systems
    open `.GIT/config` as `.git/config`): git's own files, never read as configuration."""
    return any(seg.lower() == ".git" for seg in rel.replace(os.sep, "/").split("/"))


def _listed_unwalked(root: Path, facts: Sequence[Fact], walked: set[str]) -> list[SourceFile]:
    """Files kustomizations list, as YAML, that the walk did not yield (excluded or in a
    marked directory): regular files inside the repository, never under .git."""
    real_root = os.path.realpath(root)
    out: dict[str, SourceFile] = {}
    checked: set[str] = set()  # a base many kustomizations list is looked at once
    for f in facts:
        if f.kind != "k8s.kustomization":
            continue
        for rel in f.data.get("local_paths") or []:
            if rel in walked or rel in checked or _under_git(rel):
                continue
            checked.add(rel)
            listed = _listed_file(real_root, rel)
            if listed is not None:
                out[rel] = listed
    return list(out.values())


def _listed_file(real_root: str, rel: str) -> SourceFile | None:
    """A path a kustomization lists, to read as YAML, if it is a regular file inside the
    repository (resolved: `real_root`) and not under .git."""
    joined = os.path.join(real_root, rel.replace("/", os.sep))
    # (a listed directory, the usual case, costs one stat, not a realpath's lstat of every
    # component: it is no file however it is reached)
    if not os.path.isfile(joined):
        return None
    real = os.path.realpath(joined)
    if not real.startswith(real_root + os.sep) or _under_git(real[len(real_root) + 1 :]):
        return None
    return SourceFile(rel, real, "yaml") if os.path.isfile(real) else None


def kustomization_listed(root: Path, paths: Iterable[str]) -> list[str]:
    """The repository paths the kustomizations among `paths` (files under `root`) list:
    what kustomize reads, as YAML, whatever the names (the org scan fetches those it did not
    extract). A file counts as a kustomization by name or when its text names the kind."""
    files = []
    top = os.path.realpath(root)
    for rel in paths:
        base = posixpath.basename(rel)
        abspath = os.path.join(top, rel)
        if base not in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
            try:
                with open(abspath, "rb") as fh:
                    head = fh.read(MAX_FILE_BYTES)
            except OSError:
                continue
            if b"Kustomization" not in head and b"kustomize.config.k8s.io" not in head:
                continue
        files.append(SourceFile(rel, abspath, "yaml"))
    token = _ROOT.set(top)
    try:
        facts, _ = _observe(files, Timings())
    finally:
        _ROOT.reset(token)
    return sorted(
        {
            str(p)
            for f in facts
            if f.kind == "k8s.kustomization"
            for p in f.data.get("local_paths") or []
        }
    )


# the scan's max_facts: a worker stops reading files once it holds that many facts
_MAX_FACTS: ContextVar[int] = ContextVar("max_facts", default=MAX_FACTS)


def _capped(
    facts: list[Fact], files: Sequence[SourceFile], limit: int
) -> tuple[list[Fact], list[Diagnostic]]:
    """At most about `limit` facts, cut after the file that reached it (a file's facts are
    kept whole), and an error-level diagnostic on that file naming what was not judged."""
    if len(facts) <= limit:
        return facts, []
    at = facts[limit - 1].path
    end = limit
    while end < len(facts) and facts[end].path == at:
        end += 1
    kept_paths = {f.path for f in facts[:end]}
    after = next((i + 1 for i, sf in enumerate(files) if sf.path == at), 0)
    skipped = [sf.path for sf in files[after:] if sf.path not in kept_paths]
    return facts[:end], [_facts_limit(facts[limit - 1], limit, skipped)]


def _facts_limit(at: Fact, limit: int, skipped: Sequence[str]) -> Diagnostic:
    """The --max-facts diagnostic: on the fact that reached the limit, naming the files
    left unjudged."""
    first = f"; the first is {skipped[0]}" if skipped else ""
    return Diagnostic(
        at.path,
        at.span,
        "scan-limit",
        f"the scan reached its limit of {limit:,} facts (--max-facts) at this file: "
        f"{count(len(skipped), 'other file')} not judged{first}. "
        "Scan those directories on their own, or raise the limit",
        Level.ERROR,
    )


# what files yielded before, by content (see factcache.py); set for a scan by `scan`
_FACT_CACHE: ContextVar[factcache.FactCache | None] = ContextVar("fact_cache", default=None)
# the repository root (resolved) of the files `collect` observes
_ROOT: ContextVar[str | None] = ContextVar("root", default=None)
# when set, `_observe` records the sha256 of every file it reads, by repository path: the
# result cache keeps a scan only if what was parsed is what its key hashed
_READS: ContextVar[dict[str, str] | None] = ContextVar("reads", default=None)
# when set, `_observe` in this process (the pid) hands each file's facts to the function as
# soon as they are made, rather than returning them (see _Feeder); it says False to stop
_EMIT: ContextVar[tuple[int, Callable[[list[Fact]], bool]] | None] = ContextVar(
    "emit", default=None
)


# Python's cycle collector while files are parsed: the first generation collected every
# 50,000 allocations instead of 700 (see _gc_steady)
_GC_THRESHOLDS = (50_000, 20, 10)
_GC_LOCK = threading.Lock()
_gc_scans = 0  # scans parsing right now, in this process's threads
_gc_saved: tuple[int, int, int] = gc.get_threshold()


@contextlib.contextmanager
def _gc_steady() -> Iterator[None]:
    """Python's cycle collector run less often while files are parsed (forked workers
    inherit it). Parsing allocates millions of small objects that live until their file is
    done, and at the default thresholds the collector's passes over them, and over the facts
    kept so far, cost as much again as parsing (45% of parse time on kubeflow/manifests).
    Fewer, larger passes free the same cycles: measured on kubeflow/manifests (1,126 files,
    24 MB), 6.5 s -> 4.6 s with peak RSS 169 -> 173 MB, where switching the collector off
    altogether would have nearly doubled peak memory."""
    global _gc_scans, _gc_saved
    # the thresholds are the process's, and an org scan parses repositories in threads:
    # the first scan in eases them, the last one out gives the caller's back
    with _GC_LOCK:
        if _gc_scans == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(*_GC_THRESHOLDS)
        _gc_scans += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_scans -= 1
            if _gc_scans == 0:
                gc.set_threshold(*_gc_saved)


def _observe(files: Sequence[SourceFile], timings: Timings) -> tuple[list[Fact], list[Diagnostic]]:
    """Read, parse and observe files, in order; then the files that the kustomizations among
    them list but whose names tether does not read as YAML (kustomize reads every file it
    lists as YAML: `resources: [miner.txt]` deploys what miner.txt holds), each once, when it
    is a regular file inside the repository."""
    facts: list[Fact] = []
    diags: list[Diagnostic] = []
    queue = list(files)
    listed: set[str] = set()
    cache = _FACT_CACHE.get()
    root = _ROOT.get()  # set by the callers (collect, kustomization_listed)

    def listed_files(sf: SourceFile, found: Sequence[Fact]) -> list[SourceFile]:
        if root is None or not any(f.kind == "k8s.kustomization" for f in found):
            return []
        # read through a link (a kustomization.yaml that is a link to another one): what it
        # lists is not located from the link's target
        if sf.abspath != os.path.join(root, sf.path.replace("/", os.sep)):
            return []
        out = []
        for f in found:
            if f.kind != "k8s.kustomization":
                continue
            for rel in f.data.get("local_paths") or []:
                if rel in listed or kubernetes.reads_as_yaml(rel) or _under_git(rel):
                    continue
                extra = _listed_file(root, rel)
                if extra is not None:
                    listed.add(rel)
                    out.append(extra)
        return out

    limit = _MAX_FACTS.get()
    reads = _READS.get()
    emitting = _EMIT.get()
    emit = emitting[1] if emitting is not None and emitting[0] == os.getpid() else None
    i = 0
    while i < len(queue):
        if emit is not None and facts:
            # (a file's facts are handed on after its timings are taken, so judging them
            # counts as policy time)
            found, facts = facts, []
            if not emit(found):
                break  # the facts limit was reached: the feeder says it
        if len(facts) > limit:
            break  # past the limit: the rest is said by _capped
        sf = queue[i]
        i += 1
        data = read(sf)
        if isinstance(data, Diagnostic):
            diags.append(data)
            continue
        if reads is not None:
            reads[sf.path] = hashlib.sha256(data).hexdigest()
        timings.files += 1
        timings.bytes += len(data)
        memory.note_read(len(data))  # (what earlier files freed goes back now and then)
        if _lfs_pointer(data):
            # the content lives in Git LFS storage, not in the repository: the pointer's
            # three lines say nothing about it
            end = data.find(b"\n")
            diags.append(
                Diagnostic(
                    sf.path,
                    Span(1, 1, 1, (end if end > 0 else len(data)) + 1),
                    "lfs-pointer",
                    "not scanned: a Git LFS pointer, not the file's content; scan after "
                    "`git lfs pull` (in CI: actions/checkout with lfs: true)",
                    Level.WARNING,
                )
            )
            continue
        try:
            text = decode(data)
        except UnicodeDecodeError as e:
            line = data.count(b"\n", 0, e.start) + 1
            col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
            diags.append(
                Diagnostic(
                    sf.path,
                    Span(line, col, line, col + 1),
                    "unreadable",
                    f"not UTF-8 text (byte {e.start}); not scanned",
                    Level.ERROR,
                )
            )
            continue
        t = time.perf_counter()
        parse_before = timings.parse
        key = None
        try:
            if cache is not None:
                values = _chart_values(sf)
                key = cache.key(sf.path, sf.kind, data, values)
                hit = cache.get(key)
                if hit is not None:
                    timings.cached += 1
                    facts.extend(hit[0])
                    diags.extend(hit[1])
                    queue.extend(listed_files(sf, hit[0]))
                    timings.facts += time.perf_counter() - t
                    continue
            else:
                values = None
            own: list[Diagnostic] = []
            found = facts_for(sf, text, own, timings, values)
            facts.extend(found)
            diags.extend(own)
            if key is not None and (found or own or len(data) >= factcache.MIN_BYTES):
                cache.put(key, found, own)  # type: ignore[union-attr]
            queue.extend(listed_files(sf, found))
        except Exception as e:  # a parser bug must not end the scan: report it, go on
            diags.append(
                file_diagnostic(
                    sf.path,
                    "internal-error",
                    f"tether failed on this file ({type(e).__name__}: {e}); please report it",
                    Level.ERROR,
                )
            )
        timings.facts += time.perf_counter() - t - (timings.parse - parse_before)
    if emit is not None and facts:
        emit(facts)
        facts = []
    if cache is not None:
        t = time.perf_counter()
        cache.flush()  # this worker's new entries, in one transaction
        timings.facts += time.perf_counter() - t
    return facts, diags


def _through_link(sf: SourceFile, root_real: str) -> bool:
    """Whether the walk reached the file through a symbolic link: its absolute path is not
    the repository path under the (resolved) root. (A suffix test is not enough: a link
    `k8s/x.yaml` to `vendor/k8s/x.yaml` ends with the repository path.)"""
    return sf.abspath != os.path.join(root_real, sf.path.replace("/", os.sep))


def known_values(
    baseline: baseline_mod.Baseline, policy: operator.Policy, root: Path, opts: ScanOptions
) -> baseline_mod.Baseline:
    """The baseline with ``known``: what remedies may write for required labels and tags
    (the policy's ``ownership.labels``, "$team" resolved to the repository's team by the
    policy's ownership sources, per-team values picked for it). Only remedies read it (a
    baseline file cannot set it: the schema has no such key); it is part of the result
    cache's key with the rest of the baseline."""
    from .org.teams import UNOWNED, attribute

    org = opts.repo_name.split("/", 1)[0] if opts.repo_name and "/" in opts.repo_name else None
    team = attribute(policy, org, dict(opts.repo_properties), root).team
    labels: dict[str, str] = {}
    for name, value in policy.label_values.items():
        if isinstance(value, str):
            if value != "$team":
                labels[name] = value
            elif team != UNOWNED:
                labels[name] = team
        elif team in value:
            labels[name] = value[team]
    known = {"team": team, "labels": labels}
    return dataclasses.replace(baseline, data={**baseline.data, "known": known})


def _judged_key(
    root: Path,
    listing: tuple[list[SourceFile], list[Diagnostic]],
    seen: Sequence[str],
    own: Sequence[Fact],
    rules: Mapping[str, Rule],
    baseline: baseline_mod.Baseline,
    opts: ScanOptions,
    excludes: Sequence[str],
    hashed: dict[str, Any],
) -> str | None:
    """The result cache's key for a whole-repository scan (see resultcache.py): reads every
    file the walk yields, once, to hash what reading it gives (kept in `hashed`, by path, for
    the check that the scan parsed those very bytes)."""
    states: list[Any] = [
        ["walk", d.path, list(d.span), d.code, d.message, d.level.value] for d in listing[1]
    ]
    root_real = os.path.realpath(root)
    for sf in listing[0]:
        linked = _through_link(sf, root_real)
        state = resultcache.file_state(sf.path, sf.kind, linked, _chart_values(sf), read(sf))
        hashed[sf.path] = state[-1]
        states.append(state)
    return resultcache.key(
        rules=rules,
        baseline=baseline,
        today=opts.today,
        preview=opts.preview,
        limits=(opts.max_facts, opts.max_findings),
        excludes=excludes,
        files=states,
        seen=seen,
        facts=own,
    )


def discover(
    root: Path,
    excludes: Sequence[str],
    seen: list[str] | None = None,
    only: Collection[str] | None = None,
    scope: Collection[str] | None = None,
) -> tuple[list[SourceFile], list[Diagnostic]]:
    """The files a scan reads, in path order, and what the walk says (see collect)."""
    diags: list[Diagnostic] = []
    files: list[SourceFile] = []
    try:
        for item in walk(root, tuple(excludes), seen, only, scope):
            if isinstance(item, Diagnostic):
                diags.append(item)
            else:
                files.append(item)
    except RecursionError:  # os.walk recurses per level before Python 3.12
        diags.append(
            file_diagnostic(
                files[-1].path.rsplit("/", 1)[0] if files else ".",
                "unreadable",
                "directory tree too deep to walk; the files below this point are not scanned",
                Level.ERROR,
            )
        )
    return files, diags


def collect(
    root: Path,
    excludes: Sequence[str],
    timings: Timings,
    jobs: int | None = None,
    seen: list[str] | None = None,
    only: Collection[str] | None = None,
    scope: Collection[str] | None = None,
    roots: Collection[str] = (),
    known: Collection[str] | None = None,
    listing: tuple[list[SourceFile], list[Diagnostic]] | None = None,
) -> tuple[list[Fact], list[Diagnostic]]:
    """Facts and diagnostics of every file under root, in path order (`listing`: what
    `discover` gave, when the caller walked already). Files are parsed in
    `jobs` worker processes where that pays (see parallel.py); results are identical.
    `seen`, when given, receives the path of every file present, read or not (for
    `repository_summary`); `only` restricts the scan to a file set (PR mode: what git
    tracks, plus untracked files it does not ignore); `scope` to the repository paths
    (files or directories) a scan was asked for; `roots` to kustomization directories that
    count as deployed whatever builds them, and `known` (the merge base's kustomization
    directories, in PR mode) makes every other one count so too (see
    kubernetes.drop_patch_facts).

    Every fact at once, then the cross-file passes over them all: the plain form of what a
    scan does (`collect_judged` judges each file's facts as they are made), kept as the
    reference the streamed scan is tested against and for tools that want the facts."""
    if listing is None:
        t0 = time.perf_counter()
        listing = discover(root, excludes, seen, only, scope)
        timings.discover = time.perf_counter() - t0
    files, diags = listing[0], list(listing[1])
    root_token = _ROOT.set(os.path.realpath(root))
    try:
        return _collect(root, files, diags, timings, jobs, roots, known)
    finally:
        _ROOT.reset(root_token)


class Kustomized(NamedTuple):
    """What a scan reports of its kustomizations, taken from their facts as soon as every
    one is read (the facts then go, long before the scan ends)."""

    roots: tuple[str, ...]  # directories of the root kustomizations (none builds them)
    dirs: tuple[str, ...]  # every kustomization's directory, sorted
    listed: tuple[str, ...]  # paths they list that the walk did not yield (resultcache)

    @staticmethod
    def of(facts: Sequence[Fact], walked: set[str]) -> Kustomized:
        return Kustomized(
            tuple(kubernetes.kustomize_roots(facts)),
            tuple(sorted({posixpath.dirname(f.path) for f in facts if f.kind == _KUSTOMIZATION})),
            tuple(resultcache.extra_paths(facts, walked)),
        )


_KUSTOMIZATION = "k8s.kustomization"


def collect_judged(
    root: Path,
    judging: engine.Evaluation,
    timings: Timings,
    listing: tuple[list[SourceFile], list[Diagnostic]],
    jobs: int | None = None,
    roots: Collection[str] = (),
    known: Collection[str] | None = None,
) -> tuple[_Feeder, Kustomized, list[Diagnostic]]:
    """`collect`, each file's facts judged by `judging` as soon as they are made (and
    finished by the cross-file passes) rather than returned: a scan holds its findings, not
    every fact. Returns the feeder (facts judged, time spent judging), what the scan
    reports of its kustomizations, and the diagnostics."""
    files, diags = listing[0], list(listing[1])
    feeder = _Feeder(judging, files, _MAX_FACTS.get(), timings)
    root_token = _ROOT.set(os.path.realpath(root))
    try:
        kustomized, diags = _collect_streamed(
            root, files, diags, timings, jobs, roots, known, feeder
        )
    finally:
        _ROOT.reset(root_token)
    return feeder, kustomized, diags


@contextlib.contextmanager
def _emitting(fn: Callable[[list[Fact]], bool]) -> Iterator[None]:
    """Within it, `_observe` in this process hands each file's facts to `fn` as they are
    made (see parallel.run)."""
    token = _EMIT.set((os.getpid(), fn))
    try:
        yield
    finally:
        _EMIT.reset(token)


def _side() -> Any:
    """What a worker's `_observe` leaves beside its results (the digests of what it read,
    when the scan records them), and how the parent takes it in (see parallel.run)."""
    reads = _READS.get()
    if reads is None:
        return None
    return (_READS.get, lambda got: reads.update(got or {}))


def _collect(
    root: Path,
    files: list[SourceFile],
    diags: list[Diagnostic],
    timings: Timings,
    jobs: int | None,
    roots: Collection[str],
    known: Collection[str] | None,
) -> tuple[list[Fact], list[Diagnostic]]:
    from . import parallel

    with _gc_steady():
        facts, more = parallel.run(files, _observe, timings, jobs, _side())
    facts, over = _capped(facts, files, _MAX_FACTS.get())
    more += over
    # what a kustomization lists is deployed: a listed file the walk left out (an excluded or
    # marked path) is judged all the same, serially, once
    walked = {sf.path for sf in files}
    extra = _listed_unwalked(root, facts, walked) if not over else []
    while extra:
        walked.update(sf.path for sf in extra)
        f2, d2 = _observe(extra, timings)
        facts += f2
        more += d2
        extra = _listed_unwalked(root, f2, walked)
    t1 = time.perf_counter()
    # cross-file observations: a resource's provider default tags live in another block,
    # often another file, of the same module (or of a calling module)
    if any(f.kind == "tf.resource" for f in facts):  # (tree-sitter loads only then)
        from .facts import terraform as tf_facts

        # in place: each unlinked fact is freed as its linked one replaces it; under the
        # eased collector, like parsing (137k resources: 286 -> 226 MB, 1.5 s -> 0.4 s)
        with _gc_steady():
            facts = tf_facts.link_module_facts(facts, in_place=True)
    said: list[tuple[str, Span, str]] = []
    facts = kubernetes.drop_patch_facts(facts, roots, known, said)
    diags.extend(
        Diagnostic(path, span, "kustomize-not-judged", message, Level.WARNING)
        for path, span, message in said
    )
    timings.facts += time.perf_counter() - t1
    return facts, diags + more


class _Feeder:
    """Where a scan's facts go as they are made (see `_collect_streamed`): each file's facts
    are finished (what kustomizations make of them) and judged at once, then let go, so a
    scan holds its findings and the few facts cross-file passes need, not every fact. Facts
    that wait for a pass over all of them (Terraform resources: their provider's default
    tags may be in any file of the module, or of a caller) wait in a spool until `finish`,
    which links them with the provider configurations and module calls, kept in memory.
    Facts past the --max-facts limit are not judged, as `_capped` cuts a list."""

    def __init__(
        self,
        judging: engine.Evaluation,
        files: Sequence[SourceFile],
        limit: int,
        timings: Timings,
    ) -> None:
        self._judging, self._files, self._limit, self._timings = judging, files, limit, timings
        self.graph = kubernetes.KustomizeGraph(())
        self.count = 0  # facts taken (before the cross-file passes), as _capped counts
        self.judged = 0  # facts judged
        self.policy = 0.0  # time spent judging
        self._kept: set[str] = set()  # paths whose facts were taken
        self.over: list[Diagnostic] = []  # the facts limit's diagnostic, once it cut
        self._at: Fact | None = None  # the fact that reached the limit
        # Terraform resources, until every provider is known: on disk, a file's at a time
        self._held = Spool[Fact]()
        self._held_count = 0  # resources in the spool
        self._after = 0  # while `finish` judges them: those of later batches
        judging.left = self._left
        self._tf_context: list[Fact] = []  # provider configurations and local module calls

    def __call__(self, facts: list[Fact]) -> bool:
        """Take one file's facts (or a batch of whole files', in order); False once the
        limit cut the scan."""
        if not self.open:
            return False
        if self._at is None and self.count + len(facts) >= self._limit:
            # the fact that reaches the limit: its file is kept whole, nothing after it
            self._at = facts[self._limit - 1 - self.count]
        if self._at is not None:
            # up to the fact that reached the limit, then only the rest of its file
            end = max(0, self._limit - self.count)
            while end < len(facts) and facts[end].path == self._at.path:
                end += 1
            if end < len(facts):
                facts = facts[:end]
                self._kept.update(f.path for f in facts)
                self._cut()
        self.count += len(facts)
        self._kept.update(f.path for f in facts)
        self._take(facts)
        return self.open

    @property
    def open(self) -> bool:
        """Whether more facts are taken (the facts limit did not cut the scan). Past the
        findings limit they still are, unjudged: what later files say (a parse error, an
        unreadable file) is still said, and the report does not depend on the workers."""
        return not self.over

    def _left(self, facts: int | None) -> str:
        """What the findings limit left unjudged: of the facts being judged, and files."""
        files = sum(1 for sf in self._files if sf.path not in self._kept)
        held = f", {count(self._held_count, 'Terraform resource')}" if self._held_count else ""
        facts = (facts or 0) + self._after
        return f" ({count(facts, 'fact')}{held} and {count(files, 'more file')})"

    def _cut(self) -> None:
        """The limit's diagnostic, on the file holding the fact that reached it."""
        assert self._at is not None
        # (kustomizations are read first: the files left are counted wherever they are)
        skipped = [sf.path for sf in self._files if sf.path not in self._kept]
        self.over.append(_facts_limit(self._at, self._limit, skipped))

    def _take(self, facts: list[Fact]) -> None:
        t = time.perf_counter()
        ready: list[Fact] = []
        held: list[Fact] = []
        for f in facts:
            if f.kind == "tf.resource":
                held.append(f)
                continue
            if f.kind == "tf.provider" or f.kind == "tf.module_call":
                self._tf_context.append(f)
            ready.append(f)
        if held:
            self._held.write(held)
            self._held_count += len(held)
        ready = self.graph.finalize(ready)
        self._judge(ready, t)

    def _judge(self, facts: list[Fact], since: float) -> None:
        t = time.perf_counter()
        self._timings.facts += t - since
        self.judged += len(facts)
        self._judging.feed(facts)
        self.policy += time.perf_counter() - t

    def finish(self) -> None:
        """Judge what waited for every file: Terraform resources, with their providers'
        default tags. Nothing is fed after this: the graph is let go."""
        try:
            self._finish()
        finally:
            self._held.close()
            self.graph = kubernetes.KustomizeGraph(())
            self._tf_context = []

    def _finish(self) -> None:
        if not self._held_count:
            return
        from .facts import terraform as tf_facts

        t = time.perf_counter()
        link = tf_facts.resource_linker(self._tf_context)
        # read back a batch at a time, judged as one batch (the limit's message counts the
        # later batches' resources as facts of it); past the findings limit they are still
        # counted as taken, unjudged, as every fact is
        self._after, self._held_count = self._held_count, 0
        for batch in self._held.replay():
            self._after -= len(batch)
            resources = self.graph.finalize([link(f) for f in batch])
            self._judge(resources, t)
            t = time.perf_counter()
        self._after = 0


def _collect_streamed(
    root: Path,
    files: list[SourceFile],
    diags: list[Diagnostic],
    timings: Timings,
    jobs: int | None,
    roots: Collection[str],
    known: Collection[str] | None,
    feeder: _Feeder,
) -> tuple[Kustomized, list[Diagnostic]]:
    """`_collect`, each file's facts judged as soon as they are made (by `feeder`). What the
    kustomizations of the scan make of other files is known first: the kustomization files,
    the files they list that the walk left out and that are kustomizations too, and the
    files they list as transformers are observed before the rest. Returns what the scan
    reports of its kustomizations, and the diagnostics."""
    from . import parallel

    walked = {sf.path for sf in files}
    listed_walk = set(walked)
    names = kubernetes.KUSTOMIZATION_NAMES
    first = [sf for sf in files if posixpath.basename(sf.path) in names]
    # what the graph needs of these files' facts stays in memory, small (graph_fact); the
    # facts themselves wait in a spool (an unnamed temporary file) until the graph is known
    graph_facts: list[Fact] = []
    more: list[Diagnostic] = []
    later: list[SourceFile] = []  # listed, unwalked, not kustomizations: after the walk's
    with _gc_steady(), contextlib.closing(Spool[Fact]()) as spool:

        def keep(facts: list[Fact]) -> bool:
            graph_facts.extend(g for f in facts if (g := kubernetes.graph_fact(f)) is not None)
            spool.write(facts)
            return True

        def observe_kept(batch: list[SourceFile]) -> None:
            nonlocal more
            with _emitting(keep):
                got, d = _observe(batch, timings)
            if got:
                keep(got)
            more += d

        while first:
            mark = len(graph_facts)
            observe_kept(first)
            walked.update(sf.path for sf in first)
            extra = _listed_unwalked(root, graph_facts[mark:], walked)
            first = [sf for sf in extra if posixpath.basename(sf.path) in names]
            later += [sf for sf in extra if posixpath.basename(sf.path) not in names]
            walked.update(sf.path for sf in later)
        # the files kustomizations list as transformers (their image settings apply to what
        # those kustomizations build)
        listed = {
            posixpath.normpath(str(f.data["local_path"]))
            for f in graph_facts
            if f.kind == "k8s.kustomize_resource"
            and f.data.get("field") == "transformers"
            and f.data.get("local_path")
        }
        taken = {sf.path for sf in files if posixpath.basename(sf.path) in names}
        transformers = [sf for sf in [*files, *later] if sf.path in listed - taken]
        if transformers:
            observe_kept(transformers)
            taken.update(sf.path for sf in transformers)
        t = time.perf_counter()
        said: list[tuple[str, Span, str]] = []
        # (without kustomizations too: a fragment, a workload the API server would refuse
        # whole, is finished as a patch's)
        feeder.graph = kubernetes.KustomizeGraph(graph_facts, roots, known, said)
        kustomized = Kustomized.of(graph_facts, listed_walk)
        # (the graph keeps what it needs of them: their memory serves the files read next)
        graph_facts.clear()
        timings.facts += time.perf_counter() - t
        for facts in spool.replay():
            if not feeder(facts):
                break
        spool.close()
        rest = [sf for sf in files if sf.path not in taken]
        # handed on file by file, in this process and in each worker (through its spool)
        facts, d = parallel.run(rest, _observe, timings, jobs, _side(), _emitting, feeder)
        more += d
        if facts:
            feeder(facts)
        del facts
        later = [sf for sf in later if sf.path not in taken]
        if later and feeder.open:
            facts, d = _observe(later, timings)
            more += d
            feeder(facts)
            del facts
        feeder.finish()
    diags.extend(
        Diagnostic(path, span, "kustomize-not-judged", message, Level.WARNING)
        for path, span, message in said
    )
    return kustomized, diags + more + feeder.over


def repository_summary(root: Path, seen: list[str]) -> Fact | None:
    """The one repo.summary fact of a scan, from the files `collect` saw: reads only the few
    it needs (ownership files, the anchor's first line); a file that cannot be read is
    reported where it is scanned, if it is, and is null here."""
    texts: dict[str, str | None] = {}
    root_real = Path(os.path.realpath(root))
    for rel in repository.needed(seen):
        data = read(SourceFile(rel, str(root_real / rel), "repository"))
        try:
            texts[rel] = None if isinstance(data, Diagnostic) else decode(data)
        except UnicodeDecodeError:
            texts[rel] = None
    return repository.summary(seen, texts)


def _chart_on_disk(root: Path, path: str) -> bool:
    """Whether a repository path lies in a `templates/` directory beside a Chart.yaml (a
    regular file inside the repository): for scans of a part of the repository, whose walk
    did not pass the chart's own files."""
    parts = path.split("/")
    real_root = os.path.realpath(root)
    for i, part in enumerate(parts[:-1]):
        if part != "templates":
            continue
        chart = os.path.realpath(os.path.join(real_root, *parts[:i], "Chart.yaml"))
        if chart.startswith(real_root + os.sep) and os.path.isfile(chart):
            return True
    return False


def _templates_outside_charts(
    diags: list[Diagnostic], seen: Sequence[str], root: Path | None = None
) -> list[Diagnostic]:
    """A file that is not valid YAML is a template (a note) only inside a Helm chart's
    templates/ directory; anywhere else a `{{` in a comment must not turn a broken manifest,
    which kubectl may still apply, into a note that --strict lets through. `root`, for a
    scan of a part of the repository: charts are also looked for on disk."""
    charts = tuple(
        p[: -len("Chart.yaml")] + "templates/"
        for p in seen
        if posixpath.basename(p) == "Chart.yaml"
    )
    out = []
    for d in diags:
        if (
            d.code == "not-scanned-template"
            and classify(d.path) != "dockerfile"  # a Dockerfile template is one by name
            and not d.path.startswith(charts)
            and not (root is not None and _chart_on_disk(root, d.path))
        ):
            d = Diagnostic(
                d.path,
                d.span,
                "parse-error",
                "invalid YAML: Go/Helm template syntax outside a Helm chart's templates/ "
                "directory; not scanned (render it, or fix the YAML)",
                Level.ERROR,
            )
        out.append(d)
    return out


def _check_self_service(policy: Policy, rules: dict[str, Rule]) -> None:
    """A self-service entry that names no rule or pack is a typo that would go unnoticed."""
    known = set(rules) | {r.pack for r in rules.values()}
    unknown = sorted(n for n in policy.self_service if n not in known)
    if unknown:
        raise ConfigError(
            policy.file or "--policy",
            None,
            f"self_service names no rule or pack: {', '.join(unknown)}",
        )
    # the adoption report's levels: a typo would only show in the weekly org scan
    wrong = [
        f"{level.name}: {name}"
        for level in policy.levels
        for name in level.rules
        if name not in known
    ]
    if wrong:
        raise ConfigError(
            policy.file or "--policy",
            None,
            f"levels name no rule or pack: {', '.join(wrong)}",
        )


def scan(
    root: Path,
    options: ScanOptions | None = None,
    *,
    config: RepoConfig | None = None,
    clock: Callable[[], float] = time.perf_counter,
    files: Collection[str] | None = None,
    approved: exceptions_mod.Approved | None = None,
    config_facts: Sequence[Fact] | None = None,
    exceptions_root: Path | None = None,
    rules_root: Path | None = None,
    paths: Collection[str] | None = None,
    kustomize_roots: Collection[str] = (),
    kustomize_known: Collection[str] | None = None,
) -> Report:
    """Scan one repository on disk. Raises ConfigError for bad rules, baselines or policy.

    `root` is the repository's root: its configuration applies and every path in the report
    is relative to it. `paths` restricts the scan to some of its files and directories
    (repository-relative, POSIX; see `pr.resolve`; None, empty or naming the root: the whole
    repository). Repository-level rules (`repo.summary`: ownership, required files) and the
    staleness of exception records (which needs every finding) are judged only by a scan of
    the whole repository.

    `config` is the repository configuration to apply (judged against the policy: what the
    policy refuses is ignored and reported). PR mode passes the merge base's configuration,
    the head's working-tree file set (`files`), what the merge base approved (`approved`) and
    the facts about the head's configuration edits (`config_facts`), and where the approved
    repository exception file (`exceptions_root`) and rule directories (`rules_root`) are
    read from (default: `root`), and the merge base's root kustomizations and all its
    kustomization directories (`kustomize_roots`, `kustomize_known`: a change cannot make a
    deployed overlay stop counting by wrapping it in a kustomization of its own, and every
    kustomization it adds counts as deployed)."""
    opts = options or ScanOptions()
    start = clock()
    policy = opts.effective_policy()
    cfg = config if config is not None and policy.repo_config else RepoConfig()
    applied, _refused = config_mod.judge(cfg, policy)
    repo_layers, layers_why = policy.layers_for(
        operator.RepoFacts(opts.repo_name, tuple(opts.repo_topics), dict(opts.repo_properties))
    )
    baseline_names = [*(policy.baselines or ["default"]), *repo_layers, *applied.baselines]
    baseline = baseline_mod.load(baseline_names)
    if policy.label_values:
        baseline = known_values(baseline, policy, root, opts)
    rules: dict[str, Rule] = load_rules(
        [embedded_rules_dir(), *policy.rule_dirs],
        repo_dirs=config_mod.resolve_rule_dirs(applied, rules_root or root),
        root=rules_root or root,
    )
    _check_self_service(policy, rules)
    # the policy as a whole, once and before any file is read: a policy error costs no parse
    ready = engine.prepare(rules, baseline, opts.today, opts.preview)
    timings = Timings(load=clock() - start)
    if paths is not None and (not paths or "" in paths):
        paths = None  # the root itself: the whole repository
    whole = paths is None
    seen: list[str] = []
    # where custom resources keep their pod templates (the baseline's table)
    table = kubernetes.pod_template_table(baseline.data)
    excludes = [*policy.excludes, *applied.excludes]
    started_ns = time.time_ns()  # the result cache keeps no scan whose files changed under it
    t = clock()
    listing = discover(root, excludes, seen, files, paths)
    timings.discover = clock() - t
    # the repository's own facts read only what the walk saw (ownership files, configuration)
    t = clock()
    summary = repository_summary(root, seen) if whole else None
    own = [
        *([summary] if summary is not None else []),
        *(config_mod.facts(cfg, policy) if config_facts is None else config_facts),
    ]
    timings.facts += clock() - t
    # (nothing to read, nothing to keep: an empty tree pays no cache's start-up)
    fact_cache = factcache.open_cache(table) if opts.fact_cache and listing[0] else None
    # a whole-repository scan whose every input is as a scan before found them is that
    # scan's judged results (resultcache.py); PR mode never uses the fact cache
    memo: str | None = None
    hashed: dict[str, Any] = {}  # walked path -> what reading it gave, for the key
    judged: resultcache.Judged | None = None
    results = resultcache.open_store(fact_cache) if fact_cache is not None else None
    verdicts: resultcache.VerdictMemo | None = None
    if (
        results is not None
        and opts.result_cache
        and os.name == "posix"  # (change times: see resultcache.py)
        and whole
        and files is None
        and config_facts is None
        and not kustomize_roots
        and kustomize_known is None
    ):
        t = clock()
        memo = _judged_key(root, listing, seen, own, rules, baseline, opts, excludes, hashed)
        judged = resultcache.load(results, memo, str(root), rules) if memo is not None else None
        timings.discover += clock() - t
    policy_time = 0.0
    if judged is None:
        cache_token = _FACT_CACHE.set(fact_cache)
        limit_token = _MAX_FACTS.set(opts.max_facts)
        reads: dict[str, str] = {}  # path -> sha256 of what the scan parsed
        reads_token = _READS.set(reads if memo is not None else None)
        try:
            # verdicts and failure texts of earlier scans: the result cache's trust, at the
            # grain of one rule and one combination of fact values
            if fact_cache is not None and opts.result_cache:
                verdicts = resultcache.VerdictMemo(fact_cache)
            # each file's facts are judged as they are made, and let go
            judging = engine.Evaluation(
                rules,
                baseline,
                opts.today,
                opts.preview,
                ready,
                opts.max_findings,
                verdicts,
                spill=FINDINGS_SPILL,
            )
            with kubernetes.pod_templates(table):
                feeder, kustomized, diags = collect_judged(
                    root, judging, timings, listing, opts.jobs, kustomize_roots, kustomize_known
                )
            t = clock()
            judging.feed(own)
            gc.collect()  # (what cycles held of the graph and parse trees, freed now)
            memory.trim()  # what parsing freed, before the findings are read back
            findings, rule_diags, tallies = judging.result()
            del judging
            if verdicts is not None:
                verdicts.close()
                verdicts = None
            policy_time = feeder.policy + clock() - t
            judged = resultcache.Judged(
                findings=findings,
                rule_diags=rule_diags,
                tallies=tallies,
                # what the walk said is said by each scan's own walk
                diags=diags[len(listing[1]) :],
                facts_count=feeder.judged + len(own),
                files=timings.files,
                bytes=timings.bytes,
                kustomize_roots=kustomized.roots,
                kustomize_dirs=kustomized.dirs,
                # (found only for an entry: a scan that keeps none reads them below)
                inline=exceptions_mod.keyword_paths(root, findings) if memo else frozenset(),
            )
            # not kept: an internal error (a parser bug, memory) is not the files' own
            # outcome; where --max-facts cut the scan depends on how it was split between
            # workers; a file read through a link locates what its kustomization lists from
            # the link's target (see _observe), which the key does not follow
            root_real = os.path.realpath(root)
            if (
                memo is not None
                and results is not None
                and not any(d.code in ("internal-error", "scan-limit") for d in diags)
                # a read that failed (EIO, EACCES...) may not fail next time
                and not any(d.message.startswith(READ_FAILED) for d in diags)
                and not any(_through_link(sf, root_real) for sf in listing[0])
                # what was parsed is what the key hashed (a file changed between the two
                # reads would be judged under another content's key)
                and all(
                    reads.get(path) == got if isinstance(got, str) else path not in reads
                    for path, got in hashed.items()
                )
            ):
                resultcache.save(
                    results,
                    memo,
                    judged,
                    str(root),
                    list(kustomized.listed),
                    reads,
                    [sf.abspath for sf in listing[0]],
                    started_ns,
                )
        finally:
            _FACT_CACHE.reset(cache_token)
            _MAX_FACTS.reset(limit_token)
            _READS.reset(reads_token)
            if verdicts is not None:  # (judging was cut short: what it judged is kept)
                verdicts.close()
            if fact_cache is not None:
                fact_cache.close()
    else:
        timings.reused = True
        timings.files, timings.bytes = judged.files, judged.bytes
        if fact_cache is not None:
            fact_cache.close()
    if results is not None:
        results.close()
    findings, rule_diags, tallies = judged.findings, judged.rule_diags, judged.tallies
    roots, kustomize_dirs = judged.kustomize_roots, judged.kustomize_dirs
    diags = _templates_outside_charts([*listing[1], *judged.diags], seen, None if whole else root)
    central = exceptions_mod.load_central([*baseline.exception_files, *policy.exceptions])
    records = [
        *central,
        *(exceptions_mod.load_repo(exceptions_root or root) if policy.repo_config else []),
    ]
    t = clock() - policy_time
    # exceptions: valid ones move findings aside; every record is itself judged (EXC rules)
    packs = frozenset(r.pack for r in rules.values())
    if policy.repo_config:
        # of the files the key hashed, those without the keyword need no reading; any other
        # file a finding is on (the repository summary's anchor, a listed file) is read
        candidates: frozenset[str] | None = None
        if memo is not None:
            hashed_paths = {sf.path for sf in listing[0]}
            others = {f.path for f in findings if f.path not in hashed_paths}
            candidates = judged.inline | others
        records += exceptions_mod.inline_records(root, findings, packs, candidates)
    outcome = exceptions_mod.apply(
        findings, records, rules, baseline, opts.today, opts.repo_name, policy, approved
    )
    # a record that matched nothing in a part of the repository may match elsewhere: only a
    # whole-repository scan can say it is stale
    exc_rules = rules if whole else {k: r for k, r in rules.items() if r.name != _STALE}
    exc_findings, exc_diags, exc_tallies = engine.evaluate(
        outcome.facts, exc_rules, baseline, opts.today, opts.preview, ready
    )
    # findings about central registries lie outside the repository: never in code scanning
    outside = {r.file for r in central}
    exc_findings = [
        dataclasses.replace(f, external=True) if f.path in outside else f for f in exc_findings
    ]
    findings = sorted(
        [*outcome.kept, *exc_findings],
        key=lambda f: (f.path, f.span.start_line, f.span.start_col, f.rule_id),
    )
    rule_diags += exc_diags
    for rec, why in outcome.errors:
        rule_diags.append(
            Diagnostic(rec.file, rec.span, "exception-unknown-rule", why, Level.ERROR)
        )
    for rec, note in outcome.notes:
        rule_diags.append(Diagnostic(rec.file, rec.span, "exception-scope", note, Level.WARNING))
    for rid, tally in exc_tallies.items():
        if rules[rid].applies_to == "tether.exception":
            tallies[rid] = tally
    timings.policy = clock() - t
    timings.total = clock() - start
    diags.extend(rule_diags)
    diags.sort(key=lambda d: (d.path, d.span.start_line, d.span.start_col))
    return Report(
        root=str(root.resolve()),
        findings=findings,
        diagnostics=diags,
        tallies=tallies,
        rules=rules,
        baseline_files=list(baseline.files),
        timings=timings,
        facts_count=judged.facts_count,
        excepted=outcome.excepted,
        levels={
            rid: engine.staging(r, baseline, opts.today, opts.preview).level
            for rid, r in rules.items()
        },
        requested=outcome.requested,
        fail_on=policy.fail_level(applied.fail_on),
        policy_file=policy.file,
        approvers=tuple(sorted(policy.approvers)),
        layers_matched=layers_why,
        layers=tuple(baseline_names),
        help_uris=help_uris(rules, baseline),
        valid_until=_valid_until(records, baseline, rules, opts.today),
        kustomize_roots=roots,
        kustomize_dirs=kustomize_dirs,
        paths=() if paths is None else tuple(sorted(set(paths))),
        cache_dir=str(fact_cache.root) if fact_cache is not None else None,
    )


RULES_DOC_URI = "https://github.com/tether-scanner/tether/blob/main/docs/rules.md"


def help_uris(rules: Mapping[str, Rule], baseline: baseline_mod.Baseline) -> dict[str, str]:
    """Where each rule is documented (SARIF helpUri): its own help_uri, else its pack's
    (`packs.<pack>.help_uri` in the baseline), else tether's rule reference for tether's own
    rules; a custom rule without any has none (not an anchor in tether's docs)."""
    packs = baseline.data.get("packs") or {}
    builtin = embedded_rules_dir().resolve()
    out = {}
    for rid, rule in rules.items():
        uri = rule.help_uri or (packs.get(rule.pack) or {}).get("help_uri")
        if uri is None and Path(rule.file).resolve().is_relative_to(builtin):
            uri = f"{RULES_DOC_URI}#{rule.help_anchor}"
        if uri:
            out[rid] = str(uri)
    return out


def _valid_until(
    records: Sequence[exceptions_mod.ExceptionRecord],
    baseline: baseline_mod.Baseline,
    rules: Mapping[str, Rule],
    today: dt.date,
) -> dt.date | None:
    """The first day after `today` on which the same files could be judged differently: an
    exception expires (or its creation date arrives), a rule's enforce_from date comes.
    Rules never read the date otherwise, so before that day a result can be reused."""
    days: list[dt.date] = []
    for rec in records:
        if rec.expires is not None and rec.expires >= today:
            days.append(rec.expires + dt.timedelta(days=1))
            if rec.created is None:
                # its length is counted from today (max_days): it changes every day
                days.append(today + dt.timedelta(days=1))
        if rec.created is not None and rec.created > today:
            days.append(rec.created)
    for rid in rules:
        when = baseline.rule_settings(rid).get("enforce_from")
        if when:
            try:
                day = dt.date.fromisoformat(str(when))
            except ValueError:
                continue
            if day > today:
                days.append(day)
    return min(days, default=None)
