"""The result cache (scanner/resultcache.py): a rescan of a repository whose inputs are all as
a scan before found them reports exactly what a scan without any cache reports, and any input
that changes (a file's bytes, a file a kustomization lists from outside the walk, the set of
files, ownership files, rules, baseline, date, excludes) is judged afresh. Exceptions are
applied on every scan, so recording one takes effect at once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner import resultcache
from scanner import scan as scan_fn
from scanner.cli import main
from scanner.factcache import DB_NAME
from scanner.model import (
    BaselineRef,
    Category,
    Diagnostic,
    Distance,
    Finding,
    FixEdit,
    Level,
    RuleTally,
    Span,
)
from scanner.report import jsonreport
from scanner.resultcache import Judged, load, quiet_since, save
from scanner.scanning import ScanOptions, embedded_rules_dir
from tests.test_fact_cache import MAIN_TF, WORKFLOW

EMBEDDED_RULES = embedded_rules_dir()

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deploy.yaml
  - extra.txt
images:
  - name: nginx
    newTag: "1.25"
"""

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx:latest
"""

# kustomize reads every file it lists as YAML, whatever its name: tether reads it during the
# scan (not before), so the result cache must notice when it changes
EXTRA = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: miner
  labels: {team: payments}
spec:
  template:
    spec:
      containers:
        - name: miner
          image: docker.io/library/busybox:latest
"""


@pytest.fixture(autouse=True)
def _results_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TETHER_NO_RESULT_CACHE", raising=False)


@pytest.fixture(autouse=True)
def _settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scan that starts within CLOCK_SLACK_NS of a file's last change is not kept (the file
    may have changed while it was read); these tests write files and scan at once."""
    monkeypatch.setattr(resultcache, "CLOCK_SLACK_NS", -1_000_000_000)


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    files = {
        "k8s/kustomization.yaml": KUSTOMIZATION,
        "k8s/deploy.yaml": DEPLOY,
        "k8s/extra.txt": EXTRA,
        "infra/main.tf": MAIN_TF,
        ".github/workflows/ci.yml": WORKFLOW,
        "CODEOWNERS": "* @acme/payments\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _report(root: Path, **options: Any) -> tuple[dict[str, Any], bool]:
    """The JSON report of a scan (timings aside) and whether the result cache answered."""
    rep = scan_fn(root, ScanOptions(**{"jobs": 1, **options}))
    doc = json.loads(json.dumps(jsonreport.build(rep), default=str))
    timings = doc.pop("timings")
    return doc, timings["reused"]


def _fresh(root: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> dict[str, Any]:
    """The same scan with no cache at all."""
    with monkeypatch.context() as m:
        m.setenv("TETHER_NO_CACHE", "1")
        doc, reused = _report(root, **options)
    assert not reused
    return doc


def test_a_rescan_is_answered_with_the_very_report_of_a_scan_without_cache(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    first, reused = _report(root)
    assert not reused
    second, reused = _report(root)
    assert reused
    assert second == first == _fresh(root, monkeypatch)
    # the file kustomize reads by listing was judged: its image is a finding
    assert any(f["path"] == "k8s/extra.txt" for f in second["findings"])


def test_the_cli_says_when_results_were_reused_and_writes_the_same_sarif(
    tmp_path: Path, cache_dir: Path
) -> None:
    root = _repo(tmp_path)
    outs = []
    for n in range(2):
        sarif = tmp_path / f"{n}.sarif"
        r = CliRunner().invoke(
            main, ["scan", "--root", str(root), "--sarif", str(sarif), "--timings", "-q"]
        )
        assert r.exit_code == 1, r.output
        outs.append((r.output, sarif.read_text()))
    assert "result cache" not in outs[0][0]
    assert "judged results from the result cache" in outs[1][0]
    assert outs[0][1] == outs[1][1]


def _edit(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


@pytest.mark.parametrize(
    "rel, text",
    [
        # a judged file's bytes
        ("k8s/deploy.yaml", DEPLOY.replace("nginx:latest", "quay.io/acme/redis:latest")),
        # a file only a kustomization's list brings in (read during the scan)
        ("k8s/extra.txt", EXTRA.replace("busybox:latest", "busybox:1.36")),
        # ownership, which the repository summary reads
        ("CODEOWNERS", "# nobody\n"),
        # a new file that is none of the parsers' business (presence rules see every path)
        ("SECURITY.md", "# security\n"),
    ],
)
def test_a_changed_input_is_judged_afresh(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, rel: str, text: str
) -> None:
    root = _repo(tmp_path)
    before, _ = _report(root)
    _report(root)
    _edit(root, rel, text)
    after, reused = _report(root)
    assert not reused
    assert after == _fresh(root, monkeypatch)
    assert after != before
    # and the new state is itself kept
    assert _report(root) == (after, True)


def test_a_removed_listed_file_is_judged_afresh(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    _report(root)
    (root / "k8s" / "extra.txt").unlink()
    # the walk never yielded it (not a name tether reads): only the entry's record says
    # it was read, and what it held
    after, reused = _report(root)
    assert not reused
    assert after == _fresh(root, monkeypatch)


def test_a_listed_file_outside_the_walk_is_checked_before_reuse(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kustomization may list a file the walk leaves out (an excluded directory): the scan
    reads it all the same, so a reuse must read it again and find it unchanged."""
    root = _repo(tmp_path)
    _edit(root, "vendor/base/deploy.yaml", EXTRA)
    _edit(
        root,
        "k8s/kustomization.yaml",
        KUSTOMIZATION.replace("  - extra.txt\n", "  - ../vendor/base/deploy.yaml\n"),
    )
    excluded = ["vendor/**"]
    first, _ = _report(root, excludes=excluded)
    assert any(f["path"] == "vendor/base/deploy.yaml" for f in first["findings"])
    assert _report(root, excludes=excluded) == (first, True)
    _edit(root, "vendor/base/deploy.yaml", EXTRA.replace("busybox:latest", "busybox:1.36"))
    after, reused = _report(root, excludes=excluded)
    assert not reused
    assert after == _fresh(root, monkeypatch, excludes=excluded) != first


