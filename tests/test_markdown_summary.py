"""Issue 10, "Output: right where it lands": the Markdown job summary as GitHub renders it.

Rendered with a CommonMark parser and GitHub's table extension (markdown-it-py), not
string-matched: ``<sha>`` in a message shows as text, a verdict line says passed/failed, at
which fail level and why, the 50-row cap keeps errors and says how many of each level it
folded, locations link to the file at the commit when the Action knows it, a legend explains
the icons, and hostile repository text injects no HTML (links included).
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from markdown_it import MarkdownIt

from scanner import action
from scanner.model import Category, Diagnostic, Finding, Level, Span
from scanner.prdiff import Diff
from scanner.report import markdown

from .conftest import make_report as _report
from .conftest import write_tree

SHA = "0123456789abcdef0123456789abcdef01234567"
BASE = "fedcba9876543210fedcba9876543210fedcba98"
LINKS = markdown.links("https://github.com", "acme/shop", SHA)
BLOB = f"https://github.com/acme/shop/blob/{SHA}"

HOSTILE_PATH = 'k8s/[x](javascript:alert(1))/<img src=x onerror="y">#L9 (a).yaml'
HOSTILE_MESSAGE = (
    '<script>alert(1)</script> <a href="https://evil.example">click</a> '
    "[link](https://evil.example) ![i](https://evil/x.png) <https://evil.example> "
    "&lt;b&gt; **bold** `code` | cell"
)


def _html(md: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(md)


def _finding(
    path: str = "main.tf",
    message: str = "m",
    level: Level = Level.ERROR,
    line: int = 1,
    rule: str = "TF001",
    **extra: Any,
) -> Finding:
    return Finding(
        rule_id=rule,
        category=Category.DRIFT,
        level=level,
        path=path,
        span=Span(line, 1, line, 2),
        message=message,
        target="t",
        fingerprint=f"fp-{path}-{line}-{rule}",
        fact_kind="tf.required_provider",
        **extra,
    )


def _text(html: str) -> str:
    """The visible text: tags dropped, entities decoded as a browser would."""
    import html as html_lib

    return html_lib.unescape(re.sub(r"<[^>]+>", "", html))


def test_placeholders_in_messages_show_as_text() -> None:
    f = _finding(
        ".github/workflows/ci.yml",
        "actions/checkout@v4 is not pinned: use <sha> (a 40-hex commit), not <release tag> & co",
    )
    html = _html(markdown.render(_report(findings=[f])))
    assert "use &lt;sha&gt; (a 40-hex commit), not &lt;release tag&gt; &amp; co" in html
    assert "<sha>" not in html and "<release tag>" not in html  # no element was made of them
    assert "actions/checkout@v4" in html  # copyable as written
    assert "use <sha> (a 40-hex commit), not <release tag> & co" in _text(html)


def _verdict(html: str) -> str:
    return next(p for p in re.findall(r"<p>(.*?)</p>", html) if p.startswith(("❌", "✅")))


def test_verdict_says_passed_or_failed_at_which_level_and_why() -> None:
    err, warn, note = (
        _finding("a.tf", level=Level.ERROR),
        _finding("b.tf", level=Level.WARNING),
        _finding("c.tf", level=Level.NOTE),
    )
    failed = _html(markdown.render(_report(findings=[err, warn, note])))
    assert "<h2>tether: golden-path check, ❌ failed</h2>" in failed
    assert _verdict(failed) == (
        "❌ Failed at fail level error (error findings fail the run): 1 finding (🔴 1 error)."
    )
    passed = _html(markdown.render(_report(findings=[warn, note])))
    assert "✅ passed</h2>" in passed
    assert _verdict(passed) == (
        "✅ Passed at fail level error (error findings fail the run): no findings at error "
        "(2 findings below it)."
    )
    at_warning = _html(markdown.render(_report(findings=[warn, note], fail_on="warning")))
    assert _verdict(at_warning).startswith(
        "❌ Failed at fail level warning (warning or higher findings fail the run): "
        "1 finding (🟠 1 warning)"
    )
    never = _html(markdown.render(_report(findings=[err], fail_on="never")))
    assert _verdict(never).startswith("✅ Passed at fail level never")
    staged = _finding("d.tf", enforced=False)
    only_staged = _html(markdown.render(_report(findings=[staged])))
    assert "1 finding of staged rules not yet enforced" in _verdict(only_staged)
    assert _verdict(only_staged).startswith("✅ Passed")
    # a warning-level diagnostic fails only a strict run (the Action's default)
    diag = Diagnostic("x.yaml", Span(1, 1, 1, 2), "parse-error", "bad")
    report = _report(diagnostics=[diag])
    assert _verdict(_html(markdown.render(report))).startswith("✅ Passed")
    strict = _verdict(_html(markdown.render(report, strict=True)))
    assert strict.startswith("❌ Failed") and "1 file tether could not fully read" in strict


def test_verdict_in_pr_mode_counts_only_what_the_change_adds() -> None:
    old = _finding("old.tf", level=Level.ERROR)
    diff = Diff(base_ref="main", base_commit=BASE, new=[], fixed=[], unchanged=[old])
    html = _html(markdown.render(_report(findings=[old], diff=diff)))
    assert _verdict(html) == (
        "✅ Passed at fail level error (error findings fail the run): no new findings."
    )
    new = _finding("new.tf", level=Level.ERROR)
    diff = Diff(base_ref="main", base_commit=BASE, new=[new], fixed=[], unchanged=[old])
    html = _html(markdown.render(_report(findings=[old, new], diff=diff)))
    assert _verdict(html).startswith("❌ Failed at fail level error") and "1 new finding" in html


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("fail_on", ["error", "warning", "note", "never"])
def test_markdown_and_console_verdicts_are_the_gates_decision(fail_on: str, strict: bool) -> None:
    """One decision (scanner.gate.decide) behind the exit status, the Markdown verdict and
    the console's PASS/FAIL line: the three cannot disagree."""
    from scanner.gate import decide, failing
    from scanner.report import text

    warn_diag = Diagnostic("x.yaml", Span(1, 1, 1, 2), "parse-error", "bad")
    reports = [
        _report(findings=[_finding("a.tf", level=lv)], fail_on=fail_on)
        for lv in (Level.ERROR, Level.WARNING, Level.NOTE)
    ] + [
        _report(diagnostics=[warn_diag], fail_on=fail_on),
        _report(findings=[_finding("d.tf", enforced=False)], fail_on=fail_on),
        _report(
            findings=[_finding("old.tf")],
            fail_on=fail_on,
            diff=Diff("main", BASE, new=[], fixed=[], unchanged=[_finding("old.tf")]),
        ),
    ]
    for report in reports:
        failed, line = markdown.verdict(report, strict)
        console = text.verdict_line(decide(report, fail_on, strict))
        assert failed is failing(report, fail_on, strict)
        assert line.startswith("❌" if failed else "✅")
        assert console.startswith("FAIL: " if failed else "PASS: ")


