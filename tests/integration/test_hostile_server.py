"""A hostile server on 127.0.0.1: every field of every response shape carries
terminal escapes, markup and absurd numbers (see tests/support/hostile.py).

What is checked is what reaches a user: the grid's cells, the details screen's
texts, `status` (table and --json), `wait`'s lines, and the log file. Nothing
may carry an escape or a control character, markup stays literal, absurd
numbers show as unknown, and nothing fails with an internal error.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.support.faultservers import AppServer
from tests.support.hostile import HUGE, MARKUP, HostileServer, hostile_config, inert
from tui.backends import make_backend
from tui.backends.http import MAX_RETRY_AFTER
from tui.cli import main
from tui.cli.status import format_table
from tui.cli.wait import progress_line, timeout_line
from tui.config import BackendConfig, Settings
from tui.models import DatasetState
from tui.screens.details import extras_text, failure_text, fields_table, pretty_json
from tui.widgets.cells import static_cells

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def hostile() -> Iterator[tuple[HostileServer, str]]:
    app = HostileServer()
    with AppServer(app) as server:
        yield app, server.url


pytestmark = pytest.mark.usefixtures("quiet_home")  # tests/conftest.py


def rendered(renderable: Any) -> str:
    """What Rich writes for `renderable`, colours off: escapes could only come from data."""
    out = io.StringIO()
    Console(file=out, width=400, color_system=None, force_terminal=False).print(renderable)
    return out.getvalue()


def strings_of(state: DatasetState) -> list[str]:
    values = [state.name, state.status, *state.pipelines, *state.pipelines.values()]
    if state.failure is not None:
        values += [state.failure.message]
    return [v for v in values if v is not None]


def assert_numbers_unknown_or_plausible(state: DatasetState) -> None:
    assert state.progress is None or 0 <= state.progress <= 100
    for count in (state.n_images, state.n_videos, state.n_objects):
        assert count is None or 0 <= count < HUGE


async def test_every_field_of_every_shape_reaches_every_view_inert(
    hostile: tuple[HostileServer, str],
) -> None:
    app, url = hostile
    settings = Settings(timeout=5)
    vl = make_backend(BackendConfig(name="vl", type="visual_layer", url=f"{url}/vl"), settings)
    cg = make_backend(BackendConfig(name="cg", type="cognee", url=f"{url}/cognee"), settings)
    states: list[DatasetState] = []
    extras: list[dict[str, Any]] = []
    try:
        for backend, ids in ((vl, list(app.vl.values())), (cg, list(app.cognee.values()))):
            first = await backend.fetch(ids, {})
            # Twice: a dataset being created is asked its creation status the second time.
            second = await backend.fetch(ids, {s.id: s for s in first.states})
            states += [*first.states, *second.states]
            assert second.retry_after is None or second.retry_after <= MAX_RETRY_AFTER
            for dataset_id in ids:
                extras.append(await backend.details(dataset_id))
            await backend.list_datasets()
    finally:
        await vl.aclose()
        await cg.aclose()

    creating = next(s for s in states if s.id == app.vl["creating"] and s.pipelines)
    assert "creation" in creating.pipelines  # the creation-status shape was walked too
    assert any(len(s.pipelines) == 3 for s in states)  # a hostile pipeline name too
    assert not any("dswatch error" in (s.error or "") for s in states)
    texts: list[tuple[str, str]] = []
    for state in states:
        assert_numbers_unknown_or_plausible(state)
        texts += [("state field", t) for t in strings_of(state)]
        texts += [("state error", state.error or "")]  # keeps its line breaks, only those
        texts += [("grid cell", cell) for cell in static_cells(state)]
        texts += [("wait line", progress_line(state))]
        texts += [("details fields", rendered(fields_table(state, NOW)))]
        texts += [("details failure", rendered(failure_text(state.failure, NOW)))]
        texts += [("details raw", pretty_json(state.raw))]
    texts += [("details extras", rendered(extras_text(e))) for e in extras]
    texts.append(("wait timeout", timeout_line(0, [(s.key, s) for s in states])))
    texts.append(("status table", format_table(states)))
    multiline = {"details fields", "details failure", "details raw", "details extras"}
    multiline |= {"status table", "state error"}
    for where, text in texts:
        assert inert(text, multiline=where in multiline), (where, text)
    # Shown as typed, not parsed: markup survives as text where names are shown.
    for where in ("grid cell", "status table", "details fields", "details extras"):
        assert any(MARKUP in t for w, t in texts if w == where), where
    shown_extras = "".join(t for w, t in texts if w == "details extras")
    assert "items in dataset: unknown" in shown_extras  # a 400-digit count
    assert re.search(r"^t2 +progress unknown$", shown_extras, re.M)  # 400-digit percentage
    # Only the raw-response view shows the server's own digits (as text, which is safe).
    assert str(HUGE)[:50] not in "".join(t for w, t in texts if w != "details raw")
    # A non-string status is shown as the JSON it was, not a Python repr.
    json_status = next(s for s in states if s.id == app.vl["json_status"])
    assert json_status.status is not None and json_status.status.startswith('{"phase": "name')


def log_text(tmp_path: Path) -> str:
    return "".join(p.read_text("utf-8") for p in (tmp_path / "state").rglob("*.log*"))


def test_status_wait_and_the_log_show_a_hostile_server_inert(
    hostile: tuple[HostileServer, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app, url = hostile
    path = hostile_config(tmp_path, url, app)

    code = main(["status", "--debug", "--config", str(path)])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err  # unreachable ones exist; nothing crashed
    assert inert(out, multiline=True) and inert(err, multiline=True)
    assert MARKUP in out and "dswatch error" not in out

    code = main(["status", "--json", "--config", str(path)])
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert code == 1 and len(rows) == len(app.vl) + len(app.cognee)
    for row in rows:
        for value in row.values():
            for text in value.items() if isinstance(value, dict) else [value]:
                assert inert(str(text), multiline=True), row
        assert row["progress"] is None or 0 <= row["progress"] <= 100
        assert all(row[k] is None or row[k] < HUGE for k in ("n_images", "n_videos", "n_objects"))

    targets = [f"vl:{app.vl['odd_status']}", f"vl:{app.vl['creating']}"]
    code = main(["wait", "--config", str(path), "--timeout", "1", *targets])
    _, err = capsys.readouterr()
    assert code == 124
    assert inert(err, multiline=True) and "timed out after 1s waiting for vl:name" in err

    log = log_text(tmp_path)
    assert log and inert(log, multiline=True)
    assert "Traceback" not in log and "dswatch error" not in log
    assert "315360000" not in log  # Retry-After of ten years: capped where it is parsed


# ---------------------------------------------------------------- the one check


@pytest.mark.parametrize(
    "bad", [HUGE, -HUGE, -1, float("nan"), float("inf"), 1e300, 10**15 + 1, "12", True, [3]]
)
def test_a_state_built_anywhere_refuses_absurd_counts(bad: object) -> None:
    state = DatasetState(backend="b", id="i", n_images=bad, n_videos=bad, n_objects=bad)
    assert (state.n_images, state.n_videos, state.n_objects) == (None, None, None)
    assert static_cells(state)[5:8] == ("", "", "")  # shown as unknown, not an overflow


@pytest.mark.parametrize(
    "bad", [HUGE, -0.5, 100.5, float("nan"), float("-inf"), "9" * 400, "abc", True, {}]
)
def test_a_state_built_anywhere_refuses_absurd_progress(bad: object) -> None:
    assert DatasetState(backend="b", id="i", progress=bad).progress is None


def test_a_state_built_anywhere_holds_only_safe_text() -> None:
    state = DatasetState(
        backend="b",
        id="i",
        name="\x1b]52;c;eA==\x07cats",
        status={"phase": "\x1b[2J"},  # type: ignore[arg-type]
        error="line 1\x1b[31m\nline 2\x07",
        pipelines={"p\x1b[1m": "\x9bRUN"},
    )
    assert state.name == "cats"
    assert state.status == '{"phase": "\\u001b[2J"}'  # JSON text, not a repr, and inert
    assert state.error == "line 1\nline 2␇"
    assert state.pipelines == {"p": "�RUN"}
