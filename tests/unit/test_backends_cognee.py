"""Cognee backend against in-process MockTransport handlers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from tests.support.clock import FakeClock
from tui.backends import make_backend
from tui.backends.base import Backend, BackendError, FetchResult
from tui.backends.cognee import CogneeBackend, combine, dataset_state, run_state
from tui.config import BackendConfig, Settings
from tui.models import State

BASE = "https://cognee.example.com"
STATUS_PATH = "/api/v1/datasets/status"
LIST_PATH = "/api/v1/datasets"
ACTIVITY_PATH = "/api/v1/activity/pipeline-runs"
LOGIN_PATH = "/api/v1/auth/login"
ADD, COGNIFY = "add_pipeline", "cognify_pipeline"
STARTED, COMPLETED = "DATASET_PROCESSING_STARTED", "DATASET_PROCESSING_COMPLETED"
INITIATED, ERRORED = "DATASET_PROCESSING_INITIATED", "DATASET_PROCESSING_ERRORED"


def ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=i + 1)) for i in range(n)]


ID, ID2 = ids(2)


def config(**extra: Any) -> BackendConfig:
    return BackendConfig(name="cg", type="cognee", url=extra.pop("url", BASE), **extra)


class Server:
    """A scripted Cognee: a status function per request, a log of what was asked."""

    def __init__(
        self,
        statuses: Callable[[list[str], list[str]], httpx.Response] | dict[str, Any] | None = None,
        *,
        names: dict[str, str] | None = None,
        forbidden: Sequence[str] = (),
    ) -> None:
        self.statuses = statuses if statuses is not None else {}
        self.names = names or {}
        self.forbidden = set(forbidden)
        self.runs: dict[str, list[dict[str, Any]]] = {}  # the activity feed, by dataset
        self.activity_calls: list[str] = []
        self.status_calls: list[list[str]] = []
        self.pipeline_params: list[list[str]] = []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == LIST_PATH:
            return httpx.Response(
                200,
                json=[
                    {"id": i, "name": n, "createdAt": "2026-01-01T00:00:00Z"}
                    for i, n in self.names.items()
                ],
            )
        if request.url.path == ACTIVITY_PATH:
            dataset_id = request.url.params["dataset_id"]
            self.activity_calls.append(dataset_id)
            if dataset_id not in self.runs:
                return httpx.Response(404, json={"detail": "Not Found"})
            return httpx.Response(200, json=self.runs[dataset_id])
        assert request.url.path == STATUS_PATH, request.url
        asked = request.url.params.get_list("dataset")
        pipelines = request.url.params.get_list("pipeline")
        self.status_calls.append(asked)
        self.pipeline_params.append(pipelines)
        # A real 1.6.5 server also refuses the batch when an id appears twice.
        duplicated = len({a.lower() for a in asked}) != len(asked)
        if self.forbidden & set(asked) or duplicated:
            detail = (
                "Request owner does not have necessary permission: [read] for all "
                "datasets requested. [PermissionDeniedError]"
            )
            return httpx.Response(403, json={"detail": detail})
        if callable(self.statuses):
            return self.statuses(asked, pipelines)
        return httpx.Response(200, json={i: self.statuses[i] for i in asked if i in self.statuses})


# Its own, not support.world.backend_for: a scripted handler (httpx.MockTransport), no simulator.
def backend(handler: Callable[[httpx.Request], httpx.Response], **extra: Any) -> CogneeBackend:
    timeout = extra.pop("timeout", 5.0)
    return CogneeBackend(
        config(**extra), Settings(timeout=timeout), transport=httpx.MockTransport(handler)
    )


async def poll(
    handler: Callable[[httpx.Request], httpx.Response], dataset_ids: list[str], **extra: Any
) -> FetchResult:
    b = backend(handler, **extra)
    try:
        return await b.fetch(dataset_ids, {})
    finally:
        await b.aclose()


def by_id(result: FetchResult) -> dict[str, Any]:
    return {s.id: s for s in result.states}


# ---------------------------------------------------------------- translation rules


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (INITIATED, State.PENDING),
        (STARTED, State.RUNNING),
        (COMPLETED, State.READY),
        (ERRORED, State.ERROR),
        ("pending", State.PENDING),
        ("running", State.RUNNING),
        ("completed", State.READY),
        ("failed", State.ERROR),
        ("Running", State.RUNNING),
        ("dataset_processing_completed", State.READY),
        ("DATASET_PROCESSING_PAUSED", State.UNKNOWN),
        ("", State.UNKNOWN),
    ],
)
def test_run_state_vocabularies(status: str, state: State) -> None:
    assert run_state(status) is state


PIPES = [ADD, COGNIFY]


@pytest.mark.parametrize(
    ("runs", "state", "status", "error"),
    [
        ({}, State.PENDING, None, None),  # no runs at all
        ({ADD: COMPLETED}, State.PENDING, None, None),  # cognify not run yet
        ({ADD: COMPLETED, COGNIFY: INITIATED}, State.PENDING, INITIATED, None),
        ({ADD: COMPLETED, COGNIFY: STARTED}, State.RUNNING, STARTED, None),
        ({ADD: STARTED}, State.RUNNING, STARTED, None),
        ({ADD: COMPLETED, COGNIFY: COMPLETED}, State.READY, COMPLETED, None),
        ({ADD: COMPLETED, COGNIFY: ERRORED}, State.ERROR, ERRORED, "cognify_pipeline errored"),
        ({ADD: ERRORED, COGNIFY: STARTED}, State.ERROR, ERRORED, "add_pipeline errored"),
        (
            {ADD: "failed", COGNIFY: "failed"},
            State.ERROR,
            "failed",
            "add_pipeline errored; cognify_pipeline errored",
        ),
        ({ADD: "completed", COGNIFY: "running"}, State.RUNNING, "running", None),
        ({ADD: "completed", COGNIFY: "completed"}, State.READY, "completed", None),
        ({ADD: "completed", COGNIFY: "pending"}, State.PENDING, "pending", None),
        ({ADD: COMPLETED, COGNIFY: "PAUSED"}, State.UNKNOWN, "PAUSED", None),
        ({ADD: "PAUSED", COGNIFY: ERRORED}, State.ERROR, ERRORED, "cognify_pipeline errored"),
        # a pipeline that was not asked for does not decide
        (
            {ADD: COMPLETED, COGNIFY: COMPLETED, "code_graph_pipeline": ERRORED},
            State.READY,
            COMPLETED,
            None,
        ),
    ],
)
def test_combine(runs: dict[str, str], state: State, status: str | None, error: str | None) -> None:
    verdict = combine(runs, PIPES)
    assert (verdict.state, verdict.status, verdict.error) == (state, status, error)


# ---------------------------------------------------------------- both shapes


async def test_flat_shape_with_one_pipeline() -> None:
    server = Server({ID: COMPLETED})  # ID2 has no runs: the server leaves it out
    result = await poll(server, [ID, ID2], pipelines=[COGNIFY])
    states = by_id(result)
    assert (states[ID].state, states[ID].status, states[ID].pipelines) == (
        State.READY,
        COMPLETED,
        {COGNIFY: COMPLETED},
    )
    assert (states[ID2].state, states[ID2].status, states[ID2].pipelines) == (
        State.PENDING,
        None,
        {},
    )
    assert states[ID].raw == {ID: COMPLETED} and states[ID2].raw == {}
    assert server.pipeline_params == [[COGNIFY]]


async def test_nested_shape_with_two_pipelines() -> None:
    server = Server({ID: {ADD: COMPLETED, COGNIFY: STARTED}, ID2: {}})
    result = await poll(server, [ID, ID2])
    states = by_id(result)
    assert (states[ID].state, states[ID].status) == (State.RUNNING, STARTED)
    assert states[ID].pipelines == {ADD: COMPLETED, COGNIFY: STARTED}
    assert (states[ID2].state, states[ID2].pipelines) == (State.PENDING, {})
    assert server.status_calls == [[ID, ID2]]
    assert server.pipeline_params == [[ADD, COGNIFY]]


async def test_the_docs_vocabulary_in_the_flat_shape() -> None:
    result = await poll(Server({ID: "failed", ID2: "running"}), [ID, ID2], pipelines=[ADD])
    states = by_id(result)
    assert (states[ID].state, states[ID].error) == (State.ERROR, "add_pipeline errored")
    assert states[ID2].state is State.RUNNING


async def test_the_progress_shape_is_understood() -> None:
    body = {
        ID: {
            ADD: {"status": COMPLETED, "progress": None},
            COGNIFY: {"status": STARTED, "progress": {"completed_items": 1}},
        }
    }
    result = await poll(Server(body), [ID])
    assert (result.states[0].state, result.states[0].pipelines) == (
        State.RUNNING,
        {ADD: COMPLETED, COGNIFY: STARTED},
    )


@pytest.mark.parametrize(
    ("entry", "status"), [(COMPLETED, COMPLETED), (42, "42"), (["x"], '["x"]')]
)
async def test_an_entry_of_an_unexpected_shape_is_unknown(entry: Any, status: str) -> None:
    # A bare string with two pipelines asked for cannot be attributed to either.
    result = await poll(Server({ID: entry}), [ID])
    assert (result.states[0].state, result.states[0].status) == (State.UNKNOWN, status)


async def test_a_repeated_entry_reads_as_if_read_for_the_first_time() -> None:
    """Entries seen before are translated from what was kept of them: each dataset
    still gets the state a fresh translation gives, with its own ID, name and raw."""
    a, b, c, d, e, f = dataset_ids = ids(6)
    first = {
        a: {ADD: COMPLETED, COGNIFY: STARTED},
        b: {ADD: COMPLETED, COGNIFY: ERRORED},
        c: {ADD: {"status": COMPLETED, "progress": 50}},  # a dict status: not kept
        d: {ADD: 42},  # not a string: not kept
        e: {},
        f: COMPLETED,  # flat with two pipelines asked for: unknown
    }
    # The same entries again, each now for another dataset.
    second = dict(zip(dataset_ids, [first[x] for x in (b, a, d, c, f, e)], strict=True))
    answers = [first, second]
    server = Server(lambda asked, _: httpx.Response(200, json=answers[0]), names={a: "alpha"})
    b_ = backend(server)
    try:
        results = [await b_.fetch(dataset_ids, {})]
        answers.pop(0)
        results.append(await b_.fetch(dataset_ids, {}))
    finally:
        await b_.aclose()
    for result, entries in zip(results, (first, second), strict=True):
        for state in result.states:
            entry = entries[state.id]
            name = "alpha" if state.id == a else None
            fresh = dataset_state("cg", state.id, entry, [ADD, COGNIFY], {state.id: entry}, name)
            assert state.__dict__ == fresh.__dict__
            assert state.raw == {state.id: entry}
    states = by_id(results[1])
    assert (states[a].state, states[a].name) == (State.ERROR, "alpha")
    assert states[b].state is State.RUNNING


async def test_ids_in_the_answer_are_matched_whatever_their_spelling() -> None:
    result = await poll(
        Server(
            lambda asked, _: httpx.Response(
                200, json={ID.upper().replace("-", ""): {ADD: COMPLETED, COGNIFY: COMPLETED}}
            )
        ),
        [ID],
    )
    assert result.states[0].state is State.READY


async def test_the_real_nested_shape_leaves_out_pipelines_that_never_ran() -> None:
    """1.6.5 lists only pipelines with a run: a missing key is "not run yet", i.e. pending,
    unless another rule decides (docs/cognee-real-server.md, difference 2)."""
    a, b, c, d, e = ids(5)
    body = {
        a: {ADD: COMPLETED},  # /add done, cognify never ran
        b: {},  # POST /datasets: nothing ran
        c: {COGNIFY: COMPLETED},  # an empty dataset's cognify: add never ran
        d: {ADD: ERRORED},  # another rule decides: error
        e: {ADD: STARTED},  # and here: running
    }
    states = by_id(await poll(Server(body), [a, b, c, d, e]))
    assert (states[a].state, states[a].status, states[a].pipelines) == (
        State.PENDING,
        None,
        {ADD: COMPLETED},
    )
    assert (states[b].state, states[b].pipelines) == (State.PENDING, {})
    assert (states[c].state, states[c].pipelines) == (State.PENDING, {COGNIFY: COMPLETED})
    assert states[d].state is State.ERROR
    assert states[e].state is State.RUNNING
    assert all(s.error is None for s in (states[a], states[b], states[c]))


# ---------------------------------------------------------------- batching


async def test_the_same_dataset_is_never_sent_twice() -> None:
    """A duplicate makes a real server refuse the whole batch (403), so however an id is
    spelled, it goes out once, and every spelling gets its answer."""
    spellings = [ID, ID.upper(), ID.replace("-", ""), ID2, ID]
    server = Server({ID: {ADD: COMPLETED, COGNIFY: COMPLETED}, ID2: {ADD: COMPLETED}})
    result = await poll(server, spellings)
    assert server.status_calls == [[ID, ID2]]  # one clean request, no 403 to isolate
    assert [s.id for s in result.states] == spellings
    assert [s.state for s in result.states] == [State.READY] * 3 + [State.PENDING, State.READY]


async def test_ids_are_chunked_by_100_with_every_pipeline() -> None:
    many = ids(250)
    server = Server({i: {ADD: COMPLETED, COGNIFY: COMPLETED} for i in many})
    result = await poll(server, many, pipelines=[ADD, COGNIFY, "code_graph_pipeline"])
    assert [len(c) for c in server.status_calls] == [100, 100, 50]
    assert sorted(i for call in server.status_calls for i in call) == sorted(many)
    assert all(p == [ADD, COGNIFY, "code_graph_pipeline"] for p in server.pipeline_params)
    assert [s.id for s in result.states] == many
    assert len(server.requests[0].url.query) < 5000  # the query string stays short
    assert result.requests == 3 + 1  # three status chunks, one name lookup


async def test_a_forbidden_id_is_isolated_without_blinding_the_batch() -> None:
    batch = ids(8)
    bad = batch[5]
    good = {i: {ADD: COMPLETED, COGNIFY: COMPLETED} for i in batch if i != bad}
    server = Server(good, forbidden=[bad])
    b = backend(server)

    first = await b.fetch(batch, {})
    states = by_id(first)
    # 1 (the batch) + 2 per halving level (8 -> 4 -> 2 -> 1): 1 + 2*log2(8)
    assert len(server.status_calls) == 7
    assert states[bad].state is State.NOT_FOUND
    assert states[bad].failure is not None and states[bad].failure.http_status == 403
    assert all(states[i].state is State.READY for i in good)
    assert first.unauthorized is False
    assert first.requests == 7 + 1  # and one name lookup
    assert b.suspects == {bad}

    # Next poll: the suspect is asked about alone, the rest in one clean batch.
    server.status_calls.clear()
    second = await b.fetch(batch, {})
    assert sorted(server.status_calls, key=len) == [[bad], [i for i in batch if i != bad]]
    assert by_id(second)[bad].state is State.NOT_FOUND

    # It became visible (created later, access granted): back into the batch.
    server.forbidden.clear()
    server.statuses[bad] = {ADD: COMPLETED}
    server.status_calls.clear()
    third = await b.fetch(batch, {})
    assert by_id(third)[bad].state is State.PENDING
    assert b.suspects == set()
    server.status_calls.clear()
    await b.fetch(batch, {})
    assert server.status_calls == [batch]
    await b.aclose()


async def test_two_forbidden_ids_in_a_batch() -> None:
    batch = ids(16)
    bad = {batch[0], batch[11]}
    server = Server({i: {ADD: COMPLETED, COGNIFY: COMPLETED} for i in batch}, forbidden=bad)
    result = await poll(server, batch)
    states = by_id(result)
    assert {i for i, s in states.items() if s.state is State.NOT_FOUND} == bad
    assert all(states[i].state is State.READY for i in batch if i not in bad)
    assert len(server.status_calls) <= 1 + 2 * 2 * 4  # ≈ 2·log2(16) extra per bad ID


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("response", "kind", "message"),
    [
        (
            httpx.Response(409, json={"error": "Unable to retrieve dataset statuses."}),
            "http",
            "HTTP 409 Conflict: Unable to retrieve dataset statuses.",
        ),
        (
            httpx.Response(500, text="Internal Server Error"),
            "http",
            "HTTP 500 Internal Server Error",
        ),
        (
            httpx.Response(
                400,
                json={
                    "detail": [
                        {
                            "loc": ["query", "dataset", 0],
                            "msg": "Input should be a valid UUID",
                            "type": "uuid_parsing",
                        }
                    ]
                },
            ),
            "http",
            "HTTP 400 Bad Request: Input should be a valid UUID",
        ),
        (
            httpx.Response(200, text="<html>proxy error</html>"),
            "body",
            "response is not JSON (Expecting value at char 0)",
        ),
        (httpx.Response(200, text='{"' + ID), "body", "response is truncated JSON"),
        (httpx.Response(200, json=[ID]), "body", "expected a JSON object, got array"),
        (httpx.Response(200, content=b"null"), "body", "expected a JSON object, got null"),
        (httpx.Response(200, json="ok"), "body", "expected a JSON object, got string"),
        (
            httpx.Response(200, content=b'{"\xff": 1}'),
            "body",
            "response is not UTF-8 (bad byte at 2)",
        ),
    ],
)
async def test_trouble_makes_the_whole_chunk_unreachable(
    response: httpx.Response, kind: str, message: str
) -> None:
    server = Server(lambda asked, _: response)
    result = await poll(server, [ID, ID2])
    assert len(server.status_calls) == 1
    for state in result.states:
        assert state.state is State.UNREACHABLE
        assert state.failure is not None
        assert (state.failure.kind, state.failure.message, state.error) == (kind, message, message)
    assert result.unauthorized is False


async def test_a_timeout_makes_the_chunk_unreachable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == LIST_PATH:
            return httpx.Response(200, json=[])
        raise httpx.ReadTimeout("slow")

    result = await poll(handler, [ID, ID2], timeout=3)
    assert {s.state for s in result.states} == {State.UNREACHABLE}
    assert result.states[0].error == "timed out after 3s"


async def test_429_is_unreachable_with_retry_after() -> None:
    server = Server(lambda asked, _: httpx.Response(429, headers={"Retry-After": "42"}))
    result = await poll(server, [ID, ID2])
    assert {s.state for s in result.states} == {State.UNREACHABLE}
    assert result.retry_after == 42.0


# ---------------------------------------------------------------- credentials


class LoginServer:
    """Cognee with a password login; tokens are numbered; `valid` says which still work."""

    def __init__(self, *, password: str = "pw-correct-horse") -> None:
        self.password = password
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.accepting = True
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if request.url.path == LOGIN_PATH:
            assert request.method == "POST"
            form = dict(httpx.QueryParams(request.content.decode()))
            if form != {"username": "me@example.com", "password": self.password}:
                return httpx.Response(400, json={"detail": "LOGIN_BAD_CREDENTIALS"})
            token = f"jwt-login-token-{len(self.issued) + 1:04d}"
            self.issued.append(token)
            self.valid = {token}
            return httpx.Response(200, json={"access_token": token, "token_type": "bearer"})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid or not self.accepting:
            return httpx.Response(401, json={"detail": "Unauthorized"})
        if request.url.path == LIST_PATH:
            return httpx.Response(200, json=[{"id": ID, "name": "notes"}])
        return httpx.Response(200, json={ID: {ADD: COMPLETED, COGNIFY: COMPLETED}})


def login_backend(server: LoginServer, password: str = "pw-correct-horse") -> Backend:
    cfg = config(username_env="CG_USER", password_env="CG_PASS")
    environ = {"CG_USER": "me@example.com", "CG_PASS": password}
    return make_backend(cfg, Settings(), transport=httpx.MockTransport(server), environ=environ)


async def test_login_is_lazy_and_shared() -> None:
    server = LoginServer()
    b = login_backend(server)
    assert server.paths == []  # nothing at construction
    result = await b.fetch([ID], {})
    await b.aclose()
    assert result.states[0].state is State.READY
    assert result.states[0].name == "notes"
    assert server.paths.count(LOGIN_PATH) == 1  # the name lookup and the poll share it


async def test_login_again_after_a_401() -> None:
    server = LoginServer()
    b = login_backend(server)
    await b.fetch([ID], {})
    server.valid = set()  # the JWT expired
    result = await b.fetch([ID], {})
    await b.aclose()
    assert result.states[0].state is State.READY and result.unauthorized is False
    assert len(server.issued) == 2
    assert server.paths[-3:] == [STATUS_PATH, LOGIN_PATH, STATUS_PATH]
    assert result.requests == 3


async def test_still_401_after_login_is_unauthorized() -> None:
    server = LoginServer()
    b = login_backend(server)
    await b.fetch([ID], {})
    server.paths.clear()
    server.accepting = False  # the account was disabled: fresh tokens are refused too
    result = await b.fetch([ID], {})
    await b.aclose()
    assert result.unauthorized is True
    assert result.states[0].state is State.UNAUTHORIZED
    assert server.paths == [STATUS_PATH, LOGIN_PATH, STATUS_PATH]  # one login, then give up
    assert result.requests == 3
    assert result.states[0].error == "HTTP 401 Unauthorized: Unauthorized"


REAL_401 = (
    "Authentication required (auth posture: default (no env vars set)). For single-user "
    "local use, set ENABLE_BACKEND_ACCESS_CONTROL=false and restart. To keep authentication "
    "and log in instead, set DEFAULT_USER_PASSWORD to make the default account loginable — "
    "see docs/minimal-docker-compose.md."
)


async def test_the_real_401_is_unauthorized_with_the_servers_words() -> None:
    """1.6.5's one 401 (no WWW-Authenticate, a long detail): refused credentials, shown
    shortened; a JWT login tries once more, a static token does not."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == LOGIN_PATH:
            return httpx.Response(200, json={"access_token": "jwt-not-honoured-0001"})
        return httpx.Response(401, json={"detail": REAL_401})

    for extra, environ, status_requests in (
        ({}, {}, 1),
        ({"token_env": "TOKEN"}, {"TOKEN": "jwt-static-token-0001"}, 1),
        ({"username_env": "U", "password_env": "P"}, {"U": "me@example.com", "P": "pw"}, 2),
    ):
        seen: list[str] = []

        def counting(request: httpx.Request, seen: list[str] = seen) -> httpx.Response:
            seen.append(request.url.path)
            return handler(request)

        b = make_backend(
            config(**extra), Settings(), transport=httpx.MockTransport(counting), environ=environ
        )
        result = await b.fetch([ID], {})
        await b.aclose()
        state = result.states[0]
        assert result.unauthorized is True and state.state is State.UNAUTHORIZED
        assert state.failure is not None and state.failure.http_status == 401
        assert (state.error or "").startswith("HTTP 401 Unauthorized: Authentication required")
        assert len(state.error or "") < 260  # the detail is cut, not pasted whole
        assert seen.count(STATUS_PATH) == status_requests, extra


