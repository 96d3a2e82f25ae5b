"""Secrets echoed back encoded: JSON-escaped (`\\/`), URL-encoded, base64.

A careless server on 127.0.0.1 (tests/support/hostile.py, echo mode) answers 401 with
the credential it received written every way a server might, and puts it in
names and pipeline runs. Keys and tokens hold `/`, `+` and `=` so each
encoding really changes them. Every output is decoded every way before it is
searched, so an encoded leak counts as a leak.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from tests.support.faultservers import AppServer
from tests.support.hostile import ENV, KEY, HostileServer, echo_config, leaked
from tui.backends import make_backend
from tui.cli import main
from tui.cli.status import format_table
from tui.cli.wait import progress_line
from tui.config import BackendConfig, Settings
from tui.screens.details import extras_text, failure_text, fields_table, pretty_json
from tui.secrets import Redactor
from tui.widgets.cells import static_cells


@pytest.fixture(scope="module")
def echo_server() -> Iterator[tuple[HostileServer, str]]:
    app = HostileServer(echo_secrets=True)
    with AppServer(app) as server:
        yield app, server.url


def test_the_redactor_masks_every_spelling_a_server_may_echo() -> None:
    redactor = Redactor()
    redactor.add(KEY)
    spellings = [
        json.dumps(KEY).replace("/", "\\/"),
        urllib.parse.quote(KEY, safe=""),
        urllib.parse.quote(KEY, safe="").lower(),
        urllib.parse.quote_plus(KEY),
        base64.b64encode(KEY.encode()).decode(),
        base64.b64encode(b"Bearer " + KEY.encode()).decode(),
        base64.b64encode(b"u:" + KEY.encode()).decode(),
        base64.urlsafe_b64encode(b"xy" + KEY.encode()).decode(),
    ]
    for spelling in spellings:
        masked = redactor.text(f"echo: {spelling} end")
        assert not leaked(masked), (spelling, masked)
    assert redactor.text("nothing secret here") == "nothing secret here"


def test_status_json_debug_log_and_wait_hold_no_encoded_secret(
    echo_server: tuple[HostileServer, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, url = echo_server
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    path = echo_config(tmp_path, url, app)
    outputs: list[str] = []
    for args in (["status"], ["status", "--json"]):
        code = main([*args, "--debug", "--config", str(path)])
        out, err = capsys.readouterr()
        assert code == 1 and "unauthorized" in out
        outputs += [out, err]
    assert "refused" in outputs[0]  # the server's detail is shown, its secret is not
    target = f"ck:{app.cognee['errored']}"
    code = main(["wait", "--debug", "--config", str(path), "--timeout", "5", target])
    out, err = capsys.readouterr()
    assert code == 1 and "refused" in err
    outputs += [out, err]
    log = "".join(p.read_text("utf-8") for p in (tmp_path / "state").rglob("*.log*"))
    assert log
    outputs.append(log)
    for text in outputs:
        assert not leaked(text), text


async def test_states_and_details_texts_hold_no_encoded_secret(
    echo_server: tuple[HostileServer, str],
) -> None:
    app, url = echo_server
    texts: list[str] = []
    for name, credential in (("ck", "api_key_env"), ("ct", "token_env")):
        env_name = "DSW_TEST_KEY" if name == "ck" else "DSW_TEST_TOKEN"
        cfg = BackendConfig(name=name, type="cognee", url=f"{url}/{name}", **{credential: env_name})
        backend = make_backend(cfg, Settings(timeout=3), environ=ENV)
        try:
            result = await backend.fetch(list(app.cognee.values()), {})
            extras = [await backend.details(i) for i in app.cognee.values()]
            listed = await backend.list_datasets()
        finally:
            await backend.aclose()
        for state in result.states:
            assert state.failure is not None and state.failure.body
            texts += [repr(state), state.model_dump_json(), format_table([state])]
            texts += [progress_line(state), pretty_json(state.raw), *static_cells(state)]
            for renderable in (
                fields_table(state, state.polled_at),
                failure_text(state.failure, None),
            ):  # type: ignore[arg-type]
                out = io.StringIO()
                Console(file=out, width=300, color_system=None).print(renderable)
                texts.append(out.getvalue())
        for extra in extras:
            out = io.StringIO()
            Console(file=out, width=300, color_system=None).print(extras_text(extra))
            texts.append(out.getvalue())
        texts += [repr(d) for d in listed]
    assert any("***" in t for t in texts)  # the echoes were there, and masked
    for text in texts:
        assert not leaked(text), text
