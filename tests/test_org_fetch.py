"""Extracting a repository tarball for the org scan: only what tether reads, never outside
the destination, links and oversized files reported, caps enforced."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from scanner.org.fetch import extract
from scanner.scanning import ScanOptions, scan
from scanner.source import MAX_FILE_BYTES

POD = (
    b"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
    b"    - name: c\n      image: evil.example/x:1\n"
)


def _tarball(members: list[tuple[str, bytes | None, str]]) -> io.BytesIO:
    """(name, data, type) with type file | dir | symlink:<target> | fifo, gzip'd."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind.startswith("symlink:"):
                info.type = tarfile.SYMTYPE
                info.linkname = kind.split(":", 1)[1]
                tar.addfile(info)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
                tar.addfile(info)
            else:
                info.size = len(data or b"")
                tar.addfile(info, io.BytesIO(data or b""))
    buf.seek(0)
    return buf


def test_only_wanted_files_inside_the_destination(tmp_path: Path) -> None:
    dest = tmp_path / "repo"
    dest.mkdir()
    outside = tmp_path / "outside.yaml"
    stream = _tarball(
        [
            ("acme-app-abc/", None, "dir"),
            ("acme-app-abc/k8s/pod.yaml", POD, "file"),
            ("acme-app-abc/src/main.py", b"print(1)\n", "file"),
            ("acme-app-abc/../outside.yaml", POD, "file"),
            ("/etc/passwd.yaml", POD, "file"),
            ("acme-app-abc/.git/config.yaml", POD, "file"),
            ("acme-app-abc/k8s/link.yaml", None, "symlink:/etc/passwd"),
            ("acme-app-abc/k8s/fifo.yaml", None, "fifo"),
            ("acme-app-abc/CODEOWNERS", b"* @acme/app\n", "file"),
        ]
    )
    got = extract(stream, dest)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        "CODEOWNERS",
        "k8s/pod.yaml",
    ]
    assert not outside.exists()
    unsafe = "unsafe path in the snapshot; not extracted"
    # every path left out for safety is reported, never silently dropped
    assert got.notes == [
        ("acme-app-abc/../outside.yaml", unsafe),
        ("/etc/passwd.yaml", unsafe),
        ("acme-app-abc/.git/config.yaml", unsafe),
    ]
    # links are recorded, never written here: complete() recreates what the commit holds
    assert got.links == {"k8s/link.yaml": "/etc/passwd"}
    report = scan(dest, ScanOptions())
    assert "K8S001" in [f.rule_id for f in report.findings]


def test_a_path_through_an_earlier_link_is_never_written(tmp_path: Path) -> None:
    dest = tmp_path / "repo"
    dest.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (dest / "k8s").symlink_to(tmp_path / "elsewhere")  # planted before extraction
    got = extract(_tarball([("a-b-c/k8s/pod.yaml", POD, "file")]), dest)
    assert not (tmp_path / "elsewhere" / "pod.yaml").exists()
    assert got.notes == [("k8s/pod.yaml", "path cannot be written safely; not scanned")]


def test_oversized_files_stay_visible_and_the_archive_is_capped(tmp_path: Path) -> None:
    dest = tmp_path / "repo"
    dest.mkdir()
    big = b"#" * (MAX_FILE_BYTES + 1)
    got = extract(_tarball([("a-b-c/k8s/big.yaml", big, "file")]), dest)
    assert (dest / "k8s/big.yaml").stat().st_size == MAX_FILE_BYTES + 1
    report = scan(dest, ScanOptions())
    assert [d.code for d in report.diagnostics] == ["too-large"]
    assert got.files == 1
    dest2 = tmp_path / "repo2"
    dest2.mkdir()
    many = [(f"a-b-c/k8s/p{i}.yaml", POD, "file") for i in range(10)]
    capped = extract(_tarball(many), dest2, max_archive=len(POD) * 3)
    assert capped.truncated and capped.files == 3


