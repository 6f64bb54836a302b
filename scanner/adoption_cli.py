"""`tether report`: golden-path adoption per team, per rule and over time, from the history
`tether org --state STATE` records (issue 12). `register(main)` adds it to the `tether` group.

Exit codes: 0 the report was written; 2 usage or configuration error (no state at STATE, a
state with no scan of the org, an unknown org, a state newer than this tether)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import click

from .errors import ConfigError
from .github_cli import github_options
from .policy_cli import _date, _fail_config

EXIT_OK, EXIT_CONFIG = 0, 2
FORMATS = ("html", "json", "markdown")
_SUFFIXES = {".html": "html", ".htm": "html", ".json": "json", ".md": "markdown"}


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
    scan and since --weeks ago, and the weekly trend, from an org scan's state.

    Exit 0: the report was written; 2: usage or configuration error (no state, no scan of
    the org with adoption data, a state of another schema version, an edited state)."""
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
    stores: list[StateStore] = []
    try:
        for d in state_dirs:
            stores.append(StateStore(d, read_only=True))
        org = _chosen_org(stores, org, shown)
        per_state = [history.scans(st, org, since) for st in stores]
        scans, warnings = history.merge_shards(per_state) if any(per_state) else ([], [])
        for st, counted in zip(stores, per_state, strict=True):
            warnings += history.uncounted_newer(st, org, counted)
        if not scans:
            _fail_config(
                f"{shown}: no finished scan of {org} recorded rule outcomes"
                + (f" since {since}" if since else "")
            )
        # (records are read as the report needs them: the stores stay open until it is built)
        doc = build(org, scans, Options(weeks=weeks), warnings)
    except ConfigError as e:
        _fail_config(str(e))
        return
    except history.BadState as e:
        _fail_config(f"{shown}: a value in the state tether did not write ({e}); was it edited?")
        return
    finally:
        for st in stores:
            st.close()
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


@click.command("triage")
@click.argument("org")
@click.option(
    "--state",
    "state_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The directory `tether org --state` keeps its state in (the latest scan is compared).",
)
@github_options
@click.option(
    "--write-exceptions",
    "requests_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the dismissals no record covers as exception records to review (a new file).",
)
@click.option("--owner", help="The owner of the records --write-exceptions writes (required).")
@click.option(
    "--expires",
    callback=_date,
    metavar="DATE",
    help="Their expiry, YYYY-MM-DD, after today (required with --write-exceptions).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def triage_cmd(
    org: str,
    state_dir: Path,
    github_url: str,
    app_id: str | None,
    app_private_key: Path | None,
    requests_file: Path | None,
    owner: str | None,
    expires: dt.date | None,
    fmt: str,
) -> None:
    """Compare code scanning's alerts for tether with the exceptions of ORG's latest scan:
    alerts dismissed without an exception record, and exceptions gone stale (their finding
    fixed, or their alert reopened).

    Exit 0: registry and code scanning agree; 1: something to triage; 2: usage or
    configuration error (no state, bad credentials, an existing --write-exceptions file)."""
    from .github.client import GitHubError
    from .github_cli import client_factory
    from .org.state import STATE_FILE, StateStore
    from .org.triage import MAX_RECORD_DAYS, triage, write_requests

    today = dt.date.today()
    if requests_file is None and (owner is not None or expires is not None):
        raise click.UsageError("--owner and --expires go with --write-exceptions")
    if requests_file is not None:
        if not owner or not owner.strip():
            raise click.UsageError("--write-exceptions needs --owner (who answers for them)")
        if expires is None or expires <= today:
            raise click.UsageError("--write-exceptions needs --expires, a date after today")
        if (expires - today).days > MAX_RECORD_DAYS:
            raise click.UsageError(
                f"--expires: at most {MAX_RECORD_DAYS} days from today (an exception runs no "
                "longer by default: the scan would refuse the record)"
            )
        if requests_file.exists():
            _fail_config(f"{requests_file}: exists; --write-exceptions writes a new file")
    if bool(app_id) != bool(app_private_key):
        raise click.UsageError("--app-id and --app-private-key go together")
    if not (state_dir / STATE_FILE).is_file():
        _fail_config(f"{state_dir}: no tether org state here (run `tether org ... --state DIR`)")
    try:
        make = client_factory(
            org,
            github_url,
            app_id,
            app_private_key,
            {"security_events": "read", "metadata": "read"},
        )
        with StateStore(state_dir, read_only=True) as state:
            click.echo(
                f"tether triage: reading {org}'s code scanning alerts at {github_url} ...",
                err=True,
            )
            client = make()
            try:
                found = triage(client, state, org)
            finally:
                client.close()
    except LookupError:
        _fail_config(f"{state_dir}: no finished scan of {org}")
        return
    except ConfigError as e:
        _fail_config(str(e))
        return
    except GitHubError as e:
        click.echo(f"tether: GitHub: {e.message}", err=True)
        sys.exit(EXIT_CONFIG)
    if fmt == "json":
        import json

        click.echo(json.dumps(_triage_json(found), indent=2, ensure_ascii=False))
    else:
        for line in _triage_text(found):
            click.echo(line)
    if requests_file is not None and found.unrecorded:
        from .org.summary import write_atomic

        assert owner is not None and expires is not None
        text, n = write_requests(found, owner.strip(), expires, today)
        try:
            write_atomic(requests_file, text.encode("utf-8"))
        except OSError as e:
            _fail_config(f"{requests_file}: cannot write: {e.strerror or e}")
        click.echo(f"tether triage: {n} exception records to review in {requests_file}", err=True)
    if found.repos == 0 and found.skipped:
        click.echo(
            "tether triage: no repository's alerts could be compared (see the notes): does "
            "the credential have code scanning alerts: read, and did the org scan --upload?",
            err=True,
        )
        sys.exit(EXIT_CONFIG)
    sys.exit(EXIT_OK if found.consistent else 1)


