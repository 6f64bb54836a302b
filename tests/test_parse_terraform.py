"""Terraform parsing: exact spans, static values, error recovery, JSON syntax, and a
differential check of the extracted literals against python-hcl2 as an oracle.

Spans are 1-based; end columns are exclusive and count UTF-16 code units (SARIF's default).
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import hcl2
import pytest

from scanner.facts import terraform as tf_facts
from scanner.model import Fact, Span
from scanner.parsers.terraform import (
    Block,
    TerraformDocument,
    Unknown,
    parse,
    parse_json,
    parse_native,
    to_json_value,
)


def tf(text: str, path: str = "main.tf") -> TerraformDocument:
    return parse(path, textwrap.dedent(text).lstrip("\n"))


def values(block: Block) -> dict[str, Any]:
    return {k: a.value for k, a in block.attributes.items()}


def facts_of(doc: TerraformDocument, kind: str) -> list[Fact]:
    return [f for f in tf_facts.extract(doc) if f.kind == kind]


# ---------------------------------------------------------------- spans


SPANS = """\
module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.1.0"
}

resource aws_s3_bucket logs {
  bucket = "logs"
  lifecycle {
    prevent_destroy = true
  }
}
"""


def test_block_header_and_body_spans() -> None:
    doc = parse_native("main.tf", SPANS)
    assert doc.diagnostics == []
    mod, res = doc.blocks
    assert (mod.type, mod.labels) == ("module", ("vpc",))
    assert mod.header_span == Span(1, 1, 1, 13)  # `module "vpc"`
    assert mod.span == Span(1, 1, 4, 2)  # through the closing brace
    assert (res.type, res.labels) == ("resource", ("aws_s3_bucket", "logs"))
    assert res.header_span == Span(6, 1, 6, 28)  # bare identifier labels
    (lc,) = res.blocks
    assert (lc.type, lc.header_span, lc.span) == ("lifecycle", Span(8, 3, 8, 12), Span(8, 3, 10, 4))


def test_attribute_spans() -> None:
    mod = parse_native("main.tf", SPANS).blocks[0]
    src = mod.attributes["source"]
    assert src.span == Span(2, 3, 2, 44)  # `source  = "terraform-aws-modules/vpc/aws"`
    assert src.key_span == Span(2, 3, 2, 9)
    assert src.value_span == Span(2, 13, 2, 44)  # the quotes included
    ver = mod.attributes["version"]
    assert (ver.span, ver.value_span) == (Span(3, 3, 3, 20), Span(3, 13, 3, 20))


def test_object_item_spans() -> None:
    doc = tf(
        """
        resource "aws_s3_bucket" "b" {
          tags = {
            Name                  = "logs"
            "kubernetes.io/role"  = "elb"
          }
        }
        """
    )
    tags = doc.blocks[0].attributes["tags"]
    assert tags.span == Span(2, 3, 5, 4)
    assert tags.item_spans == {
        "Name": Span(3, 5, 3, 35),
        "kubernetes.io/role": Span(4, 5, 4, 34),
    }


def test_utf16_columns_on_non_ascii_lines() -> None:
    # é is one UTF-16 unit (two UTF-8 bytes); 😀 is two UTF-16 units (four UTF-8 bytes)
    doc = tf(
        """
        resource "aws_s3_bucket" "b" {
          tags = { "é😀" = "x", Team = "café" }
        }
        """
    )
    tags = doc.blocks[0].attributes["tags"]
    assert tags.value == {"é😀": "x", "Team": "café"}
    # `  tags = { "é😀" = "x", Team = "café" }`: 😀 counts two columns, so everything after
    # it sits one column further right than its code-point index suggests
    assert tags.item_spans["é😀"] == Span(2, 12, 2, 23)
    assert tags.item_spans["Team"] == Span(2, 25, 2, 38)
    assert tags.span == Span(2, 3, 2, 40)


def test_non_ascii_label_shifts_header_span_in_utf16() -> None:
    doc = tf('resource "x" "😀" {\n}\n')
    assert doc.blocks[0].labels == ("x", "😀")
    assert doc.blocks[0].header_span == Span(1, 1, 1, 18)  # 16 code points, 17 UTF-16 units


def test_crlf_line_endings() -> None:
    doc = parse_native("main.tf", 'module "m" {\r\n  source = "./m"\r\n}\r\n')
    (m,) = doc.blocks
    assert m.attributes["source"].value == "./m"
    assert m.attributes["source"].span == Span(2, 3, 2, 17)
    assert doc.diagnostics == []


def test_leading_comments_do_not_hide_blocks() -> None:
    # a licence header puts comments before the body node: every block must still be read
    doc = tf(
        """
        # Copyright 2024 Example
        /* block comment */
        // another
        module "m" {
          source = "./m" # trailing
        }
        # trailing file comment
        """
    )
    assert [b.type for b in doc.blocks] == ["module"]
    assert doc.blocks[0].header_span == Span(4, 1, 4, 11)


# ---------------------------------------------------------------- values


def test_literal_values() -> None:
    doc = tf(
        r"""
        locals {
          s     = "plain"
          esc   = "a\"b\\c\nd\te\r"
          uni   = "caf\u00e9 \U0001F600"
          lone  = "x\ud800y"
          lit   = "$${not.interp} %%{not.directive}"
          int   = 42
          neg   = -3
          flt   = 1.5
          exp   = 2.5e-1
          t     = true
          f     = false
          n     = null
          list  = ["a", 1, [true], -2.5]
          obj   = { a = 1, "b-c" = { d = "e" }, f : "colon" }
          paren = ("p")
          empty = {}
          elist = []
        }
        """
    )
    assert doc.diagnostics == []
    v = values(doc.blocks[0])
    assert v["s"] == "plain"
    assert v["esc"] == 'a"b\\c\nd\te\r'
    assert v["uni"] == "café 😀"
    assert v["lone"] == "x\\ud800y"  # a lone surrogate cannot be encoded: kept as written
    assert v["lit"] == "${not.interp} %{not.directive}"
    assert (v["int"], v["neg"], v["flt"], v["exp"]) == (42, -3, 1.5, 0.25)
    assert isinstance(v["int"], int) and isinstance(v["exp"], float)
    assert (v["t"], v["f"], v["n"]) == (True, False, None)
    assert v["list"] == ["a", 1, [True], -2.5]
    assert v["obj"] == {"a": 1, "b-c": {"d": "e"}, "f": "colon"}
    assert v["paren"] == "p"
    assert (v["empty"], v["elist"]) == ({}, [])


def test_heredocs() -> None:
    doc = tf(
        """
        locals {
          plain = <<EOT
        line one
          line two
        EOT
          indented_close = <<EOT
            keep
          EOT
          flush = <<-EOT
            first
              second

            third
            EOT
          tabs = <<-EOT
        \tone
          two
          EOT
          empty = <<EOT
        EOT
          escapes = <<EOT
        not \\n an escape, $${literal}
        EOT
        }
        """
    )
    v = values(doc.blocks[0])
    # a heredoc's value is its lines, each with its newline
    assert v["plain"] == "line one\n  line two\n"
    assert v["indented_close"] == "    keep\n"  # `<<` keeps indentation
    assert v["flush"] == "first\n  second\n\nthird\n"  # `<<-` strips the least indentation
    assert v["tabs"] == "one\n two\n"  # a tab and a space count one each
    assert v["empty"] == ""
    assert v["escapes"] == "not \\n an escape, ${literal}\n"


@pytest.mark.parametrize(
    "expr",
    [
        '"${var.name}"',
        '"prefix-${var.name}"',
        '"%{ if var.on }x%{ endif }"',
        "var.name",
        "local.tags.team",
        'merge(local.tags, { Name = "x" })',
        'var.on ? "a" : "b"',
        "[for s in var.list : upper(s)]",
        "{ for k, v in var.map : k => v }",
        "1 + 2",
        "!true",
        "<<EOT\nhello ${var.name}\nEOT\n",
        '{ (var.key) = "v" }',  # a computed key: the object's keys are unknown
        '{ "${var.key}" = "v" }',
        "aws_s3_bucket.b.arn",
        "data.aws_caller_identity.current.account_id",
    ],
)
def test_unknown_expressions(expr: str) -> None:
    doc = parse_native("main.tf", f"locals {{\n  x = {expr}\n}}\n")
    assert doc.diagnostics == []
    v = doc.blocks[0].attributes["x"].value
    assert isinstance(v, Unknown), v
    assert to_json_value(v) is None  # what rules see


def test_unknown_inside_known_collections() -> None:
    doc = tf(
        """
        locals {
          tags = { Team = "core", Env = var.env, Name = "${var.p}-x" }
          list = ["a", var.b]
        }
        """
    )
    v = values(doc.blocks[0])
    assert v["tags"]["Team"] == "core"
    assert isinstance(v["tags"]["Env"], Unknown) and v["tags"]["Env"].text == "var.env"
    assert to_json_value(v["tags"]) == {"Team": "core", "Env": None, "Name": None}
    assert to_json_value(v["list"]) == ["a", None]


def test_deeply_nested_value_is_unknown_not_a_crash() -> None:
    n = 5000
    doc = parse_native("main.tf", f'resource "a" "b" {{\n  tags = {"[" * n}{"]" * n}\n}}\n')
    (fact,) = facts_of(doc, "tf.resource")
    assert fact.data["tags_known"] is False


@pytest.mark.xfail(
    strict=True, reason="tree-sitter-hcl 1.2 rejects an exponent without a fraction (1e3)"
)
def test_exponent_without_fraction() -> None:
    doc = parse_native("main.tf", "locals {\n  x = 1e3\n}\n")
    assert doc.diagnostics == []
    assert doc.blocks[0].attributes["x"].value == 1000.0


def test_values_are_lazy_and_cached() -> None:
    a = tf('locals {\n  x = { a = 1 }\n}\n').blocks[0].attributes["x"]
    assert a.value is a.value


# ---------------------------------------------------------------- error recovery


def test_broken_block_is_located_and_others_still_produce_facts() -> None:
    doc = tf(
        """
        module "before" {
          source = "./before"
        }

        resource "aws_s3_bucket" "broken" {
          bucket = = "x"
        }

        module "after" {
          source = "./after"
        }
        """
    )
    (diag,) = doc.diagnostics
    assert diag.code == "parse-error" and diag.path == "main.tf"
    assert diag.span.start_line == 6  # the line with `= =`
    modules = {f.data["name"] for f in facts_of(doc, "tf.module_call")}
    assert modules == {"before", "after"}
    assert facts_of(doc, "tf.resource") == []  # a half-parsed block is not observed


def test_unterminated_string_does_not_swallow_the_rest_of_the_file() -> None:
    doc = tf(
        """
        resource "aws_s3_bucket" "a" {
          bucket = "unterminated
        }

        module "m" {
          source = "./m"
        }
        """
    )
    (diag,) = doc.diagnostics
    assert diag.span == Span(2, 12, 2, 25)  # from the opening quote to the end of its line
    assert "closing '\"'" in diag.message
    assert [f.data["name"] for f in facts_of(doc, "tf.module_call")] == ["m"]


def test_missing_closing_brace_points_at_the_block_header() -> None:
    doc = tf(
        """
        module "ok" {
          source = "./ok"
        }

        module "open" {
          source = "./open"
        """
    )
    (diag,) = doc.diagnostics
    assert diag.span == Span(5, 1, 5, 16)  # `module "open" {`
    assert "missing '}'" in diag.message
    assert [f.data["name"] for f in facts_of(doc, "tf.module_call")] == ["ok"]


def test_one_diagnostic_per_broken_block() -> None:
    broken = "".join(f'resource "a" "r{i}" {{\n  x = [1,\n}}\n\n' for i in range(8))
    doc = parse_native("main.tf", broken + 'module "m" {\n  source = "./m"\n}\n')
    assert len(doc.diagnostics) == 5  # capped: the first few are what a reader fixes first
    assert [d.span.start_line for d in doc.diagnostics] == [2, 6, 10, 14, 18]
    assert [f.data["name"] for f in facts_of(doc, "tf.module_call")] == ["m"]


def test_header_like_line_in_a_heredoc_is_not_a_block() -> None:
    doc = tf(
        """
        resource "a" "broken" {
          x = = 1
        }

        resource "aws_iam_policy" "p" {
          policy = <<EOT
        resource "not" "a_block" {
        }
        EOT
        }
        """
    )
    assert len(doc.diagnostics) == 1
    assert [b.labels for b in doc.blocks if not b.has_error] == [("aws_iam_policy", "p")]
    p = [b for b in doc.blocks if not b.has_error][0]
    assert p.attributes["policy"].value == 'resource "not" "a_block" {\n}\n'


def test_garbage_file_yields_diagnostics_not_exceptions() -> None:
    doc = parse_native("main.tf", '}}}} "\n{{{\x00 resource = \n')
    assert doc.diagnostics and all(d.code == "parse-error" for d in doc.diagnostics)
    assert tf_facts.extract(doc) == []


# ---------------------------------------------------------------- JSON syntax

TF_JSON = """\
{
  "//": "generated by cdktf",
  "terraform": [{
    "required_providers": [{"aws": {"source": "hashicorp/aws", "version": ">= 5.0"}}],
    "backend": {"s3": {"bucket": "state"}}
  }],
  "module": {"vpc": [{"source": "terraform-aws-modules/vpc/aws", "version": "5.1.0"}]},
  "resource": [{"aws_s3_bucket": {"logs": {"tags": {"Team": "core", "Env": "${var.env}"}}}}],
  "provider": {"aws": [{"default_tags": {"tags": {"Owner": "me"}}}, {"alias": "us"}]}
}
"""


def test_json_blocks_and_spans() -> None:
    doc = parse_json("main.tf.json", TF_JSON)
    assert doc.diagnostics == []
    kinds = [(b.type, b.labels) for b in doc.blocks]
    assert kinds == [
        ("terraform", ()),
        ("module", ("vpc",)),
        ("resource", ("aws_s3_bucket", "logs")),
        ("provider", ("aws",)),
        ("provider", ("aws",)),
    ]
    tfb, mod, res, _, _ = doc.blocks
    assert tfb.header_span == Span(3, 3, 3, 14)  # the "terraform" key
    assert mod.header_span == Span(7, 14, 7, 19)  # the innermost label key, "vpc"
    assert res.header_span == Span(8, 35, 8, 41)  # "logs"
    src = mod.attributes["source"]
    assert src.span == Span(7, 23, 7, 64)  # key through value
    assert (src.key_span, src.value_span) == (Span(7, 23, 7, 31), Span(7, 33, 7, 64))
    tags = res.attributes["tags"]
    assert tags.item_spans["Team"] == Span(8, 53, 8, 67)


def test_json_facts() -> None:
    facts = tf_facts.extract(parse("main.tf.json", TF_JSON))
    by_kind: dict[str, list[Fact]] = {}
    for f in facts:
        by_kind.setdefault(f.kind, []).append(f)
    (rp,) = by_kind["tf.required_provider"]
    assert (rp.data["source"], rp.data["version"]) == ("hashicorp/aws", ">= 5.0")
    assert rp.spans["version"] == Span(4, 64, 4, 83)
    (be,) = by_kind["tf.backend"]
    assert be.data["type"] == "s3"
    (mod,) = by_kind["tf.module_call"]
    assert (mod.data["source_type"], mod.data["module"], mod.data["version"]) == (
        "registry",
        "terraform-aws-modules/vpc/aws",
        "5.1.0",
    )
    (res,) = by_kind["tf.resource"]
    assert res.data["tags"] == {"Team": "core", "Env": None}  # "${...}" is an interpolation
    prov = by_kind["tf.provider"]
    assert [p.data["default_tags"] for p in prov] == [{"Owner": "me"}, {}]  # {}: none set
    assert [p.data["alias"] for p in prov] == [None, "us"]


def test_json_template_escapes_and_nested_unknowns() -> None:
    doc = parse_json(
        "x.tf.json",
        '{"locals": {"a": "$${literal}", "b": {"k": ["x", "%{if true}y%{endif}"]},'
        ' "c": {"${var.k}": 1}}}',
    )
    v = values(doc.blocks[0])
    assert v["a"] == "${literal}"
    assert to_json_value(v["b"]) == {"k": ["x", None]}
    assert isinstance(v["c"], Unknown)  # an interpolated key makes the keys unknown


def test_json_tabs_and_non_ascii_columns() -> None:
    doc = parse_json("x.tf.json", '{\n\t"module": {"é😀": {"source": "./m"}}\n}\n')
    (m,) = doc.blocks
    assert m.labels == ("é😀",)
    assert m.header_span == Span(2, 13, 2, 18)  # the tab is one column; 😀 is two
    assert m.attributes["source"].span == Span(2, 21, 2, 36)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ('{"module": {"m": {"source": "x",}}}', Span(1, 33, 1, 34)),  # trailing comma
        ('{\n  "module": {\n    "m": {"source": "x" "version": "1"}\n  }\n}', Span(3, 25, 3, 26)),
        ("{\n  // a comment\n}", Span(2, 3, 2, 4)),
        ('{"module": ', Span(1, 12, 1, 13)),
    ],
)
def test_invalid_json_is_a_located_parse_error(text: str, span: Span) -> None:
    doc = parse("main.tf.json", text)
    (diag,) = doc.diagnostics
    assert (diag.code, diag.span) == ("parse-error", span)
    assert doc.blocks == []


def test_json_not_an_object_is_ignored() -> None:
    assert parse("x.tf.json", "[1, 2]").blocks == []
    assert parse("x.tf.json", '"x"').diagnostics == []


# ---------------------------------------------------------------- differential: python-hcl2

# Realistic files that python-hcl2 parses. The oracle's output is normalised to tether's
# value model (see _oracle), then module source/version, required_providers entries and
# resource tags must be equal.
FIXTURES = {
    "eks.tf": """\
terraform {
  required_version = ">= 1.3.2"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
    tls = {
      source  = "hashicorp/tls"
      version = ">= 3.0"
    }
    time = {
      source                = "hashicorp/time"
      version               = ">= 0.9"
      configuration_aliases = [time.alt]
    }
  }
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.8"

  cluster_name    = local.name
  cluster_version = "1.29"
  tags            = local.tags
}