def test_cap_shows_errors_first_and_counts_what_it_folded_by_level() -> None:
    # in path order (as the scan reports them) the two errors come after 121 warnings
    warnings = [_finding(f"a{i:03}.tf", f"w{i}", Level.WARNING) for i in range(121)]
    notes = [_finding(f"n{i}.tf", f"n{i}", Level.NOTE) for i in range(3)]
    errors = [_finding("z1.tf", "e1"), _finding("z2.tf", "e2")]
    report = _report(findings=[*warnings, *notes, *errors])
    html = _html(markdown.render(report))
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", html, re.S)
    shown = [r for r in rows if r[0]]
    assert len(shown) == 50
    assert [r[2] for r in shown[:2]] == ["z1.tf:1", "z2.tf:1"]  # errors first, then by path
    assert [r[2] for r in shown[2:5]] == ["a000.tf:1", "a001.tf:1", "a002.tf:1"]
    folded = html[html.index("… and 76 more") :].split("</td>")[0]
    assert "🟠 73 warning, 🔵 3 note" in folded and "error" not in folded
    # diagnostics are capped the same way
    diags = [Diagnostic(f"d{i:02}.yaml", Span(1, 1, 1, 2), "parse-error", "x") for i in range(60)]
    diags.append(Diagnostic("zz.yaml", Span(1, 1, 1, 2), "unreadable", "x", Level.ERROR))
    md = markdown.render(_report(diagnostics=diags))
    items = re.findall(r"<li>(.*?)</li>", _html(md))
    assert items[0].startswith("🔴 zz.yaml:1 unreadable") and len(items) == 51
    assert "… and 11 more (see the SARIF or JSON report): 🟠 11 warning" in items[-1]


def test_legend_explains_the_icons() -> None:
    html = _html(markdown.render(_report(findings=[_finding()])))
    assert "<p>Levels: 🔴 error · 🟠 warning · 🔵 note.</p>" in html


