"""`dswatch --demo`: a lively simulator and the config that watches it.

About forty datasets across both backends with lifecycles of tens of
seconds, so the grid moves from the first second: some finish, some fail,
some stay partial, some Cognee datasets never ran, and one ID per backend
that the simulator does not know (shown as not found).
"""

from __future__ import annotations

import random
import uuid

from ..config import BackendConfig, Config, Settings
from .cognee_world import ERROR_CLASSES, INITIATED
from .simulator import Simulator

DEMO_BASE_URL = "http://demo.sim"


def demo_simulator(seed: int | None = None) -> Simulator:
    """A simulator whose datasets keep changing; `seed=None` picks a fresh one."""
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    sim = Simulator(seed=seed, vl_datasets=17, cognee_datasets=16)
    now = sim.now()

    # A few guaranteed stories, whatever the seed drew.
    fails = sim.vl.random_lifecycle(now - 5)
    fails.error_at, fails.draft_s, fails.index_s = 0.7, 6.0, 30.0
    sim.vl.add(name="street-scenes-failing", lifecycle=fails, created_wall=sim.clock.wall(now - 5))
    partial = sim.vl.random_lifecycle(now - 40)
    partial.error_at, partial.media_first, partial.stays_partial = None, 8.0, True
    partial.draft_s, partial.index_s = 5.0, 20.0
    sim.vl.add(
        name="retail-shelves-partial", lifecycle=partial, created_wall=sim.clock.wall(now - 40)
    )
    busy = sim.vl.random_lifecycle(now - 30)
    busy.error_at, busy.media_first, busy.stays_partial = None, 5.0, False
    busy.media_period = busy.read_only_s + busy.partial_s + busy.reindex_s + 20.0
    sim.vl.add(name="drone-footage-growing", lifecycle=busy, created_wall=sim.clock.wall(now - 30))

    sim.add_cognee_dataset(name="empty_dataset", pipelines={})
    sim.cognee.add_planned(
        name="contracts_cognify_fails",
        add_at=now,
        add_seconds=3.0,
        cognify_at=now + 5.0,
        cognify_seconds=25.0,
        error_class=ERROR_CLASSES[0],
    )
    sim.cognee.add_planned(
        name="wiki_slow_cognify",
        add_at=now,
        add_seconds=4.0,
        cognify_at=now + 6,
        cognify_seconds=45,
    )
    sim.add_cognee_dataset(
        name="legacy_import",
        pipelines={"add_pipeline": "DATASET_PROCESSING_COMPLETED", "cognify_pipeline": INITIATED},
    )
    return sim


def demo_config(sim: Simulator, base_url: str = DEMO_BASE_URL) -> Config:
    """Backends "visual-layer" and "cognee" on the simulator, without credentials.

    Every dataset the simulator has is watched, plus one valid UUID per
    backend that it does not know, so the demo also shows not_found.
    """
    base = base_url.rstrip("/")
    unknown_vl = _unknown_id(sim, "vl", sim.vl_ids)
    unknown_cognee = _unknown_id(sim, "cognee", sim.cognee_ids)
    return Config(
        # Demo lifecycles last tens of seconds: poll often enough to see them.
        settings=Settings(poll_interval=2.0, settled_interval=10.0),
        backends=[
            BackendConfig(
                name="visual-layer",
                type="visual_layer",
                url=f"{base}/vl",
                datasets=[*sim.vl_ids, unknown_vl],
            ),
            BackendConfig(
                name="cognee",
                type="cognee",
                url=f"{base}/cognee",
                datasets=[*sim.cognee_ids, unknown_cognee],
            ),
        ],
    )


def _unknown_id(sim: Simulator, backend: str, known: list[str]) -> str:
    """A well-formed UUID the simulator does not know (stable for a seed)."""
    namespace = uuid.UUID("6f1c1b56-93b0-4c0e-9a55-1d3c3c2f0d10")
    candidate = str(uuid.uuid5(namespace, f"{sim.seed}:{backend}:missing"))
    while candidate in known:  # practically never, but never wrong
        candidate = str(uuid.uuid5(namespace, candidate))
    return candidate
