"""Dockerfiles: every FROM read exactly (stages, platforms, ARG substitution, continuations,
parser directives, heredocs) with the exact span of the image reference."""

from __future__ import annotations

import textwrap

import pytest

from scanner.facts.dockerfile import extract
from scanner.model import Fact, Level, Span
from scanner.parsers.dockerfile import DockerfileDocument, LexError, expand, parse, substitute


def df(text: str) -> DockerfileDocument:
    return parse("Dockerfile", textwrap.dedent(text).lstrip("\n"))


def froms(text: str) -> list[Fact]:
    return extract(df(text))


def test_multi_stage_build() -> None:
    fs = froms(
        """
        FROM --platform=$BUILDPLATFORM golang:1.22-alpine AS build
        RUN go build -o /app
        FROM build AS test
        FROM gcr.io/distroless/static:nonroot
        COPY --from=build /app /app
        """
    )
    assert [f.target for f in fs] == ["stage[build]", "stage[test]", "stage[2]"]
    build, test, final = fs
    assert build.data["platform"] == "$BUILDPLATFORM"
    assert (build.data["repository"], build.data["tag"]) == ("library/golang", "1.22-alpine")
    assert build.span == Span(1, 32, 1, 50)  # exactly `golang:1.22-alpine`
    assert build.spans["image"] == build.span
    assert (test.data["stage_ref"], test.data["image_valid"]) == (True, False)
    assert (final.data["final_stage"], build.data["final_stage"]) == (True, False)
    assert final.data["name"] == "gcr.io/distroless/static"
    assert final.span == Span(4, 6, 4, 38)


def test_stage_references_are_case_insensitive_and_only_backwards() -> None:
    fs = froms("FROM alpine AS Base\nFROM base\nFROM later\nFROM alpine AS later\n")
    assert [f.data["stage_ref"] for f in fs] == [False, True, False, False]


def test_scratch() -> None:
    (f,) = froms("FROM scratch\n")
    assert (f.data["scratch"], f.data["image_valid"]) == (True, False)


@pytest.mark.parametrize(
    ("text", "image", "unresolved"),
    [
        ("ARG V=3.19\nFROM alpine:${V}\n", "alpine:3.19", False),
        ("ARG V=3.19\nFROM alpine:$V\n", "alpine:3.19", False),
        ('ARG REG="ghcr.io" TAG=1\nFROM $REG/acme/app:$TAG\n', "ghcr.io/acme/app:1", False),
        ("ARG V\nFROM alpine:${V:-3.18}\n", "alpine:3.18", False),
        ("FROM alpine:${V:-3.18}\n", "alpine:3.18", False),
        ("ARG V=\nFROM alpine:${V:-3.18}\n", "alpine:3.18", False),  # empty counts as unset
        ("ARG V=\nFROM alpine${V-:3.17}\n", "alpine", False),  # `-`: only unset takes the default
        ("ARG V=x\nFROM alpine:3${V:+.19}\n", "alpine:3.19", False),
        ("ARG V\nFROM alpine:${V}\n", "alpine:${V}", True),  # declared without a default
        # a variable that is not a build argument is empty, as in BuildKit
        ("FROM alpine:3$UNDECLARED\n", "alpine:3", False),
        # an ARG after the first FROM belongs to that stage, not to later FROM lines
        ("FROM alpine\nARG V=1\nFROM busybox:1$V\n", "busybox:1", False),
        # platform arguments are set by the builder: not known here
        ("FROM alpine:${TARGETARCH}\n", "alpine:${TARGETARCH}", True),
        ("ARG TARGETARCH\nFROM alpine:${TARGETARCH:-x}\n", "alpine:${TARGETARCH:-x}", True),
        ("FROM alpine${TARGETOS:+:3}\n", "alpine:3", False),  # never empty
        ("ARG TARGETARCH=arm64\nFROM alpine:$TARGETARCH\n", "alpine:arm64", False),
        # defaults use the arguments before them; `ARG V` keeps an earlier default
        ("ARG A=3 B=${A}.19\nARG B\nFROM alpine:$B\n", "alpine:3.19", False),
        ("ARG A\nARG B=${A}\nFROM alpine:${B:-3}\n", "alpine:${B:-3}", True),
        # quotes and escapes are removed
        ("FROM 'alpine':\"3.19\"\n", "alpine:3.19", False),
        ("FROM alpine\\:3.19\n", "alpine:3.19", False),
        ("ARG V='3.19'\nFROM \"alpine:$V\"\n", "alpine:3.19", False),
        ("ARG V=3.19\nFROM 'alpine:$V'\n", "alpine:$V", False),  # single quotes: literal
    ],
)
def test_arg_substitution(text: str, image: str, unresolved: bool) -> None:
    f = froms(text)[-1]
    assert (f.data["image"], f.data["unresolved"]) == (image, unresolved)


