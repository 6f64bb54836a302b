"""The GitHub Action's entry point (`python -m scanner.action`), run by action.yml.

Inputs arrive as environment variables (action.yml maps each `inputs.x` to `TETHER_X` through
`env:`, never by interpolating `${{ }}` into a script). On pull requests it scans in PR mode
against the base branch, so the gate fails only on findings the pull request introduces; on
other events it scans everything. It writes SARIF, appends a Markdown job summary, emits at
most 10 annotations for new findings, and sets the outputs sarif-file, findings, new-findings.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .gate import decide
from .model import Report
from .org.lookup import needs_lookup, repository_facts, without_token_note
from .policy.operator import Policy
from .policy.operator import load as load_policy
from .pr import TargetError, resolve, scan_repository
from .redact import redact
from .report import markdown, sarif, text
from .report.github import annotation, escape_data, escape_prop
from .scanning import ScanOptions

MAX_ANNOTATIONS = 10
PR_EVENTS = ("pull_request", "pull_request_target", "merge_group")
_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


# one implementation of workflow commands for the Action and `tether scan --format github`
_escape_data = escape_data
_escape_prop = escape_prop


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    """The webhook payload of the triggering event (GITHUB_EVENT_PATH), or {}."""
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _base_ref(env: Mapping[str, str]) -> str | None:
    """What PR mode compares with: the diff-base input, else, on pull_request(_target) and
    merge_group events, the base commit the event names (the pull request's base, or the
    merge queue's base), else the base branch as fetched."""
    if env.get("TETHER_DIFF_BASE"):
        return env["TETHER_DIFF_BASE"]
    name = env.get("GITHUB_EVENT_NAME")
    if name not in PR_EVENTS:
        return None
    event = _event(env)
    if name == "merge_group":
        sha = (event.get("merge_group") or {}).get("base_sha")
        if isinstance(sha, str) and _SHA.fullmatch(sha):
            return sha
        ref = (event.get("merge_group") or {}).get("base_ref") or ""
        if isinstance(ref, str) and ref.startswith("refs/heads/"):
            return f"origin/{ref[len('refs/heads/') :]}"
        return None
    sha = ((event.get("pull_request") or {}).get("base") or {}).get("sha")
    if isinstance(sha, str) and _SHA.fullmatch(sha):
        return sha
    if env.get("GITHUB_BASE_REF"):
        return f"origin/{env['GITHUB_BASE_REF']}"
    return None


def _append(path: str | None, content: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(content)


def run(env: Mapping[str, str], out: Sequence[str] | None = None) -> int:
    """Everything the action does, driven by `env` (tests pass a simulated GITHUB_* set)."""
    workspace = Path(env.get("GITHUB_WORKSPACE") or ".")
    try:
        target = resolve([workspace / (env.get("TETHER_PATH") or ".")])
    except TargetError as e:
        print(f"::error title=tether::invalid path input: {_escape_data(redact(str(e)))}")
        return 2
    sarif_file = Path(env.get("TETHER_SARIF_FILE") or "tether.sarif")
    if not sarif_file.is_absolute():
        sarif_file = workspace / sarif_file
    baselines = [b for b in (env.get("TETHER_BASELINE") or "").split() if b]
    fail_on = env.get("TETHER_FAIL_ON") or None
    if fail_on not in (None, "error", "warning", "note", "never"):
        print(f"::error title=tether::invalid fail-on input {_escape_data(repr(fail_on))}")
        return 2
    category = env.get("TETHER_CATEGORY") or "tether"
    repo_name = env.get("TETHER_REPO") or env.get("GITHUB_REPOSITORY") or None
    base_ref = _base_ref(env)
    if env.get("GITHUB_EVENT_NAME") in PR_EVENTS and base_ref is None:
        print("::error title=tether::cannot tell the base of this pull request or merge group")
        return 2
    try:
        policy_path = env.get("TETHER_POLICY") or ""
        policy = load_policy(workspace / policy_path) if policy_path else Policy()
        topics: tuple[str, ...] = ()
        properties: dict[str, str | list[str]] = {}
        if repo_name and needs_lookup(policy):
            lookup_env = {**env, "GITHUB_TOKEN": env.get("TETHER_GITHUB_TOKEN", "")}
            note = without_token_note(policy, lookup_env)
            if note is not None:
                print(f"::warning title=tether::{_escape_data(note)}")
            else:
                topics, properties = repository_facts(repo_name, lookup_env)
        options = ScanOptions(
            # a gate on a runner where the change's own code may have run before this step:
            # nothing read from the runner's cache (see factcache.py); a fresh runner has
            # none to gain from anyway
            fact_cache=False,
            repo_topics=topics,
            repo_properties=properties,
            baselines=baselines,
            exceptions=[e for e in (env.get("TETHER_EXCEPTIONS") or "").split() if e],
            today=dt.date.today(),
            repo_name=repo_name,
            policy=policy,
            fail_on=fail_on,
            repo_config=env.get("TETHER_REPO_CONFIG", "true") != "false",
        )
        report: Report = scan_repository(target, options, base_ref)
    except ConfigError as e:
        print(f"::error title=tether configuration error::{_escape_data(redact(str(e)))}")
        return 2
    sarif_file.parent.mkdir(parents=True, exist_ok=True)
    sarif.write(sarif.build(report, category=category, levels=report.levels, lazy=True), sarif_file)
    # the runner reads workflow commands (`::error ...`) from stdout: the report, which quotes
    # the scanned repository, is printed with command processing stopped
    # strict by default: in PR mode only files the change made unreadable count
    strict = env.get("TETHER_STRICT", "true") != "false"
    decision = decide(report, report.fail_on, strict)
    token = secrets.token_hex(16)
    print(f"::stop-commands::{token}")
    # the log says why the step passes or fails, as the console does (the gate's decision)
    print(text.render(report, verdict=text.verdict_line(decision)), end="")
    print(f"::{token}::")
    gated = report.diff.new if report.diff is not None else report.findings
    gated = [f for f in gated if not f.external]
    # findings are relative to the repository root; annotations to the workspace (where
    # the repository is usually checked out)
    try:
        prefix = Path(report.root).relative_to(workspace.resolve()).as_posix()
        in_workspace = True
    except ValueError:
        prefix, in_workspace = "", False
    prefix = "" if prefix in ("", ".") else prefix + "/"
    # the most severe first: annotations are capped, and errors are what block a merge
    for f in sorted(gated, key=lambda f: -f.level.rank)[:MAX_ANNOTATIONS]:
        print(annotation(f, prefix))
    if len(gated) > MAX_ANNOTATIONS:
        print(
            f"::notice title=tether::{len(gated) - MAX_ANNOTATIONS} more finding(s) "
            "in the job summary"
        )
    # the summary links locations to the file at the commit the workflow runs on (the
    # repository checked out in the workspace); a root outside the workspace stays plain text
    links = (
        markdown.links(
            env.get("GITHUB_SERVER_URL"),
            env.get("GITHUB_REPOSITORY"),
            env.get("GITHUB_SHA"),
            prefix,
        )
        if in_workspace
        else None
    )
    _append(
        env.get("GITHUB_STEP_SUMMARY"),
        markdown.render(report, strict=strict, links=links) + "\n",
    )
    outputs = {
        "sarif-file": str(sarif_file),
        "findings": str(len(report.findings)),
        "new-findings": str(len(gated)),
    }
    _append(env.get("GITHUB_OUTPUT"), "".join(f"{k}={v}\n" for k, v in outputs.items()))
    return 1 if decision.failed else 0


def main() -> None:
    sys.exit(run(os.environ))


if __name__ == "__main__":
    main()