async def test_a_refused_login_is_unauthorized_and_keeps_the_password_out() -> None:
    server = LoginServer()
    b = login_backend(server, password="pw-wrong-wrong")
    result = await b.fetch([ID], {})
    await b.aclose()
    state = result.states[0]
    assert result.unauthorized is True and state.state is State.UNAUTHORIZED
    assert state.error == "login refused (HTTP 400: LOGIN_BAD_CREDENTIALS)"
    assert STATUS_PATH not in server.paths  # nothing sent without a token
    assert "pw-wrong-wrong" not in repr(b) + repr(result)


async def test_requests_waiting_on_a_refused_login_share_it() -> None:
    """The names lookup waits for a status poll that gets in: a wrong password must
    not pile up refusals (account lockouts). The next poll tries once more (the server
    may have been fixed meanwhile), and then asks for the names too."""
    server = LoginServer()

    async def over_the_network(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)  # a real round trip: the other request waits meanwhile
        return server(request)

    cfg = config(username_env="CG_USER", password_env="CG_PASS")
    environ = {"CG_USER": "me@example.com", "CG_PASS": "pw-wrong-wrong"}
    transport = httpx.MockTransport(over_the_network)
    b = make_backend(cfg, Settings(), transport=transport, environ=environ)
    first = await b.fetch([ID, ID2], {})
    assert server.paths == [LOGIN_PATH]
    assert first.unauthorized is True
    assert {s.error for s in first.states} == {"login refused (HTTP 400: LOGIN_BAD_CREDENTIALS)"}
    server.password = "pw-wrong-wrong"  # the account was fixed on the server
    second = await b.fetch([ID], {})
    await b.aclose()
    assert server.paths == [LOGIN_PATH, LOGIN_PATH, STATUS_PATH, LIST_PATH]
    assert second.unauthorized is False and second.states[0].state is State.READY


