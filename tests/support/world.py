"""The world a test watches, built one way: a simulator, a config file pointing at
it, a backend, the engine and the dashboard over that config.

Plain functions; tests/conftest.py wraps the ones that need a teardown (a served
simulator, backends to close) as fixtures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tui.backends import make_backend
from tui.backends.base import Backend
from tui.config import BackendConfig, Settings, load_config
from tui.engine import Engine, build_engine
from tui.sim import Simulator

if TYPE_CHECKING:
    from tui.app import DswatchApp

# The simulator's credentials in the backend tests, in-process (tests/unit/test_backends_sim.py)
# and over a socket (tests/integration/test_backends_socket.py).
VL_KEY, VL_SECRET = "sim-vl-key-123456", "sim-vl-secret-abcdef-0123456789-0123456789"
COGNEE_USER, COGNEE_PASSWORD = "me@example.com", "sim-password-123"
ENVIRON = {
    "VL_KEY": VL_KEY,
    "VL_SECRET": VL_SECRET,
    "CG_USER": COGNEE_USER,
    "CG_PASS": COGNEE_PASSWORD,
}
MISSING = "6f1c1b56-93b0-4c0e-9a55-1d3c3c2f0d10"  # an ID no simulator knows
VL_CONFIG = BackendConfig(
    name="vl",
    type="visual_layer",
    url="http://sim/vl",
    api_key_env="VL_KEY",
    api_secret_env="VL_SECRET",
    allow_insecure=True,  # "sim" is in-process, not a network host
)

# What most configs here poll with: fast polls, a settled re-read each second.
SETTINGS: Mapping[str, float] = {"poll_interval": 0.1, "settled_interval": 1, "timeout": 2}


def new_sim(seed: int, *, vl: int = 0, cognee: int = 0, **options: Any) -> Simulator:
    """An in-process simulator; empty unless `vl` / `cognee` datasets are asked for."""
    return Simulator(seed=seed, vl_datasets=vl, cognee_datasets=cognee, **options)


def cats_and_birds(sim: Simulator) -> list[str]:
    """Two Visual Layer datasets: "cats-ready" (READY, 1,200 images), "birds-indexing" (55%)."""
    return [
        sim.add_vl_dataset(name="cats-ready", status="READY", progress=100, n_images=1200),
        sim.add_vl_dataset(name="birds-indexing", status="INDEXING", progress=55),
    ]


def toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def lines(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def write_config(
    folder: Path,
    url: str,
    vl: Iterable[str] | None = (),
    cognee: Iterable[str] | None = (),
    *,
    settings: Mapping[str, float] = SETTINGS,
    vl_extra: str = "",
    cognee_extra: str = "",
    tail: str = "",
    mode: int | None = None,
) -> Path:
    """`folder`/config.toml watching backend "vl" at `url`/vl and "cg" at `url`/cognee.

    None leaves that backend out. `*_extra` are more lines of that backend's table
    (credential variables, `follow`); `tail` more tables (hooks); `mode` a chmod.
    """
    blocks = ["[settings]\n" + "".join(f"{key} = {value}\n" for key, value in settings.items())]
    if vl is not None:
        blocks.append(
            "# the image datasets\n"
            f'[[backends]]\nname = "vl"\ntype = "visual_layer"\nurl = "{url}/vl"\n'
            f"datasets = {toml_list(vl)}\n{lines(vl_extra)}"
        )
    if cognee is not None:
        blocks.append(
            f'[[backends]]\nname = "cg"\ntype = "cognee"\nurl = "{url}/cognee"\n'
            f"datasets = {toml_list(cognee)}\n{lines(cognee_extra)}"
        )
    path = folder / "config.toml"
    path.write_text("\n".join(blocks) + tail, encoding="utf-8")
    if mode is not None:
        path.chmod(mode)
    return path


def backend_for(
    cfg: BackendConfig,
    sim: Simulator | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **settings: Any,
) -> Backend:
    """A backend for `cfg`; with `sim`, talking to it in-process (no socket)."""
    transport = httpx.ASGITransport(app=sim.app) if sim is not None else None
    return make_backend(cfg, Settings(**settings), transport=transport, environ=environ or {})


def engine_for(
    path: Path,
    *,
    environ: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **options: Any,
) -> Engine:
    """The engine `dswatch --config path` builds, with no credentials from this process."""
    return build_engine(
        load_config(path), path, environ=environ or {}, transport=transport, **options
    )


def app_for(
    path: Path,
    engine: Engine | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **app_options: Any,
) -> DswatchApp:
    """The dashboard over `path`; by default on `engine_for(path, environ=, transport=)`
    with its history flushed every 0.02 s (for tests that read the store)."""
    from tui.app import DswatchApp  # Textual: only for the tests that start the dashboard

    if engine is None:
        engine = engine_for(path, environ=environ, transport=transport, flush_interval=0.02)
    return DswatchApp(engine, config_path=path, **app_options)


def app_with_history(path: Path, **app_options: Any) -> DswatchApp:
    """The dashboard as `dswatch` opens it: its history store at the default path
    (DSWATCH_STATE_DIR), flushed every 0.02 s."""
    from tui.history_link import HistoryLink

    engine = engine_for(path, flush_interval=0.02)
    keys = [(b.name, i) for b in engine.config.backends for i in b.datasets]
    history = HistoryLink.for_settings(engine.model, keys, engine.config.settings)
    return app_for(path, engine, history=history, **app_options)
