"""Desktop notification sequences, byte for byte, and the rules for what is told."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.clock import FakeClock
from tui.config import Config
from tui.models import DatasetState, State
from tui.notify import (
    DesktopNotifier,
    NotifyRules,
    TextOut,
    detect_form,
    news_record,
    notification,
    pick_form,
    tmux_wrap,
)
from tui.watch import News

AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ID1 = "00000000-0000-4000-8000-000000000001"
ID2 = "00000000-0000-4000-8000-000000000002"


def news(
    name: str | None,
    state: State = State.READY,
    *,
    backend: str = "vl",
    dataset_id: str = ID1,
    event: str | None = None,
) -> News:
    ds = DatasetState(backend=backend, id=dataset_id, name=name, state=state)
    return News(ds, State.RUNNING, event or state.value, AT)


def config(**settings: Any) -> Config:
    return Config.model_validate(
        {
            "settings": settings,
            "backends": [
                {"name": "vl", "type": "visual_layer", "url": "https://vl.example"},
                {
                    "name": "cg",
                    "type": "cognee",
                    "url": "http://127.0.0.1:8000",
                    "notify_on": ["error"],
                },
            ],
        }
    )


def rules(**settings: Any) -> NotifyRules:
    cfg = config(**settings)
    return NotifyRules(cfg.settings, cfg.backends)


# ------------------------------------------------------------ the sequences


def test_osc9_byte_for_byte() -> None:
    assert notification("osc9", "dswatch: vl", "cats is now ready") == (
        b"\x1b]9;dswatch: vl: cats is now ready\x07"
    )


def test_osc777_byte_for_byte() -> None:
    assert notification("osc777", "dswatch: vl", "cats is now ready") == (
        b"\x1b]777;notify;dswatch: vl;cats is now ready\x07"
    )


def test_osc99_byte_for_byte() -> None:
    assert notification("osc99", "dswatch: vl", "cats is now ready", ident="dswatch7") == (
        b"\x1b]99;i=dswatch7:d=0:p=title;dswatch: vl\x1b\\"
        b"\x1b]99;i=dswatch7:d=1:p=body;cats is now ready\x1b\\"
    )


def test_non_ascii_text_is_utf8() -> None:
    assert notification("osc9", "t", "Æble 数据") == "\x1b]9;t: Æble 数据\x07".encode()


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("osc9", b"\x1bPtmux;\x1b\x1b]9;t: b\x07\x1b\\"),
        ("osc777", b"\x1bPtmux;\x1b\x1b]777;notify;t;b\x07\x1b\\"),
        (
            "osc99",
            b"\x1bPtmux;\x1b\x1b]99;i=n1:d=0:p=title;t\x1b\x1b\\"
            b"\x1b\x1b]99;i=n1:d=1:p=body;b\x1b\x1b\\\x1b\\",
        ),
    ],
)
def test_tmux_passthrough_doubles_every_escape(form: Any, expected: bytes) -> None:
    assert notification(form, "t", "b", ident="n1", tmux=True) == expected


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"TERM_PROGRAM": "iTerm.app", "TERM": "xterm-256color"}, "osc9"),
        ({"LC_TERMINAL": "iTerm2", "TERM": "xterm-256color"}, "osc9"),  # over ssh
        ({"TERM_PROGRAM": "WezTerm", "TERM": "xterm-256color"}, "osc9"),
        ({"TERM_PROGRAM": "ghostty", "TERM": "xterm-ghostty"}, "osc9"),
        ({"TERM": "xterm-ghostty"}, "osc9"),
        ({"WT_SESSION": "2c3f9a1e", "TERM": "xterm-256color"}, "osc9"),
        # Inside tmux (TERM_PROGRAM=tmux), by the variables the terminal's shell had:
        ({"TERM_PROGRAM": "tmux", "TERM": "tmux-256color", "WEZTERM_PANE": "0"}, "osc9"),
        ({"TERM_PROGRAM": "tmux", "TERM": "screen", "ITERM_SESSION_ID": "w0t0p0:AB"}, "osc9"),
        ({"TERM_PROGRAM": "tmux", "GHOSTTY_RESOURCES_DIR": "/usr/share/ghostty"}, "osc9"),
        ({"TERM_PROGRAM": "tmux", "TERM": "tmux-256color", "VTE_VERSION": "7600"}, "osc777"),
        ({"TERM": "foot"}, "osc777"),
        ({"TERM": "foot-extra"}, "osc777"),
        ({"VTE_VERSION": "7600", "TERM": "xterm-256color"}, "osc777"),
        ({"TERM": "rxvt-unicode-256color"}, "osc777"),
        ({"TERM": "xterm-kitty"}, "osc99"),
        ({"KITTY_WINDOW_ID": "1", "TERM": "tmux-256color", "TERM_PROGRAM": "tmux"}, "osc99"),
        ({"TERM": "xterm-256color"}, None),
        ({"TERM": "tmux-256color", "TERM_PROGRAM": "tmux"}, None),
        ({"TERM_PROGRAM": "Apple_Terminal", "TERM": "xterm-256color"}, None),
        ({}, None),
    ],
)
def test_auto_detection(environ: dict[str, str], expected: str | None) -> None:
    assert detect_form(environ) == expected
    assert pick_form("auto", environ) == expected


def test_explicit_form_and_off_ignore_the_terminal() -> None:
    kitty = {"TERM": "xterm-kitty"}
    assert pick_form("osc777", kitty) == "osc777"
    assert pick_form("off", kitty) is None
    assert pick_form("osc9", {}) == "osc9"


# ------------------------------------------------------------ hostile text

HOSTILE = [
    "a\x07b",  # BEL ends OSC 9 / 777
    "a\x1b\\b",  # ST ends OSC 99 and tmux passthrough
    "a\x9cb",  # 8-bit ST (U+009C, C2 9C in UTF-8)
    "a;b;c",  # a separator in OSC 777, a sub-command in OSC 9
    "a\nb\rc\u2028d",  # newlines
    "\x1b]52;c;aGVsbG8=\x07",  # OSC 52 writes the clipboard
    "\x1b]9;fake\x07\x1b]777;notify;x;y\x07",
    "x\x1bPtmux;\x1b\x1b]9;y\x07\x1b\\",
    "\x1b[2J\x1b[31mred",
    "\x00\x1b",
    "\x1b",
]


def test_hostile_name_byte_for_byte() -> None:
    name = "a\x07b\x1b\\c;d\ne\x9cf"
    cleaned = "a␇bc,d e�f"  # BEL shown, ESC \ removed, ; → ,, newline → space, ST shown
    assert notification("osc9", "t", name) == f"\x1b]9;t: {cleaned}\x07".encode()
    assert notification("osc777", name, name) == (
        f"\x1b]777;notify;{cleaned};{cleaned}\x07".encode()
    )
    assert notification("osc99", name, name, ident="n") == (
        f"\x1b]99;i=n:d=0:p=title;{cleaned}\x1b\\\x1b]99;i=n:d=1:p=body;{cleaned}\x1b\\".encode()
    )
    assert notification("osc9", "t", name, tmux=True) == (
        f"\x1bPtmux;\x1b\x1b]9;t: {cleaned}\x07\x1b\\".encode()
    )


# What each form may look like: the payload holds no control byte and, where
# `;` separates fields, no `;`.
_PAYLOAD = rb"[^\x00-\x1f\x7f]*"
_FIELD = rb"[^\x00-\x1f\x7f;]*"
_SHAPES: dict[str, re.Pattern[bytes]] = {
    "osc9": re.compile(rb"\x1b\]9;" + _FIELD + rb"\x07"),
    "osc777": re.compile(rb"\x1b\]777;notify;" + _FIELD + b";" + _FIELD + rb"\x07"),
    "osc99": re.compile(
        rb"\x1b\]99;i=n:d=0:p=title;" + _PAYLOAD + rb"\x1b\\"
        rb"\x1b\]99;i=n:d=1:p=body;" + _PAYLOAD + rb"\x1b\\"
    ),
}


@pytest.mark.parametrize("form", ["osc9", "osc777", "osc99"])
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_cannot_break_out(form: Any, name: str) -> None:
    data = notification(form, name, f"{name} is now ready", ident="n")
    assert _SHAPES[form].fullmatch(data), data
    assert b"\xc2\x9c" not in data  # no 8-bit ST either, once decoded as UTF-8
    wrapped = notification(form, name, f"{name} is now ready", ident="n", tmux=True)
    inner = wrapped.removeprefix(b"\x1bPtmux;").removesuffix(b"\x1b\\")
    # Inside the passthrough every ESC is doubled, so none can end it early.
    assert re.fullmatch(rb"(?:[^\x1b]|\x1b\x1b)*", inner), wrapped
    assert inner.replace(b"\x1b\x1b", b"\x1b") == data


def test_tmux_wrap_of_text_without_escapes_is_plain() -> None:
    assert tmux_wrap("abc") == "\x1bPtmux;abc\x1b\\"


# ------------------------------------------------------------ the notifier


class FakeLater:
    """call_later that keeps the callbacks; the test runs them, no waiting."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> object:
        self.calls.append((delay, callback))
        return object()

    def fire(self) -> None:
        _, callback = self.calls.pop(0)
        callback()


