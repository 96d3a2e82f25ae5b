"""Secrets echoed back encoded: JSON-escaped (`\\/`), URL-encoded, base64.

A careless server on 127.0.0.1 (tests/support/hostile.py, echo mode) answers 401 with
the credential it received written every way a server might, and puts it in
names and pipeline runs. Keys and tokens hold `/`, `+` and `=` so each
encoding really changes them. Every output is decoded every way before it is
searched, so an encoded leak counts as a leak.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from tests.support.faultservers import AppServer
from tests.support.hostile import HostileServer
from tui.backends import make_backend
from tui.cli import main
from tui.cli.status import format_table
from tui.cli.wait import progress_line
from tui.config import BackendConfig, Settings
from tui.screens.details import extras_text, failure_text, fields_table, pretty_json
from tui.secrets import Redactor
from tui.widgets.cells import static_cells

KEY = "k3y/with+slash=and/plus+Q=="
TOKEN = "t0ken/+=/ABCDEFGH+==xyz"
ENV = {"DSW_TEST_KEY": KEY, "DSW_TEST_TOKEN": TOKEN}
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")


def decodings(text: str) -> list[str]:
    """`text` and what every decoding a reader might apply makes of it."""
    found = [text, text.replace("\\/", "/"), urllib.parse.unquote(text)]
    found.append(urllib.parse.unquote_plus(text))
    for run in _B64_RUN.findall(text):
        for offset in range(4):  # the secret may start anywhere in the run
            chunk = run[offset:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                with contextlib.suppress(binascii.Error, ValueError):
                    found.append(decode(chunk).decode("utf-8", "replace"))
    return found


def leaked(text: str) -> list[str]:
    return [s for s in (KEY, TOKEN) for d in decodings(text) if s in d]


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


def config(tmp_path: Path, url: str, app: HostileServer) -> Path:
    ids = ", ".join(f'"{i}"' for i in app.cognee.values())
    path = tmp_path / "config.toml"
    path.write_text(
        "[settings]\npoll_interval = 0.1\nsettled_interval = 1\ntimeout = 3\n\n"
        f'[[backends]]\nname = "ck"\ntype = "cognee"\nurl = "{url}/ck"\n'
        f'api_key_env = "DSW_TEST_KEY"\ndatasets = [{ids}]\n\n'
        f'[[backends]]\nname = "ct"\ntype = "cognee"\nurl = "{url}/ct"\n'
        f'token_env = "DSW_TEST_TOKEN"\ndatasets = [{ids}]\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


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
    path = config(tmp_path, url, app)
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
