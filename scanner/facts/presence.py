"""Tool-presence facts: which infrastructure and CI tools a repository uses, and where its
ownership is declared. Presence is read from file names and, for templates that share a
generic extension (CloudFormation, SAM), from a marker in the text. Nothing is parsed here
beyond what the marker needs."""

from __future__ import annotations

import posixpath
import re

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
_CFN = re.compile(r"^\s*[\"']?AWSTemplateFormatVersion[\"']?\s*:", re.MULTILINE)
_SAM = re.compile(r"AWS::Serverless-\d{4}-\d{2}-\d{2}")
_CFN_RESOURCE = re.compile(r"[\"']?Type[\"']?\s*:\s*[\"']?AWS::[A-Za-z0-9]+::", re.MULTILINE)
_CODEOWNERS_DIRS = {"", ".github", "docs"}


def by_name(path: str) -> tuple[str, str] | None:
    base = posixpath.basename(path).lower()
    hit = _BY_NAME.get(base)
    if hit is None and base.startswith("pulumi.") and base.endswith((".yaml", ".yml")):
        return None  # Pulumi.<stack>.yaml is stack config; Pulumi.yaml marks the project
    if hit and hit[0] == "codeowners" and posixpath.dirname(path) not in _CODEOWNERS_DIRS:
        return None  # GitHub reads CODEOWNERS only from the root, .github/ and docs/
    return hit


def fact(path: str, tool: str, kind: str, data: dict[str, object] | None = None) -> Fact:
    d: dict[str, object] = {"tool": tool, "tool_kind": kind, "path": path}
    if data:
        d.update(data)
    return Fact("repo.tool", path, Span(1, 1, 1, 1), f"tool:{tool}:{path}", d)


def template_tool(text: str) -> str | None:
    """CloudFormation or SAM for a YAML/JSON template, else None."""
    if "AWS::" not in text and "AWSTemplateFormatVersion" not in text:
        return None  # a substring test first: the regexes cost 20 ms a megabyte
    if _SAM.search(text):
        return "sam"
    if _CFN.search(text) or (_CFN_RESOURCE.search(text) and "Resources" in text):
        return "cloudformation"
    return None