async def test_requests_refused_together_share_one_failed_relogin() -> None:
    """Two chunks get 401 at once (the password was changed on the server): one
    logs in again and is refused; the other gets that refusal instead of a crash
    or a second login."""
    server = LoginServer()

    async def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path == STATUS_PATH:
            await asyncio.sleep(0.01)  # keep both chunks in flight together
        return server(request)

    cfg = config(username_env="CG_USER", password_env="CG_PASS")
    environ = {"CG_USER": "me@example.com", "CG_PASS": "pw-correct-horse"}
    b = make_backend(cfg, Settings(), transport=httpx.MockTransport(slow), environ=environ)
    many = ids(CogneeBackend.batch_size + 1)  # two chunks
    assert (await b.fetch(many, {})).unauthorized is False
    server.paths.clear()
    server.password, server.valid = "pw-changed", set()
    result = await b.fetch(many, {})
    await b.aclose()
    assert server.paths.count(LOGIN_PATH) == 1
    assert server.paths.count(STATUS_PATH) == 2
    assert result.unauthorized is True
    assert {s.state for s in result.states} == {State.UNAUTHORIZED}
    assert {s.error for s in result.states} == {"login refused (HTTP 400: LOGIN_BAD_CREDENTIALS)"}


async def test_a_login_endpoint_in_trouble_is_unreachable_not_unauthorized() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == LOGIN_PATH:
            return httpx.Response(503, text="starting up")
        return httpx.Response(200, json={} if request.url.path == STATUS_PATH else [])

    cfg = config(username_env="CG_USER", password_env="CG_PASS")
    environ = {"CG_USER": "me@example.com", "CG_PASS": "pw-correct-horse"}
    b = make_backend(cfg, Settings(), transport=httpx.MockTransport(handler), environ=environ)
    result = await b.fetch([ID], {})
    await b.aclose()
    state = result.states[0]
    assert result.unauthorized is False and state.state is State.UNREACHABLE
    assert state.failure is not None and state.failure.kind == "login"
    assert state.error == "login failed: HTTP 503 Service Unavailable"


