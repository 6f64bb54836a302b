"""Large Terraform files are parsed a chunk at a time (issue 11): the blocks, spans, facts and
diagnostics must be those of a whole-file parse, and a file at the size cap must scan in
bounded memory.

The chunked path normally starts above 256 KiB; these tests force it on small texts with
tiny chunks, so that every block boundary is a cut and every tricky construct sits next to
one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from scanner.facts import terraform as tf_facts
from scanner.model import Level, Span
from scanner.parsers import terraform as tf
from scanner.parsers.text import LineIndex


def _view(doc: tf.TerraformDocument) -> dict[str, Any]:
    """Everything a caller can read of a document."""

    def block(b: tf.Block) -> Any:
        attrs = {
            name: (a.value, a.span, a.key_span, a.value_span, a.item_spans)
            for name, a in b.attributes.items()
        }
        return (
            b.type,
            b.labels,
            b.span,
            b.header_span,
            b.has_error,
            attrs,
            [block(c) for c in b.blocks],
        )

    facts = [(f.kind, f.target, f.span, f.data, f.spans) for f in tf_facts.extract(doc)]
    return {
        "diagnostics": doc.diagnostics,
        "facts": facts,
        "blocks": [block(b) for b in doc.blocks],
    }


def whole_and_chunked(
    text: str, monkeypatch: pytest.MonkeyPatch, chunk: int = 1
) -> tuple[dict[str, Any], dict[str, Any]]:
    with monkeypatch.context() as m:
        m.setattr(tf, "WHOLE_BYTES", 10**9)
        whole = _view(tf.parse_native("infra/main.tf", text))
    with monkeypatch.context() as m:
        m.setattr(tf, "WHOLE_BYTES", 0)
        m.setattr(tf, "CHUNK_BYTES", chunk)
        doc = tf.parse_native("infra/main.tf", text)
        assert doc.observed is not None  # the chunked path did run
        chunked = _view(doc)
    return whole, chunked


TRICKY = """\
# a comment with braces: } { ]
// and another: resource "not" "a_block" {
/* a block comment
resource "not" "a_block_either" {
}
*/
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
  backend "s3" {}
}

resource "aws_iam_policy" "p" {
  policy = <<EOT
{
  "Statement": [{ "Effect": "Allow" }]
}
resource "heredoc" "body" {
EOT
  tags = { Team = "core", Note = "}" , Open = "{", Lit = "$${x}", Dir = "%%{ y }" }
}

resource "aws_s3_bucket" "templated" {
  bucket = "${jsonencode({ a = "}" })}-${var.x}"
  tags = merge(local.tags, { Name = "b-${var.env}" }, {
    Other = "%{ if var.on }}%{ endif }"
  })
}

module "m" {
  source  = "git::https://example.com/m.git?ref=v1" # trailing } comment
  version = "1.0"
  providers = { aws = aws.us }
}

locals {
  indented = <<-EOT
    }
    ]
    EOT
  list = [ { a = [1, 2, { b = "]" }] }, (3) ]
}

provider "aws" {
  alias = "us"
  default_tags {
    tags = { Owner = "platform" }
  }
}
"""


@pytest.mark.parametrize("chunk", [1, 200, 1000])
def test_chunked_parse_is_the_whole_parse(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    whole, chunked = whole_and_chunked(TRICKY, monkeypatch, chunk)
    assert whole["diagnostics"] == []
    assert {f[0] for f in whole["facts"]} == {
        "tf.required_version",
        "tf.required_provider",
        "tf.backend",
        "tf.resource",
        "tf.module_call",
        "tf.provider",
    }
    assert chunked == whole


def test_every_chunk_boundary_is_a_block_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """With 1-byte chunks each top-level block is a chunk of its own: header-like lines in
    heredocs and comments, and braces in strings, must not cut anywhere else."""
    with monkeypatch.context() as m:
        m.setattr(tf, "CHUNK_BYTES", 1)
        data = TRICKY.encode()
        plan = tf._plan(tf._Native("main.tf", data, LineIndex(TRICKY)))
    starts = [data[p.lo : p.hi].lstrip().split(b"\n", 1)[0] for p in plan]
    assert starts == [
        b"# a comment with braces: } { ]",
        b'resource "aws_iam_policy" "p" {',
        b'resource "aws_s3_bucket" "templated" {',
        b'module "m" {',
        b"locals {",
        b'provider "aws" {',
    ]
    assert all(part.body is None for part in plan)  # each parsed whole


def test_crlf_and_non_ascii(monkeypatch: pytest.MonkeyPatch) -> None:
    text = TRICKY.replace("Team", '"Équipe😀"').replace("\n", "\r\n")
    whole, chunked = whole_and_chunked(text, monkeypatch, 100)
    assert whole["diagnostics"] == [] and whole["facts"]
    assert chunked == whole


def test_the_lexer_token_by_token_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most text is cut by one regular expression; what it cannot match is lexed token by
    token. Forced through the second alone, the cuts are the same."""
    import re

    data = TRICKY.encode()
    conv = tf._Native("main.tf", data, LineIndex(TRICKY))
    monkeypatch.setattr(tf, "CHUNK_BYTES", 1)
    fast = tf._plan(conv)
    monkeypatch.setattr(tf._lexer(), "items", re.compile(b""))
    assert tf._plan(conv) == fast


