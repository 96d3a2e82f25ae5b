"""The simulator: both backends' worlds, their auth and faults, as one ASGI app.

Routes: Visual Layer under /vl, Cognee under /cognee (their
/api/v1/datasets routes collide), the control API under /_sim. So backend
base URLs are http://HOST:PORT/vl and http://HOST:PORT/cognee.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Literal, get_args

from starlette.applications import Starlette
from starlette.routing import Mount

from .auth import CogneeAuth, VlAuth
from .cognee import CogneeApi, cognee_error_body
from .cognee_world import ADD_PIPELINE, COGNIFY_PIPELINE, COMPLETED, CogneeWorld, Vocabulary
from .control import control_app
from .faults import BackendGate, Faults
from .responses import fastapi_like_app
from .stats import BackendStats
from .visual_layer import VisualLayerApi, vl_error_body
from .vl_world import READY, StatusFields, StatusStyle, VlPin, VlWorld
from .world import SimClock, derived_uuid

Backend = Literal["vl", "cognee"]
BACKENDS: tuple[Backend, ...] = ("vl", "cognee")
SETTLED_COGNEE = {ADD_PIPELINE: COMPLETED, COGNIFY_PIPELINE: COMPLETED}


class Simulator:
    """Visual Layer and Cognee in one ASGI app, with lazily computed lifecycles.

    `seed` makes everything reproducible (IDs, lifecycles, random faults);
    `clock` (seconds, monotonic) drives the lifecycles, `speed` stretches it.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        vl_datasets: int = 20,
        cognee_datasets: int = 20,
        speed: float = 1.0,
        clock: Callable[[], float] | None = None,
        vl_credentials: tuple[str, str] | None = None,
        cognee_auth: bool = False,
        cognee_user: tuple[str, str] = ("default_user@example.com", "password"),
        cognee_jwt_lifetime: float = 3600.0,
        cognee_vocabulary: Literal["server", "docs"] = "server",
    ) -> None:
        self.seed = seed
        self.clock = SimClock(clock, speed)
        self.vl = VlWorld(self.clock, random.Random(f"{seed}:vl"))
        self.cognee = CogneeWorld(self.clock, random.Random(f"{seed}:cognee"), cognee_user[0])
        self.cognee.vocabulary = cognee_vocabulary
        self.vl_auth = VlAuth(vl_credentials)
        self.cognee_login = CogneeAuth(
            enabled=cognee_auth,
            user=cognee_user,
            user_id=self.cognee.owner_id,
            lifetime=cognee_jwt_lifetime,
            clock=self.clock,
            rng=random.Random(f"{seed}:cognee-auth"),
        )
        self.faults: dict[str, Faults] = {backend: Faults() for backend in BACKENDS}
        self.stats: dict[str, BackendStats] = {backend: BackendStats() for backend in BACKENDS}

        # The starting population: most datasets began up to a few minutes
        # ago (so a run opens on a mix of states), a quarter just now.
        setup = random.Random(f"{seed}:setup")
        for _ in range(vl_datasets):
            start = -setup.uniform(0, 3) if setup.random() < 0.25 else -setup.uniform(0, 240)
            self.vl.add(
                lifecycle=self.vl.random_lifecycle(start), created_wall=self.clock.wall(start)
            )
        for _ in range(cognee_datasets):
            start = -setup.uniform(0, 3) if setup.random() < 0.25 else -setup.uniform(0, 200)
            self.cognee.add_random(start=start)

        self.app = self._build_app()

    # -- the app ------------------------------------------------------------

    def _build_app(self) -> Starlette:
        vl_api = VisualLayerApi(self.vl, self.vl_auth)
        cognee_api = CogneeApi(self.cognee, self.cognee_login)
        vl_gate = BackendGate(
            vl_api.app,
            routes=vl_api.routes,
            stats=self.stats["vl"],
            faults=lambda: self.faults["vl"],
            rng=random.Random(f"{self.seed}:vl:faults"),
            error_body=vl_error_body,
        )
        cognee_gate = BackendGate(
            cognee_api.app,
            routes=cognee_api.routes,
            stats=self.stats["cognee"],
            faults=lambda: self.faults["cognee"],
            rng=random.Random(f"{self.seed}:cognee:faults"),
            error_body=cognee_error_body,
        )
        return fastapi_like_app(
            [
                Mount("/vl", app=vl_gate),
                Mount("/cognee", app=cognee_gate),
                Mount("/_sim", app=control_app(self)),
            ]
        )

    # -- reading ------------------------------------------------------------

    @property
    def vl_ids(self) -> list[str]:
        return list(self.vl.datasets)

    @property
    def cognee_ids(self) -> list[str]:
        return list(self.cognee.datasets)

    def now(self) -> float:
        """Simulated seconds since the simulator was created."""
        return self.clock.now()

    # -- datasets -----------------------------------------------------------

    def add_vl_dataset(
        self,
        *,
        name: str | None = None,
        status: str | None = None,
        progress: float | None = None,
        **fields: Any,
    ) -> str:
        """A Visual Layer dataset: pinned to `status` when given, else a lifecycle from now.

        `fields` override the document's fields (n_images, fatal_error_msg, ...).
        """
        if status is None:
            dataset = self.vl.add(name=name, lifecycle=self.vl.random_lifecycle(self.clock.now()))
        else:
            dataset = self.vl.add(name=name, lifecycle=None, pin=VlPin(status, progress))
        dataset.overrides.update(fields)
        return dataset.id

    def add_vl_datasets(self, count: int, *, status: str | None = READY) -> list[str]:
        """Many datasets at once (benchmarks): all pinned to `status`, or lifecycles if None."""
        return [self.add_vl_dataset(status=status) for _ in range(count)]

    def add_cognee_dataset(
        self,
        *,
        name: str | None = None,
        pipelines: dict[str, str | None] | None = None,
        foreign: bool = False,
        data_count: int | None = None,
    ) -> str:
        """A Cognee dataset: pipelines pinned when given ({} = no runs), else a lifecycle from now.

        `foreign` makes a dataset that exists but belongs to another user
        (listed nowhere, 403 like an unknown ID).
        """
        if pipelines is None:
            dataset = self.cognee.add_random(start=self.clock.now())
            if name is not None:
                dataset.name = name
        else:
            dataset = self.cognee.add(name=name)
            dataset.pins.update(pipelines)
            dataset.data_count = 3
        if foreign:
            dataset.foreign = True
            dataset.owner_id = derived_uuid(dataset.id, "another-user")
        if data_count is not None:
            dataset.data_count = data_count
        return dataset.id

    def add_cognee_datasets(
        self, count: int, *, pipelines: dict[str, str | None] | None = None
    ) -> list[str]:
        """Many datasets at once (benchmarks): by default add and cognify COMPLETED."""
        pins = SETTLED_COGNEE if pipelines is None else pipelines
        return [self.add_cognee_dataset(pipelines=dict(pins)) for _ in range(count)]

    def set_vl_status(self, dataset_id: str, status: str, **fields: Any) -> None:
        """Pin a Visual Layer dataset (any string, even an unknown one); `progress` in fields."""
        dataset = self.vl.datasets[dataset_id]
        progress = fields.pop("progress", None)
        dataset.pin = VlPin(status, progress)
        dataset.overrides.update(fields)

    def set_cognee_status(self, dataset_id: str, pipeline: str, status: str | None) -> None:
        """Pin one pipeline's status of a Cognee dataset; None means "no runs"."""
        self.cognee.datasets[dataset_id].pins[pipeline] = status

    def remove_dataset(self, backend: Backend, dataset_id: str) -> None:
        """Delete a dataset: it becomes unknown (404 on Visual Layer, 403 on Cognee)."""
        datasets: dict[str, Any] = self.vl.datasets if backend == "vl" else self.cognee.datasets
        del datasets[dataset_id]

    def create_cognee_api_key(self, name: str | None = None) -> str:
        return self.cognee_login.create_api_key(name).key

    # -- knobs --------------------------------------------------------------

    def _backends(self, backend: str) -> tuple[Backend, ...]:
        if backend == "*":
            return BACKENDS
        if backend not in BACKENDS:
            raise ValueError(f"backend must be 'vl', 'cognee' or '*', not {backend!r}")
        return (backend,)  # type: ignore[return-value]

    def set_faults(self, backend: Literal["vl", "cognee", "*"], **knobs: Any) -> None:
        """Change fault knobs (see faults.Faults); others keep their values."""
        for name in self._backends(backend):
            self.faults[name] = self.faults[name].updated(**knobs)

    def clear_faults(self, backend: Literal["vl", "cognee", "*"] = "*") -> None:
        for name in self._backends(backend):
            self.faults[name] = Faults()

    def set_churn(
        self, backend: Literal["vl", "cognee", "*"], on: bool = True, *, settles: bool = True
    ) -> None:
        """Every dataset of the backend changes status every second (benchmarks).

        `settles`: every other second it shows as done (READY / COMPLETED), so a
        client may poll it at its settled pace; otherwise it stays busy.
        """
        for name in self._backends(backend):
            world = self.vl if name == "vl" else self.cognee
            world.churn, world.churn_settles = on, settles

    def configure(
        self,
        *,
        vl_status_style: StatusStyle | None = None,
        vl_unknown_status_rate: float | None = None,
        vl_status_fields: StatusFields | None = None,
        cognee_vocabulary: Vocabulary | None = None,
        cognify_seconds: float | None = None,
        cognify_error_rate: float | None = None,
    ) -> None:
        """Knobs on how data reads (not faults): spellings, vocabularies, run timings.

        vl_status_style: "space" (READ ONLY), "underscore" (READ_ONLY), "mixed"
        (per dataset: spaces, underscores or lower case). vl_unknown_status_rate:
        share of datasets reporting an unknown future status. vl_status_fields:
        "both" (status_new + legacy status), "legacy" (only legacy status),
        "future" (status_new renamed to status).
        """
        if vl_status_style is not None:
            _check_choice("vl_status_style", vl_status_style, StatusStyle)
            self.vl.status_style = vl_status_style
        if vl_unknown_status_rate is not None:
            if not 0.0 <= vl_unknown_status_rate <= 1.0:
                raise ValueError("vl_unknown_status_rate must be within 0..1")
            self.vl.unknown_status_rate = vl_unknown_status_rate
        if vl_status_fields is not None:
            _check_choice("vl_status_fields", vl_status_fields, StatusFields)
            self.vl.status_fields = vl_status_fields
        if cognee_vocabulary is not None:
            _check_choice("cognee_vocabulary", cognee_vocabulary, Vocabulary)
            self.cognee.vocabulary = cognee_vocabulary
        if cognify_seconds is not None:
            self.cognee.cognify_seconds = cognify_seconds
        if cognify_error_rate is not None:
            self.cognee.cognify_error_rate = cognify_error_rate

    def config_json(self) -> dict[str, Any]:
        return {
            "vl_status_style": self.vl.status_style,
            "vl_unknown_status_rate": self.vl.unknown_status_rate,
            "vl_status_fields": self.vl.status_fields,
            "vl_churn": self.vl.churn,
            "vl_churn_settles": self.vl.churn_settles,
            "cognee_vocabulary": self.cognee.vocabulary,
            "cognee_churn": self.cognee.churn,
            "cognee_churn_settles": self.cognee.churn_settles,
            "cognify_seconds": self.cognee.cognify_seconds,
            "cognify_error_rate": self.cognee.cognify_error_rate,
        }

    def reset_stats(self) -> None:
        for stats in self.stats.values():
            stats.reset()

    def stats_json(self) -> dict[str, Any]:
        return {backend: stats.as_json() for backend, stats in self.stats.items()}


def _check_choice(name: str, value: str, choices: Any) -> None:
    allowed = get_args(choices)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, not {value!r}")
