"""GitHub Actions facts: `uses` split into its parts, SHA pins and the version in their
comment, runners, permissions, reusable workflows and composite actions."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from scanner.facts.github_actions import extract_action, extract_workflow, split_uses
from scanner.model import Fact, Span
from scanner.parsers.yaml import compose_all

SHA = "b4ffde65f46336ab88eb53be808477a3936bae11"


def wf(text: str, path: str = ".github/workflows/ci.yml") -> list[Fact]:
    text = textwrap.dedent(text).lstrip("\n")
    (doc,) = compose_all(text)
    assert doc is not None
    return extract_workflow(path, doc, text.split("\n"))


def kind(facts: list[Fact], k: str) -> list[Fact]:
    return [f for f in facts if f.kind == k]


def parts(uses: str) -> dict[str, Any]:
    d = split_uses(uses)
    return {k: d[k] for k in ("kind", "owner", "repo", "path", "action", "ref", "sha_pinned")}


@pytest.mark.parametrize(
    ("uses", "expected"),
    [
        ("actions/checkout@v4", ("action", "actions", "checkout", None, "actions/checkout", "v4",
                                 False)),
        (f"actions/checkout@{SHA}", ("action", "actions", "checkout", None, "actions/checkout",
                                     SHA, True)),
        # a path inside the action's repository
        ("github/codeql-action/init@v3", ("action", "github", "codeql-action", "init",
                                          "github/codeql-action", "v3", False)),
        ("aws-actions/configure-aws-credentials/sub/dir@main",
         ("action", "aws-actions", "configure-aws-credentials", "sub/dir",
          "aws-actions/configure-aws-credentials", "main", False)),
        # a short SHA or an upper-case one is not a full pin
        ("actions/checkout@b4ffde6", ("action", "actions", "checkout", None, "actions/checkout",
                                      "b4ffde6", False)),
        ("octo-org/wf/.github/workflows/deploy.yml@v1",
         ("reusable-workflow", "octo-org", "wf", ".github/workflows/deploy.yml", "octo-org/wf",
          "v1", False)),
        ("./.github/actions/build", ("local", None, None, "./.github/actions/build", None, None,
                                     False)),
        ("docker://alpine:3.19", ("docker", None, None, "alpine:3.19", None, None, False)),
        ("actions/checkout", ("action", "actions", "checkout", None, "actions/checkout", None,
                              False)),
    ],
)
def test_split_uses(uses: str, expected: tuple[Any, ...]) -> None:
    keys = ("kind", "owner", "repo", "path", "action", "ref", "sha_pinned")
    assert parts(uses) == dict(zip(keys, expected, strict=True))
    assert split_uses(uses)["dynamic"] is False


def test_dynamic_uses() -> None:
    assert split_uses("${{ matrix.action }}@v1")["dynamic"] is True
    assert split_uses("actions/checkout@${{ inputs.ref }}")["dynamic"] is True


def test_step_uses_facts_with_spans_and_pin_comments() -> None:
    facts = wf(
        f"""
        name: CI
        on: [push, pull_request]
        jobs:
          build:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@{SHA} # v4.1.1
              - name: Setup
                id: setup
                uses: "actions/setup-go@{SHA}"   # tag=v5.0.0
              - uses: actions/cache@{SHA}
              - uses: docker://alpine:3.19
              - run: echo no uses here
              - uses: ./.github/actions/local
        """
    )
    steps = kind(facts, "gha.step_uses")
    assert [s.target for s in steps] == [
        "build/steps[0]", "build/setup", "build/steps[2]", "build/steps[3]", "build/steps[5]"
    ]
    checkout, setup, cache, docker, local = steps
    assert checkout.span == Span(7, 15, 7, 72)  # the value of `uses:`
    assert checkout.spans["uses"] == checkout.span
    assert (checkout.data["sha_pinned"], checkout.data["version"]) == (True, "v4.1.1")
    assert checkout.data["ref_comment"] == "v4.1.1"
    assert setup.span == Span(10, 15, 10, 74)  # quotes included
    assert (setup.data["version"], setup.data["step_name"], setup.data["step_id"]) == (
        "v5.0.0",
        "Setup",
        "setup",
    )
    assert (cache.data["sha_pinned"], cache.data["version"]) == (True, None)  # no comment
    assert docker.data["kind"] == "docker"
    assert local.data["kind"] == "local"
    assert checkout.data["job"] == "build" and checkout.data["step_index"] == 0


@pytest.mark.parametrize(
    ("comment", "version"),
    [
        ("# v4.1.1", "v4.1.1"),
        ("#v4", "v4"),
        ("# tag=v4.2.0", "v4.2.0"),
        ("# pin @v2.3", "v2.3"),
        ("# ratchet:actions/checkout@v4", "v4"),
        ("# actions/checkout@v4.2.2", "v4.2.2"),
        ("# 4.1.1", "4.1.1"),
        ("# v4.1.1-beta.1 pre-release", "v4.1.1-beta.1"),
        ("# latest", None),
        ("# was v3", None),
    ],
)
def test_version_from_pin_comment(comment: str, version: str | None) -> None:
    facts = wf(
        f"""
        on: push
        jobs:
          a:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@{SHA} {comment}
        """
    )
    (s,) = kind(facts, "gha.step_uses")
    assert s.data["version"] == version


def test_tag_ref_is_the_version() -> None:
    facts = wf("on: push\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@v4 # v3\n")
    (s,) = kind(facts, "gha.step_uses")
    assert (s.data["version"], s.data["ref_comment"]) == ("v4", None)  # only SHA pins use it


def test_runs_on_forms() -> None:
    facts = wf(
        """
        on: push
        jobs:
          str:
            runs-on: ubuntu-22.04
          list:
            runs-on: [self-hosted, linux, x64]
          group:
            runs-on:
              group: large-runners
          group_labels:
            runs-on:
              group: large-runners
              labels: [linux]
          expr:
            runs-on: ${{ matrix.os }}
          expr_in_list:
            runs-on: [self-hosted, "${{ inputs.arch }}"]
          none:
            uses: ./.github/workflows/reuse.yml
        """
    )
    jobs = {f.data["id"]: f for f in kind(facts, "gha.job")}
    assert jobs["str"].data["runs_on"] == ["ubuntu-22.04"]
    assert jobs["list"].data["runs_on"] == ["self-hosted", "linux", "x64"]
    assert (jobs["group"].data["runs_on"], jobs["group"].data["runs_on_group"]) == (
        None,
        "large-runners",
    )
    assert jobs["group_labels"].data["runs_on"] == ["linux"]
    assert jobs["group_labels"].data["runs_on_group"] == "large-runners"
    assert jobs["expr"].data["runs_on"] is None
    assert jobs["expr"].data["runs_on_raw"] == "${{ matrix.os }}"
    assert jobs["expr_in_list"].data["runs_on"] is None
    assert jobs["none"].data["runs_on"] is None
    assert jobs["str"].spans["runs_on"] == Span(4, 14, 4, 26)
    assert jobs["str"].span == Span(3, 3, 3, 6)  # the job's key


def test_permissions() -> None:
    absent = wf("on: push\njobs:\n  a:\n    runs-on: x\n")
    (w,) = kind(absent, "gha.workflow")
    assert (w.data["permissions"], w.data["permissions_declared"]) == (None, False)
    (j,) = kind(absent, "gha.job")
    assert (j.data["permissions"], j.data["permissions_declared"]) == (None, False)

    facts = wf(
        """
        on: push
        permissions: read-all
        jobs:
          a:
            permissions:
              contents: read
              id-token: write
          b:
            permissions: {}
          c:
            permissions: write-all
        """
    )
    (w,) = kind(facts, "gha.workflow")
    assert (w.data["permissions"], w.data["permissions_declared"]) == ("read-all", True)
    assert w.spans["permissions"] == Span(2, 1, 2, 12)
    jobs = {f.data["id"]: f.data for f in kind(facts, "gha.job")}
    assert jobs["a"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert jobs["b"]["permissions"] == {}
    assert jobs["c"]["permissions"] == "write-all"


def test_triggers_and_workflow_fact() -> None:
    for on, triggers in [
        ("on: push", ["push"]),
        ("on: [push, pull_request]", ["push", "pull_request"]),
        ("on:\n  push:\n    branches: [main]\n  workflow_dispatch:", ["push", "workflow_dispatch"]),
    ]:
        (w,) = kind(wf(f"name: n\n{on}\njobs: {{}}\n"), "gha.workflow")
        assert w.data["triggers"] == triggers
        assert w.data["name"] == "n"
        assert w.span == Span(2, 1, 2, 3)  # the `on` key


def test_reusable_workflow_job() -> None:
    facts = wf(
        f"""
        on: push
        jobs:
          deploy:
            uses: octo-org/workflows/.github/workflows/deploy.yml@{SHA}
            secrets: inherit
          local:
            uses: ./.github/workflows/build.yml
        """
    )
    jobs = {f.data["id"]: f for f in kind(facts, "gha.job")}
    r = jobs["deploy"].data["reusable"]
    assert (r["kind"], r["action"], r["sha_pinned"]) == (
        "reusable-workflow",
        "octo-org/workflows",
        True,
    )
    assert jobs["deploy"].spans["uses"] == Span(4, 11, 4, 99)
    assert jobs["local"].data["reusable"]["kind"] == "local"
    # the call is also a `uses` fact, so the rules on actions judge it like a step's
    calls = {f.data["job"]: f for f in kind(facts, "gha.step_uses")}
    assert sorted(calls) == ["deploy", "local"]
    call = calls["deploy"]
    assert (call.data["site"], call.data["kind"], call.data["action"], call.data["path"]) == (
        "job",
        "reusable-workflow",
        "octo-org/workflows",
        ".github/workflows/deploy.yml",
    )
    assert (call.data["step_index"], call.data["step_name"], call.data["with"]) == (None, None, {})
    assert call.span == jobs["deploy"].spans["uses"] and call.target == "jobs.deploy.uses"
    assert call.data["triggers"] == ["push"]
    assert calls["local"].data["kind"] == "local"


def test_reusable_call_version_comment_and_inputs() -> None:
    facts = wf(
        f"""
        on: workflow_dispatch
        jobs:
          deploy:
            uses: acme/platform/.github/workflows/deploy.yml@{SHA} # v3.1.0
            with:
              environment: prod
              dry-run: false
            secrets: inherit
        """
    )
    (call,) = kind(facts, "gha.step_uses")
    assert (call.data["sha_pinned"], call.data["version"]) == (True, "v3.1.0")
    assert call.data["with"] == {"environment": "prod", "dry-run": "false"}
    assert call.spans["with.environment"] == Span(6, 20, 6, 24)


def test_step_inputs_and_triggers() -> None:
    facts = wf(
        """
        on:
          pull_request_target:
            types: [opened]
          workflow_run:
            workflows: [ci]
        jobs:
          a:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v4
                with:
                  ref: ${{ github.event.pull_request.head.sha }}
                  fetch-depth: 0
                  token: "x"
                  nested: {a: 1}
                  empty:
              - uses: actions/setup-node@v4
        """
    )
    checkout, node = kind(facts, "gha.step_uses")
    assert checkout.data["with"] == {
        "ref": "${{ github.event.pull_request.head.sha }}",
        "fetch-depth": "0",
        "token": "x",
        "nested": None,  # inputs are strings; a map is not statically one
        "empty": None,
    }
    assert checkout.spans["with.ref"] == Span(12, 16, 12, 57)
    assert checkout.spans["with"] == Span(11, 9, 11, 13)
    assert checkout.data["triggers"] == ["pull_request_target", "workflow_run"]
    assert checkout.data["site"] == "step"
    assert node.data["with"] == {} and "with" not in node.spans


def test_action_steps_have_no_triggers() -> None:
    text = "name: a\nruns:\n  using: composite\n  steps:\n    - uses: actions/checkout@v4\n"
    (doc,) = compose_all(text)
    assert doc is not None
    (s,) = kind(extract_action("action.yml", doc, text.split("\n")), "gha.step_uses")
    assert s.data["triggers"] is None and s.data["site"] == "step"


def test_job_name_environment_and_triggers() -> None:
    facts = wf(
        """
        on: [push]
        jobs:
          plain:
            name: Deploy to prod
            runs-on: x
            environment: production
          mapped:
            runs-on: x
            environment:
              name: staging
              url: https://staging.example.com
          dynamic:
            name: Deploy ${{ matrix.region }}
            runs-on: x
            environment: ${{ inputs.env }}
          none:
            runs-on: x
        """
    )
    jobs = {f.data["id"]: f for f in kind(facts, "gha.job")}
    assert (jobs["plain"].data["name"], jobs["plain"].data["environment"]) == (
        "Deploy to prod",
        "production",
    )
    assert jobs["plain"].spans["environment"] == Span(6, 5, 6, 16)
    assert jobs["mapped"].data["environment"] == "staging"
    # not statically known: null, but the job still targets an environment
    assert (jobs["dynamic"].data["name"], jobs["dynamic"].data["environment"]) == (None, None)
    assert all(jobs[j].data["environment_declared"] for j in ("plain", "mapped", "dynamic"))
    assert jobs["none"].data["environment_declared"] is False
    assert jobs["none"].data["triggers"] == ["push"]


def test_permissions_facts() -> None:
    facts = wf(
        """
        on: push
        permissions:
          contents: read
          id-token: write
          packages: write
        jobs:
          a:
            runs-on: x
            permissions: write-all
          b:
            runs-on: x
            permissions: {}
          c:
            runs-on: x
          d:
            runs-on: x
            permissions: read
        """
    )
    perms = {f.target: f for f in kind(facts, "gha.permissions")}
    assert sorted(perms) == [
        "jobs.a.permissions",
        "jobs.b.permissions",
        "jobs.d.permissions",
        "permissions",
    ]
    top = perms["permissions"]
    assert (top.data["level"], top.data["job"], top.data["declared"]) == ("workflow", None, True)
    assert top.data["write_scopes"] == ["id-token", "packages"]
    assert top.span == top.spans["permissions"] == Span(2, 1, 2, 12)
    assert perms["jobs.a.permissions"].data["write_scopes"] == ["*"]
    assert perms["jobs.a.permissions"].span == Span(9, 5, 9, 16)
    assert perms["jobs.b.permissions"].data["write_scopes"] == []
    assert perms["jobs.d.permissions"].data["write_scopes"] is None  # not a valid value
    assert perms["jobs.a.permissions"].data["job"] == "a"

    (absent,) = kind(wf("name: x\non: push\njobs: {}\n"), "gha.permissions")
    assert (absent.data["declared"], absent.data["permissions"], absent.data["write_scopes"]) == (
        False,
        None,
        None,
    )
    assert absent.span == Span(2, 1, 2, 3)  # the `on` key: where permissions go
    assert absent.data["triggers"] == ["push"]


def test_composite_action() -> None:
    text = textwrap.dedent(
        f"""\
        name: Build
        description: builds
        runs:
          using: composite
          steps:
            - uses: actions/setup-node@{SHA} # v4.0.2
            - run: npm ci
              shell: bash
            - uses: ./other
        """
    )
    (doc,) = compose_all(text)
    assert doc is not None
    facts = extract_action("tools/build/action.yml", doc, text.split("\n"))
    (a,) = kind(facts, "gha.action")
    assert (a.data["using"], a.data["name"], a.data["image"]) == ("composite", "Build", None)
    steps = kind(facts, "gha.step_uses")
    assert [s.target for s in steps] == ["steps[0]", "steps[2]"]
    assert steps[0].data["version"] == "v4.0.2" and steps[0].data["job"] is None
    assert steps[0].span == Span(6, 13, 6, 72)


def test_docker_action() -> None:
    (doc,) = compose_all("name: d\nruns:\n  using: docker\n  image: docker://alpine:3.19\n")
    assert doc is not None
    facts = extract_action("action.yml", doc)
    (a,) = kind(facts, "gha.action")
    assert (a.data["using"], a.data["image"]) == ("docker", "docker://alpine:3.19")
    (img,) = kind(facts, "gha.image")  # the image it runs is judged like any other
    assert (img.data["via"], img.data["name"], img.span) == (
        "action",
        "docker.io/library/alpine",
        Span(4, 10, 4, 30),
    )


def test_odd_shapes_do_not_crash() -> None:
    for text in [
        "[]\n",
        "on: push\njobs: [a, b]\n",
        "on: push\njobs:\n  a: 1\n  b:\n    steps: 3\n  c:\n    steps: [1, {uses: [x]}]\n",
        "on: push\njobs:\n  a:\n    steps:\n      - uses: null\n      - uses: 3\n",
    ]:
        (doc,) = compose_all(text)
        assert doc is not None
        extract_workflow(".github/workflows/x.yml", doc, text.split("\n"))