def test_rules_baseline_date_and_excludes_are_part_of_the_key(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    _report(root)
    assert _report(root)[1]
    # another day: staging dates and expiries may judge differently
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    doc, reused = _report(root, today=tomorrow)
    assert not reused and doc == _fresh(root, monkeypatch, today=tomorrow)
    # a baseline layer
    layer = tmp_path / "layer.yaml"
    layer.write_text("extends: default\nkubernetes:\n  required_labels: [team, cost-center]\n")
    doc, reused = _report(root, baselines=[str(layer)])
    assert not reused and doc == _fresh(root, monkeypatch, baselines=[str(layer)])
    layer.write_text("extends: default\nkubernetes:\n  required_labels: [team]\n")
    doc, reused = _report(root, baselines=[str(layer)])
    assert not reused and doc == _fresh(root, monkeypatch, baselines=[str(layer)])
    # excludes
    doc, reused = _report(root, excludes=["infra/**"])
    assert not reused and doc == _fresh(root, monkeypatch, excludes=["infra/**"])


def test_a_changed_rule_file_is_judged_afresh(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    rules = tmp_path / "rules"
    rules.mkdir()
    # a policy repository's own rule: tether's GHA001 under another id
    text = (EMBEDDED_RULES / "github-actions" / "GHA001.yml").read_text()
    text = text.replace("id: GHA001", "id: ACME001").replace(
        "name: action-owner-approved", "name: acme-action-owner"
    )
    (rules / "ACME001.yml").write_text(text)
    doc, _ = _report(root, rule_dirs=[rules])
    assert _report(root, rule_dirs=[rules]) == (doc, True)
    # now no action passes it
    (rules / "ACME001.yml").write_text(re.sub(r"assert: >-\n(  .*\n)+", 'assert: "false"\n', text))
    after, reused = _report(root, rule_dirs=[rules])
    assert not reused and after == _fresh(root, monkeypatch, rule_dirs=[rules]) != doc


def test_exceptions_are_applied_on_every_scan(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    before, _ = _report(root)
    rule_id = next(f["rule_id"] for f in before["findings"] if f["path"] == "infra/main.tf")
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    _edit(
        root,
        ".tether/exceptions.yaml",
        f"- rule: {rule_id}\n"
        "  scope: {path: infra/main.tf}\n"
        "  justification: The vendor pins its own module until the migration in PLAT-77.\n"
        "  owner: team-payments\n"
        "  ticket: PLAT-77\n"
        f"  expires: {expires}\n",
    )
    after, _ = _report(root)
    assert after == _fresh(root, monkeypatch)
    assert not any(
        f["rule_id"] == rule_id and f["path"] == "infra/main.tf" for f in after["findings"]
    )


def test_walk_diagnostics_are_the_walks_own(tmp_path: Path, cache_dir: Path) -> None:
    """Two trees with the same readable files but a name the walk cannot decode in one of
    them are not the same scan."""
    a = tmp_path / "a"
    a.mkdir()
    with open(os.fsencode(a) + b"/x\xff.Dockerfile", "wb") as fh:
        fh.write(b"FROM node:22\n")
    b = tmp_path / "b"
    b.mkdir()
    for root, want in ((b, []), (a, [("x\\xff.Dockerfile", "unreadable")])):
        for _ in range(2):
            rep = scan_fn(root, ScanOptions(jobs=1))
            assert [(d.path, d.code) for d in rep.diagnostics] == want


def test_partial_scans_and_the_pull_request_gate_do_not_use_it(
    tmp_path: Path, cache_dir: Path
) -> None:
    root = _repo(tmp_path)
    for _ in range(2):
        r = CliRunner().invoke(
            main, ["scan", "--root", str(root), str(root / "k8s"), "--timings", "-q"]
        )
        assert r.exit_code == 1, r.output
        assert "result cache" not in r.output
    assert _judged_rows(cache_dir) == 0


def _judged_rows(cache_dir: Path) -> int:
    db = cache_dir / DB_NAME
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM judged").fetchone()[0])


def _entry(cache_dir: Path) -> tuple[Path, str, bytes]:
    """The database, and the one result entry's key and stored bytes."""
    db = cache_dir / DB_NAME
    with sqlite3.connect(db) as conn:
        key, value = conn.execute("SELECT key, value FROM judged").fetchone()
    return db, key, bytes(value)


def _a_miss_as_without_cache(root: Path, first: dict[str, Any], monkeypatch: Any) -> None:
    doc, reused = _report(root)
    assert not reused and doc == first == _fresh(root, monkeypatch)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_entry_is_a_miss(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    root = _repo(tmp_path)
    first, _ = _report(root)
    db, key, value = _entry(cache_dir)
    if damage == "flip":
        value = value[:-5] + bytes([value[-5] ^ 1]) + value[-4:]
    else:
        value = value[: len(value) // 2]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE judged SET value = ? WHERE key = ?", (value, key))
    _a_miss_as_without_cache(root, first, monkeypatch)


def test_judged_results_round_trip_every_field(tmp_path: Path, cache_dir: Path) -> None:
    from scanner.factcache import _Store

    finding = Finding(
        "TF001",
        Category.DRIFT,
        Level.WARNING,
        "a/main.tf",
        Span(1, 2, 3, 4),
        "msg",
        "module.x",
        "f" * 32,
        "tf.module_call",
        (BaselineRef("terraform.modules", "<embedded>/default.yml", 7, '"x"', "default"),),
        False,
        "git::x",
        True,
        Distance("3.14.0", "5.0.0", "major", 2, 700),
        FixEdit(Span(2, 3, 2, 9), "v4.2.0"),
    )
    # every field set away from its default: a field added later must be added to the codec
    defaults = {f.name: f.default for f in dataclasses.fields(Finding)}
    assert all(
        getattr(finding, k) != v for k, v in defaults.items() if v is not dataclasses.MISSING
    )
    judged = Judged(
        findings=[finding],
        rule_diags=[Diagnostic("a", Span(1, 1, 1, 2), "rule-error", "m", Level.ERROR)],
        tallies={"TF001": RuleTally(1, 2, 3, False)},
        diags=[Diagnostic("b", Span(2, 1, 2, 2), "parse-error", "n", Level.NOTE)],
        facts_count=5,
        files=6,
        bytes=7,
        kustomize_roots=("k",),
        kustomize_dirs=("k", "l"),
        inline=frozenset({"a/main.tf"}),
    )
    cache_dir.mkdir(mode=0o700)
    store = _Store(cache_dir / DB_NAME, "judged")
    save(store, "k" * 64, judged, str(tmp_path), [], {}, [], time.time_ns())
    assert load(store, "k" * 64, str(tmp_path)) == judged
    assert len(dataclasses.fields(Judged)) == 10


def test_a_scan_whose_files_change_under_it_is_not_kept(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key is made from the files as first read; a file rewritten before the scan reads
    it again would have its new bytes judged under the old bytes' key. The digests of what
    was parsed tell, with the change-time guard off (as on a file system with times to the
    second, where a same-second write keeps the time)."""
    from scanner import scanning

    root = _repo(tmp_path)
    real_collect = scanning.collect_judged

    def collect(*args: Any, **kwargs: Any) -> Any:
        _edit(root, "k8s/deploy.yaml", DEPLOY.replace("nginx:latest", "quay.io/x/y:latest"))
        return real_collect(*args, **kwargs)

    monkeypatch.setattr(scanning, "collect_judged", collect)
    _report(root)
    assert _judged_rows(cache_dir) == 0
    monkeypatch.setattr(scanning, "collect_judged", real_collect)
    doc, reused = _report(root)
    assert not reused and doc == _fresh(root, monkeypatch)
    assert _judged_rows(cache_dir) == 1


def test_quiet_since_sees_writes_removals_and_retargeted_links(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("x: 1\n")
    b.write_text("x: 2\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(a)
    time.sleep(0.1)
    started = time.time_ns()
    slack = resultcache.CLOCK_SLACK_NS
    paths = [str(a), str(link), str(tmp_path / "missing.yaml")]
    assert quiet_since(paths, started + slack)
    a.write_text("x: 3\n")
    assert not quiet_since([str(a)], started + slack)
    link.unlink()
    link.symlink_to(b)
    assert not quiet_since([str(link)], started + slack)
    b.unlink()
    assert not quiet_since([str(b)], started + slack)
    (tmp_path / "new.yaml").write_text("")  # the directory changed: an absent path may have
    assert not quiet_since([str(tmp_path / "missing.yaml")], started + slack)


def test_a_kustomization_reached_through_a_link_is_not_kept(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`k8s/kustomization.yaml` a link to an excluded `vendor/k8s/kustomization.yaml`: what it
    lists is located from the link's target, which the key does not follow."""
    root = tmp_path / "repo"
    _edit(root, "vendor/k8s/kustomization.yaml", "resources:\n  - app.txt\n")
    _edit(root, "vendor/k8s/app.txt", EXTRA)
    _edit(root, "k8s/app.txt", EXTRA)
    (root / "k8s" / "kustomization.yaml").symlink_to("../vendor/k8s/kustomization.yaml")
    _report(root, excludes=["vendor"])
    _edit(root, "vendor/k8s/app.txt", EXTRA.replace("busybox:latest", "busybox:1.36"))
    doc, reused = _report(root, excludes=["vendor"])
    assert not reused and doc == _fresh(root, monkeypatch, excludes=["vendor"])
    assert _judged_rows(cache_dir) == 0


@pytest.mark.parametrize("kind", ["fifo", "huge"])
def test_a_listed_fifo_or_huge_file_is_checked_as_the_scan_reads_it(
    tmp_path: Path, cache_dir: Path, kind: str
) -> None:
    """The check before a reuse reads listed files as the scan does: a FIFO is never opened
    (it would block), a file over the size cap never read."""
    root = tmp_path / "repo"
    _edit(root, "k/kustomization.yaml", "resources:\n  - big.bin\n")
    big = root / "k" / "big.bin"
    if kind == "fifo":
        os.mkfifo(big)
    else:
        with open(big, "wb") as fh:
            fh.truncate(6 * 1024 * 1024)  # sparse: over the cap, no disk used
    first, _ = _report(root)
    assert _report(root) == (first, True)


@pytest.mark.parametrize(
    "forgery", ["shape", "deep", "unknown-rule", "unknown-tally", "path", "span", "index"]
)
def test_a_forged_entry_is_a_miss_and_never_a_crash(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, forgery: str
) -> None:
    """Whole and signed (factcache._wrap), but not what tether writes."""
    from scanner.factcache import _Store, _unwrap

    root = _repo(tmp_path)
    first, _ = _report(root)
    db, key, raw = _entry(cache_dir)
    doc = json.loads(_unwrap(raw, key) or b"")
    if forgery == "shape":
        payload = json.dumps({"findings": [["x"]], "extras": []}).encode()
    elif forgery == "deep":
        payload = b"[" * 100_000 + b"]" * 100_000
    else:
        if forgery == "unknown-rule":  # (a finding's texts are indexes into `texts`)
            doc["findings"][0][0] = len(doc["texts"])
            doc["texts"].append("NOPE999")
        elif forgery == "unknown-tally":
            doc["tallies"]["NOPE999"] = [1, 0, 0, True]
        elif forgery == "path":
            doc["findings"][0][3] = len(doc["texts"])
            doc["texts"].append("../../../../etc/passwd")
        elif forgery == "span":
            doc["findings"][0][4] = [0, 0, -5, -5]
        else:  # a negative index would read the table from its end
            doc["findings"][0][5] = -1
        payload = json.dumps(doc).encode()
    store = _Store(db, "judged")
    store.add(key, payload)
    store.close()
    _a_miss_as_without_cache(root, first, monkeypatch)


def test_a_scan_cut_by_the_fact_limit_is_not_kept(tmp_path: Path, cache_dir: Path) -> None:
    """Where --max-facts cuts a scan depends on how parse workers shared the files."""
    root = _repo(tmp_path)
    _report(root, max_facts=2)
    assert _judged_rows(cache_dir) == 0


def test_an_entry_that_inflates_past_the_bound_is_no_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scanner import factcache

    monkeypatch.setattr(factcache, "MAX_PLAIN_BYTES", 1 << 20)
    small, big = b"x" * (1 << 19), b"\0" * (2 << 20)
    assert factcache._unwrap(factcache._wrap("k", small), "k") == small
    assert factcache._unwrap(factcache._wrap("k", big), "k") is None


def test_a_linked_kustomization_lists_files_beside_the_link(tmp_path: Path) -> None:
    """kustomize resolves a kustomization's list from the directory it builds, whatever file
    its kustomization.yaml links to: `k8s/kustomization.yaml` -> `../vendor/k8s/...` listing
    `app.txt` deploys `k8s/app.txt`, not `vendor/k8s/app.txt` (the suffix of the link's
    target once made tether take `vendor/` for the repository root)."""
    root = tmp_path / "repo"
    _edit(root, "vendor/k8s/kustomization.yaml", "resources:\n  - app.txt\n")
    _edit(root, "vendor/k8s/app.txt", EXTRA)
    _edit(root, "k8s/app.txt", EXTRA.replace("busybox:latest", "busybox:1.36"))
    (root / "k8s" / "kustomization.yaml").symlink_to("../vendor/k8s/kustomization.yaml")
    rep = scan_fn(root, ScanOptions(jobs=1, excludes=["vendor"], fact_cache=False))
    assert {f.path for f in rep.findings if f.rule_id.startswith("K8S")} == {"k8s/app.txt"}
    assert not any(f.rule_id == "K8S003" for f in rep.findings)


def test_reports_written_into_the_repository_are_not_scanned(
    tmp_path: Path, cache_dir: Path
) -> None:
    """A JSON report inside the repository changes on every run (its timings): scanned, it
    would be a new input each time and the rescan never reused."""
    root = _repo(tmp_path)
    runs = []
    for _ in range(3):
        r = CliRunner().invoke(
            main,
            ["scan", "--root", str(root), "--json", str(root / "tether.json"), "--timings", "-q"],
        )
        assert r.exit_code == 1, r.output
        runs.append(r.output)
    assert "judged results from the result cache" in runs[2]
    doc = json.loads((root / "tether.json").read_text())
    assert not any(f["path"] == "tether.json" for f in doc["findings"] + doc["diagnostics"])


def test_a_same_size_edit_with_its_time_put_back_is_judged_afresh(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key reads each file's inode, not its bytes: a same-size edit whose modification
    time is set back still moves the change time, which no program can set."""
    root = _repo(tmp_path)
    target = root / "k8s" / "deploy.yaml"
    before = os.stat(target)
    first, _ = _report(root)
    assert _report(root) == (first, True)
    time.sleep(0.05)
    same_size = DEPLOY.replace("name: web", "name: wex")
    assert len(same_size) == len(DEPLOY)
    target.write_text(same_size)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    after, reused = _report(root)
    assert not reused and after == _fresh(root, monkeypatch) != first


def test_inline_ignores_hold_on_a_reused_scan(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inline ignores are read afresh on every scan, from the files the entry says hold the
    keyword."""
    root = _repo(tmp_path)
    _edit(
        root,
        ".github/workflows/ci.yml",
        WORKFLOW.replace(
            "actions/checkout@v3",
            "actions/checkout@v3  # tether:ignore GHA003 the runner image pins it, PLAT-9 "
            f"(until {(dt.date.today() + dt.timedelta(days=30)).isoformat()})",
        ),
    )
    first, _ = _report(root)
    assert any(e["rule_id"] == "GHA003" for e in first["excepted"]), first["excepted"]
    assert _report(root) == (first, True)
    assert first == _fresh(root, monkeypatch)


def test_an_inline_ignore_in_a_file_the_key_does_not_hash_is_read_afresh(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repository-level findings sit on the summary's anchor (README.md), a file the walk does
    not yield: whether it holds an inline ignore is read on every scan, not kept."""
    root = _repo(tmp_path)
    (root / "CODEOWNERS").unlink()
    _edit(root, "README.md", "# payments service" + " " * 80 + "\n")
    first, _ = _report(root)
    assert any(f["rule_id"] == "REPO001" and f["path"] == "README.md" for f in first["findings"])
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    line = f"# tether:ignore REPO001 owners move to the catalog in PLAT-7 (until {until})"
    _edit(root, "README.md", line.ljust(len("# payments service") + 80) + "\n")
    after, _ = _report(root)
    assert after == _fresh(root, monkeypatch)
    assert any(e["rule_id"] == "REPO001" for e in after["excepted"])


def test_a_scan_parsed_by_workers_is_kept_and_reused(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digests of what each parse worker read come back to the parent: a scan parsed in
    two processes is kept like one parsed in one."""
    from scanner import parallel

    monkeypatch.setattr(parallel, "MIN_BYTES_PER_JOB", 1)
    root = _repo(tmp_path)
    for i in range(8):
        _edit(root, f"apps/a{i}/deploy.yaml", DEPLOY.replace("name: web", f"name: web{i}"))
    rep = scan_fn(root, ScanOptions(jobs=2))
    assert rep.timings.workers == 2 and not rep.timings.reused
    again = scan_fn(root, ScanOptions(jobs=2))
    assert again.timings.reused and again.findings == rep.findings
    assert json.loads(json.dumps(jsonreport.build(rep), default=str)) | {"timings": 0} == (
        _fresh(root, monkeypatch) | {"timings": 0}
    )