def notifier(
    environ: dict[str, str] | None = None,
    lookup: Callable[[tuple[str, str]], DatasetState | None] | None = None,
    **settings: Any,
) -> tuple[DesktopNotifier, io.BytesIO, FakeClock, FakeLater]:
    out, clock, later = io.BytesIO(), FakeClock(100.0), FakeLater()
    settings.setdefault("desktop_notify", "osc9")
    notif = DesktopNotifier(
        rules(**settings),
        out,
        environ=environ or {},
        lookup=lookup,
        clock=clock,
        call_later=later,
    )
    return notif, out, clock, later


def test_first_news_is_told_at_once_and_a_burst_waits_for_the_quiet_spell() -> None:
    notif, out, clock, later = notifier()
    notif.add([news("cats")])
    assert out.getvalue() == b"\x1b]9;dswatch: vl: cats is now ready\x07"
    clock.now += 1.0
    notif.add([news("dogs", State.ERROR, dataset_id=ID2)])
    notif.add([news("cats", State.PARTIAL)])
    assert out.getvalue().count(b"\x1b]9;") == 1  # still waiting
    assert [delay for delay, _ in later.calls] == [2.0]  # the rest of the 3 s spell
    clock.now += 2.0
    later.fire()
    assert out.getvalue().split(b"\x07")[1] == (
        b"\x1b]9;dswatch: dogs is now error, cats is now partial"
    )
    assert notif.sent == 2