def _blocks(n: int, start: int = 0) -> str:
    return "".join(
        f'resource "aws_s3_bucket" "b{i}" {{\n  tags = {{ Name = "b{i}" }}\n}}\n\n'
        for i in range(start, start + n)
    )


def test_a_syntax_error_in_a_middle_chunk_is_located(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        _blocks(40)
        + 'resource "aws_s3_bucket" "broken" {\n  bucket = = "x"\n}\n\n'
        + _blocks(40, 40)
    )
    whole, chunked = whole_and_chunked(text, monkeypatch, 500)
    (diag,) = chunked["diagnostics"]
    assert diag.code == "parse-error" and diag.span.start_line == 40 * 4 + 2  # `= =`
    assert chunked == whole
    names = {f[3]["name"] for f in chunked["facts"] if f[0] == "tf.resource"}
    assert len(names) == 80 and "broken" not in names  # the rest of the file is scanned


def test_errors_in_many_chunks_are_capped_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = "".join(f'resource "a" "r{i}" {{\n  x = [1,\n}}\n\n' for i in range(8))
    text = _blocks(10) + broken + _blocks(10, 10) + 'module "m" {\n  source = "./m"\n}\n'
    whole, chunked = whole_and_chunked(text, monkeypatch, 64)
    lines = [d.span.start_line for d in chunked["diagnostics"]]
    assert lines == [42, 46, 50, 54, 58]  # the first five, where the `[` is left open
    assert [d.span.start_line for d in whole["diagnostics"]] == lines
    modules = [f for f in chunked["facts"] if f[0] == "tf.module_call"]
    assert len(modules) == 1
    assert len([f for f in chunked["facts"] if f[0] == "tf.resource"]) == 20


def test_a_header_split_over_lines_in_a_later_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _blocks(20) + 'resource "aws_s3_bucket" "split"\n{\n  bucket = "x"\n}\n' + _blocks(5, 20)
    whole, chunked = whole_and_chunked(text, monkeypatch, 300)
    (diag,) = chunked["diagnostics"]
    assert diag.span.start_line == 81 and "must be on one line" in diag.message
    assert chunked == whole