async def test_api_key_header() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, json={} if request.url.path == STATUS_PATH else [])

    b = make_backend(
        config(api_key_env="CG_KEY"),
        Settings(),
        transport=httpx.MockTransport(handler),
        environ={"CG_KEY": "cg-api-key-123456"},
    )
    result = await b.fetch([ID], {})
    await b.aclose()
    assert all(h["X-Api-Key"] == "cg-api-key-123456" for h in seen)
    assert all("Authorization" not in h for h in seen)
    assert result.states[0].state is State.PENDING


async def test_api_key_401_is_unauthorized_at_once() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(401, json={"detail": "bad key"})

    b = make_backend(
        config(api_key_env="CG_KEY"),
        Settings(),
        transport=httpx.MockTransport(handler),
        environ={"CG_KEY": "cg-api-key-123456"},
    )
    result = await b.fetch([ID, ID2], {})
    await b.aclose()
    assert result.unauthorized is True
    assert {s.state for s in result.states} == {State.UNAUTHORIZED}
    assert calls.count(STATUS_PATH) == 1  # keys don't expire: no renewal


async def test_bearer_token_from_the_environment() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200, json={} if request.url.path == STATUS_PATH else [])

    b = make_backend(
        config(token_env="CG_TOKEN"),
        Settings(),
        transport=httpx.MockTransport(handler),
        environ={"CG_TOKEN": "tok-abcdef-123"},
    )
    await b.fetch([ID], {})
    await b.aclose()
    assert set(seen) == {"Bearer tok-abcdef-123"}


