"""`dswatch history [BACKEND:]ID [--json]`: what the local store remembers of a dataset.

Reads the store only (no config, no network): it works while a server is down
or the config is broken. Server text is sanitized for the terminal; `--json`
keeps it as stored (JSON escapes control characters).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..eta import format_minutes
from ..models import InvalidDatasetId, normalize_dataset_id, utcnow
from ..store_paths import default_path
from ..text import sanitize
from .common import EXIT_OK, EXIT_PROBLEM, UsageError, warn

if TYPE_CHECKING:
    from ..store import HistoryStore, Key


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    history = commands.add_parser(
        "history",
        parents=parents,
        help="print a dataset's stored history (states and how long each took)",
        description="Print what the local history store remembers of one dataset: each "
        "state with its duration, across restarts, and its past runs. Exit 1 when "
        f"nothing is stored for it. Store: {default_path()}",
    )
    history.add_argument("--json", action="store_true", help="print one JSON object")
    history.add_argument("dataset", metavar="[BACKEND:]ID")


def history(args: argparse.Namespace) -> int:
    from ..store import HistoryStore  # sqlite3 and the store: only when this command runs

    path = default_path()
    backend, _, raw_id = args.dataset.rpartition(":")
    try:
        dataset_id = normalize_dataset_id(raw_id)
    except InvalidDatasetId as exc:
        raise UsageError(f"history: {exc}") from None
    if not path.exists():
        print(f"dswatch: no history stored yet ({path})")
        return EXIT_PROBLEM
    store = HistoryStore.open(path, prune=False)
    try:
        if store.warning:  # on stderr: `history --json | jq` must get JSON only
            warn(store.warning)
        owners = [k for k in store.known_keys() if k[1] == dataset_id and backend in ("", k[0])]
        if len(owners) > 1:
            names = ", ".join(f"{b}:{i}" for b, i in owners)
            raise UsageError(f"history: {dataset_id} is stored for several backends: {names}")
        if not owners:
            print(f"dswatch: no history stored for {args.dataset} ({path})")
            return EXIT_PROBLEM
        report = build_report(store, owners[0], utcnow())
    finally:
        store.close()
    print(json.dumps(report, indent=2) if args.json else "\n".join(render(report)))
    return EXIT_OK


def build_report(store: HistoryStore, key: Key, now: datetime) -> dict[str, Any]:
    known = store.last_known([key]).get(key)
    transitions = store.history(key)
    steps = []
    for index, entry in enumerate(transitions):
        end = transitions[index + 1].at if index + 1 < len(transitions) else None
        steps.append(
            {
                "state": entry.state.value,
                "status": entry.status,
                "start": entry.at.isoformat(),
                "end": None if end is None else end.isoformat(),
                "seconds": ((end or now) - entry.at).total_seconds(),
            }
        )
    runs = [
        {
            "pipeline": run.pipeline,
            "started": run.started.isoformat(),
            "ended": run.ended.isoformat(),
            "seconds": run.seconds,
            "outcome": run.outcome,
        }
        for run in store.runs(key[0], dataset_id=key[1])
    ]
    return {
        "backend": key[0],
        "id": key[1],
        "name": known.name if known else None,
        "state": known.state.value if known else None,
        "last_read": known.fetched_at.isoformat() if known and known.fetched_at else None,
        "history": steps,
        "runs": runs,
        "store": str(store.path),
    }


def render(report: dict[str, Any]) -> list[str]:
    """Human lines: `INDEXING  14:02 -> 14:19, 17 m` (local time), sanitized."""
    name = sanitize(report["name"] or "", max_len=60)
    lines = [f"{report['backend']}:{report['id']}  {name}".rstrip()]
    today = datetime.now().astimezone().date()

    def clock(iso: str | None) -> str:
        if iso is None:
            return "now"
        local = datetime.fromisoformat(iso).astimezone()
        return local.strftime("%H:%M" if local.date() == today else "%b %d %H:%M")

    for step in report["history"]:
        label = sanitize(step["status"] or step["state"].upper(), max_len=40)
        span = f"{clock(step['start'])} -> {clock(step['end'])}"
        lines.append(f"  {label:<28} {span}, {format_minutes(step['seconds'])}")
    if not report["history"]:
        lines.append("  (no state changes stored)")
    if report["runs"]:
        lines.append("Past runs:")
        for run in report["runs"]:
            pipeline = sanitize(run["pipeline"] or "-", max_len=40)
            outcome = run["outcome"].upper()
            lines.append(
                f"  {pipeline:<28} {clock(run['started'])} -> {clock(run['ended'])}, "
                f"{format_minutes(run['seconds'])} {outcome}"
            )
    return lines
