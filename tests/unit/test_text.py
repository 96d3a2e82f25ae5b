from rich.cells import cell_len

from tui.text import fit, sanitize


def test_plain_text_is_unchanged() -> None:
    text = "Датасет 猫 ✓ [bold red]x[/] שלום"
    assert sanitize(text) is text


def test_markup_is_kept_as_typed() -> None:
    assert sanitize("[bold red]x[/]") == "[bold red]x[/]"


def test_escape_sequences_are_removed() -> None:
    assert sanitize("a\x1b[2Jb") == "ab"
    assert sanitize("\x1b[1;31mred\x1b[0m") == "red"
    assert sanitize("x\x1b]52;c;aGVsbG8=\x07y") == "xy"  # clipboard write, BEL-terminated
    assert sanitize("\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\") == "link"
    assert sanitize("a\x1b]0;title") == "a"  # unterminated OSC eats the rest
    assert sanitize("a\x9b2Jb") == "a�2Jb"  # 8-bit CSI: the introducer is neutralized
    assert sanitize("a\x1bcb") == "ab"  # RIS (full reset)


def test_no_control_characters_survive() -> None:
    nasty = "".join(chr(c) for c in range(0x00, 0xA0)) + "\u202e\u2066"
    cleaned = sanitize(nasty)
    assert all(c.isprintable() for c in cleaned)
    assert "\x1b" not in cleaned


def test_controls_become_visible_placeholders() -> None:
    assert sanitize("a\x00b\x07c") == "a␀b␇c"
    assert sanitize("a\x7fb") == "a␡b"
    assert sanitize("a\x85b") == "a b"  # NEL is a line break
    assert sanitize("\u00d0\u0090") == "\u00d0�"  # mojibake C1 eats nothing after it


def test_layout_characters_become_spaces() -> None:
    assert sanitize("two\nlines\tand\r\na tab") == "two lines and  a tab"
    assert sanitize("a\u2028b") == "a b"


def test_bidi_overrides_are_dropped_but_rtl_text_kept() -> None:
    assert sanitize("abc\u202eFDP.exe") == "abcFDP.exe"
    assert sanitize("שלום עולם") == "שלום עולם"


def test_max_len() -> None:
    assert sanitize("abcdef", max_len=4) == "abc…"
    assert sanitize("abcd", max_len=4) == "abcd"
    assert sanitize("abc", max_len=0) == ""
    huge = "x" * 1_000_000
    assert sanitize(huge, max_len=10) == "x" * 9 + "…"


def test_fit_ascii() -> None:
    assert fit("hello", 10) == "hello"
    assert fit("hello world", 8) == "hello w…"
    assert fit("hello", 5) == "hello"
    assert fit("hello", 1) == "…"
    assert fit("hello", 0) == ""


def test_fit_wide_characters_never_split() -> None:
    text = "猫猫猫猫猫"  # 10 cells
    assert fit(text, 10) == text
    for width in range(1, 10):
        out = fit(text, width)
        assert cell_len(out) <= width
        assert out.endswith("…")
        assert " " not in out  # a half wide char is dropped, not padded


def test_fit_emoji_and_zwj_sequences() -> None:
    family = "👨‍👩‍👧 family"
    for width in range(1, cell_len(family) + 1):
        assert cell_len(fit(family, width)) <= width
    assert fit("🚀🚀🚀", 4) == "🚀…"


def test_fit_rtl_and_combining() -> None:
    hebrew = "שלום עולם ומלואו"
    out = fit(hebrew, 8)
    assert cell_len(out) == 8 and out.endswith("…") and out.startswith("שלום")
    accented = "e\u0301" * 10  # 10 cells, 20 code points
    assert fit(accented, 10) == accented
    assert cell_len(fit(accented, 5)) == 5


def test_sanitize_lines_keeps_line_breaks_only() -> None:
    from tui.text import sanitize_lines

    text = "first\x1b[2J line\r\nsecond\x07\n\x1b]0;t\x07third"
    assert sanitize_lines(text) == "first line\nsecond␇\nthird"
    assert sanitize_lines("plain\ntext") == "plain\ntext"
    assert sanitize_lines("x" * 50, max_len=10) == "x" * 9 + "…"