async def test_secrets_never_appear_in_states_failures_or_reprs() -> None:
    key = "cg-api-key-very-secret-42"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == LIST_PATH:
            return httpx.Response(500, text=f"cannot list for key {key}")
        if len(request.url.params.get_list("dataset")) == 2:
            return httpx.Response(200, json={ID: {ADD: COMPLETED, "token": key}, ID2: key})
        return httpx.Response(503, text=f"key={key}")

    b = make_backend(
        config(api_key_env="CG_KEY"),
        Settings(),
        transport=httpx.MockTransport(handler),
        environ={"CG_KEY": key},
    )
    answered = await b.fetch([ID, ID2], {})
    failed = await b.fetch([ID], {})
    everything = " ".join(
        [
            repr(b),
            repr(answered),
            repr(failed),
            json.dumps([s.model_dump(mode="json") for s in answered.states + failed.states]),
        ]
    )
    await b.aclose()
    assert failed.states[0].failure is not None and failed.states[0].failure.body == "key=***"
    assert key not in everything


# ---------------------------------------------------------------- names


async def test_names_are_fetched_when_unknown_at_most_once_per_settled_interval() -> None:
    server = Server({ID: {}, ID2: {}}, names={ID: "papers"})
    clock = FakeClock(1000.0)
    b = CogneeBackend(
        config(), Settings(settled_interval=60), clock=clock, transport=httpx.MockTransport(server)
    )

    def list_calls() -> int:
        return sum(r.url.path == LIST_PATH for r in server.requests)

    first = await b.fetch([ID], {})
    assert first.states[0].name == "papers" and list_calls() == 1
    await b.fetch([ID], {})  # every name known: no lookup
    assert list_calls() == 1
    second = await b.fetch([ID, ID2], {})  # ID2 unnamed, but the list was read just now
    assert list_calls() == 1 and by_id(second)[ID2].name is None
    clock.now += 60
    server.names[ID2] = "code"
    third = await b.fetch([ID, ID2], {})
    assert list_calls() == 2 and by_id(third)[ID2].name == "code"
    await b.aclose()