def test_a_block_too_large_to_parse_at_once_is_parsed_in_pieces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A block larger than MAX_BLOCK_BYTES (a module call with thousands of inputs) is parsed
    a few of its items at a time: same facts, same blocks (for a caller that asks)."""
    monkeypatch.setattr(tf, "MAX_BLOCK_BYTES", 8192)
    inputs = "".join(
        f'  input_{i} = {{ a = [{i}, "{i}"], b = <<EOT\n{{ }}\nEOT\n  }}\n' for i in range(300)
    )
    providers = "".join(f'    p{i} = {{ source = "acme/p{i}" }}\n' for i in range(200))
    text = (
        _blocks(3)
        + 'module "big" {\n  source = "acme/big/aws"\n'
        + inputs
        + '  version = "1.2.3" # the last one counts\n  providers = { aws = aws.us }\n}\n\n'
        + "terraform {\n"
        + "".join(f"  # note {i}: {{ ]\n" for i in range(200))
        + f"  required_providers {{\n{providers}  }}\n"
        + '  required_version = ">= 1.0"\n  backend "s3" {}\n}\n'
        + _blocks(3, 3)
    )
    whole, chunked = whole_and_chunked(text, monkeypatch, 512)
    assert whole["diagnostics"] == []
    assert chunked == whole
    (module,) = [f for f in chunked["facts"] if f[0] == "tf.module_call"]
    assert module[3]["version"] == "1.2.3" and module[3]["providers"] == {"aws": "aws.us"}
    assert len([f for f in chunked["facts"] if f[0] == "tf.required_provider"]) == 200


def test_a_syntax_error_in_a_block_parsed_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tf, "MAX_BLOCK_BYTES", 2048)
    items = [f'  tags_{i} = {{ Name = "x{i}" }}\n' for i in range(200)]
    items[120] = "  broken = = 1\n"
    text = (
        _blocks(2) + 'resource "aws_s3_bucket" "big" {\n' + "".join(items) + "}\n" + _blocks(2, 2)
    )
    whole, chunked = whole_and_chunked(text, monkeypatch, 512)
    (diag,) = chunked["diagnostics"]
    assert diag.span.start_line == 8 + 1 + 120 + 1
    assert chunked["diagnostics"] == whole["diagnostics"]
    assert chunked["facts"] == whole["facts"]  # the broken block is not observed
    assert [b[4] for b in chunked["blocks"]] == [b[4] for b in whole["blocks"]]


def _too_large_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tf, "WHOLE_BYTES", 0)
    monkeypatch.setattr(tf, "CHUNK_BYTES", 256)
    monkeypatch.setattr(tf, "MAX_BLOCK_BYTES", 4096)


BIG_LIST = "[\n" + '    "item",\n' * 1000 + "  ]"


def test_a_construct_too_large_to_parse_is_a_located_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One expression larger than MAX_BLOCK_BYTES (a 5 MiB list literal) cannot be cut: it
    is reported where it begins, not parsed, and everything around it is scanned."""
    _too_large_setup(monkeypatch)
    text = (
        _blocks(3) + "# the list\n\nlocals {\n  a = 1\n  x = " + BIG_LIST + "\n}\n" + _blocks(3, 3)
    )
    doc = tf.parse_native("main.tf", text)
    (diag,) = doc.diagnostics
    assert (diag.code, diag.level) == ("too-large", Level.WARNING)
    assert diag.span == Span(17, 3, 17, 8)  # `x = [`
    assert "'x = ['" in diag.message and "not scanned" in diag.message
    assert "not judged" not in diag.message  # nothing reads locals
    names = [f.data["name"] for f in tf_facts.extract(doc) if f.kind == "tf.resource"]
    assert names == [f"b{i}" for i in range(6)]


def test_an_unread_attribute_too_large_leaves_the_block_judged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _too_large_setup(monkeypatch)
    text = 'resource "aws_x" "y" {\n  tags = { Team = "core" }\n  items = ' + BIG_LIST + "\n}\n"
    doc = tf.parse_native("main.tf", text)
    (diag,) = doc.diagnostics
    assert diag.code == "too-large" and diag.span.start_line == 3
    (fact,) = tf_facts.extract(doc)
    assert fact.data["tags"] == {"Team": "core"}
    assert fact.spans["tags"] == Span(2, 3, 2, 27)


def test_a_read_attribute_too_large_leaves_its_block_unjudged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tags that cannot be read must not be judged missing: the resource is not observed,
    and the diagnostic says so."""
    _too_large_setup(monkeypatch)
    text = (
        'resource "aws_x" "y" {\n  bucket = "b"\n  tags = '
        + BIG_LIST.replace("[", "{").replace("]", "}").replace('"item",', 'k = "v"')
        + "\n}\n"
        + _blocks(1)
    )
    doc = tf.parse_native("main.tf", text)
    (diag,) = doc.diagnostics
    assert diag.code == "too-large" and diag.span.start_line == 3
    assert 'the block \'resource "aws_x" "y" {\' is not judged either' in diag.message
    assert [f.data["name"] for f in tf_facts.extract(doc)] == ["b0"]


def test_a_top_level_construct_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    _too_large_setup(monkeypatch)
    text = _blocks(1) + "x = " + BIG_LIST + "\n" + _blocks(1, 1)
    doc = tf.parse_native("main.tf", text)
    (diag,) = doc.diagnostics
    assert diag.code == "too-large" and diag.span == Span(5, 1, 5, 6)
    assert [f.data["name"] for f in tf_facts.extract(doc)] == ["b0", "b1"]


def test_an_unclosed_bracket_does_not_make_the_rest_one_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A `[` left open runs to the end of the file: it is cut at block headers, as the
    recovery of a broken file is, rather than reported as one block too large."""
    monkeypatch.setattr(tf, "MAX_BLOCK_BYTES", 2048)
    text = 'resource "a" "broken" {\n  x = [1,\n}\n\n' + _blocks(100)
    whole, chunked = whole_and_chunked(text, monkeypatch, 512)
    assert [d.span.start_line for d in chunked["diagnostics"]] == [2]
    assert chunked["diagnostics"] == whole["diagnostics"]
    assert len([f for f in chunked["facts"] if f[0] == "tf.resource"]) == 100
    assert chunked["facts"] == whole["facts"]


