"""States keep one shared copy of what thousands of datasets have in common (issue 17).

Pipeline maps, status strings, Visual Layer field names and the pydantic
"fields set" are shared between states instead of copied from every answer;
what a user sees (the details screen's raw body, the fields) is unchanged.
benchmarks/memory.py has the figures.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from tui.backends.cognee import CogneeBackend
from tui.backends.visual_layer import dataset_state as vl_dataset_state
from tui.config import BackendConfig, Settings
from tui.models import DatasetState, State, merge, placeholder
from tui.screens.details import pretty_json

ADD, COGNIFY = "add_pipeline", "cognify_pipeline"
STARTED = "DATASET_PROCESSING_STARTED"
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
IDS = [str(uuid.UUID(int=i + 1)) for i in range(3)]


def answer(entries: dict[str, Any]) -> Any:
    """A status route answering `entries` (each request's JSON is decoded afresh)."""

    def handler(request: httpx.Request) -> httpx.Response:
        asked = request.url.params.get_list("dataset")
        return httpx.Response(200, content=json.dumps({i: entries[i] for i in asked}))

    return handler


async def read(entries: dict[str, Any], pipelines: list[str]) -> dict[str, DatasetState]:
    cfg = BackendConfig(
        name="cg", type="cognee", url="https://cognee.example.com", pipelines=pipelines
    )
    backend = CogneeBackend(cfg, Settings(), transport=httpx.MockTransport(answer(entries)))
    try:
        result = await backend.fetch(list(entries), {})
    finally:
        await backend.aclose()
    return {s.id: s for s in result.states}


async def test_equal_pipeline_maps_are_one_object_and_details_show_each_raw_entry() -> None:
    nested = {ADD: STARTED, COGNIFY: STARTED}
    states = await read({i: dict(nested) for i in IDS}, [ADD, COGNIFY])
    first, second = states[IDS[0]], states[IDS[1]]
    assert first.pipelines == nested and first.pipelines is second.pipelines
    assert first.status is second.status
    for dataset_id, state in states.items():
        assert state.raw == {dataset_id: nested}
        assert pretty_json(state.raw) == json.dumps({dataset_id: nested}, indent=2)


async def test_an_entry_that_is_not_a_plain_map_is_kept_as_it_came() -> None:
    progress_shape = {COGNIFY: {"status": STARTED, "progress": 40}}
    states = await read({IDS[0]: progress_shape, IDS[1]: STARTED}, [COGNIFY])
    assert states[IDS[0]].raw == {IDS[0]: progress_shape}
    assert states[IDS[0]].pipelines == {COGNIFY: STARTED}
    assert states[IDS[1]].raw == {IDS[1]: STARTED}
    assert states[IDS[1]].state is State.RUNNING


def test_visual_layer_bodies_stay_equal_with_shared_field_names() -> None:
    text = json.dumps({"id": IDS[0], "display_name": "cats", "status_new": "READY"})
    one = vl_dataset_state("vl", IDS[0], json.loads(text))
    two = vl_dataset_state("vl", IDS[0], json.loads(text))
    assert one.raw == json.loads(text) and one.raw == two.raw
    assert [k for k in one.raw][1] is [k for k in two.raw][1]
    assert one.raw["status_new"] is two.raw["status_new"]


def test_a_copy_of_a_merged_state_leaves_the_others_as_they_were() -> None:
    observed = DatasetState(backend="cg", id=IDS[0], state=State.RUNNING, status=STARTED)
    a, _ = merge(placeholder("cg", IDS[0]), observed, T0)
    b, _ = merge(placeholder("cg", IDS[1]), observed.model_copy(update={"id": IDS[1]}), T0)
    before = set(b.model_fields_set)
    copied = a.model_copy(update={"status": "other"})
    assert copied.status == "other" and a.status == STARTED
    assert b.model_fields_set == before
    assert a.model_dump() == {**b.model_dump(), "id": IDS[0]}


def test_what_is_shared_is_bounded_whatever_a_server_sends() -> None:
    from tui import models
    from tui.models import shared_pipelines

    before = dict(models._shared_pipelines)
    models._shared_pipelines.clear()  # the cap counts from here, whatever ran before
    try:
        check_the_bounds(shared_pipelines)
    finally:
        models._shared_pipelines.clear()
        models._shared_pipelines.update(before)


def check_the_bounds(shared_pipelines: Any) -> None:
    many = {f"pipeline_{n}": STARTED for n in range(50)}
    assert shared_pipelines(many) is many  # a map this big is its state's own
    maps = [{ADD: f"status {n}"} for n in range(3000)]
    kept = [shared_pipelines(m) for m in maps]
    assert kept == maps
    assert shared_pipelines(dict(maps[0])) is kept[0]  # the first ones are shared
    assert shared_pipelines(dict(maps[-1])) is not kept[-1]  # past the cap: not kept


async def test_states_read_and_merged_equal_validated_ones_field_for_field() -> None:
    # States are built without validation, their fields in a dict laid out to share
    # keys with the others (tui.models): none of that shows in what they hold.
    states = await read({IDS[0]: {ADD: STARTED, COGNIFY: STARTED}}, [ADD, COGNIFY])
    merged, changed = merge(placeholder("cg", IDS[0]), states[IDS[0]], T0)
    validated = DatasetState(**merged.model_dump())
    assert merged == validated and merged.model_dump() == validated.model_dump()
    assert list(merged.__dict__) == list(DatasetState.model_fields)  # the same order
    again, _ = merge(merged, states[IDS[0]].model_copy(update={"status": "other"}), T0)
    assert again.status == "other" and merged.status == STARTED  # each its own values
    assert changed >= {"state", "status", "pipelines"}


def test_live_history_keeps_the_newest_of_each_dataset_and_forgets_one() -> None:
    from tui.history import History

    def read_as(status: str, second: int, dataset_id: str = IDS[0]) -> DatasetState:
        return DatasetState(
            backend="cg",
            id=dataset_id,
            state=State.RUNNING,
            status=status,
            polled_at=T0.replace(second=second),
        )

    for kept in (1, 2, 4, 5):  # a few: one exact tuple each; more: a list
        history = History(max_entries=kept)
        for n in range(7):
            assert history.record(read_as(f"s{n}", n))
        assert not history.record(read_as("s6", 9))  # the same again: nothing new
        history.record(read_as("other", 1, IDS[1]))
        assert [t.status for t in history.of(("cg", IDS[0]))] == [f"s{n}" for n in range(7)][-kept:]
        assert [t.status for t in history.of(("cg", IDS[1]))] == ["other"]
        history.forget(("cg", IDS[0]))
        assert history.of(("cg", IDS[0])) == [] and len(history.of(("cg", IDS[1]))) == 1
    history = History()  # a run's 200, then the store's few (tui.history_link)
    for n in range(7):
        history.record(read_as(f"s{n}", n))
    history.max_entries = 2
    history.record(read_as("s7", 7))
    assert [t.status for t in history.of(("cg", IDS[0]))] == ["s6", "s7"]
