"""Terraform facts: provider source normalisation, module source classification, resource
tags and provider default_tags, with the spans findings point at."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from scanner.facts.terraform import (
    extract,
    known_entries,
    link_module_facts,
    module_source,
    provider_source,
)
from scanner.model import Fact, Span
from scanner.parsers.terraform import Call, Unknown, parse


def facts(text: str, path: str = "infra/main.tf") -> list[Fact]:
    return extract(parse(path, textwrap.dedent(text).lstrip("\n")))


def one(text: str, kind: str, path: str = "infra/main.tf") -> Fact:
    (f,) = [f for f in facts(text, path) if f.kind == kind]
    return f


# ---------------------------------------------------------------- provider sources


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        # implied: no source means hashicorp/<local name> on the public registry
        ("aws", None, ("hashicorp/aws", "registry.terraform.io", "hashicorp", "aws")),
        ("aws", "hashicorp/aws", ("hashicorp/aws", "registry.terraform.io", "hashicorp", "aws")),
        # the default host is dropped, names are case-insensitive
        (
            "aws",
            "Registry.Terraform.io/HashiCorp/AWS",
            ("hashicorp/aws", "registry.terraform.io", "hashicorp", "aws"),
        ),
        # other hosts are kept: 3-part addresses, ports included
        (
            "corp",
            "tf.example.com:8443/acme/corp",
            ("tf.example.com:8443/acme/corp", "tf.example.com:8443", "acme", "corp"),
        ),
        (
            "aws",
            "registry.opentofu.org/hashicorp/aws",
            ("registry.opentofu.org/hashicorp/aws", "registry.opentofu.org", "hashicorp", "aws"),
        ),
        (
            "dd",
            "DataDog/datadog",
            ("datadog/datadog", "registry.terraform.io", "datadog", "datadog"),
        ),
        # a bare type is in hashicorp/, like an implied source
        (
            "k8s",
            "kubernetes",
            ("hashicorp/kubernetes", "registry.terraform.io", "hashicorp", "kubernetes"),
        ),
    ],
)
def test_provider_source(name: str, source: str | None, expected: tuple[str, ...]) -> None:
    got = provider_source(name, source)
    assert (got["source"], got["hostname"], got["namespace"], got["type"]) == expected


def test_invalid_provider_source_matches_nothing() -> None:
    assert provider_source("x", "a/b/c/d")["source"] == "a/b/c/d"


def test_required_providers_facts() -> None:
    fs = facts(
        """
        terraform {
          required_version = ">= 1.5"
          required_providers {
            aws = {
              source  = "hashicorp/aws"
              version = "~> 5.0"
            }
            random = "~> 3.1"
            google = {
              version = var.google_version
            }
            corp = {
              source = "tf.example.com/acme/corp"
            }
          }
        }
        """
    )
    rps = {f.data["name"]: f for f in fs if f.kind == "tf.required_provider"}
    aws = rps["aws"]
    assert (aws.data["source"], aws.data["version"], aws.data["source_declared"]) == (
        "hashicorp/aws",
        "~> 5.0",
        True,
    )
    assert aws.span == Span(4, 5, 7, 6)
    assert aws.spans["source"] == Span(5, 7, 5, 32)
    assert aws.spans["version"] == Span(6, 7, 6, 25)
    assert aws.target == "infra:required_providers.aws"
    assert aws.data["module_dir"] == "infra"
    # legacy string form: a version constraint with an implied source
    legacy = rps["random"]
    assert (legacy.data["source"], legacy.data["version"], legacy.data["source_declared"]) == (
        "hashicorp/random",
        "~> 3.1",
        False,
    )
    assert legacy.spans["version"] == Span(8, 14, 8, 22)
    assert rps["google"].data["version"] is None  # not a literal
    assert rps["google"].data["source"] == "hashicorp/google"
    assert rps["corp"].data["source"] == "tf.example.com/acme/corp"
    assert rps["corp"].data["version"] is None
    (rv,) = [f for f in fs if f.kind == "tf.required_version"]
    assert (rv.data["constraint"], rv.spans["constraint"]) == (">= 1.5", Span(2, 22, 2, 30))


def test_backend_and_cloud() -> None:
    be = one('terraform {\n  backend "s3" {\n    bucket = "x"\n  }\n}\n', "tf.backend")
    assert (be.data["type"], be.span) == ("s3", Span(2, 3, 2, 15))
    cl = one('terraform {\n  cloud {\n    organization = "acme"\n  }\n}\n', "tf.backend")
    assert cl.data["type"] == "cloud"


def test_module_dir_of_a_root_file() -> None:
    f = one('module "m" {\n  source = "./m"\n}\n', "tf.module_call", path="main.tf")
    assert (f.data["module_dir"], f.target) == (".", ".:module.m")


# ---------------------------------------------------------------- module sources


def _ms(source: str) -> dict[str, Any]:
    return {k: v for k, v in module_source(source).items() if v is not None}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "terraform-aws-modules/vpc/aws",
            {
                "source_type": "registry",
                "registry": "registry.terraform.io",
                "namespace": "terraform-aws-modules",
                "module_name": "vpc",
                "target_system": "aws",
            },
        ),
        (
            "app.terraform.io/acme/network/aws",
            {
                "source_type": "registry",
                "registry": "app.terraform.io",
                "namespace": "acme",
                "module_name": "network",
                "target_system": "aws",
            },
        ),
        (
            "terraform-aws-modules/iam/aws//modules/iam-role",
            {
                "source_type": "registry",
                "registry": "registry.terraform.io",
                "namespace": "terraform-aws-modules",
                "module_name": "iam",
                "target_system": "aws",
            },
        ),
        (
            "git::https://example.com/network.git?ref=v1.2.0",
            {"source_type": "git", "git_repo": "example.com/network", "git_ref": "v1.2.0"},
        ),
        (
            "git::https://example.com/network.git//modules/vpc?ref=v1.2.0&depth=1",
            {"source_type": "git", "git_repo": "example.com/network", "git_ref": "v1.2.0"},
        ),
        (
            "git@github.com:acme/network.git?ref=main",
            {"source_type": "git", "git_repo": "github.com/acme/network", "git_ref": "main"},
        ),
        (
            "git::ssh://git@git.example.com:2222/acme/network.git",
            {"source_type": "git", "git_repo": "git.example.com/acme/network"},
        ),
        (
            # a token in the URL never reaches the repository name baselines match on
            "git::https://user:s3cret@GitHub.com/acme/network",
            {"source_type": "git", "git_repo": "github.com/acme/network"},
        ),
        (
            "github.com/hashicorp/example?ref=v1.0.0",
            {"source_type": "git", "git_repo": "github.com/hashicorp/example", "git_ref": "v1.0.0"},
        ),
        ("bitbucket.org/acme/mod", {"source_type": "git", "git_repo": "bitbucket.org/acme/mod"}),
        ("./modules/vpc", {"source_type": "local"}),
        ("../shared", {"source_type": "local"}),
        ("s3::https://s3-eu-west-1.amazonaws.com/acme-modules/vpc.zip", {"source_type": "s3"}),
        ("acme-modules.s3-eu-west-1.amazonaws.com/vpc.zip", {"source_type": "s3"}),
        ("gcs::https://www.googleapis.com/storage/v1/acme/vpc.zip", {"source_type": "gcs"}),
        ("hg::http://example.com/vpc", {"source_type": "hg"}),
        ("https://example.com/vpc-module.zip", {"source_type": "http"}),
        ("not/a-valid", {"source_type": "other"}),
    ],
)
def test_module_source_classification(source: str, expected: dict[str, Any]) -> None:
    assert _ms(source) == expected


def test_module_call_fact() -> None:
    f = one(
        """
        module "vpc" {
          source  = "terraform-aws-modules/vpc/aws"
          version = "5.1.0"
        }
        """,
        "tf.module_call",
    )
    assert f.data["module"] == "terraform-aws-modules/vpc/aws"
    assert (f.data["address"], f.data["version"]) == ("module.vpc", "5.1.0")
    assert f.span == Span(1, 1, 1, 13)
    assert f.spans == {
        "source": Span(2, 3, 2, 44),
        "version": Span(3, 3, 3, 20),
        "version_value": Span(3, 13, 3, 20),  # the literal a remedy replaces
    }


def test_module_call_private_registry_and_git() -> None:
    reg = one('module "n" {\n  source = "app.terraform.io/acme/net/aws"\n}\n', "tf.module_call")
    assert reg.data["module"] == "app.terraform.io/acme/net/aws"
    assert reg.spans["version"] == reg.spans["source"]  # no version: point at the source
    git = one(
        'module "n" {\n  source = "git::https://example.com/net.git?ref=v2"\n}\n',
        "tf.module_call",
    )
    assert (git.data["module"], git.data["git_ref"], git.data["version"]) == (
        "example.com/net",
        "v2",
        None,
    )


def test_module_call_with_unknown_source() -> None:
    f = one('module "m" {\n  source = "${local.base}/vpc"\n}\n', "tf.module_call")
    assert (f.data["source"], f.data["source_type"]) == (None, "unknown")
    assert f.data["source_raw"] == '"${local.base}/vpc"'


# ---------------------------------------------------------------- resources and tags


def test_resource_tags_known() -> None:
    f = one(
        """
        resource "aws_s3_bucket" "logs" {
          bucket = "logs"
          tags = {
            Team                 = "platform"
            "cost-center"        = "1234"
            Env                  = var.env
          }
        }
        """,
        "tf.resource",
    )
    assert f.data["address"] == "aws_s3_bucket.logs"
    assert f.data["provider"] == "aws"
    assert (f.data["has_tags"], f.data["tags_known"]) == (True, True)
    assert f.data["tags"] == {"Team": "platform", "cost-center": "1234", "Env": None}
    assert f.span == Span(1, 1, 1, 32)
    assert f.spans["tags"] == Span(3, 3, 7, 4)


@pytest.mark.parametrize(
    "tags",
    [
        'merge(local.tags, { Name = "x" })',
        "local.tags",
        "var.tags",
        "{ for k, v in var.t : k => v }",
    ],
)
def test_resource_tags_unknown(tags: str) -> None:
    f = one(f'resource "aws_vpc" "v" {{\n  tags = {tags}\n}}\n', "tf.resource")
    assert (f.data["has_tags"], f.data["tags_known"], f.data["tags"]) == (True, False, None)


def test_resource_without_tags_and_with_provider_alias() -> None:
    f = one('resource "google_storage_bucket" "b" {\n  provider = google.eu\n}\n', "tf.resource")
    assert (f.data["has_tags"], f.data["tags_known"]) == (False, False)
    assert f.data["provider"] == "google"
    assert f.data["provider_ref"] == "google.eu"
    assert "tags" not in f.spans


def test_provider_default_tags() -> None:
    fs = facts(
        """
        provider "aws" {
          region = "eu-west-1"
          default_tags {
            tags = {
              Owner = "platform"
              Repo  = "infra"
            }
          }
        }

        provider "aws" {
          alias = "us"
          default_tags {
            tags = local.tags
          }
        }

        provider "google" {}
        """
    )
    provs = [f for f in fs if f.kind == "tf.provider"]
    assert [(p.target, p.data["default_tags"], p.data["default_tags_known"]) for p in provs] == [
        ("infra:provider.aws", {"Owner": "platform", "Repo": "infra"}, True),
        ("infra:provider.aws.us", {}, False),  # local.tags: nothing known
        ("infra:provider.google", {}, True),  # none set: known to be none
    ]
    assert provs[0].spans["default_tags"] == Span(4, 5, 7, 6)
    assert provs[1].data["alias"] == "us"
    assert provs[0].span == Span(1, 1, 1, 15)


def test_blocks_with_errors_are_not_observed() -> None:
    fs = facts('resource "a" "b" {\n  tags = {\n}\nmodule "m" {\n  source = "./m"\n}\n')
    assert [f.kind for f in fs] == ["tf.module_call"]


# ---------------------------------------------------------------- statically known tags


def _tags_value(expr: str) -> object:
    (b,) = parse("main.tf", f'resource "aws_vpc" "v" {{\n  tags = {expr}\n}}\n').blocks
    a = b.attr("tags")
    assert a is not None
    return a.value


@pytest.mark.parametrize(
    ("expr", "entries", "complete"),
    [
        ('{ team = "a", cost-center = var.cc }', {"team": "a", "cost-center": None}, True),
        ("null", {}, True),
        ("{}", {}, True),
        ("var.tags", {}, False),
        ("local.tags", {}, False),
        ('lookup(var.m, "k", {})', {}, False),
        ('merge({ team = "a" }, { cost-center = "b" })', {"team": "a", "cost-center": "b"}, True),
        # a later argument that is not a literal may override any value before it
        ('merge({ team = "a" }, var.extra)', {"team": None}, False),
        ('merge(var.base, { team = "a" })', {"team": "a"}, False),
        (
            'merge(local.t, { team = "a" }, var.x, { owner = "o" })',
            {"team": None, "owner": "o"},
            False,
        ),
        (
            'merge({ team = "a" }, merge(var.x, { owner = "o" }))',
            {"team": None, "owner": "o"},
            False,
        ),
        ('tomap({ team = "a" })', {"team": "a"}, True),
        ("merge(var.list_of_maps...)", {}, False),
        ('merge([{ team = "a" }]...)', {}, False),
        ("{ for k, v in var.t : k => v }", {}, False),
    ],
)
def test_known_entries(expr: str, entries: dict[str, object], complete: bool) -> None:
    assert known_entries(_tags_value(expr)) == (entries, complete)


def test_function_calls_keep_their_arguments() -> None:
    v = _tags_value('merge(local.tags, { Name = "x" }, var.t...)')
    assert isinstance(v, Call) and isinstance(v, Unknown)  # still not statically known
    assert (v.name, v.expanded, v.text) == (
        "merge",
        True,
        'merge(local.tags, { Name = "x" }, var.t...)',
    )
    assert v.args == (Unknown("local.tags"), {"Name": "x"}, Unknown("var.t"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"${merge(local.tags, {team = \\"a\\"})}"', ({"team": "a"}, False)),
        ('"${merge({team = \\"a\\"}, {owner = \\"o\\"})}"', ({"team": "a", "owner": "o"}, True)),
        ('"${var.tags}"', ({}, False)),
        ('"${merge(a)}-${b}"', ({}, False)),  # not one whole interpolation: a string
        ('{"team": "a"}', ({"team": "a"}, True)),
    ],
)
def test_json_tags_expressions(value: str, expected: tuple[dict[str, object], bool]) -> None:
    text = f'{{"resource": {{"aws_vpc": {{"v": {{"tags": {value}}}}}}}}}'
    (f,) = extract(parse("main.tf.json", text))
    assert (f.data["resource_tags"], f.data["resource_tags_known"]) == expected


def test_resource_own_tags_labels_and_spans() -> None:
    fs = facts(
        """
        resource "aws_s3_bucket" "b" {
          tags = merge(local.tags, { team = "a" })
        }
        resource "google_storage_bucket" "g" {
          labels = { team = "data" }
          tags   = ["not", "labels"]
        }
        resource "azurerm_resource_group" "rg" {
          name = "rg"
        }
        """
    )
    aws, google, azure = fs
    assert (aws.data["tag_attribute"], aws.data["resource_tags"]) == ("tags", {"team": "a"})
    assert (aws.data["tags_known"], aws.data["resource_tags_known"]) == (False, False)
    assert aws.spans["effective_tags"] == aws.spans["tags"] == Span(2, 3, 2, 43)
    assert google.data["tag_attribute"] == "labels"
    assert (google.data["labels"], google.data["labels_known"]) == ({"team": "data"}, True)
    assert google.data["resource_tags"] == {"team": "data"}
    assert google.spans["effective_tags"] == google.spans["labels"] == Span(5, 3, 5, 29)
    assert (azure.data["resource_tags"], azure.data["resource_tags_known"]) == ({}, True)
    assert "effective_tags" not in azure.spans  # a finding points at the block header


def test_module_call_version_presence_and_providers() -> None:
    fs = facts(
        """
        module "a" {
          source    = "./modules/a"
          providers = { aws = aws.us, "aws.dr" = aws.eu }
        }
        module "b" {
          source  = "terraform-aws-modules/vpc/aws"
          version = "5.8.1"
        }
        """
    )
    a, b = fs
    assert (a.data["has_version"], a.data["providers"]) == (
        False,
        {"aws": "aws.us", "aws.dr": "aws.eu"},
    )
    assert (b.data["has_version"], b.data["providers"]) == (True, None)


def test_provider_default_labels_and_merged_default_tags() -> None:
    fs = facts(
        """
        provider "google" {
          default_labels = { team = "data" }
        }
        provider "aws" {
          default_tags {
            tags = merge(var.extra, { team = "payments" })
          }
        }
        """
    )
    google, aws = fs
    assert (google.data["default_tags"], google.data["default_tags_known"]) == (
        {"team": "data"},
        True,
    )
    assert (aws.data["default_tags"], aws.data["default_tags_known"]) == (
        {"team": "payments"},
        False,
    )


# ---------------------------------------------------------------- after-pass: provider links


def tree(files: dict[str, str]) -> list[Fact]:
    out: list[Fact] = []
    for path, text in files.items():
        out.extend(extract(parse(path, textwrap.dedent(text).lstrip("\n"))))
    return link_module_facts(out)


def resources(fs: list[Fact]) -> dict[str, Fact]:
    return {f.target: f for f in fs if f.kind == "tf.resource"}


AWS_TAGGED = """
provider "aws" {
  default_tags {
    tags = { team = "payments", cost-center = "cc-1" }
  }
}
"""


def test_resource_gets_its_providers_default_tags() -> None:
    fs = tree(
        {
            "infra/providers.tf": AWS_TAGGED
            + """
            provider "aws" {
              alias = "us"
            }
            """,
            "infra/main.tf": """
            resource "aws_s3_bucket" "eu" {
              tags = { Name = "eu", team = "core" }
            }
            resource "aws_s3_bucket" "us" {
              provider = aws.us
            }
            resource "google_storage_bucket" "g" {}
            """,
        }
    )
    r = resources(fs)
    eu, us, g = (
        r["infra:aws_s3_bucket.eu"],
        r["infra:aws_s3_bucket.us"],
        r["infra:google_storage_bucket.g"],
    )
    assert eu.data["provider_config"] == "infra:provider.aws"
    assert eu.data["default_tags"] == {"team": "payments", "cost-center": "cc-1"}
    # the resource's own tags win over default tags with the same key
    assert eu.data["effective_tags"] == {"team": "core", "cost-center": "cc-1", "Name": "eu"}
    assert eu.data["effective_tags_known"] is True
    assert (us.data["provider_config"], us.data["effective_tags"]) == ("infra:provider.aws.us", {})
    assert us.data["effective_tags_known"] is True
    # no google configuration in the scan: its defaults are unknown
    assert (g.data["provider_config"], g.data["default_tags"]) == (None, None)
    assert (g.data["effective_tags"], g.data["effective_tags_known"]) == ({}, False)


def test_unknown_own_tags_may_override_default_values() -> None:
    fs = tree({"main.tf": AWS_TAGGED + 'resource "aws_sqs_queue" "q" {\n  tags = var.tags\n}\n'})
    (q,) = resources(fs).values()
    assert q.data["effective_tags"] == {"team": None, "cost-center": None}
    assert q.data["effective_tags_known"] is False


def test_local_child_modules_inherit_or_get_a_providers_map() -> None:
    fs = tree(
        {
            "main.tf": AWS_TAGGED
            + """
            provider "aws" {
              alias = "bare"
            }
            module "q" {
              source = "./modules/queue"
            }
            module "b" {
              source    = "./modules/bucket"
              providers = { aws = aws.bare }
            }
            module "x" {
              source    = "./modules/extra"
              providers = { "aws.peer" = aws }
            }
            """,
            "modules/queue/main.tf": 'resource "aws_sqs_queue" "this" {}\n'
            + 'module "n" {\n  source = "../nested"\n}\n',
            "modules/nested/main.tf": 'resource "aws_sns_topic" "t" {}\n',
            "modules/bucket/main.tf": 'resource "aws_s3_bucket" "this" {}\n',
            "modules/extra/main.tf": 'resource "aws_s3_bucket" "peer" {\n  provider = aws.peer\n}\n'
            + 'resource "aws_s3_bucket" "default" {}\n',
            "modules/orphan/main.tf": 'resource "aws_s3_bucket" "this" {}\n',
        }
    )
    r = resources(fs)
    full = {"team": "payments", "cost-center": "cc-1"}
    assert r["modules/queue:aws_sqs_queue.this"].data["effective_tags"] == full
    assert r["modules/queue:aws_sqs_queue.this"].data["provider_config"] == ".:provider.aws"
    assert r["modules/nested:aws_sns_topic.t"].data["effective_tags"] == full  # two levels down
    bucket = r["modules/bucket:aws_s3_bucket.this"].data
    assert (bucket["provider_config"], bucket["effective_tags"]) == (".:provider.aws.bare", {})
    assert r["modules/extra:aws_s3_bucket.peer"].data["effective_tags"] == full
    # with a providers map, nothing else is passed down implicitly
    assert r["modules/extra:aws_s3_bucket.default"].data["default_tags"] is None
    assert r["modules/orphan:aws_s3_bucket.this"].data["default_tags"] is None


def test_a_module_called_twice_gets_what_every_instance_gets() -> None:
    fs = tree(
        {
            "a/main.tf": AWS_TAGGED + 'module "m" {\n  source = "../mod"\n}\n',
            "b/main.tf": """
            provider "aws" {
              default_tags {
                tags = { team = "payments", cost-center = "", owner = "o" }
              }
            }
            module "m" {
              source = "../mod"
            }
            """,
            "mod/main.tf": 'resource "aws_s3_bucket" "this" {}\n',
        }
    )
    (bucket,) = (f for f in resources(fs).values() if f.data["module_dir"] == "mod")
    assert bucket.data["effective_tags"] == {"team": "payments", "cost-center": ""}
    assert bucket.data["effective_tags_known"] is True
    assert bucket.data["provider_config"] is None  # two different configurations


def test_module_cycles_and_idempotence() -> None:
    fs = tree(
        {
            "a/main.tf": 'module "b" {\n  source = "../b"\n}\nresource "aws_s3_bucket" "x" {}\n',
            "b/main.tf": 'module "a" {\n  source = "../a"\n}\n',
            "main.tf": 'output "o" {\n  value = 1\n}\n',
        }
    )
    (x,) = resources(fs).values()
    assert x.data["default_tags"] is None
    assert link_module_facts(fs) == fs  # idempotent: only extract's observations are read
    assert link_module_facts([]) == []