def test_facts_hold_no_syntax_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """What makes freeing a chunk's tree possible: no fact refers to a tree-sitter node."""
    import gc

    import tree_sitter

    monkeypatch.setattr(tf, "WHOLE_BYTES", 0)
    monkeypatch.setattr(tf, "CHUNK_BYTES", 100)
    doc = tf.parse_native("main.tf", TRICKY)
    facts = tf_facts.extract(doc)
    doc.release()
    del doc
    gc.collect()
    assert facts
    assert not [o for o in gc.get_objects() if isinstance(o, (tree_sitter.Node, tree_sitter.Tree))]


def _hostile(path: Path) -> None:
    """Just under the 5 MiB cap: a list literal too large to parse, then thousands of
    blocks (resources with tags among them) that are chunked and observed."""
    from scanner.source import MAX_FILE_BYTES

    parts = ["locals {\n  x = [\n", '    "a1", "a2", "a3", "a4",\n' * 24_000, "  ]\n}\n\n"]
    size = sum(len(p) for p in parts)
    i = 0
    while size < MAX_FILE_BYTES - 1024:
        block = (
            f'resource "aws_s3_bucket" "b{i}" {{\n  tags = {{ Name = "b{i}", Team = "core" }}\n}}\n'
            if i % 8 == 0
            else f'variable "v{i}" {{\n  type    = string\n  default = "value-{i}"\n}}\n'
        )
        parts.append(block)
        size += len(block)
        i += 1
    path.write_text("".join(parts))


