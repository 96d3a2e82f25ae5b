"""Cognee's activity feed (`/api/v1/activity/pipeline-runs`): runs, causes, durations.

The feed is the one place a run's cause (`error_class`) and its start and end
are exposed. A real 1.6.5 server writes two rows per run (STARTED, then the
outcome); these helpers read them as one run each.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..eta import PastRun
from ..models import State


def _one_row_per_run(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The activity feed's rows, one per pipeline run: its ended row when it has one.

    A real 1.6.5 server logs a STARTED row when a run begins and another row when it
    ends, both with the same pipeline_run_id; shown as is, every finished run would
    appear twice, once as still STARTED. Rows without a run id are kept as they are.
    """
    kept: list[dict[str, Any]] = []
    index_of: dict[str, int] = {}
    for row in rows:
        run_id = row.get("pipeline_run_id")
        if not isinstance(run_id, str) or not run_id:
            kept.append(row)
            continue
        if run_id not in index_of:
            index_of[run_id] = len(kept)
            kept.append(row)
        elif row.get("ended_at") and not kept[index_of[run_id]].get("ended_at"):
            kept[index_of[run_id]] = row  # the feed was oldest first: keep the outcome
    return kept


PAST_RUNS_LIMIT = 200  # rows (two per finished run) read for durations
_OUTCOMES = {"succeeded": State.READY.value, "failed": State.ERROR.value}


def _past_run(row: Any) -> PastRun | None:
    """One finished run from an activity row, or None (still running, noop, malformed)."""
    if not isinstance(row, dict):
        return None
    outcome = _OUTCOMES.get(str(row.get("outcome")))
    started, ended = _feed_time(row.get("started_at")), _feed_time(row.get("ended_at"))
    pipeline = row.get("pipeline_name")
    if outcome is None or started is None or ended is None or ended < started:
        return None
    return PastRun(pipeline if isinstance(pipeline, str) else "", started, ended, outcome)


def _feed_time(value: Any) -> datetime | None:
    """The feed's ISO timestamps; naive ones are UTC (as the server writes them)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _latest_error_classes(runs: list[dict[str, Any]]) -> dict[str, str]:
    """{pipeline: error_class} of each pipeline's most recent failed run."""
    latest: dict[str, tuple[str, str]] = {}  # pipeline -> (started_at, error_class)
    for run in runs:
        pipeline, error_class = run.get("pipeline_name"), run.get("error_class")
        if not isinstance(pipeline, str) or not isinstance(error_class, str) or not error_class:
            continue
        started = str(run.get("started_at") or "")
        if pipeline not in latest or started > latest[pipeline][0]:
            latest[pipeline] = (started, error_class)
    return {pipeline: error_class for pipeline, (_, error_class) in latest.items()}