def _pax(path: str, size: int, data: bytes) -> io.BytesIO:
    """One PAX member whose path and size headers are written raw (NUL, absurd sizes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("top/x.yaml")
        info.size = len(data)
        placeholder = "Q" * len(path.encode())  # same length: the PAX record lengths hold
        info.pax_headers = {"path": placeholder, "size": str(size)}
        tar.addfile(info, io.BytesIO(data))
    return io.BytesIO(buf.getvalue().replace(placeholder.encode(), path.encode()))


def test_hostile_headers_do_not_break_extraction(tmp_path: Path) -> None:
    """A NUL in a PAX path is skipped; an absurd size ends the extraction at once (tarfile's
    stream mode would otherwise spend forever skipping past it)."""
    nul = tmp_path / "nul"
    nul.mkdir()
    got = extract(_pax("top/a\0b.yaml", 1, b"x"), nul)
    assert got.files == 0 and got.notes == [
        ("top/a?b.yaml", "unsafe path in the snapshot; not extracted")
    ]
    huge = tmp_path / "huge"
    huge.mkdir()
    out = extract(_pax("top/big.yaml", 1 << 62, b""), huge)
    assert out.refused and "claims 4611686018427387904 bytes" in out.refused
    assert out.files == 0 and not any(huge.iterdir())


def test_complete_refuses_what_it_cannot_check(tmp_path: Path) -> None:
    from scanner.github.client import TreeEntry
    from scanner.org.fetch import Extracted, Refused, complete

    dest = tmp_path / "t"
    dest.mkdir()
    with pytest.raises(Refused, match="truncated"):
        complete(dest, Extracted(), [], True, lambda sha, n: b"")
    many = [TreeEntry(f"k8s/{i}.yaml", "100644", "blob", f"{i:040x}", 10) for i in range(5)]
    asked: list[str] = []

    def blob(sha: str, limit: int) -> bytes:
        asked.append(sha)
        return b"kind: Pod\n"

    with pytest.raises(Refused, match="more than 3 files would have to be read"):
        complete(dest, Extracted(), many, False, blob, max_fetch=3)
    assert asked == []  # counted before the first request: a refusal costs nothing more
    # the same blob under many names is one read's worth of budget
    same = [TreeEntry(f"k8s/{i}.yaml", "100644", "blob", "a" * 40, 10) for i in range(5)]
    complete(dest, Extracted(), same, False, blob, max_fetch=3)
    assert asked == ["a" * 40]  # read once, copied to the other names
    assert all((dest / "k8s" / f"{i}.yaml").read_bytes() == b"kind: Pod\n" for i in range(5))


def test_an_archive_expanding_past_the_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scanner.org.fetch as fetch_mod

    monkeypatch.setattr(fetch_mod, "MAX_EXPANDED_BYTES", 1 << 20)
    blob = b"\0" * (600 << 10)
    stream = _tarball(
        [("top/", None, "dir"), *((f"top/bin{i}.dat", blob, "file") for i in range(3))]
    )
    got = extract(stream, tmp_path)
    assert got.refused and "expands to more than" in got.refused


def test_complete_rereads_a_file_the_archive_rewrote_at_the_same_size(tmp_path: Path) -> None:
    import hashlib

    from scanner.github.client import TreeEntry
    from scanner.org.fetch import Extracted, complete

    real = b"image: evil:latest\n"
    shown = b"image: good:1.2.3x\n"  # what an export-subst rewrite could leave, same size
    assert len(real) == len(shown)
    oid = hashlib.sha1(b"blob %d\0" % len(real) + real).hexdigest()
    dest = tmp_path / "t"
    (dest / "k8s").mkdir(parents=True)
    (dest / "k8s" / "a.yaml").write_bytes(shown)
    got = Extracted(sizes={"k8s/a.yaml": len(shown)})
    asked: list[str] = []

    def blob(sha: str, limit: int) -> bytes:
        asked.append(sha)
        return real

    complete(dest, got, [TreeEntry("k8s/a.yaml", "100644", "blob", oid, len(real))], False, blob)
    assert (dest / "k8s" / "a.yaml").read_bytes() == real and asked == [oid]
    assert got.restored == ["k8s/a.yaml"]
