"""Tests for scanner.report.fingerprint (port of codeql-action src/fingerprints.ts)."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scanner.report.fingerprint import LineHasher, decode_source, line_hashes

# --- Vectors from github/codeql-action src/fingerprints.test.ts ----------------------------

HELLO_LF_NO_EOL = [
    "8b7cf3e952e7aeb2:1",
    "b1ae1287ec4718d9:1",
    "bff680108adb0fcc:1",
    "c6805c5e1288b612:1",
    "b86d3392aea1be30:1",
    "e6ceba753e1a442:1",
]
HELLO_WITH_EOL = [
    "e9496ae3ebfced30:1",
    "fb7c023a8b9ccb3f:1",
    "ce8ba1a563dcdaca:1",
    "e20e36e16fcb0cc8:1",
    "b3edc88f2938467e:1",
    "c8e28b0b4002a3a0:1",
    "c129715d7a2bc9a3:1",
]
LOREM = [f"a7f2ff13bc495cf2:{i}" for i in range(1, 7)] + [
    "a7f2ff1481e87703:1",
    "a9cf91f7bbf1862b:1",
    "55ec222b86bcae53:1",
    "cc97dc7b1d7d8f7b:1",
    "c129715d7a2bc9a3:1",
]

UPSTREAM_VECTORS: list[tuple[str, list[str]]] = [
    ("", ["c129715d7a2bc9a3:1"]),
    (
        " a\nb\n  \t\tc\n d",
        ["271789c17abda88f:1", "54703d4cd895b18:1", "180aee12dab6264:1", "a23a3dc5e078b07b:1"],
    ),
    (" hello; \t\nworld!!!\n\n\n  \t\tGreetings\n End", HELLO_LF_NO_EOL),
    (" hello; \t\nworld!!!\n\n\n  \t\tGreetings\n End\n", HELLO_WITH_EOL),
    (" hello; \t\nworld!!!\r\r\r  \t\tGreetings\r End\r", HELLO_WITH_EOL),
    (" hello; \t\r\nworld!!!\r\n\r\n\r\n  \t\tGreetings\r\n End\r\n", HELLO_WITH_EOL),
    (" hello; \t\nworld!!!\r\n\n\r  \t\tGreetings\r End\r\n", HELLO_WITH_EOL),
    ("Lorem ipsum dolor sit amet.\n" * 10, LOREM),
]


def _upstream_line_count(text: str) -> int:
    # testHash() in fingerprints.test.ts: input.split(/\r\n|\r|\n/).length
    return len(re.split(r"\r\n|\r|\n", text))


@pytest.mark.parametrize(("text", "expected"), UPSTREAM_VECTORS)
def test_upstream_vectors(text: str, expected: list[str]) -> None:
    assert line_hashes(text) == expected
    assert len(expected) == _upstream_line_count(text)


# --- Literal port of the TypeScript state machine, used as an oracle ------------------------

_MASK = (1 << 64) - 1


def reference_line_hashes(text: str) -> list[str]:
    """Character-by-character transcription of ``hash()`` in src/fingerprints.ts."""
    block = 100
    first_mod = pow(37, block, 1 << 64)
    window = [0] * block
    line_numbers = [-1] * block
    state = {"hash": 0, "index": 0, "line": 0, "line_start": True, "prev_cr": False}
    counts: dict[str, int] = {}
    out: list[tuple[int, str]] = []

    def output_hash() -> None:
        value = format(state["hash"], "x")
        counts[value] = counts.get(value, 0) + 1
        out.append((line_numbers[state["index"]], f"{value}:{counts[value]}"))
        line_numbers[state["index"]] = -1

    def update_hash(current: int) -> None:
        index = state["index"]
        begin = window[index]
        window[index] = current
        state["hash"] = (37 * state["hash"] + current - first_mod * begin) & _MASK
        state["index"] = (index + 1) % block

    def process(current: int) -> None:
        if current in (0x20, 0x09) or (state["prev_cr"] and current == 0x0A):
            state["prev_cr"] = False
            return
        if current == 0x0D:
            current = 0x0A
            state["prev_cr"] = True
        else:
            state["prev_cr"] = False
        if line_numbers[state["index"]] != -1:
            output_hash()
        if state["line_start"]:
            state["line_start"] = False
            state["line"] += 1
            line_numbers[state["index"]] = state["line"]
        if current == 0x0A:
            state["line_start"] = True
        update_hash(current)

    data = text.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(data), 2):
        process(data[i] | data[i + 1] << 8)  # JS charCodeAt: UTF-16 code units
    process(65535)
    for _ in range(block):
        if line_numbers[state["index"]] != -1:
            output_hash()
        update_hash(0)

    assert [n for n, _ in out] == list(range(1, len(out) + 1))
    return [h for _, h in out]


@pytest.mark.parametrize(("text", "expected"), UPSTREAM_VECTORS)
def test_reference_port_matches_upstream_vectors(text: str, expected: list[str]) -> None:
    assert reference_line_hashes(text) == expected


_PIECES = [
    "a", "Z", "0", ";", "{", " ", "  ", "\t", "\r", "\n", "\r\n", "\n\r", "\r \n", "\r\t\n",
    "x" * 60, "y" * 99, "z" * 100, "w" * 101, " " * 120,
    "é", "€", "\u0a00", "\u4e00", "\u0a0a", "\ufeff", "\uffff", "\U0001f600", "\U00010000",
    "\ud800",  # lone surrogate (possible in a JS string / surrogatepass text)
    "resource \"aws_s3_bucket\" \"b\" {\n", "  bucket = \"x\"\n", "}\n",
]  # fmt: skip


def _random_text(rng: random.Random, max_pieces: int) -> str:
    return "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, max_pieces)))


def test_matches_reference_port_on_random_inputs() -> None:
    rng = random.Random(20240501)
    for _ in range(400):
        text = _random_text(rng, 60)
        assert line_hashes(text) == reference_line_hashes(text), repr(text)


def test_matches_reference_port_on_larger_inputs() -> None:
    rng = random.Random(7)
    for _ in range(5):
        text = _random_text(rng, 3000)
        assert line_hashes(text) == reference_line_hashes(text)


@pytest.mark.parametrize(
    "text",
    [
        "x" * 5000,  # one long line: only the first 100 units matter
        "x" * 5000 + "\n" + "y" * 5000 + "\n",
        "\n" * 300,
        " \t \t\n" * 150,
        "\r" * 150 + "\n" * 150,
        "\U0001f600" * 120 + "\na",  # surrogate pairs are two units each
        "\u0a00\u4e00\n" * 80,  # UTF-16 bytes contain a misaligned 0a 00 pair
    ],
)
def test_matches_reference_port_edge_cases(text: str) -> None:
    assert line_hashes(text) == reference_line_hashes(text)


@pytest.mark.parametrize(("group", "dense_below"), [(1, 0), (3, 0), (3, 10**9), (64, 6), (2048, 6)])
def test_sparse_and_dense_paths_agree(
    monkeypatch: pytest.MonkeyPatch, group: int, dense_below: int
) -> None:
    import scanner.report.fingerprint as fp

    monkeypatch.setattr(fp, "_GROUP", group)
    monkeypatch.setattr(fp, "_DENSE_UNITS_PER_LINE", dense_below)
    rng = random.Random(group * 31 + dense_below % 97)
    for _ in range(40):
        text = _random_text(rng, 120)
        assert line_hashes(text) == reference_line_hashes(text), repr(text)


def test_many_lines_mixed_density() -> None:
    # > 2048 lines so several groups are used: very short lines (dense path), ordinary
    # lines, and lines far longer than the window (sparse path skipping their tails).
    rng = random.Random(5)
    lines: list[str] = []
    for region in range(6):
        for _ in range(900):
            if region % 3 == 0:
                lines.append(rng.choice(["", "}", "a", " ", "ab"]))
            elif region % 3 == 1:
                lines.append("  key: value_" + str(rng.randint(0, 50)))
            else:
                lines.append("q" * rng.randint(90, 400))
    text = "\n".join(lines) + "\n"
    assert line_hashes(text) == reference_line_hashes(text)


# --- Properties --------------------------------------------------------------------------------


def test_one_hash_per_line_like_upstream_split() -> None:
    rng = random.Random(3)
    for _ in range(200):
        text = _random_text(rng, 40)
        assert len(line_hashes(text)) == _upstream_line_count(text), repr(text)


def test_newline_styles_are_equivalent() -> None:
    lf = 'provider "aws" {\n  region = "eu-west-1"\n}\n\nresource "x" "y" {}\n'
    expected = line_hashes(lf)
    assert line_hashes(lf.replace("\n", "\r\n")) == expected
    assert line_hashes(lf.replace("\n", "\r")) == expected


def test_space_between_cr_and_lf_makes_two_breaks() -> None:
    # The TypeScript resets its "previous was CR" flag on a skipped space.
    assert len(line_hashes("a\r \nb")) == 3
    assert line_hashes("a\r \nb") == line_hashes("a\n\nb")


def test_spaces_and_tabs_are_ignored() -> None:
    assert line_hashes("a b\tc\n  d") == line_hashes("abc\nd")


def test_hash_depends_only_on_next_100_units() -> None:
    head = "k" * 150
    one = line_hashes(head + "\nfoo")
    two = line_hashes(head + "\nbar")
    assert one[0] == two[0]
    assert one[1] != two[1]


def test_format_is_lowercase_hex_without_leading_zeros() -> None:
    pattern = re.compile(r"^(0|[1-9a-f][0-9a-f]{0,15}):[1-9][0-9]*$")
    rng = random.Random(11)
    hashes = line_hashes(_random_text(rng, 2000))
    assert all(pattern.match(h) for h in hashes)
    assert any(len(h.split(":")[0]) < 16 for h in HELLO_LF_NO_EOL)  # e.g. e6ceba753e1a442


def test_duplicate_counter_counts_earlier_equal_hashes() -> None:
    hashes = line_hashes("same\n" * 40)
    # Lines 1..20 see the same 100-unit window ("same\n" x 20).
    assert hashes[:20] == [f"{hashes[0].split(':')[0]}:{i}" for i in range(1, 21)]
    assert hashes[-1] == "c129715d7a2bc9a3:1"  # empty last line: EOF then zeros


# --- LineHasher ---------------------------------------------------------------------------


def test_line_hasher_hash_for() -> None:
    text, expected = UPSTREAM_VECTORS[3]
    hasher = LineHasher()
    for line, value in enumerate(expected, start=1):
        assert hasher.hash_for(text, line) == value
    assert list(hasher.hashes(text)) == expected
    assert hasher.get(text, 0) is None
    assert hasher.get(text, len(expected) + 1) is None
    assert hasher.get(text, 2) == expected[1]
    with pytest.raises(IndexError):
        hasher.hash_for(text, 0)
    with pytest.raises(IndexError):
        hasher.hash_for(text, len(expected) + 1)


def test_line_hasher_computes_each_file_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import scanner.report.fingerprint as fp

    calls: list[str] = []
    real = fp.line_hashes

    def counting(text: str) -> list[str]:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(fp, "line_hashes", counting)
    hasher = LineHasher(max_files=2)
    a = "a\nb\nc\n"
    b = "".join(["x\n", "y\n"])  # built at runtime: a distinct object from any literal
    for line in (1, 2, 3, 4):
        hasher.hash_for(a, line)
    hasher.hash_for(b, 1)
    hasher.hash_for("".join(["a\n", "b\nc\n"]), 2)  # equal content, different object
    hasher.hash_for(b, 2)
    assert calls == [a, b]

    hasher.hash_for("third\n", 1)  # evicts least recently used (a)
    hasher.hash_for(a, 1)
    assert calls == [a, b, "third\n", a]

    hasher.clear()
    hasher.hash_for(b, 1)
    assert calls == [a, b, "third\n", a, b]


def test_line_hasher_rejects_bad_size() -> None:
    with pytest.raises(ValueError):
        LineHasher(max_files=0)


# --- Decoding ------------------------------------------------------------------------------


def test_decode_source_matches_node_conventions() -> None:
    assert decode_source(b"\xef\xbb\xbfA") == "\ufeffA"  # BOM kept (and hashed)
    assert decode_source(b"\xc0\x80") == "\ufffd\ufffd"
    assert decode_source(b"\xf0\x9f\x98A") == "\ufffdA"
    assert line_hashes(decode_source(b"\xef\xbb\xbfA")) != line_hashes("A")


# --- Optional cross-check against Node.js reading real files like codeql-action does ----------

_NODE_ORACLE = r"""
const fs = require("fs");
// Same algorithm as src/fingerprints.ts hash(); Long replaced by BigInt mod 2^64.
async function hash(filepath) {
  const B = 100, M = (1n << 64n) - 1n, firstMod = (37n ** 100n) & M;
  const win = Array(B).fill(0), lineNumbers = Array(B).fill(-1), counts = {}, out = [];
  let h = 0n, index = 0, lineNumber = 0, lineStart = true, prevCR = false;
  const outputHash = () => {
    const v = h.toString(16);
    counts[v] = (counts[v] || 0) + 1;
    out.push([lineNumbers[index], `${v}:${counts[v]}`]);
    lineNumbers[index] = -1;
  };
  const updateHash = (c) => {
    const begin = win[index];
    win[index] = c;
    h = (37n * h + BigInt(c) - firstMod * BigInt(begin)) & M;
    index = (index + 1) % B;
  };
  const processCharacter = (c) => {
    if (c === 32 || c === 9 || (prevCR && c === 10)) { prevCR = false; return; }
    if (c === 13) { c = 10; prevCR = true; } else { prevCR = false; }
    if (lineNumbers[index] !== -1) outputHash();
    if (lineStart) { lineStart = false; lineNumber++; lineNumbers[index] = lineNumber; }
    if (c === 10) lineStart = true;
    updateHash(c);
  };
  for await (const data of fs.createReadStream(filepath, { encoding: "utf8", highWaterMark: 7 }))
    for (let i = 0; i < data.length; ++i) processCharacter(data.charCodeAt(i));
  processCharacter(65535);
  for (let i = 0; i < B; i++) { if (lineNumbers[index] !== -1) outputHash(); updateHash(0); }
  return out.map(([, v]) => v);
}
(async () => {
  const res = [];
  for (const f of process.argv.slice(2)) res.push(await hash(f));
  process.stdout.write(JSON.stringify(res));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_matches_node_on_raw_files(tmp_path: Path) -> None:
    rng = random.Random(99)
    blobs: list[bytes] = [text.encode() for text, _ in UPSTREAM_VECTORS]
    blobs += [_random_text(rng, 80).encode("utf-8", "surrogatepass") for _ in range(25)]
    blobs += [
        b"\xef\xbb\xbfbom\r\nline\n",
        b"bad \xc0\x80 utf8\n\xed\xa0\x80\n\xf0\x9f\x98A\n\xe2\x82",
        b"tail\xf0\x9f\x98",
        "\U0001f600\u00e9\u20ac\n".encode() * 40,
    ]
    paths = []
    for i, blob in enumerate(blobs):
        path = tmp_path / f"f{i}.txt"
        path.write_bytes(blob)
        paths.append(str(path))
    script = tmp_path / "oracle.js"
    script.write_text(_NODE_ORACLE)
    proc = subprocess.run(
        ["node", str(script), *paths], capture_output=True, text=True, timeout=120, check=True
    )
    node_results = json.loads(proc.stdout)
    for blob, expected in zip(blobs, node_results, strict=True):
        assert line_hashes(decode_source(blob)) == expected, blob
