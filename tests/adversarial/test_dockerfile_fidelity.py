"""A Dockerfile is read as BuildKit reads it, or a pull request can add an image BuildKit
pulls that tether never judges (DOCKER001, on `docker.from` facts).

Each case was a difference between tether's reading and BuildKit's (moby/buildkit
frontend/dockerfile: parser/parser.go, parser/directives.go, parser/split_command.go,
parser/line_parsers.go, shell/lex.go, instructions/parse.go, dockerfile2llb/convert.go,
builder/build.go): the `# syntax=` frontend image, parser directives after an unknown one,
line continuations (trailing NBSP or vertical tab, a doubled escape, a word split over two
lines), heredocs that are not heredocs, ARG defaults that use earlier ARGs, quoting and
escapes in `FROM`, quoted builder flags, `--mount` CSV quoting and ONBUILD triggers. Each test
scans a fixture through `scan()` and asserts the finding on the attacker's image, at its line.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scanner.config import RepoConfig
from scanner.model import Finding, Report
from scanner.scanning import ScanOptions, scan

from ..conftest import write_tree

TODAY = dt.date(2026, 11, 25)
EVIL = "docker.io/attacker/x"


def _scan(root: Path, dockerfile: str) -> Report:
    write_tree(root, {"Dockerfile": dockerfile})
    return scan(root, ScanOptions(today=TODAY), config=RepoConfig())


def _docker(report: Report, rule: str = "DOCKER001") -> list[Finding]:
    return [f for f in report.findings if f.rule_id == rule and f.path == "Dockerfile"]


def _at(report: Report, rule: str = "DOCKER001") -> set[tuple[int, int]]:
    return {(f.span.start_line, f.span.start_col) for f in _docker(report, rule)}


# ---------------------------------------------------------------------------------------------
# 1. `# syntax=`: BuildKit pulls and runs that image as the build's frontend


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("# syntax=docker.io/attacker/frontend:1\nFROM alpine:3.20\n", (1, 10)),
        # names are case-insensitive, spaces around `=` are allowed, args follow the image
        ("#SYNTAX = docker.io/attacker/frontend:1 --flag\nFROM alpine:3.20\n", (1, 11)),
        # `# check=` is a directive too (not an image): `# syntax=` after it still counts
        ("# check=skip=all\n# syntax=docker.io/attacker/frontend:1\nFROM alpine:3.20\n", (2, 10)),
        # the frontend is chosen before parsing: a shebang line is skipped, `//` works too
        ("#!/usr/bin/env buildctl\n# syntax=docker.io/attacker/frontend:1\nFROM alpine\n", (2, 10)),
        ("// syntax=docker.io/attacker/frontend:1\nFROM alpine:3.20\n", (1, 11)),
        ('{"syntax": "docker.io/attacker/frontend:1"}\n', (1, 13)),
    ],
)
def test_syntax_directive_frontend_is_judged(
    tmp_path: Path, text: str, at: tuple[int, int]
) -> None:
    report = _scan(tmp_path, text)
    (f,) = _docker(report)
    assert (f.span.start_line, f.span.start_col) == at
    assert "docker.io/attacker/frontend" in f.message
    assert "frontend" in f.message.lower().split("docker.io")[0]


def test_syntax_frontend_not_judged_by_version_minimums(tmp_path: Path) -> None:
    """DOCKER002 (golden base versions) is about what ships; the frontend does not ship."""
    report = _scan(tmp_path, "# syntax=node:18\nFROM python:3.13\nFROM node:18\n")
    assert _at(report, "DOCKER002") == {(3, 6)}
    assert _at(report) == set()  # docker.io/library/* is approved: the frontend passes


def test_syntax_directive_after_other_lines_is_a_comment(tmp_path: Path) -> None:
    report = _scan(tmp_path, "\n# syntax=docker.io/attacker/frontend:1\nFROM alpine:3.20\n")
    assert _at(report) == set()


# ---------------------------------------------------------------------------------------------
# 2. Parser directives: only at the top, only known ones, each once


@pytest.mark.parametrize(
    "head",
    [
        "# foo=bar\n# escape=`\n",  # an unknown directive ends the directives
        "# syntax=\n# escape=`\n",  # so does one without a value
        "# escape_x=1\n# escape=`\n",  # names are letters and digits only
        "# a comment\n# escape=`\n",
        "\n# escape=`\n",
    ],
)
def test_escape_directive_after_the_directives_is_a_comment(tmp_path: Path, head: str) -> None:
    text = head + "FROM alpine:3.20\nRUN echo `\nFROM docker.io/attacker/x:1\n"
    report = _scan(tmp_path, text)
    assert _at(report) == {(text.count("\n"), 6)}


def test_escape_directive_is_case_insensitive(tmp_path: Path) -> None:
    text = (
        "# ESCAPE = `\nFROM alpine:3.20 `\n  AS base\nRUN dir c:\\\nFROM docker.io/attacker/x:1\n"
    )
    report = _scan(tmp_path, text)
    assert _at(report) == {(5, 6)}


# ---------------------------------------------------------------------------------------------
# 3. Line continuations: the escape followed only by spaces and tabs, not after an escape


@pytest.mark.parametrize(
    "run",
    [
        "RUN echo \\\u00a0",  # NBSP after the backslash: not a continuation
        "RUN echo \\\v",  # nor a vertical tab
        "RUN echo \\\f",
        "RUN echo \\\\",  # an escaped backslash
    ],
)
def test_not_a_continuation(tmp_path: Path, run: str) -> None:
    report = _scan(tmp_path, f"FROM alpine:3.20\n{run}\nFROM {EVIL}:1\n")
    assert _at(report) == {(3, 6)}


def test_continuation_joins_without_a_space(tmp_path: Path) -> None:
    """BuildKit joins continuation lines as they are: `docker\\` + `.io/attacker/x:1` is one
    word (tether read `docker`, an approved Docker Hub library image)."""
    report = _scan(tmp_path, "FROM docker\\\n.io/attacker/x:1\n")
    (f,) = _docker(report)
    assert "docker.io/attacker/x" in f.message
    assert (f.span.start_line, f.span.start_col, f.span.end_line) == (1, 6, 2)


def test_continuation_with_trailing_tabs_and_spaces(tmp_path: Path) -> None:
    report = _scan(tmp_path, "FROM alpine:3.20 \\ \t\n  AS base\nFROM docker.io/attacker/x:1\n")
    assert _at(report) == {(3, 6)}


# ---------------------------------------------------------------------------------------------
# 4. Heredocs: only a word that starts with `<<` (after an fd number) on RUN, COPY, ADD


@pytest.mark.parametrize(
    "run",
    [
        "RUN echo x<<CMD",  # not at the start of a word
        'RUN echo "<<CMD"',  # quoted
        "RUN echo '<<CMD'",
        'RUN ["sh", "-c", "cat <<CMD"]',  # JSON form
        "ENV A=<<CMD",  # not RUN, COPY or ADD
        "RUN cat <<- CMD",  # `<<-` then a space: a lone `<<-` word
    ],
)
def test_not_a_heredoc(tmp_path: Path, run: str) -> None:
    # `CMD` alone is a valid instruction for BuildKit: the file builds
    report = _scan(tmp_path, f"FROM alpine:3.20\n{run}\nFROM {EVIL}:1\nCMD\n")
    assert _at(report) == {(3, 6)}


def test_heredocs_that_are_heredocs(tmp_path: Path) -> None:
    """`<< EOF` (a space after `<<`), `2<<EOF`, ONBUILD RUN <<EOF: bodies are not
    instructions, and what follows the terminator is."""
    text = (
        "FROM alpine:3.20\n"
        "RUN cat << EOF\nFROM not/an-instruction:1\nEOF\n"
        "RUN cat 2<<EOF\nFROM not/an-instruction:2\nEOF\n"
        "ONBUILD RUN <<EOF\nFROM not/an-instruction:3\nEOF\n"
        f"FROM {EVIL}:1\n"
    )
    report = _scan(tmp_path, text)
    assert _at(report) == {(11, 6)}


# ---------------------------------------------------------------------------------------------
# 5. ARG defaults that use earlier ARGs; undeclared variables are empty


@pytest.mark.parametrize(
    ("args", "image"),
    [
        ("ARG REG=docker.io/attacker\nARG BASE=${REG}/x:1\n", "${BASE}"),
        ("ARG REG=docker.io/attacker\nARG BASE=$REG/x:1\n", "$BASE"),
        ("ARG REG\nARG BASE=${REG:-docker.io/attacker}/x:1\n", "${BASE}"),
        ("ARG R=1\nARG BASE=docker.io/${R:+attacker}/x:1\n", "${BASE}"),
        ('ARG REG="docker.io/attacker" TAG=1\nARG BASE=$REG/x:$TAG\n', "$BASE"),
        ("ARG BASE=docker.io/approved/x:1\n", "${BASE/approved/attacker}"),
        ("ARG BASE=docker.io/attacker/x:1-approved\n", "${BASE%-approved}"),
        ("", "docker.io/attacker/x:1${UNDECLARED}"),  # BuildKit: empty, not a build argument
    ],
)
def test_arg_defaults_are_expanded_as_buildkit_does(tmp_path: Path, args: str, image: str) -> None:
    text = f"{args}FROM {image}\n"
    report = _scan(tmp_path, text)
    (f,) = _docker(report)
    assert (f.span.start_line, f.span.start_col) == (text.count("\n"), 6)
    assert "docker.io/attacker/x" in f.message


def test_genuinely_unresolved_arguments_stay_unresolved(tmp_path: Path) -> None:
    text = "ARG REG\nARG BASE=${REG}/x:1\nFROM ${BASE}\nFROM $REG/y:1\nFROM x:${TARGETARCH}\n"
    report = _scan(tmp_path, text)
    assert _docker(report) == []


# ---------------------------------------------------------------------------------------------
# 6. Quotes and escapes in FROM (and in builder flags)


@pytest.mark.parametrize(
    "line",
    [
        'FROM "docker.io/attacker/x:1"',
        "FROM 'docker.io/attacker/x:1' AS a",
        "FROM docker.io/attacker/x\\:1",
        'FROM docker.io/"attacker"/x:1',
        'FROM --platform="linux/amd64" docker.io/attacker/x:1',
    ],
)
def test_quotes_and_escapes_in_from(tmp_path: Path, line: str) -> None:
    report = _scan(tmp_path, f"FROM alpine:3.20\n{line}\n")
    (f,) = _docker(report)
    assert f.span.start_line == 2
    assert "docker.io/attacker/x is not an approved" in f.message


@pytest.mark.parametrize(
    ("line", "col"),
    [
        # a quoted flag value with a space used to end the flags before --from
        ('COPY --chown="a b" --from=docker.io/attacker/x:1 /a /b', 27),
        ('COPY --from=docker.io/"attacker"/x:1 /a /b', 13),
        # --mount values are CSV: a quoted field is a field
        ('RUN --mount=type=bind,"from=docker.io/attacker/x:1",target=/x true', 29),
        # the last from= of a mount is the one BuildKit uses
        ("RUN --mount=type=bind,from=alpine:3,from=docker.io/attacker/x:1,target=/x true", 42),
    ],
)
def test_builder_flags_read_as_buildkit_does(tmp_path: Path, line: str, col: int) -> None:
    report = _scan(tmp_path, f"FROM alpine:3.20\n{line}\n")
    assert _at(report) == {(2, col)}


# ---------------------------------------------------------------------------------------------
# ONBUILD triggers run in every build FROM this image (and in this file's later stages)


def test_onbuild_copy_from_and_mount_from_are_judged(tmp_path: Path) -> None:
    text = (
        "FROM alpine:3.20 AS base\n"
        "ONBUILD COPY --from=docker.io/attacker/x:1 /a /b\n"
        "ONBUILD RUN --mount=type=bind,from=docker.io/attacker/y:1,target=/y true\n"
        "ONBUİLD COPY --from=docker.io/attacker/z:1 /a /b\n"  # Go lower-cases İ to i
        "ONBUILD COPY --from=base /a /b\n"
    )
    report = _scan(tmp_path, text)
    got = {(f.span.start_line, f.span.start_col): f.message for f in _docker(report)}
    assert set(got) == {(2, 21), (3, 36), (4, 21)}
    assert "ONBUILD COPY --from" in got[(2, 21)]
    assert "ONBUILD RUN --mount" in got[(3, 36)]