def _triage_text(found: Any) -> list[str]:
    from .report.text import say

    lines = [
        f"tether triage {say(found.org)}: scan of {say(found.scan)}; {found.repos} "
        f"repositories, {found.alerts} alerts; {found.recorded} dismissals covered by an "
        f"exception, {found.gone} whose finding is gone"
    ]
    if found.unrecorded:
        lines.append(
            f"\nDismissed in code scanning without an exception record ({len(found.unrecorded)}):"
        )
        for d in found.unrecorded:
            a = d.alert
            lines.append(
                "  "
                + say(
                    f"{d.repo}: {a.rule} at {a.path or '?'}:{a.line or '?'} dismissed as "
                    f"{a.dismissed_reason or '?'} by {a.dismissed_by or '?'} on "
                    f"{(a.dismissed_at or '?')[:10]}: {a.dismissed_comment or 'no comment'}"
                    + (f" ({a.url})" if a.url else "")
                )
            )
    if found.stale:
        lines.append(f"\nStale exceptions ({len(found.stale)}):")
        advice = {
            "fixed": "its finding is gone: remove the record",
            "lapsed": "it covers the finding no more (expired, removed or refused) while the "
            "finding stands: renew the record or fix the finding",
            "reopened": "its alert was reopened in code scanning: renew or drop the record",
        }
        for st in found.stale:
            rec = st.record
            where = f"{rec.get('file', '?')}:{rec.get('line', '?')}"
            lines.append(
                "  "
                + say(f"{st.repo}: {st.rule} at {st.path} (record {where}): ")
                + advice.get(st.why, st.why)
            )
    for note in found.notes:
        lines.append(f"note: {say(note)}")
    if found.consistent:
        lines.append("The exception registry and code scanning agree.")
    elif found.skipped and not found.unrecorded and not found.stale:
        lines.append(
            f"No disagreement in the {found.repos} repositories compared; "
            f"{found.skipped} could not be compared (notes above)."
        )
    return lines


def _triage_json(found: Any) -> dict[str, Any]:
    def alert(a: Any) -> dict[str, Any]:
        return {k: v for k, v in a.__dict__.items()}

    return {
        "org": found.org,
        "scan": found.scan,
        "repositories": found.repos,
        "alerts": found.alerts,
        "recorded": found.recorded,
        "gone": found.gone,
        "not_compared": found.skipped,
        "unrecorded": [{"repository": d.repo, "alert": alert(d.alert)} for d in found.unrecorded],
        "stale": [
            {
                "repository": st.repo,
                "rule": st.rule,
                "path": st.path,
                "why": st.why,
                "record": dict(st.record),
                "alert": alert(st.alert) if st.alert is not None else None,
            }
            for st in found.stale
        ],
        "notes": found.notes,
    }


def _chosen_org(stores: list[Any], org: str | None, shown: str) -> str:
    """--org, else the org every state scanned last; a configuration error when there is
    none or the states disagree."""
    from .adoption import history

    known = sorted({o for st in stores for o in history.orgs(st)})
    if org is None:
        latest = {history.orgs(st)[-1] for st in stores if history.orgs(st)}
        if not latest:
            _fail_config(f"{shown}: the state holds no org scan with adoption data")
        if len(latest) > 1:
            _fail_config(
                f"{shown}: the states hold scans of {', '.join(known)}; name one with --org"
            )
        return latest.pop()
    if org not in known:
        _fail_config(
            f"{shown}: no scan of {org} with adoption data"
            + (f" (orgs: {', '.join(known)})" if known else "")
        )
    return org


def _shown(pct: float | None) -> str:
    return "n/a" if pct is None else f"{pct:.1f}%"


def register(main: click.Group) -> None:
    """Add the adoption commands to the `tether` group."""
    main.add_command(report_cmd)
    main.add_command(triage_cmd)