def test_unresolved_image_keeps_raw_and_is_templated() -> None:
    (f,) = froms("ARG BASE\nFROM ${BASE}\n")
    assert f.data["image_raw"] == "${BASE}"
    assert (f.data["unresolved"], f.data["templated"], f.data["image_valid"]) == (True, True, False)


def test_substitute_function() -> None:
    assert substitute("${A}-${B:-b}-$C", {"A": "a", "C": None}) == ("a-b-$C", True)


def test_line_continuations_comments_and_blank_lines() -> None:
    doc = df(
        """
        FROM \\
          # a comment inside the continuation
          alpine:3.19 \\

          AS base
        RUN apk add \\
              curl
        """
    )
    (f,) = doc.froms
    assert (f.image, f.alias) == ("alpine:3.19", "base")
    assert f.image_span == Span(3, 3, 3, 14)  # on its own continuation line
    assert f.span == Span(1, 1, 5, 10)
    run = doc.instructions[1]
    # BuildKit joins the pieces as written (no space is added, none is taken away)
    assert (run.keyword, run.args, run.span) == ("RUN", "apk add       curl", Span(6, 1, 7, 11))


def test_escape_directive_after_syntax_directive() -> None:
    doc = df(
        """
        # syntax=docker/dockerfile:1
        # escape=`
        FROM mcr.microsoft.com/windows/servercore:ltsc2022 `
          AS win
        RUN dir c:\\
        """
    )
    (f,) = doc.froms
    assert (f.image, f.alias) == ("mcr.microsoft.com/windows/servercore:ltsc2022", "win")
    assert doc.instructions[1].args == "dir c:\\"  # a backslash is no longer a continuation


def test_directive_only_at_the_top() -> None:
    doc = df("FROM alpine\n# escape=`\nRUN a \\\n  b\n")
    assert doc.instructions[1].args == "a   b"


def test_heredoc_bodies_are_not_instructions() -> None:
    doc = df(
        """
        FROM alpine AS base
        COPY <<EOF /etc/app/Dockerfile
        FROM evil:latest
        EOF
        RUN <<-SCRIPT bash
        \tFROM also-not-an-instruction
        \tSCRIPT
        RUN echo "<<NOT a heredoc"
        FROM base
        """
    )
    assert [f.image for f in doc.froms] == ["alpine", "base"]
    assert [i.keyword for i in doc.instructions] == ["FROM", "COPY", "RUN", "RUN", "FROM"]
    assert doc.instructions[1].span == Span(2, 1, 4, 4)


def test_lowercase_crlf_and_indentation() -> None:
    doc = parse("Dockerfile", "from alpine:3 as Base\r\n  FROM base\r\n")
    assert [(f.image, f.alias) for f in doc.froms] == [("alpine:3", "Base"), ("base", None)]
    assert doc.froms[0].image_span == Span(1, 6, 1, 14)
    assert doc.froms[1].image_span == Span(2, 8, 2, 12)


def test_image_span_in_utf16_columns() -> None:
    (f,) = froms("FROM --platform=linux/amd64 😀/x:1 AS é\n")
    assert f.span == Span(1, 29, 1, 35)  # 😀 is two UTF-16 units
    assert f.data["image_valid"] is False


def test_image_equal_to_flag_text_is_located_after_the_flag() -> None:
    (f,) = froms("FROM --platform=linux linux\n")
    assert f.span == Span(1, 23, 1, 28)