async def test_names_are_asked_after_the_statuses_and_only_from_a_server_that_answers() -> None:
    """A server lists 50,000 datasets slowly: the statuses asked for are not queued
    behind that list. A server that does not answer is not asked for names too."""
    done = {ADD: COMPLETED, COGNIFY: COMPLETED}
    server = Server({ID: done, ID2: done}, names={ID: "papers", ID2: "code"})
    down = True

    async def handler(request: httpx.Request) -> httpx.Response:
        if down:
            return httpx.Response(503)
        await asyncio.sleep(0.01)  # a round trip: the other chunk's request goes out meanwhile
        return server(request)

    b = backend(handler)
    try:
        unread = await b.fetch([ID], {})
        assert unread.states[0].state is State.UNREACHABLE and server.requests == []
        down = False
        # Two chunks polled at once, as the scheduler does: both statuses go out first.
        first, second = await asyncio.gather(b.fetch([ID], {}), b.fetch([ID2], {}))
    finally:
        await b.aclose()
    assert [r.url.path for r in server.requests] == [STATUS_PATH, STATUS_PATH, LIST_PATH]
    assert (first.states[0].state, first.states[0].name) == (State.READY, "papers")
    assert second.states[0].state is State.READY


async def test_a_failing_name_lookup_never_fails_the_poll() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == LIST_PATH:
            return httpx.Response(500)
        return httpx.Response(200, json={ID: {ADD: COMPLETED, COGNIFY: COMPLETED}})

    result = await poll(handler, [ID])
    assert (result.states[0].state, result.states[0].name) == (State.READY, None)


