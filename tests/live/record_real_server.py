"""Drive a real Cognee server and print a Markdown transcript of exact requests/responses.

This is the tool behind docs/cognee-real-server.md. It is not a test (pytest does
not collect it). Usage, against a server started by scripts/cognee-server.sh:

    scripts/cognee-server.sh run -- .venv/bin/python tests/live/record_real_server.py \
        > /tmp/transcript.md

It reads COGNEE_URL, COGNEE_USER and COGNEE_PASSWORD from the environment. Only
127.0.0.1 is contacted. Sections: auth, datasets, status, progress, per-dataset routes,
activity, cognify (the first ~30 s only; see --watch-cognify for the long tail).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

INTERESTING_HEADERS = ("content-type", "set-cookie", "www-authenticate", "location")


class Recorder:
    """Sends requests and prints each as a Markdown block with placeholders for secrets."""

    def __init__(self, base_url: str) -> None:
        host = urlsplit(base_url).hostname
        if host != "127.0.0.1":
            raise SystemExit(f"refusing to contact {host!r}: only 127.0.0.1 is allowed")
        self.client = httpx.Client(base_url=base_url, timeout=60.0)
        self.aliases: dict[str, str] = {}

    def alias(self, value: str, name: str) -> None:
        self.aliases[value] = f"<{name}>"

    def redact(self, text: str) -> str:
        # Longest first, so a token is not half-replaced by a shorter alias.
        for value in sorted(self.aliases, key=len, reverse=True):
            text = text.replace(value, self.aliases[value])
        return text

    def call(
        self,
        title: str,
        method: str,
        path: str,
        *,
        note: str = "",
        show_body: bool = True,
        learn: Callable[[httpx.Response], dict[str, str]] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request (never with a stored cookie) and print it with its response.

        ``learn`` maps the response to {placeholder name: secret or id} to redact before
        printing, so that even the first appearance of a value is shown as <name>.
        """
        self.client.cookies.clear()
        started = time.perf_counter()
        response = self.client.request(method, path, **kwargs)
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.client.cookies.clear()
        if learn is not None:
            for name, value in learn(response).items():
                self.alias(value, name)
        request = response.request
        lines = [f"{request.method} {request.url.raw_path.decode()}"]
        for name in ("authorization", "x-api-key", "cookie", "content-type"):
            if name in request.headers:
                value = request.headers[name]
                if name == "content-type" and "multipart" in value:
                    value = "multipart/form-data; boundary=..."
                lines.append(f"{name}: {value}")
        if "multipart" in request.headers.get("content-type", ""):
            files = {k: v[0] for k, v in kwargs.get("files", {}).items()}
            lines += ["", f"<multipart: fields {kwargs.get('data')}, files {files}>"]
        elif request.content:
            lines += ["", request.content.decode(errors="replace")]
        out = [f"### {title}", ""]
        if note:
            out += [note, ""]
        out += ["```http", *lines, "```", ""]
        status_line = f"HTTP {response.status_code} {response.reason_phrase}"
        resp_lines = [f"{status_line}  ({elapsed_ms:.0f} ms)"]
        for name in INTERESTING_HEADERS:
            for value in response.headers.get_list(name):
                resp_lines.append(f"{name}: {value}")
        if show_body:
            resp_lines.append("")
            try:
                resp_lines.append(json.dumps(response.json(), indent=2, ensure_ascii=False))
            except ValueError:
                resp_lines.append(response.text)
        out += ["```", *resp_lines, "```", ""]
        print(self.redact("\n".join(out)), flush=True)
        return response


def section(title: str) -> None:
    print(f"\n## {title}\n", flush=True)


