"""A reading that repeats the last answer costs no new state and no redraw, only a read time.

The watch model (tui.watch) recognises it (`tui.models.same_reading`) and
moves the read times of the state it has (`touch_read`) instead of merging.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tui.models import DatasetState, Failure, State, merge, same_reading
from tui.watch import PollBatch, WatchModel

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KEY = ("cg", "0b5d1f9e-6a43-4c56-9f7e-3a1c2b4d5e6f")


def reading(**fields: object) -> DatasetState:
    base: dict[str, object] = {
        "backend": KEY[0],
        "id": KEY[1],
        "name": "notes",
        "state": State.RUNNING,
        "status": "DATASET_PROCESSING_STARTED",
        "pipelines": {"cognify_pipeline": "DATASET_PROCESSING_STARTED"},
        "raw": {KEY[1]: {"cognify_pipeline": "DATASET_PROCESSING_STARTED"}},
    }
    base.update(fields)
    return DatasetState(**base)  # type: ignore[arg-type]


def model_after(*readings: tuple[DatasetState, datetime]) -> tuple[WatchModel, list[list]]:  # type: ignore[type-arg]
    model = WatchModel(now=lambda: T0)
    model.track([KEY])
    published: list[list] = []  # type: ignore[type-arg]
    model.subscribe(lambda update: published.append(update.states))
    for observed, at in readings:
        model.apply(PollBatch(observations=[(observed, at)]))
    return model, published


def test_the_same_answer_again_keeps_the_state_and_moves_only_its_read_time() -> None:
    later = T0 + timedelta(seconds=5)
    model, published = model_after((reading(), T0), (reading(), later))
    state = model.states[KEY]
    assert published[1] == []  # nothing to redraw
    assert published[0] == [state]  # the very object shown since the first answer
    assert (state.polled_at, state.fetched_at, state.changed_at) == (later, later, T0)


def test_an_answer_without_the_name_is_still_the_same_answer() -> None:
    later = T0 + timedelta(seconds=5)
    model, published = model_after((reading(), T0), (reading(name=None), later))
    assert published[1] == [] and model.states[KEY].name == "notes"


def test_a_changed_answer_is_a_new_state_and_is_published() -> None:
    later = T0 + timedelta(seconds=5)
    done = reading(state=State.READY, status="DATASET_PROCESSING_COMPLETED")
    model, published = model_after((reading(), T0), (done, later))
    state = model.states[KEY]
    assert published[1] == [state] and state.state is State.READY and state.changed_at == later


def test_a_changed_raw_body_alone_is_not_the_same_answer() -> None:
    later = T0 + timedelta(seconds=5)
    other_raw = reading(raw={KEY[1]: {"cognify_pipeline": "DATASET_PROCESSING_STARTED", "x": 1}})
    model, published = model_after((reading(), T0), (other_raw, later))
    assert published[1] == [model.states[KEY]] and model.states[KEY].raw == other_raw.raw


def test_a_stale_row_read_again_with_the_same_data_is_fresh_again() -> None:
    failure = Failure(kind="connect", message="connection refused")
    down = DatasetState(
        backend=KEY[0], id=KEY[1], state=State.UNREACHABLE, error="down", failure=failure
    )
    t1, t2 = T0 + timedelta(seconds=5), T0 + timedelta(seconds=10)
    model, published = model_after((reading(), T0), (down, t1), (reading(), t2))
    state = model.states[KEY]
    assert published[2] == [state]
    assert not state.stale and state.state is State.RUNNING and state.fetched_at == t2


def test_a_failed_reading_is_never_the_same_answer() -> None:
    failure = Failure(kind="connect", message="connection refused")
    down = reading(state=State.UNREACHABLE, failure=failure)
    assert not same_reading(down, down.model_copy())


def test_merged_states_behave_like_any_state() -> None:
    first, _ = merge(None, reading(), T0)
    second, changed = merge(first, reading(status="X"), T0 + timedelta(seconds=1))
    assert changed == frozenset({"status"})
    assert second == second.model_copy() and second.model_dump()["status"] == "X"
    assert second.model_copy(update={"status": "Y"}).status == "Y" and second.status == "X"


def test_a_placeholder_row_equals_a_validated_one() -> None:
    from tui.models import placeholder

    made = placeholder(*KEY)
    assert made == DatasetState(backend=KEY[0], id=KEY[1])
    assert made.pipelines == {} and made.pipelines is not placeholder(*KEY).pipelines


def test_a_repeated_answer_with_a_failure_records_the_failure_again() -> None:
    gone = Failure(kind="http", message="not found", http_status=404)
    missing = reading(state=State.NOT_FOUND, status=None, failure=gone)
    later = T0 + timedelta(seconds=60)
    model, _ = model_after((missing, T0), (missing.model_copy(), later))
    assert model.last_failures[KEY].at == later