# ---------------------------------------------------------------- list, details


async def test_list_datasets() -> None:
    items = [
        {"id": ID, "name": "papers", "createdAt": "2026-01-01T00:00:00", "ownerId": "o"},
        {"id": ID2.upper(), "name": "", "createdAt": "2026-01-01T00:00:00Z"},
        {"id": "nope"},
        7,
    ]
    b = backend(lambda r: httpx.Response(200, json=items))
    found = await b.list_datasets()
    await b.aclose()
    assert [(d.id, d.name) for d in found] == [(ID, "papers"), (ID2, None)]


async def test_list_datasets_failure_raises() -> None:
    b = backend(lambda r: httpx.Response(200, json={"not": "a list"}))
    with pytest.raises(BackendError, match="not an array"):
        await b.list_datasets()
    await b.aclose()


RUNS = [
    {
        "pipeline_name": COGNIFY,
        "status": ERRORED,
        "outcome": "failed",
        "error_class": "LLMAPIKeyNotSetError",
        "started_at": "2026-01-02T00:00:00Z",
    },
    {
        "pipeline_name": COGNIFY,
        "status": ERRORED,
        "outcome": "failed",
        "error_class": "OldError",
        "started_at": "2026-01-01T00:00:00Z",
    },
    {
        "pipeline_name": ADD,
        "status": COMPLETED,
        "outcome": "succeeded",
        "error_class": None,
        "started_at": "2026-01-01T00:00:00Z",
    },
]


