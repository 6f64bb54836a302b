"""Tool-presence facts: which infrastructure and CI tools a repository uses, and where its
ownership is declared. CI and ownership files are known by name. An infrastructure-as-code
project is known by its content: the file a tool reads must hold the fields that tool
requires (a `serverless.yml` without `service` and `provider` is not a Serverless Framework
service; a `Pulumi.yaml` needs `name` and `runtime`; a `cdk.json` an `app`), and templates
that share a generic extension (CloudFormation, SAM) by a marker in the text. Each fact says
what was found (`found`). Nothing is parsed here beyond what the markers need."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable

from ..model import Fact, Span

# file name -> (tool, kind)
_BY_NAME = {
    "pulumi.yaml": ("pulumi", "iac"),
    "pulumi.yml": ("pulumi", "iac"),
    "cdk.json": ("cdk", "iac"),
    "serverless.yml": ("serverless", "iac"),
    "serverless.yaml": ("serverless", "iac"),
    "serverless.ts": ("serverless", "iac"),
    "serverless.js": ("serverless", "iac"),
    ".gitlab-ci.yml": ("gitlab-ci", "ci"),
    ".gitlab-ci.yaml": ("gitlab-ci", "ci"),
    "jenkinsfile": ("jenkins", "ci"),
    ".travis.yml": ("travis-ci", "ci"),
    "azure-pipelines.yml": ("azure-pipelines", "ci"),
    "bitbucket-pipelines.yml": ("bitbucket-pipelines", "ci"),
    "codeowners": ("codeowners", "ownership"),
    "catalog-info.yaml": ("backstage", "ownership"),
    "catalog-info.yml": ("backstage", "ownership"),
}
_SAM = re.compile(r"AWS::Serverless-\d{4}-\d{2}-\d{2}")
_CODEOWNERS_DIRS = {"", ".github", "docs"}


# A tool, its kind, and what was found (for messages: "a Pulumi project (name, runtime)").
Detection = tuple[str, str, str]


def _yaml_top_keys(*keys: str) -> Callable[[str], bool]:
    """Whether a YAML text has all ``keys`` at the top level (column 0, quoted or not)."""
    patterns = [re.compile(rf"^[\"']?{k}[\"']?[ \t]*:", re.MULTILINE) for k in keys]
    return lambda text: all(p.search(text) for p in patterns)


def _code_keys(*keys: str) -> Callable[[str], bool]:
    """Whether JavaScript/TypeScript code names all ``keys`` as object properties."""
    patterns = [re.compile(rf"(?<![\w$.])[\"']?{k}[\"']?\s*:") for k in keys]
    return lambda text: all(p.search(text) for p in patterns)


def _json_keys(*keys: str) -> Callable[[str], bool]:
    """Whether a JSON text is an object with all ``keys``."""

    def check(text: str) -> bool:
        try:
            data = json.loads(text)
        except ValueError:
            return False
        return isinstance(data, dict) and all(k in data for k in keys)

    return check


# file name -> (tool, what the file is, the content the tool requires of it)
_IAC_BY_CONTENT: dict[str, tuple[str, str, Callable[[str], bool]]] = {
    "pulumi.yaml": (
        "pulumi",
        "a Pulumi project (name, runtime)",
        _yaml_top_keys("name", "runtime"),
    ),
    "pulumi.yml": ("pulumi", "a Pulumi project (name, runtime)", _yaml_top_keys("name", "runtime")),
    "cdk.json": ("cdk", "an AWS CDK app (app)", _json_keys("app")),
    "serverless.yml": (
        "serverless",
        "a Serverless Framework service (service, provider)",
        _yaml_top_keys("service", "provider"),
    ),
    "serverless.yaml": (
        "serverless",
        "a Serverless Framework service (service, provider)",
        _yaml_top_keys("service", "provider"),
    ),
    "serverless.ts": (
        "serverless",
        "a Serverless Framework service (service, provider)",
        _code_keys("service", "provider"),
    ),
    "serverless.js": (
        "serverless",
        "a Serverless Framework service (service, provider)",
        _code_keys("service", "provider"),
    ),
}


def by_name(path: str) -> tuple[str, str] | None:
    """The tool a file name shows, whatever the file holds (see :func:`detect`)."""
    base = posixpath.basename(path).lower()
    hit = _BY_NAME.get(base)
    if hit is None and base.startswith("pulumi.") and base.endswith((".yaml", ".yml")):
        return None  # Pulumi.<stack>.yaml is stack config; Pulumi.yaml marks the project
    if hit and hit[0] == "codeowners" and posixpath.dirname(path) not in _CODEOWNERS_DIRS:
        return None  # GitHub reads CODEOWNERS only from the root, .github/ and docs/
    return hit


def detect(path: str, text: str) -> Detection | None:
    """The tool a file sets up, or None: CI and ownership files by name, an IaC project only
    when the file holds the fields its tool requires (a ``serverless.yml`` of some other
    program is nobody's Serverless service)."""
    hit = by_name(path)
    if hit is None:
        return None
    tool, kind = hit
    iac = _IAC_BY_CONTENT.get(posixpath.basename(path).lower())
    if iac is None:
        return tool, kind, f"a {posixpath.basename(path)} file"
    _, found, requires = iac
    return (tool, kind, found) if requires(text) else None


def fact(path: str, tool: str, kind: str, data: dict[str, object] | None = None) -> Fact:
    d: dict[str, object] = {"tool": tool, "tool_kind": kind, "path": path}
    if data:
        d.update(data)
    return Fact("repo.tool", path, Span(1, 1, 1, 1), f"tool:{tool}:{path}", d)


def template_tool(text: str) -> Detection | None:
    """CloudFormation or SAM for a YAML/JSON template, with what marks it, else None. Judged
    on the parsed document, at its top level: a commented-out `# Type: AWS::S3::Bucket`, the
    CloudFormation a serverless.yml embeds under `resources:`, or a CodeDeploy AppSpec's list
    of `Resources` is no CloudFormation stack of its own."""
    if "AWS::" not in text and "AWSTemplateFormatVersion" not in text:
        return None  # a substring test first: parsing is for the few files that may be one
    doc = _top_level(text)
    if not isinstance(doc, dict):
        return None
    transform = doc.get("Transform")
    transforms = transform if isinstance(transform, list) else [transform]
    for t in transforms:
        if isinstance(t, str) and (m := _SAM.search(t)):
            return "sam", "iac", f"an AWS SAM template ({m.group(0)})"
    if "AWSTemplateFormatVersion" in doc:
        return "cloudformation", "iac", "a CloudFormation template (AWSTemplateFormatVersion)"
    resources = doc.get("Resources")
    if isinstance(resources, dict) and any(
        isinstance(r, dict) and isinstance(r.get("Type"), str) and r["Type"].startswith("AWS::")
        for r in resources.values()
    ):
        return "cloudformation", "iac", "a CloudFormation template (Resources of AWS:: types)"
    return None


def _top_level(text: str) -> object:
    """The first document of a YAML or JSON file as plain data, or None when it does not
    parse (a broken template is reported by whatever reads it as a manifest, if anything)."""
    from ..parsers.yaml import YamlError, compose_all

    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            return None
    try:
        docs = compose_all(text)
    except (YamlError, RecursionError, ValueError):
        return None
    return docs[0].to_python() if docs and docs[0] is not None else None