def status_params(ids: list[str], pipelines: list[str]) -> list[tuple[str, str]]:
    return [("dataset", i) for i in ids] + [("pipeline", p) for p in pipelines]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--watch-cognify",
        type=float,
        default=30.0,
        help="seconds to poll cognify status after starting it (default 30)",
    )
    args = parser.parse_args()
    url = os.environ["COGNEE_URL"]
    user = os.environ["COGNEE_USER"]
    password = os.environ["COGNEE_PASSWORD"]
    rec = Recorder(url)
    rec.alias(password, "password")

    section("Server")
    rec.call("GET / (no auth)", "GET", "/")
    rec.call("GET /health (no auth)", "GET", "/health")

    section("Authentication")
    rec.call(
        "Login with wrong password",
        "POST",
        "/api/v1/auth/login",
        data={"username": user, "password": "wrong"},
    )
    rec.call("Login with a missing field", "POST", "/api/v1/auth/login", data={"username": user})
    rec.call(
        "Login with JSON instead of a form",
        "POST",
        "/api/v1/auth/login",
        json={"username": user, "password": password},
    )
    login = rec.call(
        "Login (form)",
        "POST",
        "/api/v1/auth/login",
        data={"username": user, "password": password},
        learn=lambda r: {"jwt": r.json()["access_token"]},
    )
    token = login.json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    rec.call(
        "GET /api/v1/users/me (Bearer)",
        "GET",
        "/api/v1/users/me",
        headers=bearer,
        learn=lambda r: {"user_id": r.json()["id"]},
    )
    key_resp = rec.call(
        "Create an API key",
        "POST",
        "/api/v1/auth/api-keys",
        json={"name": "dswatch"},
        headers=bearer,
        learn=lambda r: {"api_key": r.json()["key"], "api_key_id": r.json()["id"]},
    )
    key = key_resp.json()["key"]
    rec.call(
        "Create an API key with {}",
        "POST",
        "/api/v1/auth/api-keys",
        json={},
        headers=bearer,
        learn=lambda r: {"api_key_2": r.json()["key"], "api_key_2_id": r.json()["id"]},
    )
    rec.call("Create an API key with no body", "POST", "/api/v1/auth/api-keys", headers=bearer)
    rec.call("List API keys", "GET", "/api/v1/auth/api-keys", headers=bearer)
    rec.call("No credentials", "GET", "/api/v1/datasets")
    rec.call("Bearer JWT", "GET", "/api/v1/datasets", headers=bearer)
    rec.call("X-Api-Key", "GET", "/api/v1/datasets", headers={"X-Api-Key": key})
    rec.call(
        "Cookie auth_token", "GET", "/api/v1/datasets", headers={"Cookie": f"auth_token={token}"}
    )
    rec.call(
        "Bearer with the API key (not a JWT)",
        "GET",
        "/api/v1/datasets",
        headers={"Authorization": f"Bearer {key}"},
    )
    rec.call(
        "Garbage Bearer token",
        "GET",
        "/api/v1/datasets",
        headers={"Authorization": "Bearer not-a-jwt"},
    )
    rec.call("Wrong X-Api-Key", "GET", "/api/v1/datasets", headers={"X-Api-Key": "wrong-key"})
    rec.call("Bearer for a nonexistent route", "GET", "/api/v1/nope", headers=bearer)
    rec.call("No credentials on /status", "GET", "/api/v1/datasets/status")

    section("Creating datasets")
    files = {"data": ("alpha.txt", b"Alice knows Bob. Bob lives in Paris.\n", "text/plain")}
    add = rec.call(
        "POST /api/v1/add (multipart, new dataset 'alpha')",
        "POST",
        "/api/v1/add",
        headers=bearer,
        data={"datasetName": "alpha"},
        files=files,
        learn=lambda r: {
            "alpha_id": r.json()["dataset_id"],
            "add_run_id_1": r.json()["pipeline_run_id"],
        },
    )
    alpha = str(add.json()["dataset_id"])
    files2 = {"data": ("more.txt", b"Carol works with Dave.\n", "text/plain")}
    rec.call(
        "POST /api/v1/add to the same dataset again (second file)",
        "POST",
        "/api/v1/add",
        headers=bearer,
        data={"datasetName": "alpha"},
        files=files2,
        learn=lambda r: {"add_run_id_2": r.json()["pipeline_run_id"]},
    )
    empty = rec.call(
        "POST /api/v1/datasets {name} (empty dataset 'empty')",
        "POST",
        "/api/v1/datasets",
        json={"name": "empty"},
        headers=bearer,
        learn=lambda r: {"empty_id": r.json()["id"]},
    )
    empty_id = str(empty.json()["id"])
    rec.call(
        "POST /api/v1/datasets with an existing name",
        "POST",
        "/api/v1/datasets",
        json={"name": "empty"},
        headers=bearer,
    )
    rec.call(
        "POST /api/v1/datasets without name", "POST", "/api/v1/datasets", json={}, headers=bearer
    )
    rec.call("GET /api/v1/datasets (list)", "GET", "/api/v1/datasets", headers=bearer)
    rec.call("GET /api/v1/datasets/ (trailing slash)", "GET", "/api/v1/datasets/", headers=bearer)
    rec.call(
        "GET /api/v1/datasets/{alpha}/data",
        "GET",
        f"/api/v1/datasets/{alpha}/data",
        headers=bearer,
        learn=lambda r: {f"data_id_{i}": item["id"] for i, item in enumerate(r.json())},
    )

    section("GET /api/v1/datasets/status")
    unknown = "00000000-0000-4000-8000-000000000000"
    random_id = str(uuid.uuid4())
    rec.alias(random_id, "random_uuid")
    both = [alpha, empty_id]
    st = "/api/v1/datasets/status"
    rec.call(
        "No pipeline param (= cognify_pipeline), alpha + empty",
        "GET",
        st,
        params=status_params(both, []),
        headers=bearer,
    )
    rec.call(
        "pipeline=add_pipeline (one pipeline: flat)",
        "GET",
        st,
        params=status_params(both, ["add_pipeline"]),
        headers=bearer,
    )
    rec.call(
        "pipeline=cognify_pipeline explicitly",
        "GET",
        st,
        params=status_params(both, ["cognify_pipeline"]),
        headers=bearer,
    )
    rec.call(
        "Two pipelines (nested)",
        "GET",
        st,
        params=status_params(both, ["add_pipeline", "cognify_pipeline"]),
        headers=bearer,
    )
    rec.call(
        "The same pipeline twice",
        "GET",
        st,
        params=status_params(both, ["add_pipeline", "add_pipeline"]),
        headers=bearer,
    )
    rec.call(
        "Three pipelines",
        "GET",
        st,
        params=status_params(both, ["add_pipeline", "cognify_pipeline", "code_graph_pipeline"]),
        headers=bearer,
    )
    rec.call(
        "Unknown pipeline name",
        "GET",
        st,
        params=status_params(both, ["nonsense_pipeline"]),
        headers=bearer,
    )
    rec.call(
        "No dataset param (all readable datasets), add_pipeline",
        "GET",
        st,
        params=status_params([], ["add_pipeline"]),
        headers=bearer,
    )
    rec.call("No params at all", "GET", st, headers=bearer)
    rec.call(
        "Unknown but valid UUID among good ones",
        "GET",
        st,
        params=status_params([alpha, random_id, empty_id], ["add_pipeline"]),
        headers=bearer,
    )
    rec.call(
        "Only an unknown UUID",
        "GET",
        st,
        params=status_params([unknown], ["add_pipeline"]),
        headers=bearer,
    )
    rec.call(
        "Malformed UUID",
        "GET",
        st,
        params=status_params([alpha, "not-a-uuid"], ["add_pipeline"]),
        headers=bearer,
    )
    rec.call(
        "Same dataset id twice",
        "GET",
        st,
        params=status_params([alpha, alpha], ["add_pipeline"]),
        headers=bearer,
    )
    rec.call(
        "Comma-separated ids in one param",
        "GET",
        st,
        params=[("dataset", f"{alpha},{empty_id}"), ("pipeline", "add_pipeline")],
        headers=bearer,
    )
    rec.call(
        "Status via X-Api-Key",
        "GET",
        st,
        params=status_params(both, ["add_pipeline"]),
        headers={"X-Api-Key": key},
    )

    section("GET /api/v1/datasets/status/progress")
    pr = "/api/v1/datasets/status/progress"
    rec.call(
        "progress, add_pipeline (flat)",
        "GET",
        pr,
        params=status_params(both, ["add_pipeline"]),
        headers=bearer,
    )
    rec.call("progress, no pipeline", "GET", pr, params=status_params(both, []), headers=bearer)
    rec.call(
        "progress, two pipelines (nested)",
        "GET",
        pr,
        params=status_params(both, ["add_pipeline", "cognify_pipeline"]),
        headers=bearer,
    )
    rec.call(
        "progress, unknown UUID among good ones",
        "GET",
        pr,
        params=status_params([alpha, random_id], ["add_pipeline"]),
        headers=bearer,
    )
    rec.call(
        "progress, malformed UUID",
        "GET",
        pr,
        params=status_params(["not-a-uuid"], ["add_pipeline"]),
        headers=bearer,
    )

    section("Per-dataset routes")
    for name, ds in (("alpha", alpha), ("empty", empty_id), ("unknown", random_id)):
        rec.call(
            f"data/count of {name}", "GET", f"/api/v1/datasets/{ds}/data/count", headers=bearer
        )
    rec.call(
        "data/count, malformed id", "GET", "/api/v1/datasets/not-a-uuid/data/count", headers=bearer
    )
    for name, ds in (("alpha", alpha), ("empty", empty_id), ("unknown", random_id)):
        rec.call(
            f"processing-status of {name} (default pipeline)",
            "GET",
            f"/api/v1/datasets/{ds}/processing-status",
            headers=bearer,
        )
    rec.call(
        "processing-status of alpha, pipeline=add_pipeline",
        "GET",
        f"/api/v1/datasets/{alpha}/processing-status",
        params={"pipeline": "add_pipeline"},
        headers=bearer,
    )

    section("GET /api/v1/activity/pipeline-runs")
    act = "/api/v1/activity/pipeline-runs"
    rec.call(
        "All runs",
        "GET",
        act,
        headers=bearer,
        learn=lambda r: {f"row_id_{i}": row["id"] for i, row in enumerate(r.json())},
    )
    rec.call(
        "dataset_id=alpha, limit=2",
        "GET",
        act,
        params={"dataset_id": alpha, "limit": 2},
        headers=bearer,
    )
    rec.call(
        "pipeline_name=cognify_pipeline",
        "GET",
        act,
        params={"pipeline_name": "cognify_pipeline"},
        headers=bearer,
    )
    rec.call("dataset_id=unknown", "GET", act, params={"dataset_id": random_id}, headers=bearer)
    rec.call("limit=0", "GET", act, params={"limit": 0}, headers=bearer)

    section("Batch latency")
    many = list(both)
    for i in range(50):
        r = rec.client.post("/api/v1/datasets", json={"name": f"bulk-{i:02d}"}, headers=bearer)
        many.append(str(r.json()["id"]))
    for pipelines in (["add_pipeline"], ["cognify_pipeline"], ["add_pipeline", "cognify_pipeline"]):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            r = rec.client.get(st, params=status_params(many, pipelines), headers=bearer)
            times.append((time.perf_counter() - t0) * 1000)
        url_len = len(str(r.request.url))
        print(
            f"- {len(many)} datasets, pipeline={pipelines}: HTTP {r.status_code}, "
            f"{len(r.json())} keys, URL {url_len} chars, "
            f"latency ms {', '.join(f'{t:.0f}' for t in times)}"
        )
    print(flush=True)

    section("Cognify")
    rec.call(
        "POST /api/v1/cognify runInBackground",
        "POST",
        "/api/v1/cognify",
        json={"datasetIds": [alpha], "runInBackground": True},
        headers=bearer,
        learn=lambda r: {"cognify_run_id": r.json()[alpha]["pipeline_run_id"]},
    )
    rec.call(
        "Cognify an empty dataset",
        "POST",
        "/api/v1/cognify",
        json={"datasetIds": [empty_id], "runInBackground": True},
        headers=bearer,
        learn=lambda r: {"cognify_empty_run_id": r.json()[empty_id]["pipeline_run_id"]},
    )
    rec.call(
        "Cognify an unknown dataset",
        "POST",
        "/api/v1/cognify",
        json={"datasetIds": [random_id], "runInBackground": True},
        headers=bearer,
    )
    rec.call(
        "status right after cognify (two pipelines)",
        "GET",
        st,
        params=status_params(both, ["add_pipeline", "cognify_pipeline"]),
        headers=bearer,
    )
    rec.call(
        "progress right after cognify", "GET", pr, params=status_params(both, []), headers=bearer
    )
    rec.call(
        "processing-status of alpha during cognify",
        "GET",
        f"/api/v1/datasets/{alpha}/processing-status",
        headers=bearer,
    )
    rec.call(
        "activity during cognify (cognify_pipeline rows)",
        "GET",
        act,
        params={"pipeline_name": "cognify_pipeline"},
        headers=bearer,
    )
    started = time.monotonic()
    seen: list[tuple[float, str]] = []
    terminal = ("DATASET_PROCESSING_COMPLETED", "DATASET_PROCESSING_ERRORED")
    print(
        f"Status (cognify_pipeline, flat) of alpha and empty as it changed, polled every "
        f"0.5 s for up to {args.watch_cognify:.0f} s after the cognify call "
        f"(stops when both are terminal):\n"
    )
    while time.monotonic() - started < args.watch_cognify:
        r = rec.client.get(st, params=status_params(both, []), headers=bearer)
        value = r.text
        if not seen or seen[-1][1] != value:
            seen.append((time.monotonic() - started, value))
            print(
                rec.redact(f"    t+{seen[-1][0]:6.1f}s  HTTP {r.status_code}  {value}"), flush=True
            )
        body = r.json() if r.status_code == 200 else {}
        if len(body) == len(both) and all(v in terminal for v in body.values()):
            break
        time.sleep(0.5)
    print(f"\n(polling ended at t+{time.monotonic() - started:.1f}s)\n", flush=True)
    rec.call(
        "status at the end (two pipelines)",
        "GET",
        st,
        params=status_params(both, ["add_pipeline", "cognify_pipeline"]),
        headers=bearer,
    )
    rec.call("progress at the end", "GET", pr, params=status_params(both, []), headers=bearer)
    rec.call(
        "processing-status of alpha at the end",
        "GET",
        f"/api/v1/datasets/{alpha}/processing-status",
        headers=bearer,
    )
    rec.call(
        "activity at the end (cognify_pipeline rows)",
        "GET",
        act,
        params={"pipeline_name": "cognify_pipeline"},
        headers=bearer,
    )
    rec.call(
        "data/count of alpha at the end",
        "GET",
        f"/api/v1/datasets/{alpha}/data/count",
        headers=bearer,
    )

    section("Slow")
    rec.call("GET /health/detailed (no auth)", "GET", "/health/detailed")
    print(f"<!-- ids: alpha={alpha} empty={empty_id} -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