def test_many_news_become_one_summary() -> None:
    notif, out, _, _ = notifier()
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(5)]
    batch = [news(f"d{n}", State.READY, dataset_id=i) for n, i in enumerate(ids)]
    batch[4] = news("d4", State.ERROR, dataset_id=ids[4])
    notif.add(batch)
    assert out.getvalue() == b"\x1b]9;dswatch: 5 datasets changed: 4 ready, 1 error\x07"


def test_notify_on_filters_with_a_per_backend_override() -> None:
    notif, out, _, later = notifier(notify_on=["ready"])
    notif.add([news("running", State.RUNNING)])  # not in notify_on
    notif.add([news("cg-ready", backend="cg")])  # cg says: only errors
    assert out.getvalue() == b""
    assert later.calls == []
    notif.add([news("cg-bad", State.ERROR, backend="cg")])
    assert out.getvalue() == b"\x1b]9;dswatch: cg: cg-bad is now error\x07"


def test_stuck_is_its_own_event() -> None:
    notif, out, _, _ = notifier()
    notif.add([news("slow", State.RUNNING, event="stuck")])
    assert out.getvalue() == b"\x1b]9;dswatch: vl: slow seems stuck (running)\x07"


def test_news_no_longer_true_is_not_told() -> None:
    current: dict[tuple[str, str], DatasetState] = {}
    notif, out, clock, later = notifier(lookup=current.get)
    first = news("cats")
    current[first.state.key] = first.state
    notif.add([first])
    clock.now += 1
    moved_on = news("dogs", State.ERROR, dataset_id=ID2)
    notif.add([moved_on])
    current[moved_on.state.key] = moved_on.state.model_copy(update={"state": State.RUNNING})
    later.fire()
    assert out.getvalue().count(b"\x1b]9;") == 1


def test_off_and_unknown_terminal_write_nothing() -> None:
    for environ, setting in (({"TERM": "xterm-kitty"}, "off"), ({"TERM": "dumb"}, "auto")):
        notif, out, _, later = notifier(environ, desktop_notify=setting)
        assert not notif.enabled
        notif.add([news("cats")])
        assert out.getvalue() == b""
        assert later.calls == []


def test_auto_in_tmux_wraps_for_passthrough() -> None:
    environ = {"TERM": "tmux-256color", "KITTY_WINDOW_ID": "3", "TMUX": "/tmp/tmux-1/default,1,0"}
    notif, out, _, _ = notifier(environ, desktop_notify="auto")
    notif.add([news("cats")])
    assert out.getvalue() == (
        b"\x1bPtmux;\x1b\x1b]99;i=dswatch1:d=0:p=title;dswatch: vl\x1b\x1b\\"
        b"\x1b\x1b]99;i=dswatch1:d=1:p=body;cats is now ready\x1b\x1b\\\x1b\\"
    )