async def test_details_runs_and_count() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        if request.url.path.endswith("/data/count"):
            return httpx.Response(200, json={"count": 12})
        return httpx.Response(200, json=RUNS)

    b = backend(handler)
    details = await b.details(ID)
    await b.aclose()
    assert details == {
        "pipeline_runs": RUNS,
        "error_classes": {COGNIFY: "LLMAPIKeyNotSetError"},
        "item_count": 12,
    }
    runs_url = next(u for u in seen if u.path == "/api/v1/activity/pipeline-runs")
    assert dict(runs_url.params) == {"dataset_id": ID, "limit": "40"}  # 2 rows per run
    assert any(u.path == f"/api/v1/datasets/{ID}/data/count" for u in seen)


def real_rows(run_id: str, pipeline: str, end: str | None, error_class: str | None) -> list[Any]:
    """The two rows a real 1.6.5 server logs for one run, newest first."""
    started = {
        "pipeline_run_id": run_id,
        "pipeline_name": pipeline,
        "status": STARTED,
        "outcome": None,
        "error_class": None,
        "started_at": f"2026-11-22T13:{run_id}:00.000001",
        "ended_at": None,
    }
    if end is None:
        return [started]
    ended = {
        **started,
        "status": end,
        "outcome": "failed" if end == ERRORED else "succeeded",
        "error_class": error_class,
        "ended_at": f"2026-11-22T13:{run_id}:30.000001",
    }
    return [ended, started]


async def test_details_show_each_real_run_once() -> None:
    """Two activity rows per run on a real server (STARTED, then the outcome): one shown."""
    feed = (
        real_rows("40", COGNIFY, None, None)  # still running
        + real_rows("30", COGNIFY, ERRORED, "InternalServerError")
        + real_rows("20", ADD, COMPLETED, None)
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/data/count"):
            return httpx.Response(200, json={"count": 2})
        return httpx.Response(200, json=feed)

    b = backend(handler)
    details = await b.details(ID)
    await b.aclose()
    assert [(r["pipeline_name"], r["status"]) for r in details["pipeline_runs"]] == [
        (COGNIFY, STARTED),
        (COGNIFY, ERRORED),
        (ADD, COMPLETED),
    ]
    assert details["error_classes"] == {COGNIFY: "InternalServerError"}

    # Oldest first (not what 1.6.5 does): still the outcome row of each run.
    feed.reverse()
    b = backend(handler)
    details = await b.details(ID)
    await b.aclose()
    assert [(r["pipeline_name"], r["status"]) for r in details["pipeline_runs"]] == [
        (ADD, COMPLETED),
        (COGNIFY, ERRORED),
        (COGNIFY, STARTED),
    ]


async def test_details_leave_out_what_the_server_lacks() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/data/count"):
            return httpx.Response(404, json={"detail": "Not Found"})
        return httpx.Response(200, json=RUNS[2:])

    b = backend(handler)
    assert await b.details(ID) == {"pipeline_runs": RUNS[2:], "error_classes": {}}
    await b.aclose()


async def test_details_fail_loudly_on_server_trouble() -> None:
    b = backend(lambda r: httpx.Response(500))
    with pytest.raises(BackendError, match="HTTP 500"):
        await b.details(ID)
    await b.aclose()


def test_web_url_only_from_a_template() -> None:
    assert CogneeBackend(config(), Settings()).web_url(ID) is None
    b = CogneeBackend(config(web_url="https://ui.example.com/d/{id}"), Settings())
    assert b.web_url(ID) == f"https://ui.example.com/d/{ID}"


async def test_an_error_says_its_cause_from_the_activity_feed_once() -> None:
    """Cognee's status says only `errored`; the run's error_class is the cause, asked
    once per new error and carried over while the error lasts."""
    errored = {"add_pipeline": COMPLETED, "cognify_pipeline": "DATASET_PROCESSING_ERRORED"}
    server = Server({ID: errored, ID2: errored})
    server.runs[ID] = [
        {
            "pipeline_name": "cognify_pipeline",
            "status": "DATASET_PROCESSING_ERRORED",
            "error_class": "LLMAPIKeyNotSetError",
            "started_at": "2026-11-24T10:00:00",
        },
        {
            "pipeline_name": "cognify_pipeline",
            "status": "DATASET_PROCESSING_ERRORED",
            "error_class": "\x1b]0;evil\x07[bold]Old[/]",
            "started_at": "2026-11-23T10:00:00",
        },
    ]
    b = backend(server)
    try:
        first = by_id(await b.fetch([ID, ID2], {}))
        assert first[ID].error == "cognify_pipeline errored: LLMAPIKeyNotSetError"
        assert first[ID2].error == "cognify_pipeline errored"  # no feed: as the status says
        previous = {s.id: s for s in first.values()}
        again = by_id(await b.fetch([ID, ID2], previous))
        assert again[ID].error == "cognify_pipeline errored: LLMAPIKeyNotSetError"
        assert server.activity_calls.count(ID) == 1  # not once per poll
    finally:
        await b.aclose()