def test_missing_from_and_empty_from() -> None:
    doc = df("RUN echo hi\n")
    (d,) = doc.diagnostics
    assert (d.code, d.level, d.span) == ("parse-error", Level.WARNING, Span(1, 1, 1, 12))
    doc = df("FROM\nFROM --platform=x\n")
    assert [(d.code, d.level, d.span) for d in doc.diagnostics] == [
        ("parse-error", Level.ERROR, Span(1, 1, 1, 5)),
        ("parse-error", Level.ERROR, Span(2, 1, 2, 18)),
    ]
    assert "without an image" in doc.diagnostics[0].message
    assert df("# only a comment\n\n").diagnostics == []


def test_trailing_continuation_at_end_of_file() -> None:
    doc = df("FROM alpine \\\n")
    assert [f.image for f in doc.froms] == ["alpine"]


def test_images_read_by_copy_and_run_mounts() -> None:
    text = (
        "ARG TOOLS=quay.io/acme/tools:1\n"
        "FROM golang:1.25 AS build\n"
        "ARG TOOLS\n"
        "COPY --from=${TOOLS} /bin/t /bin/t\n"
        'COPY --chown=1:1 --from="ghcr.io/x/y:2" /a /a\n'
        "RUN --mount=type=cache,target=/c --mount=target=/s,FROM=alpine:3,type=bind make\n"
        "COPY --from=BUILD /out /out\n"
        "FROM scratch\n"
        "COPY --from=1 /x /x\n"
        "COPY --from=later /y /y\n"
        "COPY --from=$UNSET /z /z\n"
        "COPY /src --from=not-a-flag /dst\n"
        "FROM busybox AS later\n"
    )
    doc = parse("Dockerfile", text)
    got = [
        (u.via, u.image, u.image_raw, u.stage_index, u.unresolved, u.image_span)
        for u in doc.image_uses
    ]
    assert got == [
        ("copy-from", "quay.io/acme/tools:1", "${TOOLS}", 0, False, Span(4, 13, 4, 21)),
        ("copy-from", "ghcr.io/x/y:2", "ghcr.io/x/y:2", 0, False, Span(5, 26, 5, 39)),
        ("mount-from", "alpine:3", "alpine:3", 0, False, Span(6, 57, 6, 65)),
        ("copy-from", "$UNSET", "$UNSET", 1, True, Span(11, 13, 11, 19)),
    ]


@pytest.mark.parametrize(
    ("word", "env", "out"),
    [
        ("a$", {}, ("a$", False)),
        ("$1x", {}, ("x", False)),
        ("${V-x}${V:-y}", {"V": ""}, ("y", False)),
        ("${V+x}${V:+y}", {"V": ""}, ("x", False)),
        ("${V:?}", {"V": "1"}, ("1", False)),
        ("${V#*.}|${V##*.}", {"V": "a.b.c"}, ("b.c|c", False)),
        ("${V%.*}|${V%%.*}", {"V": "a.b.c"}, ("a.b|a", False)),
        ("${V%\\*}", {"V": "a*"}, ("a", False)),
        ("${V/b/x}|${V//b/x}", {"V": "abcb"}, ("axcb|axcx", False)),
        ("${V//*/x}", {"V": "abc"}, ("x", False)),  # Go: no second, empty, match at the end
        ("${V/b/$0$$}", {"V": "abc"}, ("ac", False)),  # $0 and $$ are (empty) variables
        ("${V/b/\\$0}", {"V": "abc"}, ("a\\$0c", False)),  # escapes stay: literal
        ("${V//b/<\\$0\\$$>}", {"V": "abc"}, ("a<\\b\\$>c", False)),  # Go's Expand
        ('"a b"\\ c', {}, ("a b c", False)),
        ('"\\$V\\"x"', {"V": "1"}, ('$V"x', False)),
        ('"\\a"', {}, ("\\a", False)),  # inside double quotes only \ " $ are escaped
        ("'${V}'", {"V": "1"}, ("${V}", False)),
        ("${V:-${W}}", {"W": None}, ("${W}", True)),
        ("${V%x}", {"V": None}, ("${V%x}", True)),
    ],
)
def test_expand_as_buildkit_shell_lex(
    word: str, env: dict[str, str | None], out: tuple[str, bool]
) -> None:
    assert expand(word, env) == out


def test_expand_with_backtick_escape() -> None:
    assert expand("a`:b\\c", {}, "`") == ("a:b\\c", False)


