"""Visual Layer backend against in-process MockTransport handlers."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.support.clock import FakeClock
from tui.backends import make_backend
from tui.backends.auth import VisualLayerJwtAuth
from tui.backends.base import BackendError, FetchResult
from tui.backends.visual_layer import VisualLayerBackend, count_of, progress_of
from tui.config import BackendConfig, Settings
from tui.health import describe_failure
from tui.models import DatasetState, State
from tui.secrets import Redactor, Secret

ID = "ad48d250-1232-11f1-bfca-fa39f6ed1f22"
ID2 = "0b6f3c7e-5d1a-4a8e-9c2b-7e4f1a2b3c4d"
BASE = "https://vl.example.com"
API_KEY = "vl-key-0123456789abcdef"
API_SECRET = "vl-secret-fedcba9876543210-very-secret"
Handler = Callable[[httpx.Request], Any]


def config(**extra: Any) -> BackendConfig:
    return BackendConfig(name="vl", type="visual_layer", url=extra.pop("url", BASE), **extra)


# Its own, not support.world.backend_for: a scripted handler (httpx.MockTransport), no simulator.
def backend(
    handler: Handler, *, auth: httpx.Auth | None = None, timeout: float = 5.0, **extra: Any
) -> VisualLayerBackend:
    return VisualLayerBackend(
        config(**extra),
        Settings(timeout=timeout),
        auth=auth,
        transport=httpx.MockTransport(handler),
    )


def dataset(**fields: Any) -> dict[str, Any]:
    body = {
        "id": ID,
        "display_name": "My Dataset",
        "status_new": "READY",
        "progress": 100,
        "n_images": 26,
        "n_videos": 0,
        "n_objects": 0,
        "fatal_error_msg": None,
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not ...}


async def poll(
    handler: Handler, previous: dict[str, DatasetState] | None = None, **kwargs: Any
) -> tuple[DatasetState, FetchResult]:
    b = backend(handler, **kwargs)
    try:
        result = await b.fetch([ID], previous or {})
    finally:
        await b.aclose()
    assert [s.id for s in result.states] == [ID]
    return result.states[0], result


async def poll_body(body: Any, **kwargs: Any) -> DatasetState:
    state, _ = await poll(lambda r: httpx.Response(200, json=body), **kwargs)
    return state


# ---------------------------------------------------------------- status translation


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("DRAFT", State.PENDING),
        ("NEW", State.PENDING),
        ("UPLOADING", State.PENDING),
        ("INITIALIZING", State.PENDING),
        ("INDEXING", State.RUNNING),
        ("READ ONLY", State.RUNNING),
        ("READ_ONLY", State.RUNNING),
        ("read only", State.RUNNING),
        ("UPDATING", State.RUNNING),
        ("ENRICHING", State.RUNNING),
        ("SAVING", State.RUNNING),
        ("PRE_PROCESSING", State.RUNNING),
        ("PRE PROCESSING", State.RUNNING),
        ("PARTIAL INDEX", State.PARTIAL),
        ("PARTIAL_INDEX", State.PARTIAL),
        ("Partial Index", State.PARTIAL),
        ("READY", State.READY),
        ("ready", State.READY),
        ("ERROR", State.ERROR),
        ("FATAL_ERROR", State.ERROR),
        ("REINDEXING_V2", State.UNKNOWN),
        ("", State.UNKNOWN),
    ],
)
async def test_status_new_translation(status: str, state: State) -> None:
    result = await poll_body(dataset(status_new=status))
    assert result.state is state
    assert result.status == status  # the backend's string, unchanged


async def test_legacy_status_is_the_fallback() -> None:
    result = await poll_body(dataset(status_new=..., status="PRE_PROCESSING"))
    assert (result.state, result.status) == (State.RUNNING, "PRE_PROCESSING")
    result = await poll_body(dataset(status_new=None, status="FATAL_ERROR"))
    assert (result.state, result.status) == (State.ERROR, "FATAL_ERROR")


async def test_status_new_wins_over_status() -> None:
    result = await poll_body(dataset(status_new="INDEXING", status="READY"))
    assert (result.state, result.status) == (State.RUNNING, "INDEXING")


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (..., None),
        (42, "42"),
        (["READY"], '["READY"]'),
        (True, "true"),
        ({"a": None}, '{"a": null}'),
    ],
)
async def test_missing_or_odd_status_is_unknown(value: Any, status: str | None) -> None:
    result = await poll_body(dataset(status_new=value))
    assert (result.state, result.status) == (State.UNKNOWN, status)


async def test_error_message_comes_from_fatal_error_msg() -> None:
    result = await poll_body(dataset(status_new="ERROR", fatal_error_msg="bucket not readable"))
    assert (result.state, result.error) == (State.ERROR, "bucket not readable")
    result = await poll_body(dataset(status_new="READY", fatal_error_msg="stale"))
    assert result.error is None


async def test_fields_are_carried_over() -> None:
    body = dataset(
        status_new="INDEXING",
        progress=42.5,
        n_images=26,
        n_videos=3,
        n_objects=7,
        extra_unknown_field={"x": 1},
    )
    result = await poll_body(body)
    assert result.name == "My Dataset"
    assert (result.progress, result.n_images, result.n_videos, result.n_objects) == (
        42.5,
        26,
        3,
        7,
    )
    assert result.raw == body
    assert result.failure is None and result.error is None
    assert result.fetched_at is None and result.polled_at is None  # the poller stamps


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (50, 50.0),
        (42.5, 42.5),
        ("42.5", 42.5),
        (" 7 ", 7.0),
        (-5, None),  # out of range: a broken server, shown as unknown
        (150, None),
        (100, 100.0),
        (0, 0.0),
        (10**400, None),
        ("1" * 400, None),
        ("abc", None),
        (None, None),
        (True, None),
        ("NaN", None),
        ("inf", None),
        ([50], None),
    ],
)
def test_progress_is_lenient_and_absurd_values_are_unknown(
    value: Any, expected: float | None
) -> None:
    assert progress_of(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (42, 42), ("42", None), (-1, None), (None, None), (4.5, None), (True, None)],
)
def test_counts_are_non_negative_ints(value: Any, expected: int | None) -> None:
    assert count_of(value) == expected


async def test_wrongly_typed_fields_do_not_crash() -> None:
    body = dataset(progress="lots", n_images="42", n_videos=-1, n_objects=None, display_name=5)
    result = await poll_body(body)
    assert result.state is State.READY
    assert (result.progress, result.n_images, result.n_videos, result.n_objects) == (
        None,
        None,
        None,
        None,
    )
    assert result.name is None


# ---------------------------------------------------------------- HTTP outcomes


@pytest.mark.parametrize(
    ("status", "state", "unauthorized"),
    [
        (404, State.NOT_FOUND, False),
        (401, State.UNAUTHORIZED, True),
        (403, State.UNAUTHORIZED, False),  # one dataset's access, not the credentials
        (500, State.UNREACHABLE, False),
        (502, State.UNREACHABLE, False),
        (503, State.UNREACHABLE, False),
        (409, State.UNREACHABLE, False),
        (400, State.UNREACHABLE, False),
    ],
)
async def test_http_status_outcomes(status: int, state: State, unauthorized: bool) -> None:
    body = {"detail": "nope"}
    result, fetched = await poll(lambda r: httpx.Response(status, json=body))
    assert result.state is state
    assert fetched.unauthorized is unauthorized
    assert result.failure is not None and result.failure.http_status == status
    assert result.error == result.failure.message
    assert "nope" in result.error


async def test_429_is_unreachable_with_retry_after() -> None:
    result, fetched = await poll(lambda r: httpx.Response(429, headers={"Retry-After": "17"}))
    assert result.state is State.UNREACHABLE
    assert fetched.retry_after == 17.0
    assert result.failure is not None and result.failure.http_status == 429


@pytest.mark.parametrize(
    ("handler_result", "kind"),
    [
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "connect"),
        (httpx.Response(301, headers={"Location": "https://elsewhere.example/x"}), "redirect"),
        (httpx.Response(200, content=b"<html>maintenance</html>"), "body"),
        (httpx.Response(200, content=b'{"status_new": "READ'), "body"),
        (httpx.Response(200, content=b"\xff\xfe{}"), "body"),
        (httpx.Response(200, json=[dataset()]), "body"),
        (httpx.Response(200, json="READY"), "body"),
        (httpx.Response(200, content=b"null"), "body"),
        (httpx.Response(200, json=100), "body"),
    ],
)
async def test_trouble_is_unreachable_with_a_failure(handler_result: Any, kind: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(handler_result, Exception):
            raise handler_result
        return handler_result

    result, fetched = await poll(handler)
    assert result.state is State.UNREACHABLE
    assert result.failure is not None and result.failure.kind == kind
    assert result.error == result.failure.message
    assert fetched.unauthorized is False and fetched.retry_after is None


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"[1]", "array"),
        (b'"READY"', "string"),
        (b"null", "null"),
        (b"7", "number"),
        (b"true", "boolean"),
    ],
)
async def test_non_object_json_says_what_came(body: bytes, what: str) -> None:
    result, _ = await poll(lambda r: httpx.Response(200, content=body))
    assert result.error == f"expected a JSON object, got {what}"
    assert result.failure is not None and result.failure.body == body.decode()


# ---------------------------------------------------------------- creation status


class CreationServer:
    def __init__(self, main: dict[str, Any], creation: httpx.Response) -> None:
        self.main, self.creation, self.paths = main, creation, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if request.url.path.endswith("/creation-status"):
            return self.creation
        return httpx.Response(200, json=self.main)


def previously(state: State) -> dict[str, DatasetState]:
    return {ID: DatasetState(backend="vl", id=ID, state=state)}


@pytest.mark.parametrize("before", [State.PENDING, State.RUNNING])
async def test_creation_status_is_asked_while_being_created(before: State) -> None:
    server = CreationServer(
        dataset(status_new="DRAFT"),
        httpx.Response(200, json={"status": "UPLOADING", "progress": 40}),
    )
    result, fetched = await poll(server, previously(before))
    assert sorted(server.paths) == [
        f"/api/v1/dataset/{ID}",
        f"/api/v1/datasets/{ID}/creation-status",
    ]
    assert fetched.requests == 2
    assert result.pipelines == {"creation": "UPLOADING"}
    assert result.state is State.PENDING


@pytest.mark.parametrize(
    "before", [None, State.READY, State.ERROR, State.PARTIAL, State.UNREACHABLE]
)
async def test_creation_status_costs_nothing_otherwise(before: State | None) -> None:
    server = CreationServer(dataset(status_new="INDEXING"), httpx.Response(200, json={}))
    result, fetched = await poll(server, previously(before) if before else {})
    assert server.paths == [f"/api/v1/dataset/{ID}"]
    assert fetched.requests == 1
    assert result.pipelines == {}


@pytest.mark.parametrize(
    "creation",
    [httpx.Response(404, json={"detail": "x"}), httpx.Response(500), httpx.Response(200, json=[])],
)
async def test_creation_status_failure_does_not_fail_the_dataset(creation: httpx.Response) -> None:
    server = CreationServer(dataset(status_new="INDEXING", progress=10), creation)
    result, _ = await poll(server, previously(State.RUNNING))
    assert (result.state, result.progress, result.pipelines, result.failure) == (
        State.RUNNING,
        10.0,
        {},
        None,
    )


async def test_creation_pipeline_is_dropped_once_ready() -> None:
    server = CreationServer(
        dataset(status_new="READY"), httpx.Response(200, json={"status": "READY"})
    )
    result, _ = await poll(server, previously(State.RUNNING))
    assert (result.state, result.pipelines) == (State.READY, {})


# ---------------------------------------------------------------- concurrency


async def test_several_ids_are_fetched_concurrently() -> None:
    ids = [ID, ID2, "11111111-2222-3333-4444-555555555555"]
    in_flight = 0
    all_in = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight
        in_flight += 1
        if in_flight == len(ids):
            all_in.set()
        await asyncio.wait_for(all_in.wait(), 2)  # sequential requests would time out here
        return httpx.Response(200, json=dataset(id=request.url.path.rsplit("/", 1)[1]))

    b = backend(handler)
    result = await b.fetch(ids, {})
    await b.aclose()
    assert [s.id for s in result.states] == ids
    assert all(s.state is State.READY for s in result.states)
    assert result.requests == 3


async def test_an_invalid_id_makes_no_request() -> None:
    b = backend(lambda r: pytest.fail("no request expected"))
    result = await b.fetch(["../../admin"], {})
    await b.aclose()
    assert result.states[0].state is State.NOT_FOUND
    assert result.requests == 0


# ---------------------------------------------------------------- tokens


def jwt_auth(clock: FakeClock, redactor: Redactor | None = None) -> VisualLayerJwtAuth:
    return VisualLayerJwtAuth(
        Secret(API_KEY), Secret(API_SECRET), redactor or Redactor(), clock=clock
    )


def bearer(request: httpx.Request) -> str:
    scheme, _, token = request.headers["Authorization"].partition(" ")
    assert scheme == "Bearer"
    return token


def check_jwt(token: str, issued_at: float) -> None:
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "JWT", "kid": API_KEY}
    claims = jwt.decode(token, API_SECRET, algorithms=["HS256"], options={"verify_iat": False})
    assert claims == {
        "sub": API_KEY,
        "iat": int(issued_at),
        "exp": int(issued_at) + 600,
        "iss": "sdk",
    }


async def test_jwt_is_signed_as_documented() -> None:
    clock = FakeClock(time.time())
    tokens: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(bearer(request))
        return httpx.Response(200, json=dataset())

    state, _ = await poll(handler, auth=jwt_auth(clock))
    assert state.state is State.READY
    check_jwt(tokens[0], clock.now)


async def test_a_fresh_jwt_after_a_401() -> None:
    clock = FakeClock(time.time())
    start = clock.now
    tokens: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(bearer(request))
        if len(tokens) == 1:
            clock.now += 5  # the retry is minted later: its iat differs
            return httpx.Response(401, json={"detail": "expired"})
        return httpx.Response(200, json=dataset())

    auth = jwt_auth(clock)
    state, fetched = await poll(handler, auth=auth)
    assert state.state is State.READY and fetched.unauthorized is False
    assert len(tokens) == 2 and tokens[0] != tokens[1]
    check_jwt(tokens[0], start)
    check_jwt(tokens[1], start + 5)
    assert fetched.requests == 2 and auth.minted == 2


async def test_still_401_after_a_fresh_jwt_is_unauthorized() -> None:
    clock = FakeClock(time.time())
    tokens: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(bearer(request))
        return httpx.Response(401, json={"detail": "Not authenticated"})

    state, fetched = await poll(handler, auth=jwt_auth(clock))
    assert state.state is State.UNAUTHORIZED
    assert fetched.unauthorized is True
    assert len(tokens) == 2 and fetched.requests == 2  # one renewal, then give up
    assert state.error == "HTTP 401 Unauthorized: Not authenticated"


async def test_jwt_is_renewed_at_80_percent_of_its_life() -> None:
    clock = FakeClock(time.time())
    auth = jwt_auth(clock)
    first = auth.current()
    clock.now += 479
    assert auth.current() == first
    clock.now += 1
    renewed = auth.current()
    assert renewed != first and auth.minted == 2
    check_jwt(renewed, clock.now)


async def test_no_credentials_no_authorization_header() -> None:
    headers: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers)
        return httpx.Response(200, json=dataset())

    b = make_backend(
        config(url="http://vl.internal:2080"),
        Settings(),
        transport=httpx.MockTransport(handler),
        environ={},
    )
    result = await b.fetch([ID], {})
    await b.aclose()
    assert result.states[0].state is State.READY
    assert "Authorization" not in headers[0]


async def test_make_backend_signs_with_key_and_secret_from_the_environment() -> None:
    tokens: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(bearer(request))
        return httpx.Response(200, json=dataset())

    cfg = config(api_key_env="VL_KEY", api_secret_env="VL_SECRET")
    environ = {"VL_KEY": API_KEY, "VL_SECRET": API_SECRET}
    b = make_backend(cfg, Settings(), transport=httpx.MockTransport(handler), environ=environ)
    await b.fetch([ID], {})
    await b.aclose()
    assert jwt.decode(tokens[0], API_SECRET, algorithms=["HS256"])["sub"] == API_KEY


async def test_a_missing_variable_is_unauthorized_and_named() -> None:
    cfg = config(api_key_env="VL_KEY", api_secret_env="VL_SECRET")
    b = make_backend(
        cfg,
        Settings(),
        environ={"VL_KEY": API_KEY},
        transport=httpx.MockTransport(lambda r: pytest.fail("nothing to send")),
    )
    result = await b.fetch([ID], {})
    await b.aclose()
    assert result.unauthorized is True and result.requests == 0
    assert result.states[0].state is State.UNAUTHORIZED
    assert result.states[0].error == (
        "environment variable VL_SECRET is not set: export VL_SECRET=..., then restart dswatch"
    )


async def test_static_token_is_not_retried_after_a_401() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(bearer(request))
        return httpx.Response(401)

    cfg = config(token_env="VL_TOKEN")
    b = make_backend(
        cfg,
        Settings(),
        transport=httpx.MockTransport(handler),
        environ={"VL_TOKEN": "static-token-abcdef"},
    )
    result = await b.fetch([ID], {})
    await b.aclose()
    assert seen == ["static-token-abcdef"]  # the same token would be refused again
    assert result.unauthorized is True


async def test_token_command_runs_again_after_a_401(tmp_path: Path) -> None:
    script = tmp_path / "token.py"
    counter = tmp_path / "runs"
    script.write_text(
        "import pathlib, sys\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        "print(f'cmd-token-{n:04d}')\n"
    )
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(bearer(request))
        if bearer(request) == "cmd-token-0001":
            return httpx.Response(401)
        return httpx.Response(200, json=dataset())

    cfg = config(token_command=f"{sys.executable} {script} {counter}")
    b = make_backend(cfg, Settings(), transport=httpx.MockTransport(handler), environ={})
    result = await b.fetch([ID], {})
    again = await b.fetch([ID], {})
    await b.aclose()
    assert seen == ["cmd-token-0001", "cmd-token-0002", "cmd-token-0002"]
    assert result.states[0].state is State.READY and again.states[0].state is State.READY
    assert counter.read_text() == "2"  # run at first use, once after the 401, not per request


async def test_a_failing_token_command_is_unauthorized(tmp_path: Path) -> None:
    cmd = f"{sys.executable} -c \"import sys; sys.exit('sso session expired')\""
    b = make_backend(
        config(token_command=cmd),
        Settings(),
        environ={},
        transport=httpx.MockTransport(lambda r: pytest.fail("nothing to send")),
    )
    result = await b.fetch([ID], {})
    await b.aclose()
    assert result.unauthorized is True
    assert result.states[0].error == "token_command failed (exit 1) sso session expired"
    # Named as the command's failure, not as credentials the server refused.
    assert describe_failure(result.states[0].failure) == "token_command failed"


# ---------------------------------------------------------------- secrets


async def test_secrets_never_appear_in_states_failures_or_reprs() -> None:
    calls = 0
    leaked_token = ""

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls, leaked_token
        calls += 1
        leaked_token = bearer(request)
        if calls == 1:  # an error page echoing the request's credentials
            body = f"bad token {leaked_token} for key {API_KEY} / {API_SECRET}"
            return httpx.Response(500, text=body)
        return httpx.Response(
            200,
            json=dataset(
                access_token=leaked_token,
                note=f"signed with {API_SECRET}",
                nested={"apiKey": API_KEY, "password": "pw-123456"},
            ),
        )

    cfg = config(api_key_env="VL_KEY", api_secret_env="VL_SECRET")
    b = make_backend(
        cfg,
        Settings(),
        transport=httpx.MockTransport(handler),
        environ={"VL_KEY": API_KEY, "VL_SECRET": API_SECRET},
    )
    failed = await b.fetch([ID], {})
    answered = await b.fetch([ID], {})
    everything = " ".join(
        [
            repr(b),
            repr(b.auth),
            repr(failed),
            repr(answered),
            json.dumps([s.model_dump(mode="json") for s in failed.states + answered.states]),
        ]
    )
    await b.aclose()
    assert failed.states[0].failure is not None and "bad token ***" in (
        failed.states[0].failure.body or ""
    )
    assert answered.states[0].raw["access_token"] == "***"
    for secret in (API_KEY, API_SECRET, leaked_token, "pw-123456"):
        assert secret not in everything


# ---------------------------------------------------------------- list, details, links


async def test_list_datasets() -> None:
    items = [
        dataset(),
        dataset(id=ID2.upper(), display_name="Other", status_new=None, status="INDEXING"),
        {"id": "not-a-uuid"},
        "junk",
    ]
    b = backend(lambda r: httpx.Response(200, json=items))
    found = await b.list_datasets()
    await b.aclose()
    assert [(d.id, d.name, d.status) for d in found] == [
        (ID, "My Dataset", "READY"),
        (ID2, "Other", "INDEXING"),
    ]


async def test_list_datasets_failure_raises_backend_error() -> None:
    b = backend(lambda r: httpx.Response(503))
    with pytest.raises(BackendError, match="HTTP 503") as caught:
        await b.list_datasets()
    await b.aclose()
    assert caught.value.http_status == 503


async def test_details_are_the_dataset_tasks() -> None:
    seen: list[httpx.URL] = []
    tasks = [{"task_type": "INDEX", "status": "RUNNING", "progress_percentage": 40}]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"tasks": tasks, "total": 1, "page": 1, "page_size": 50})

    b = backend(handler)
    details = await b.details(ID)
    await b.aclose()
    assert details == {"tasks": tasks}
    assert seen[0].path == "/api/v1/tasks"
    assert dict(seen[0].params) == {"dataset_id": ID, "page_size": "50"}


@pytest.mark.parametrize(
    ("url", "web_url", "expected"),
    [
        ("https://app.visual-layer.com", None, f"https://app.visual-layer.com/dataset/{ID}/data"),
        ("http://vl.internal:2080", None, f"http://vl.internal:2080/dataset/{ID}/data"),
        (
            BASE,
            "https://vl.example.com/ui/{id}?tab=data",
            f"https://vl.example.com/ui/{ID}?tab=data",
        ),
    ],
)
def test_web_url(url: str, web_url: str | None, expected: str) -> None:
    b = VisualLayerBackend(config(url=url, web_url=web_url), Settings())
    assert b.web_url(ID) == expected
