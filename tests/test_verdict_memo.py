"""The verdict memo (resultcache.VerdictMemo): a scan that the result cache cannot answer (a
file changed) takes each rule's verdict, and each failure's texts, from earlier scans when the
rule, the baseline values and parameters it reads and the fact values it reads are the same,
and reports exactly what a scan without any cache reports."""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import pytest

from scanner import resultcache
from scanner.factcache import DB_NAME, _wrap
from scanner.policy import engine
from scanner.policy.rules import MessageTemplate
from tests.test_result_cache import DEPLOY, _edit, _fresh, _repo, _report


@pytest.fixture(autouse=True)
def _results_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TETHER_NO_RESULT_CACHE", raising=False)
    # a scan that starts right after a file changed is not kept by the result cache (see
    # test_result_cache._settled); these tests write files and scan at once
    monkeypatch.setattr(resultcache, "CLOCK_SLACK_NS", -1_000_000_000)


@pytest.fixture
def evaluations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The rule ids of every CEL evaluation of a verdict, and of every failure's texts
    rendered, in the scans a test runs."""
    seen: list[str] = []
    evaluate, render = engine._Judge._evaluate, MessageTemplate.render

    def counted(self: Any, ctx: Any) -> Any:
        seen.append(self.rule.id)
        return evaluate(self, ctx)

    def rendered(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append("texts")
        return render(self, *args, **kwargs)

    monkeypatch.setattr(engine._Judge, "_evaluate", counted)
    monkeypatch.setattr(MessageTemplate, "render", rendered)
    return seen


def _rows(cache_dir: Path) -> list[tuple[str, bytes]]:
    with sqlite3.connect(cache_dir / DB_NAME) as conn:
        return list(conn.execute("SELECT key, value FROM verdicts"))


def test_a_rescan_after_an_edit_judges_only_what_is_new(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, evaluations: list[str]
) -> None:
    root = _repo(tmp_path)
    _report(root)
    assert evaluations and "texts" in evaluations
    assert _rows(cache_dir)
    # a comment: the file is new to the result cache, its facts are not new to any rule
    evaluations.clear()
    _edit(root, "k8s/deploy.yaml", DEPLOY + "# reviewed\n")
    doc, reused = _report(root)
    assert not reused
    assert evaluations == []
    assert doc == _fresh(root, monkeypatch)
    # a new image: the rules that read it judge it (and it fails: :latest)
    evaluations.clear()
    _edit(root, "k8s/deploy.yaml", DEPLOY.replace("nginx:latest", "quay.io/acme/web:latest"))
    doc, reused = _report(root)
    assert not reused
    assert evaluations and "texts" in evaluations
    assert doc == _fresh(root, monkeypatch)
    assert any("quay.io/acme/web" in f["message"] for f in doc["findings"])


def test_a_baseline_value_a_rule_reads_is_part_of_the_key(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    layer = tmp_path / "layer.yaml"
    layer.write_text("extends: default\nkubernetes:\n  required_labels: [team]\n")
    before, _ = _report(root, baselines=[str(layer)])
    # the same facts, another required label: judged again, not taken from the memo
    layer.write_text("extends: default\nkubernetes:\n  required_labels: [team, cost-center]\n")
    _edit(root, "k8s/deploy.yaml", DEPLOY + "# reviewed\n")
    after, reused = _report(root, baselines=[str(layer)])
    assert not reused
    assert after == _fresh(root, monkeypatch, baselines=[str(layer)])
    assert after["findings"] != before["findings"]
    assert any("cost-center" in f["message"] for f in after["findings"])


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b"[1, 0, 2]",  # a verdict of the wrong types
        b'["a message"]',  # texts missing their baseline keys
        b"{}",
        b"[" * 10_000 + b"]" * 10_000,  # deeper than json decodes
        b"\xff\xfe",
    ],
)
def test_a_forged_or_damaged_value_is_a_miss(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, value: bytes
) -> None:
    root = _repo(tmp_path)
    _report(root)
    rows = _rows(cache_dir)
    with sqlite3.connect(cache_dir / DB_NAME) as conn:
        conn.executemany(
            "UPDATE verdicts SET value = ? WHERE key = ?", [(_wrap(k, value), k) for k, _ in rows]
        )
        # and one torn in the middle of its compressed payload
        k, v = rows[0]
        conn.execute("UPDATE verdicts SET value = ? WHERE key = ?", (v[: len(v) - 3], k))
    _edit(root, "k8s/deploy.yaml", DEPLOY + "# reviewed\n")
    doc, reused = _report(root)
    assert not reused
    assert doc == _fresh(root, monkeypatch)


def test_values_are_kept_as_written(tmp_path: Path, cache_dir: Path) -> None:
    root = _repo(tmp_path)
    _report(root)
    rows = _rows(cache_dir)
    assert len({k for k, _ in rows}) == len(rows)
    shapes = set()
    for _, value in rows:
        payload = value[len(b"TETHERF1") + 64 + 32 :]
        got = json.loads(zlib.decompress(payload))
        shapes.add("verdict" if engine._stored_verdict(got) else "texts")
    assert shapes == {"verdict", "texts"}


def test_off_with_the_result_cache(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TETHER_NO_RESULT_CACHE", "1")
    _report(_repo(tmp_path))
    assert (cache_dir / DB_NAME).is_file()  # the fact cache was used
    assert _rows(cache_dir) == []


def test_a_value_too_deep_to_spell_is_judged_afresh() -> None:
    """A key the memo cannot spell (repr recurses deeper than Python allows) is no memo key:
    the fact is judged without the memo rather than the scan failing."""
    from types import SimpleNamespace

    deep: Any = "v"
    for _ in range(5000):
        deep = ("[", (deep,))
    judge = SimpleNamespace(_ident=b"x")
    assert engine._Judge._stored_key(judge, "verdict", (deep,)) is None  # type: ignore[arg-type]
    assert engine._Judge._stored_key(judge, "verdict", ("a",)) is not None  # type: ignore[arg-type]
    assert engine._Judge._stored_key(judge, "verdict", None) is None  # type: ignore[arg-type]