@pytest.mark.parametrize("word", ['"a', "'a", "${", "${}", "${:x}", "${V", "${V:#x}", "${V?}"])
def test_expand_refuses_what_buildkit_refuses(word: str) -> None:
    with pytest.raises(LexError):
        expand(word, {})


def test_from_that_buildkit_refuses_is_a_located_error() -> None:
    doc = df('FROM alpine\nFROM "docker.io/attacker/x:1\n')
    (d,) = doc.diagnostics
    assert (d.code, d.level, d.span.start_line) == ("parse-error", Level.ERROR, 2)


def test_parser_directives_as_buildkit_reads_them() -> None:
    # names are case-insensitive; each once; the escape is ` or \
    doc = df("# Escape=`\n# escape=\\\nFROM alpine\n")
    (d,) = doc.diagnostics
    assert (d.level, d.span.start_line, "only one escape") == (Level.ERROR, 2, "only one escape")
    doc = df("# escape=x\nFROM alpine\n")
    assert "invalid escape" in doc.diagnostics[0].message
    # an indented directive is still one (the parser strips leading whitespace)
    doc = df("  # escape=`\nFROM alpine `\n  AS a\n")
    assert doc.froms[0].alias == "a"
    # `# check=` is a directive, and gives no image
    doc = df("# check=skip=all\n# escape=`\nFROM alpine `\n  AS a\n")
    assert (doc.froms[0].alias, doc.syntax) == ("a", None)


def test_syntax_frontend() -> None:
    doc = df("# syntax=docker/dockerfile:1.7 --x\nFROM alpine\n")
    assert doc.syntax is not None
    assert (doc.syntax.image, doc.syntax.via, doc.syntax.image_span) == (
        "docker/dockerfile:1.7",
        "syntax",
        Span(1, 10, 1, 31),
    )
    (f, _) = extract(doc)
    assert (f.target, f.data["via"], f.data["stage_index"], f.data["name"]) == (
        "syntax",
        "syntax",
        None,
        "docker.io/docker/dockerfile",
    )
    # DetectSyntax does not strip leading whitespace, nor read past the directives
    assert df("  # syntax=a/b\nFROM alpine\n").syntax is None
    assert df("FROM alpine\n# syntax=a/b\n").syntax is None
    assert df("# syntax=\nFROM alpine\n").syntax is None


def test_continuations_as_buildkit_joins_them() -> None:
    doc = df("FROM docker.io/\\\n  # comment\n\t\nacme/x:1 \\\t \\\n")
    (f,) = doc.froms
    assert (f.image, f.image_span) == ("docker.io/acme/x:1", Span(1, 6, 4, 9))
    # an escaped escape, and an escape followed by another space character, do not continue
    for tail in ("\\\\", "\\\u00a0", "\\\v", "\\ \u3000"):
        doc = parse("Dockerfile", f"FROM alpine\nRUN x {tail}\nFROM busybox\n")
        assert [f.image for f in doc.froms] == ["alpine", "busybox"], repr(tail)
    # a lone escape on the first line starts a continuation
    doc = parse("Dockerfile", "\\\nFROM alpine\n")
    assert [f.image for f in doc.froms] == ["alpine"]


def test_heredoc_words_as_buildkit_reads_them() -> None:
    text = (
        "FROM alpine\n"
        "RUN cat << EOF >a\nFROM a\nEOF\n"  # a space after <<
        "COPY <<'A' <<\"B\" /x\nFROM b\nA\nFROM c\nB\n"  # two heredocs, read in order
        "RUN cat <<EOF;\nFROM d\nEOF;\n"  # the terminator is the whole word
        "ONBUILD RUN <<-X\n\tFROM e\n\t\tX\n"
        "RUN echo a<<Y\nFROM f\n"  # not at the start of a word: not a heredoc
        "ADD ['<<Z', '/z']\nFROM g\n"  # `['<<Z',` is one word: not a heredoc
        "ADD [ <<Z /z\nFROM not-g\nZ\n"  # not JSON: a heredoc
        'RUN ["cat", "<<W"]\nFROM h\n'  # JSON: no heredoc
    )
    doc = parse("Dockerfile", text)
    assert [f.image for f in doc.froms] == ["alpine", "f", "g", "h"]


