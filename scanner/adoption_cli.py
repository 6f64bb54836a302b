"""`tether report`: golden-path adoption per team, per rule and over time, from the history
`tether org --state STATE` records (issue 12). `register(main)` adds it to the `tether` group.

Exit codes: 0 the report was written; 2 usage or configuration error (no state at STATE, a
state with no scan of the org, an unknown org, a state newer than this tether)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click

from .errors import ConfigError

EXIT_OK, EXIT_CONFIG = 0, 2
FORMATS = ("html", "json", "markdown")
_SUFFIXES = {".html": "html", ".htm": "html", ".json": "json", ".md": "markdown"}


def _fail_config(message: str) -> None:
    click.echo(f"tether: configuration error: {message}", err=True)
    sys.exit(EXIT_CONFIG)


def _date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("a date, YYYY-MM-DD") from None


@click.command("report")
@click.option(
    "--state",
    "state_dirs",
    required=True,
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The directory `tether org --state` keeps its state in; repeat it for the states of "
    "an org scanned in shards (--shard K/N): their scans of one week are read as one.",
)
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report here (default: standard output).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Default: from --out's suffix (.html, .json, .md), else markdown.",
)
@click.option("--org", help="The org to report on (default: the one scanned last).")
@click.option(
    "--since",
    callback=_date,
    metavar="DATE",
    help="Leave out scans before DATE (YYYY-MM-DD) from the trend and the comparisons.",
)
@click.option(
    "--weeks",
    type=click.IntRange(1, 520),
    default=4,
    show_default=True,
    help="Also compare with the scan this many weeks before the newest.",
)
def report_cmd(
    state_dirs: tuple[Path, ...],
    out: Path | None,
    fmt: str | None,
    org: str | None,
    since: dt.date | None,
    weeks: int,
) -> None:
    """Golden-path adoption per team, repository and rule, what changed since the previous
    scan and since --weeks ago, and the weekly trend, from an org scan's state."""
    from .adoption import history
    from .adoption.report import Options, build
    from .org.state import STATE_FILE, StateStore

    if fmt is None:
        fmt = _SUFFIXES.get(out.suffix.lower(), "markdown") if out is not None else "markdown"
    for state_dir in state_dirs:
        if not (state_dir / STATE_FILE).is_file():
            _fail_config(
                f"{state_dir}: no tether org state here (run `tether org ... --state DIR`)"
            )
    shown = ", ".join(str(d) for d in state_dirs)
    per_state = []
    try:
        stores = [StateStore(d) for d in state_dirs]
    except ConfigError as e:
        _fail_config(str(e))
        return
    try:
        known = sorted({o for st in stores for o in history.orgs(st)})
        if org is None:
            latest = [history.orgs(st)[-1] for st in stores if history.orgs(st)]
            if not latest:
                _fail_config(f"{shown}: the state holds no org scan with adoption data")
            if len(set(latest)) > 1:
                _fail_config(
                    f"{shown}: the states hold scans of {', '.join(known)}; name one with --org"
                )
            org = latest[0]
        elif org not in known:
            _fail_config(
                f"{shown}: no scan of {org} with adoption data"
                + (f" (orgs: {', '.join(known)})" if known else "")
            )
        per_state = [history.scans(st, org, since) for st in stores]
    finally:
        for st in stores:
            st.close()
    scans = history.merge_shards([h for h in per_state if h]) if any(per_state) else []
    if not scans:
        _fail_config(
            f"{shown}: no finished scan of {org} recorded rule outcomes"
            + (f" since {since}" if since else "")
        )
    doc = build(org, scans, Options(weeks=weeks))
    if fmt == "json":
        import json

        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "markdown":
        from .report import adoption_markdown

        text = adoption_markdown.render(doc)
    else:
        from .report import adoption_html

        text = adoption_html.render(doc)
    if out is None:
        click.echo(text, nl=False)
    else:
        from .org.summary import write_atomic

        try:
            write_atomic(out, text.encode("utf-8"))
            # a report is for sharing: the usual mode for a new file, not the temporary's 0600
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(out, 0o666 & ~mask)
        except OSError as e:
            _fail_config(f"{out}: cannot write the report: {e.strerror or e}")
        totals = doc["totals"]
        click.echo(
            f"tether report: {org}, scan of {doc['scan']['started_at']}: "
            f"{totals['repositories']} repositories, {totals['teams']} teams, adoption "
            f"{_shown(totals['adoption'])}; {out}",
            err=True,
        )
    sys.exit(EXIT_OK)


def _shown(pct: float | None) -> str:
    return "n/a" if pct is None else f"{pct:.1f}%"


def register(main: click.Group) -> None:
    """Add the adoption commands to the `tether` group."""
    main.add_command(report_cmd)