module "vpc" {
  source = "git::https://github.com/terraform-aws-modules/terraform-aws-vpc.git?ref=v5.5.1"
}

resource "aws_kms_key" "this" {
  description = "EKS secret encryption key"
  tags = {
    Name                       = "eks-key"
    "kubernetes.io/cluster/x"  = "owned"
    Cost_Center                = 1234
    Critical                   = true
  }
}

resource "aws_iam_role" "this" {
  name = "role"
  tags = merge(local.tags, { Extra = "x" })
}
""",
    "gcp.tf": """\
terraform {
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 5.0"
    }
    legacy = "~> 1.2"
    custom = {
      source = "registry.example.com/acme/custom"
    }
  }
}

module "network" {
  source  = "app.terraform.io/acme/network/google"
  version = "1.0.0"
}

module "local" {
  source = "../modules/local"
}

resource "google_storage_bucket" "b" {
  name   = "bucket-${var.env}"
  labels = { team = "data" }
  tags   = ["not", "a", "map"]
}
""",
    "escapes.tf": r"""
module "m" {
  source  = "github.com/acme/mods//net?ref=v1.2.3"
  version = "1.0"
}

resource "aws_s3_bucket" "esc" {
  tags = {
    Quote   = "say \"hi\""
    Slash   = "a\\b"
    Unicode = "caf\u00e9"
    Emoji   = "ok 😀"
    Dollar  = "$${not_interpolated}"
    Interp  = "${var.team}-x"
    Ref     = var.owner
    Neg     = -5
    Nil     = null
    Note    = <<-EOT
      first line
        indented $${literal}
      EOT
  }
}
""",
}

_UNKNOWN = object()


def _unquote_hcl(inner: str) -> Any:
    """A python-hcl2 quoted string (kept with its quotes and raw escapes) to its value."""
    out: list[str] = []
    i = 0
    while i < len(inner):
        if inner.startswith(("${", "%{"), i):
            return _UNKNOWN
        if inner.startswith(("$${", "%%{"), i):
            out.append(inner[i] + "{")
            i += 3
            continue
        if inner[i] == "\\":
            nxt = inner[i + 1]
            simple = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            width = {"u": 4, "U": 8}[nxt]
            out.append(chr(int(inner[i + 2 : i + 2 + width], 16)))
            i += 2 + width
            continue
        out.append(inner[i])
        i += 1
    return "".join(out)


def _heredoc_value(flush: bool, body: str) -> Any:
    if re.search(r"(?<![$%])[$%]\{", body.replace("$${", "").replace("%%{", "")):
        return _UNKNOWN
    lines = (body + "\n").split("\n")[:-1] if body else []
    if flush:
        cut = min((len(x) - len(x.lstrip(" \t")) for x in lines if x.strip()), default=0)
        lines = [x[cut:] if x.strip() else x.lstrip(" \t")[: max(0, len(x) - cut)] for x in lines]
    text = "".join(x + "\n" for x in lines)
    return text.replace("$${", "${").replace("%%{", "%{")


def _oracle(v: Any) -> Any:
    """Normalise python-hcl2 8.x output: strings keep their quotes and raw escapes
    ('"x"'), other expressions come as '${...}' (numbers in scientific notation too), object
    keys keep quotes when quoted, and `__...__` keys carry comments and block markers."""
    if isinstance(v, str):
        heredoc = re.fullmatch(r'"<<(-?)([A-Za-z_][\w-]*)\r?\n(.*?)\n?[ \t]*\2"', v, re.S)
        if heredoc:  # kept as written, without escapes: '"<<EOT\n...\nEOT"'
            return _heredoc_value(heredoc.group(1) == "-", heredoc.group(3))
        if len(v) >= 2 and v[0] == v[-1] == '"':
            return _unquote_hcl(v[1:-1])
        m = re.fullmatch(r"\$\{(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\}", v)
        if m:
            return float(m.group(1))
        return _UNKNOWN if v.startswith("${") else v
    if isinstance(v, list):
        return [_oracle(x) for x in v]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k.startswith("__"):
                continue
            out[k[1:-1] if k.startswith('"') else k] = _oracle(x)
        return out
    return v


def _nulls(v: Any) -> Any:
    """Unknown leaves become None, as in tether's facts."""
    if v is _UNKNOWN:
        return None
    if isinstance(v, dict):
        return {k: _nulls(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_nulls(x) for x in v]
    return v


def _oracle_view(text: str) -> dict[str, Any]:
    data = hcl2.loads(text)
    modules = {}
    for entry in data.get("module", []):
        for name, body in entry.items():
            b = _oracle(body)
            modules[name.strip('"')] = (_nulls(b.get("source")), _nulls(b.get("version")))
    providers = {}
    for tblock in data.get("terraform", []):
        for rp in tblock.get("required_providers", []):
            for name, spec in _oracle(rp).items():
                providers[name] = _nulls(spec)
    tags = {}
    for entry in data.get("resource", []):
        for rtype, by_name in entry.items():
            for rname, body in by_name.items():
                t = _oracle(body).get("tags")
                key = f"{rtype.strip(chr(34))}.{rname.strip(chr(34))}"
                tags[key] = _nulls(t) if isinstance(t, dict) else None
    return {"modules": modules, "providers": providers, "tags": tags}


def _tether_view(path: str, text: str) -> dict[str, Any]:
    doc = parse(path, text)
    assert doc.diagnostics == []
    facts = tf_facts.extract(doc)
    modules = {
        f.data["name"]: (f.data["source"], f.data["version"])
        for f in facts
        if f.kind == "tf.module_call"
    }
    providers = {}
    for b in doc.blocks:
        for rp in b.blocks_of("required_providers") if b.type == "terraform" else ():
            for name, a in rp.attributes.items():
                providers[name] = to_json_value(a.value)
    tags = {f.data["address"]: f.data["tags"] for f in facts if f.kind == "tf.resource"}
    return {"modules": modules, "providers": providers, "tags": tags}


def _floats(v: Any) -> Any:
    # python-hcl2 gives scientific-notation numbers as text; compare numbers as floats
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, dict):
        return {k: _floats(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_floats(x) for x in v]
    return v


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_static_literals_match_python_hcl2(name: str) -> None:
    text = FIXTURES[name]
    ours = _tether_view(name, text)
    theirs = _oracle_view(text)
    assert _floats(ours) == _floats(theirs)
    assert ours["modules"]  # the fixture exercises what it claims to


def test_oracle_fixture_values_are_the_expected_ones() -> None:
    # pin a few values so that a shared misreading by both parsers cannot pass unnoticed
    ours = _tether_view("escapes.tf", FIXTURES["escapes.tf"])
    assert ours["tags"]["aws_s3_bucket.esc"] == {
        "Quote": 'say "hi"',
        "Slash": "a\\b",
        "Unicode": "café",
        "Emoji": "ok 😀",
        "Dollar": "${not_interpolated}",
        "Interp": None,
        "Ref": None,
        "Neg": -5,
        "Nil": None,
        "Note": "first line\n  indented ${literal}\n",
    }
    gcp = _tether_view("gcp.tf", FIXTURES["gcp.tf"])
    assert gcp["providers"]["legacy"] == "~> 1.2"
    assert gcp["tags"]["google_storage_bucket.b"] is None  # a list is not a tags map


def test_a_file_that_parses_to_nothing_still_gets_a_located_diagnostic() -> None:
    """An unclosed first block makes tree-sitter's root an ERROR node with no error inside."""
    doc = parse_native("b.tf", '\n\nresource "x" "y" {\n  a = \n')
    assert [(d.code, d.span.start_line, d.span.start_col) for d in doc.diagnostics] == [
        ("parse-error", 3, 1)
    ]
    assert "resource \"x\" \"y\" {" in doc.diagnostics[0].message


def test_an_error_deep_in_a_block_is_located_at_the_bad_token() -> None:
    """tree-sitter wraps the whole block in an ERROR; the diagnostic points at the `~`."""
    text = (
        "terraform {\n  required_providers {\n    aws = {\n"
        '      source = "hashicorp/aws"\n      version = ~> 5.0\n    }\n  }\n}\n\n'
        'resource "x" "y" {\n  a = 1\n}\n'
    )
    doc = parse_native("m.tf", text)
    assert [(d.span.start_line, d.span.start_col) for d in doc.diagnostics] == [(5, 17)]
    assert "unexpected '~'" in doc.diagnostics[0].message
    assert [b.type for b in doc.blocks] == ["resource"]  # the rest is still scanned


@pytest.mark.parametrize(
    ("text", "line", "word"),
    [
        # issue 10: a stray `=` before the first block is reported where it is (was 3:30)
        ('=\nresource "aws_s3_bucket" "b" {\n  bucket = "x"\n}\n', 1, "="),
        ('# header\n=\n\nmodule "m" {\n  source = "x"\n}\n', 2, "="),
        # tree-sitter-hcl read the newline as a space: `x` became the block type and the
        # resource was judged by no rule and reported by nothing
        ('x\nresource "aws_s3_bucket" "b" {\n  bucket = "x"\n}\n', 1, "x"),
        ('resource "aws_s3_bucket" "b"\n{\n  bucket = "x"\n}\n', 1, "resource"),
    ],
)
def test_stray_tokens_before_a_block_are_located_errors(text: str, line: int, word: str) -> None:
    from scanner.parsers.terraform import parse_native

    doc = parse_native("main.tf", text)
    assert doc.diagnostics, "a file Terraform refuses must not pass silently"
    d = doc.diagnostics[0]
    assert d.code == "parse-error" and d.span.start_line == line and d.span.start_col == 1
    assert repr(word) in d.message or word in d.message