def test_unterminated_heredoc_is_an_error_and_swallows_nothing() -> None:
    doc = df("FROM alpine\nRUN cat <<EOF\nFROM busybox\n")
    assert [f.image for f in doc.froms] == ["alpine", "busybox"]
    (d,) = doc.diagnostics
    assert (d.level, d.span.start_line, "unterminated heredoc" in d.message) == (
        Level.ERROR,
        2,
        True,
    )


def test_builder_flags_as_buildkit_splits_them() -> None:
    text = (
        "FROM golang:1.25 AS build\n"
        'COPY --chown="a b" --from=ghcr.io/x/\\"y\\":1 /a /a\n'
        "COPY -- --from=not-a-flag /b\n"
        # the flag splitter removes quotes before the CSV reader sees the value
        'RUN --mount=type=bind,"from=a/b:1",target=/x --mount=from=c/d:1,FROM="e/f:2" true\n'
        "RUN --mount='type=bind,from=bad\"quote' --mount='\"from=x/y:1\",target=/x' true\n"
        "ONBUILD COPY --from=g/h:1 /a /b\n"
        "ONBUILD RUN --mount=from=build true\n"
    )
    doc = parse("Dockerfile", text)
    got = [(u.via, u.image, u.image_span) for u in doc.image_uses]
    assert got == [
        ("copy-from", 'ghcr.io/x/"y":1', Span(2, 27, 2, 44)),
        ("mount-from", "a/b:1", Span(4, 29, 4, 34)),
        ("mount-from", "e/f:2", Span(4, 71, 4, 76)),
        ("mount-from", "x/y:1", Span(5, 55, 5, 60)),  # a quoted CSV field
        ("onbuild-copy-from", "g/h:1", Span(6, 21, 6, 26)),
    ]
    facts = extract(doc)
    assert [f.target for f in facts if f.data["via"] != "from"] == [
        "stage[build]/copy-from[0]",
        "stage[build]/mount-from[0]",
        "stage[build]/mount-from[1]",
        "stage[build]/mount-from[2]",
        "stage[build]/onbuild-copy-from[0]",
    ]


def test_a_literal_name_is_known_when_only_tag_or_digest_is_unresolved() -> None:
    fs = froms(
        """
        ARG TAG
        ARG SHA
        FROM registry.example/team/app:${TAG}@${SHA}
        FROM node@${SHA}
        FROM node:${TAG}
        FROM ${TAG}/app:1
        FROM registry.example:${TAG}/app
        """
    )
    assert [f.data["name"] for f in fs] == [
        "registry.example/team/app",
        "docker.io/library/node",
        None,  # a tag `5000/x` would make node:5000 a registry
        None,
        None,
    ]
    assert all(f.data["unresolved"] and not f.data["image_valid"] for f in fs)
    assert fs[0].data["tag"] is None and fs[0].data["digest"] is None


def test_an_image_reference_buildkit_refuses_is_an_error_at_the_image() -> None:
    d = df(
        """
        FROM node:sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS a
        FROM a
        FROM scratch
        COPY --from=a /x /x
        COPY --from=Node:18 /y /y
        """
    )
    assert [(x.span.start_line, x.span.start_col, x.level) for x in d.diagnostics] == [
        (1, 6, Level.ERROR),
        (5, 13, Level.ERROR),
    ]
    assert "a digest follows '@', not ':'" in d.diagnostics[0].message
    assert d.diagnostics[1].message.startswith("COPY --from: invalid image reference 'Node:18'")


def test_a_long_dockerfile_parses_in_memory_proportionate_to_it() -> None:
    """Each instruction's logical line (a place for every character) is let go once read, and
    only ENV, ARG and LABEL keep their located words: 50,000 RUN lines (1 MB) once peaked at
    143 MB, now ~30 MB; a 5 MiB file at 820 MB."""
    import tracemalloc

    text = "FROM python:3.12\n" + "".join(f"RUN echo step-{i}\n" for i in range(50_000))
    tracemalloc.start()
    try:
        doc = parse("Dockerfile", text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(doc.instructions) == 50_001 and [f.image for f in doc.froms] == ["python:3.12"]
    assert peak < 60 * len(text)
    assert doc.instructions[1].words == ()
    env = parse("Dockerfile", "FROM a\nENV A=1 B=2\n").instructions[1]
    assert [w.text for w in env.words] == ["A=1", "B=2"]
