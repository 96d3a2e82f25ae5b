"""FastAPI-shaped answers: both real backends are FastAPI apps, so errors look alike."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from email import policy as email_policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs

from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

_UUID = TypeAdapter(uuid.UUID)
# What the reverse proxy in front of a FastAPI app answers when the app is down.
PROXY_PAGES = {
    502: b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n",
    504: b"<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    b"<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n",
}


class ApiError(Exception):
    """Raised by a handler to answer `status` with `body` (a ready JSON document)."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers


def detail(status: int, message: Any) -> ApiError:
    """FastAPI's HTTPException body: {"detail": ...}."""
    return ApiError(status, {"detail": message})


def parse_uuid(value: str, loc: Sequence[str | int]) -> tuple[str | None, dict[str, Any] | None]:
    """(canonical UUID, None) or (None, the FastAPI validation error for `loc`).

    Pydantic does the parsing, so what is accepted (upper case, no hyphens,
    urn:uuid:) and the error messages are those of the real servers.
    """
    try:
        return str(_UUID.validate_python(value)), None
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        error["loc"] = list(loc)
        return None, dict(error)


def path_uuid(request: Request, name: str, status: int) -> str:
    """A UUID path parameter, or raise the validation error with `status`.

    Visual Layer answers FastAPI's default 422; Cognee's exception handler
    turns validation errors into 400 with the same list plus "body": null.
    """
    canonical, error = parse_uuid(request.path_params[name], ("path", name))
    if error is not None:
        raise validation_error(status, [error])
    assert canonical is not None
    return canonical


def validation_error(status: int, errors: list[dict[str, Any]]) -> ApiError:
    body: dict[str, Any] = {"detail": errors}
    if status == 400:
        body["body"] = None  # Cognee's handler echoes the request body (none for a GET)
    return ApiError(status, body)


def int_query(
    request: Request,
    name: str,
    default: int,
    status: int,
    *,
    ge: int | None = None,
    le: int | None = None,
) -> int:
    """An integer query parameter validated like FastAPI's Query(ge=, le=)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    loc = ["query", name]
    try:
        value = int(raw)
    except ValueError:
        msg = "Input should be a valid integer, unable to parse string as an integer"
        raise validation_error(
            status, [{"type": "int_parsing", "loc": loc, "msg": msg, "input": raw}]
        ) from None
    if ge is not None and value < ge:
        error = {
            "type": "greater_than_equal",
            "loc": loc,
            "msg": f"Input should be greater than or equal to {ge}",
            "input": raw,
            "ctx": {"ge": ge},
        }
        raise validation_error(status, [error])
    if le is not None and value > le:
        error = {
            "type": "less_than_equal",
            "loc": loc,
            "msg": f"Input should be less than or equal to {le}",
            "input": raw,
            "ctx": {"le": le},
        }
        raise validation_error(status, [error])
    return value


def error_response(exc: ApiError) -> Response:
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler, check: Callable[[Request], None] | None = None) -> Handler:
    """Run `check` (authentication) then the handler; ApiErrors become their responses."""

    async def endpoint(request: Request) -> Response:
        try:
            if check is not None:
                check(request)
            return await handler(request)
        except ApiError as exc:
            return error_response(exc)

    return endpoint


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def fastapi_like_app(routes: list[BaseRoute]) -> Starlette:
    """A Starlette app whose unknown routes and methods answer FastAPI's {"detail": ...}."""
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_exception})


async def read_form(request: Request) -> dict[str, list[str]]:
    """Text fields of a urlencoded or multipart form; file parts count as their filename.

    Starlette's own form parser needs python-multipart, which dswatch does not
    depend on; the simulator only needs field names and values.
    """
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    fields: dict[str, list[str]] = {}
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=email_policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            filename = part.get_filename()
            if filename is not None:
                fields.setdefault(name, []).append(filename)
                continue
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            fields.setdefault(name, []).append(text)
        return fields
    for name, values in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
        fields[name] = values
    return fields


async def read_json(request: Request, status: int) -> Any:
    """The JSON body, or the FastAPI error a malformed one gets."""
    body = await request.body()
    try:
        return json.loads(body)
    except ValueError as exc:
        error = {
            "type": "json_invalid",
            "loc": ["body", 0],
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": str(exc)},
        }
        raise validation_error(status, [error]) from None
