"""Issue 7, items 17 and 18: what the reports make of repository-controlled text and paths.

Item 17: the Markdown job summary renders paths, messages, justifications, owners and the
base ref as literal text (no link, image, HTML, heading, emphasis or table break), and one
huge message cannot shrink the other sections. Item 18: SARIF keeps every repo-relative
path (``a:b/main.tf`` too) and leaves out only findings outside the repository.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from scanner.config import RepoConfig
from scanner.model import Category, Diagnostic, Finding, Level, Report, Span
from scanner.prdiff import Diff
from scanner.report import jsonreport, markdown, sarif, text
from scanner.scanning import ScanOptions, scan
from tests.conftest import make_report as _report
from tests.conftest import validate_sarif

MakeRepo = Callable[[Mapping[str, str]], Path]

EVIL_PATH = "k8s/[x](https://evil.example)/<img src=x>.yaml"
EVIL_MESSAGE = (
    "Image ![i](https://evil/x.png) <script>alert(1)</script> see www.evil.example or "
    "<https://evil.example> or evil@evil.example, **bold** _em_ `code` ~~s~~ | broken cell\n"
    "# heading\n---\n> quote &lt;b&gt; [ref]: https://evil.example"
)


def _finding(
    path: str = "main.tf", message: str = "m", rule: str = "TF001", line: int = 1
) -> Finding:
    return Finding(
        rule_id=rule,
        category=Category.DRIFT,
        level=Level.ERROR,
        path=path,
        span=Span(line, 1, line, 2),
        message=message,
        target="t",
        fingerprint=f"fp-{path}-{line}-{len(message)}",
        fact_kind="tf.required_provider",
    )


def _excepted(f: Finding, justification: str, owner: str) -> Any:
    # the Markdown renderer reads only these fields of scanner.exceptions.Excepted
    record = SimpleNamespace(
        justification=justification,
        owner=owner,
        expires=None,
        origin="repo",
        file=".tether/exceptions.yaml",
        span=Span(1, 1, 1, 2),
        approved_by=None,
        ticket=None,
    )
    return SimpleNamespace(finding=f, record=record)


def _hostile_report() -> Report:
    f = _finding(EVIL_PATH, EVIL_MESSAGE)
    diff = Diff(
        base_ref="main](https://evil.example)<img src=x>",
        base_commit="0123456789abcdef",
        new=[f],
        fixed=[_finding("a.tf", EVIL_MESSAGE)],
        unchanged=[_finding("b.tf", EVIL_MESSAGE)],
    )
    return _report(
        findings=[f],
        diff=diff,
        excepted=[_excepted(_finding(EVIL_PATH, EVIL_MESSAGE), EVIL_MESSAGE, "@evil <b>x</b>")],
        diagnostics=[Diagnostic(EVIL_PATH, Span(2, 1, 2, 2), "parse-error", EVIL_MESSAGE)],
    )


def test_markdown_escapes_repository_text() -> None:
    md = markdown.render(_hostile_report())
    for bad in ("](", "<img", "<script", "<https", "https://", "www.evil", "<b>", "\n# heading"):
        assert bad not in md, bad
    assert "evil@evil" not in md  # email autolink broken
    # the text itself is all still there, escaped
    assert "\\[x\\]\\(https\\:\u200b\\/\\/evil\\.example\\)" in md
    assert "&lt;script&gt;" in md and "&amp;lt\\;b&amp;gt\\;" in md


def test_markdown_renders_as_text_only() -> None:
    markdown_it = pytest.importorskip("markdown_it")
    md = markdown.render(_hostile_report())
    html = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(md)
    for tag in (
        "<a ",
        "<img",
        "<script",
        "<em>",
        "<code>x",
        "<h1",
        "<h4",
        "<hr",
        "<blockquote",
        "<s>",
        "<del>",
    ):
        assert tag not in html, tag
    assert html.count("<strong>") == 1  # tether's own "**1 new**"
    assert len(re.findall(r"<h[23]>", html)) == 3  # tether's own headings only
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.DOTALL):
        assert row.count("<td") in (0, 4, 5), row  # no cell was split or merged by a '|'
    # what renders is the message itself, on one line (autolinks broken by a zero-width space)
    assert "![i](https:\u200b//evil/x.png) &lt;script&gt;alert(1)&lt;/script&gt;" in html


def _sections(md: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = ""
    for line in md.splitlines():
        if line.startswith("### ") or line.startswith("<summary>"):
            current = line
            out[current] = []
        elif current and (line.startswith("| ") or line.startswith("- ")):
            out[current].append(line)
    return out


def test_one_huge_message_does_not_shrink_the_other_sections() -> None:
    huge = _finding("huge.tf", "x" * 200_000 + " the end")
    many = [_finding(f"f{i}.tf", f"message {i}", line=i + 1) for i in range(60)]
    diff = Diff(
        base_ref="main", base_commit="0" * 40, new=[huge, *many], fixed=many, unchanged=many
    )
    report = _report(
        findings=[huge, *many],
        diff=diff,
        excepted=[_excepted(f, "a justification of several words", "team") for f in many],
        diagnostics=[
            Diagnostic(f"d{i}.yaml", Span(1, 1, 1, 2), "parse-error", "x") for i in range(60)
        ],
    )
    md = markdown.render(report)
    assert len(md.encode()) < markdown.MAX_BYTES
    sections = _sections(md)
    assert len(sections) == 5
    for title, rows in sections.items():
        body = [r for r in rows if not r.startswith("| ---") and "| rule |" not in r]
        assert len(body) == 51, title  # 50 rows and "… and N more"
        assert "more (see the SARIF or JSON report)" in body[-1]
    huge_row = next(line for line in md.splitlines() if "huge\\.tf" in line)
    assert len(huge_row) < 2 * markdown.MAX_CELL and "…" in huge_row


def test_every_section_stays_within_its_budget() -> None:
    # cells that escape to five bytes a character, in every section at once
    worst = "&" * 1000
    rows = [_finding("&" * 1000 + str(i), worst, line=i + 1) for i in range(50)]
    diff = Diff(base_ref=worst, base_commit="0" * 40, new=rows, fixed=rows, unchanged=rows)
    report = _report(
        findings=rows,
        diff=diff,
        excepted=[_excepted(f, worst, worst) for f in rows],
        diagnostics=[Diagnostic(worst, Span(1, 1, 1, 2), "parse-error", worst)] * 50,
    )
    md = markdown.render(report)
    assert len(md.encode()) < markdown.MAX_BYTES
    for rows_ in _sections(md).values():
        assert sum(len(r.encode()) + 1 for r in rows_) <= markdown.SECTION_BYTES + 4096


# ---------------------------------------------------------------------------
# SARIF paths (item 18)

BAD_PROVIDER = 'terraform {\n  required_providers {\n    x = { source = "someone/x" }\n  }\n}\n'


def test_sarif_keeps_a_top_level_directory_with_a_colon(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo({"a:b/main.tf": BAD_PROVIDER, "ok/main.tf": BAD_PROVIDER})
    report = scan(repo, ScanOptions(jobs=1), config=RepoConfig())
    assert {f.path for f in report.findings if f.rule_id == "TF001"} == {
        "a:b/main.tf",
        "ok/main.tf",
    }
    log = sarif.build(report)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
        if r["ruleId"] == "TF001"
    }
    assert uris == {"a%3Ab/main.tf", "ok/main.tf"}
    for uri in uris:
        # a relative reference: no scheme, resolves under the checkout, names the file
        assert urlsplit(uri).scheme == "" and not uri.startswith("/")
        assert urljoin("file:///checkout/", uri).startswith("file:///checkout/")
        assert (repo / unquote(uri)).is_file()
    out = tmp_path / "colon.sarif"
    sarif.write(log, out)
    validate_sarif(out)


def test_sarif_leaves_out_only_findings_outside_the_repository(make_repo: MakeRepo) -> None:
    repo = make_repo({"a:b/main.tf": BAD_PROVIDER})
    report = scan(repo, ScanOptions(jobs=1), config=RepoConfig())
    (f,) = [f for f in report.findings if f.rule_id == "TF001"]
    outside = [
        dataclasses.replace(f, path="policy/exceptions.yaml", external=True),
        dataclasses.replace(f, path="/etc/tether/exceptions.yaml"),
        dataclasses.replace(f, path="../central/exceptions.yaml"),
    ]
    report.findings = [f, *outside]
    report.diagnostics = [
        Diagnostic("/etc/tether/exceptions.yaml", Span(3, 1, 3, 2), "parse-error", "bad")
    ]
    log = sarif.build(report, include_excepted=True)
    run = log["runs"][0]
    assert [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    ] == ["a%3Ab/main.tf"]
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert "locations" not in note and "/etc/tether/exceptions.yaml:3" in note["message"]["text"]
    # the other reports still list them
    assert len(jsonreport.build(report)["findings"]) == 4
    assert text.render(report).count("TF001") == 4
    assert json.dumps(log)  # serialisable