def test_a_file_at_the_size_cap_scans_in_bounded_memory(tmp_path: Path) -> None:
    """Parsed whole, such a file peaked over 1 GiB; a chunk at a time, the scan's peak RSS
    is a small multiple of a chunk, plus the facts."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _hostile(repo / "main.tf")
    # the peak of the scan alone: measured in a process that runs nothing else
    probe = textwrap.dedent(
        """
        import resource, subprocess, sys
        tether = "import sys; from scanner.cli import main; sys.argv[0] = 'tether'; main()"
        subprocess.run(
            [sys.executable, "-c", tether, "scan", sys.argv[1], "-j", "1", "-q",
             "--no-cache", "--format", "json", "-o", sys.argv[2]],
            check=False,
        )
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        """
    )
    out = tmp_path / "report.json"
    env = {**os.environ, "TETHER_NO_CACHE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", probe, str(repo), str(out)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    peak_mb = int(done.stdout.split()[-1]) / 1024  # ru_maxrss is in KiB on Linux
    assert peak_mb < 250, f"peak RSS {peak_mb:.0f} MB"
    report = json.loads(out.read_text())
    assert [d["code"] for d in report["diagnostics"]] == ["too-large"]
    assert report["facts"] > 1000  # the resources after the list, observed chunk by chunk


def test_extract_reads_only_what_reads_declares(monkeypatch: pytest.MonkeyPatch) -> None:
    """Of a block parsed in pieces only what READS names is kept: were `extract` to read
    anything else of a top-level block, a large block would be judged on missing data."""
    from tests.test_parse_terraform import FIXTURES

    top: dict[int, str] = {}
    alive: list[tf.Block] = []  # so that no id in `top` is reused
    wrong: list[tuple[str, str]] = []
    real_select = tf.TerraformDocument.blocks_of
    real_attr = tf.Block.attr
    real_blocks_of = tf.Block.blocks_of

    def blocks_of(self: tf.TerraformDocument, *types: str) -> list[tf.Block]:
        found = real_select(self, *types)
        top.update((id(b), b.type) for b in found)
        alive.extend(found)
        return found

    def attr(self: tf.Block, name: str) -> tf.Attribute | None:
        if id(self) in top and name not in tf_facts.READS[self.type][0]:
            wrong.append((self.type, name))
        return real_attr(self, name)

    def nested(self: tf.Block, type_: str) -> Any:
        if id(self) in top and type_ not in tf_facts.READS[self.type][1]:
            wrong.append((self.type, type_))
        return real_blocks_of(self, type_)

    def whole(name: str) -> Any:
        def read(self: tf.Block) -> Any:
            if id(self) in top:
                wrong.append((self.type, name))
            return getattr(tf.Block, f"_real_{name}").fget(self)

        return property(read)

    monkeypatch.setattr(tf.TerraformDocument, "blocks_of", blocks_of)
    monkeypatch.setattr(tf.Block, "attr", attr)
    monkeypatch.setattr(tf.Block, "blocks_of", nested)
    for name in ("attributes", "blocks"):
        monkeypatch.setattr(tf.Block, f"_real_{name}", getattr(tf.Block, name), raising=False)
        monkeypatch.setattr(tf.Block, name, whole(name))
    facts = []
    for text in (TRICKY, *FIXTURES.values()):
        facts += tf_facts.extract(tf.parse_native("main.tf", text))
    assert {f.kind for f in facts} >= {"tf.resource", "tf.module_call", "tf.provider"}
    assert set(top.values()) == set(tf_facts.READS)
    assert wrong == []


def test_linking_in_place_is_linking(monkeypatch: pytest.MonkeyPatch) -> None:
    """`in_place` (for a scan that owns its list of facts) changes where the linked facts
    go, not what they are."""
    text = TRICKY + 'resource "aws_s3_bucket" "us" {\n  provider = aws.us\n}\n'
    facts = tf_facts.extract(tf.parse_native("main.tf", text))
    copy = tf_facts.link_module_facts(facts)
    mine = list(facts)
    assert tf_facts.link_module_facts(mine, in_place=True) is mine
    assert mine == copy and mine != facts
    linked = [f for f in mine if f.kind == "tf.resource" and f.data["name"] == "us"]
    assert linked[0].data["default_tags"] == {"Owner": "platform"}


@pytest.mark.parametrize(
    "closing",
    ["} /* generated */", "}/*x*/ # and more", "} /* a\nb */", "} /* one */ /* two */ // three"],
)
def test_blocks_closed_with_a_block_comment_are_not_lost(
    closing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `/* */` comment after a block's closing brace (seen in generated files) used to keep
    the lexer from ending any item, so the whole file became one construct too large to
    parse: every block hidden behind a warning. Each closing style parses as the whole file
    does, and no stretch holding several blocks is ever reported too large."""
    _too_large_setup(monkeypatch)
    text = 'module "net" {\n  source = "git::https://example.com/net.git"\n' + closing + "\n"
    text += "".join(
        f'resource "aws_s3_bucket" "b{i}" {{\n  bucket = "b{i}"\n{closing}\n' for i in range(400)
    )
    doc = tf.parse_native("main.tf", text)
    assert [d for d in doc.diagnostics if d.code == "too-large"] == []
    facts = tf_facts.extract(doc)
    assert [f.data["name"] for f in facts if f.kind == "tf.module_call"] == ["net"]
    assert len([f for f in facts if f.kind == "tf.resource"]) == 400
    whole, chunked = whole_and_chunked(text, monkeypatch, chunk=256)
    assert chunked == whole


def test_a_stretch_the_lexer_cannot_part_is_cut_at_block_headers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever keeps the lexer from ending items, a too-large stretch that holds several
    blocks is cut again where blocks begin: only one block can ever be too large."""
    _too_large_setup(monkeypatch)
    # a closing brace followed by text the lexer does not take for the end of an item
    text = "".join(
        f'resource "aws_s3_bucket" "b{i}" {{\n  bucket = "b{i}"\n}} \\\n' for i in range(300)
    )
    doc = tf.parse_native("main.tf", text)
    assert not [d for d in doc.diagnostics if d.code == "too-large"]