def test_locations_link_to_the_file_at_the_commit() -> None:
    new = _finding("deploy/app.yaml", line=12)
    fixed = _finding("gone.tf", line=3)
    outside = _finding("/etc/policy/exceptions.yaml", line=4, external=True)
    diff = Diff(base_ref="main", base_commit=BASE, new=[new, outside], fixed=[fixed], unchanged=[])
    html = _html(markdown.render(_report(findings=[new, outside], diff=diff), links=LINKS))
    assert f'<a href="{BLOB}/deploy/app.yaml#L12">deploy/app.yaml:12</a>' in html
    # a fixed finding is gone from the scanned commit: it links to where it was
    base_blob = f"https://github.com/acme/shop/blob/{BASE}/gone.tf#L3"
    assert f'<a href="{base_blob}">gone.tf:3</a>' in html
    assert "/etc/policy/exceptions.yaml:4" in html and "exceptions.yaml#L4" not in html
    # without links (the CLI, or the Action without GITHUB_* values) locations are plain text
    plain = _html(markdown.render(_report(findings=[new], diff=diff)))
    assert "<a " not in plain and "deploy/app.yaml:12" in plain


def test_links_are_built_only_from_well_formed_parts() -> None:
    assert markdown.links("https://github.com/", "acme/shop", SHA) == LINKS
    ghes = markdown.links("https://ghe.example.com", "acme/shop", SHA, "sub/dir")
    assert ghes is not None and ghes.url("a b.tf", 2) == (
        f"https://ghe.example.com/acme/shop/blob/{SHA}/sub/dir/a%20b.tf#L2"
    )
    for server, repo, sha in [
        (None, "acme/shop", SHA),
        ("https://github.com", None, SHA),
        ("https://github.com", "acme/shop", None),
        ("https://github.com", "acme/shop", "main"),
        ("javascript:alert(1)//", "acme/shop", SHA),
        ("https://github.com) [x](y", "acme/shop", SHA),
        ("https://github.com", "acme/shop/../../evil", SHA),
    ]:
        assert markdown.links(server, repo, sha) is None, (server, repo, sha)
    assert markdown.links("https://github.com", "acme/shop", SHA, "../x") is None
    assert LINKS is not None
    assert LINKS.url("../../evil/x.tf", 1) is None
    assert LINKS.url("/abs.tf", 1) is None


def test_hostile_values_inject_no_html_even_with_links() -> None:
    f = _finding(HOSTILE_PATH, HOSTILE_MESSAGE, line=7)
    record = SimpleNamespace(
        justification=HOSTILE_MESSAGE, owner='<b onmouseover="x">', expires=None
    )
    diag = Diagnostic(HOSTILE_PATH, Span(2, 1, 2, 2), "<i>code</i>", HOSTILE_MESSAGE)
    diff = Diff(
        base_ref='main"><img src=x>',
        base_commit=BASE,
        new=[f],
        fixed=[_finding(HOSTILE_PATH, HOSTILE_MESSAGE)],
        unchanged=[_finding("b.tf", HOSTILE_MESSAGE)],
        new_diagnostics=[diag],
    )
    report = _report(
        findings=[f],
        diff=diff,
        diagnostics=[diag],
        excepted=[SimpleNamespace(finding=f, record=record)],
    )
    html = _html(markdown.render(report, title="<b>t</b>", links=LINKS))
    for tag in ("<script", "<img", "<b>", "<b ", "<i>", "<em>", "<strong>bold", "<code>code"):
        assert tag not in html, tag
    hrefs = re.findall(r'<a href="([^"]*)"', html)
    assert hrefs and all(h.startswith("https://github.com/acme/shop/blob/") for h in hrefs)
    # the hostile path is one percent-encoded segment chain: nothing of it ends the link early
    quoted = "k8s/%5Bx%5D%28javascript%3Aalert%281%29%29/%3Cimg%20src%3Dx%20onerror%3D%22y%22%3E"
    assert f"{BLOB}/{quoted}%23L9%20%28a%29.yaml#L7" in hrefs
    links_text = re.findall(r"<a [^>]*>(.*?)</a>", html)
    assert all("<" not in t for t in links_text)  # link text is text, no nested link or tag
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        assert row.count("<td") in (0, 4, 5), row  # no '|' split a cell
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_action_passes_server_repository_and_commit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = 'terraform {\n  required_providers {\n    x = { source = "someone/x" }\n  }\n}\n'
    ws = write_tree(tmp_path / "ws", {"infra/main.tf": bad})
    summary = tmp_path / "summary.md"
    env = {
        "GITHUB_WORKSPACE": str(ws),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_SHA": SHA,
        "TETHER_SARIF_FILE": str(tmp_path / "tether.sarif"),
    }
    code = action.run(env)
    capsys.readouterr()
    html = _html(summary.read_text())
    assert f'<a href="{BLOB}/infra/main.tf#L' in html
    assert ("❌ failed</h2>" in html) == (code == 1)
    # no commit known: plain text
    summary.write_text("")
    action.run({**env, "GITHUB_SHA": ""})
    capsys.readouterr()
    assert "<a " not in _html(summary.read_text())
