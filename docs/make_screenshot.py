"""Regenerate docs/screenshot.svg: `dswatch --demo` after a few seconds of polling.

Run: .venv/bin/python docs/make_screenshot.py
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tui.app import DswatchApp
from tui.engine import demo_engine

OUT = Path(__file__).with_name("screenshot.svg")


async def main() -> None:
    app = DswatchApp(demo_engine(seed=7), config_path=None)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(25)  # let the lifecycles move: some ready, some failed
        app.clear_notifications()
        await pilot.pause(0.2)
        OUT.write_text(app.export_screenshot(title="dswatch --demo"), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