def test_a_closed_terminal_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    out = io.BytesIO()
    out.close()
    notif = DesktopNotifier(
        rules(desktop_notify="osc9"),
        out,
        environ={},
        clock=FakeClock(100.0),
        call_later=FakeLater(),
    )
    notif.add([news("cats")])
    notif.add([news("dogs", dataset_id=ID2)])
    assert notif.sent == 0
    assert len([r for r in caplog.records if "not written" in r.getMessage()]) == 1


# ------------------------------------------------------------ toasts


def test_toast_rule() -> None:
    batch = [
        news("ok"),
        news("bad", State.ERROR, dataset_id=ID2),
        news("slow", State.RUNNING, event="stuck"),
        news("half", State.PARTIAL),
        news("go", State.RUNNING),  # not in the default notify_on
        news("cg-ok", backend="cg"),  # cg: errors only
    ]
    labels = [n.state.label for n in rules().toasts(batch)]
    assert labels == ["ok", "bad", "slow", "half"]
    assert [n.state.label for n in rules(notifications="problems").toasts(batch)] == [
        "bad",
        "slow",
        "half",
    ]
    assert rules(notifications="off").toasts(batch) == []


def test_a_reloaded_config_applies_to_the_next_news() -> None:
    notif, out, _, _ = notifier()
    notif.update_rules(rules(desktop_notify="osc777", notify_on=["error"]), {})
    notif.add([news("ok")])
    assert out.getvalue() == b""
    notif.add([news("bad", State.ERROR)])
    assert out.getvalue() == b"\x1b]777;notify;dswatch: vl;bad is now error\x07"
    notif.update_rules(rules(desktop_notify="off"), {})
    assert not notif.enabled


def test_text_out_feeds_a_text_writer() -> None:
    written: list[str] = []
    notif = DesktopNotifier(
        rules(desktop_notify="osc9"),
        TextOut(written.append),
        environ={},
        clock=FakeClock(100.0),
        call_later=FakeLater(),
    )
    notif.add([news("Æble")])
    assert written == ["\x1b]9;dswatch: vl: Æble is now ready\x07"]


def test_news_record_is_sanitized_json_without_the_raw_body() -> None:
    item = news("x\x1b]52;c;aGk=\x07y", State.ERROR)
    item = News(
        item.state.model_copy(
            update={
                "error": "bad\nthing",
                "raw": {"token": "t0ps3cret"},
                "pipelines": {"p": "\x07"},
            }
        ),
        item.old,
        item.event,
        item.at,
    )
    record = news_record(item, "https://vl.example/d/1")
    assert record == {
        "backend": "vl",
        "id": ID1,
        "name": "xy",
        "state": "error",
        "status": None,
        "progress": None,
        "n_images": None,
        "n_videos": None,
        "n_objects": None,
        "pipelines": {"p": "␇"},
        "error": "bad thing",
        "old_state": "running",
        "event": "error",
        "at": "2026-11-24T12:00:00+00:00",
        "url": "https://vl.example/d/1",
    }


def test_a_backend_refusing_credentials_is_told_once_an_outage_only_when_asked() -> None:
    notif, out, _, later = notifier()
    notif.backend_down("vl", "unreachable", "network unreachable")  # not in notify_on
    assert out.getvalue() == b""
    notif.backend_down("vl", "unauthorized", "credentials refused (HTTP 401)")
    assert out.getvalue() == b"\x1b]9;dswatch: vl: vl is down: credentials refused (HTTP 401)\x07"
    notif.backend_down("cg", "unauthorized", "credentials refused")  # cg: errors only
    assert out.getvalue().count(b"\x1b]9;") == 1
    notif.add([news("cats")])  # dataset news after it waits for the quiet spell
    assert out.getvalue().count(b"\x1b]9;") == 1 and len(later.calls) == 1
    notif.update_rules(rules(desktop_notify="osc9", notify_on=["unreachable"]), {})
    notif.backend_down("vl", "unreachable", "net\x07work; down")
    assert out.getvalue().endswith(b"\x1b]9;dswatch: vl: vl is down: net\xe2\x90\x87work, down\x07")
