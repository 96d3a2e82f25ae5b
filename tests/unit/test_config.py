"""The config file: loading, error messages, credentials, secrets, safe edits."""

from __future__ import annotations

import os
import re
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

import tui.config.save as config_module
from tui.config import (
    BackendConfig,
    ConfigError,
    ConfigWatcher,
    HookConfig,
    Settings,
    add_backend,
    add_datasets,
    check_credentials,
    default_config_path,
    load_config,
    remove_datasets,
    secret_warnings,
)

ID_VL = "ad48d250-1232-11f1-bfca-fa39f6ed1f22"
ID_COGNEE = "0b6c3a3e-5b0e-4b53-9a2c-6f1d2f3e4a5b"
ID_NEW = "11111111-2222-4333-8444-555555555555"
ID_NEW_2 = "66666666-7777-4888-9999-aaaaaaaaaaaa"
ID_NEW_3 = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
SECRET = "sk-Zx81kQ7vB2mN4pL9wR3tY6uI0oP5aS8d"  # what a pasted API key looks like

BASE = f"""\
# dswatch test config (keep me)
[settings]
poll_interval = 2.0   # fast polls

[[backends]]
name = "vl"
type = "visual_layer"
url = "https://app.visual-layer.com"
api_key_env = "VL_API_KEY"
api_secret_env = "VL_API_SECRET"
datasets = ["{ID_VL}"]  # the first one

# the local cognee
[[backends]]
name = "cognee"
type = "cognee"
url = "http://127.0.0.1:8000"
api_key_env = "COGNEE_API_KEY"
datasets = [
    # staging
    "{ID_COGNEE}",  # big one
]
"""
ENV = {"VL_API_KEY": "k", "VL_API_SECRET": "s", "COGNEE_API_KEY": "c"}
EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


@pytest.fixture  # its own: BASE's exact text (comments, layout) is what the edits must keep
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE)
    path.chmod(0o600)
    return path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def marked_line(text: str) -> int:
    """The 1-based line of the `# <-` marker: where an error must point."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.endswith("# <-"))


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value


def all_messages(error: ConfigError) -> str:
    return "\n".join(str(e) for e in [error, *error.others])


def temp_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(".*.tmp"))


# --------------------------------------------------------------------------
# Loading: one test per kind of mistake, each pointing at file, line and key
# --------------------------------------------------------------------------

VL = '[[backends]]\nname = "vl"\ntype = "visual_layer"\nurl = "https://vl.example"\n'

ERROR_CASES = [
    (
        "unknown settings key",
        "[settings]\npol_interval = 3  # <-\n",
        "settings.pol_interval",
        "unknown key 'pol_interval' (did you mean 'poll_interval'?)",
    ),
    (
        "unknown backend key",
        VL + "datasetz = []  # <-\n",
        "backends[0].datasetz",
        "unknown key 'datasetz' (did you mean 'datasets'?)",
    ),
    ("unknown top-level key", "verbose = true  # <-\n" + VL, "verbose", "unknown key 'verbose'"),
    ("unknown sub-table", "[settings.colors]  # <-\n", "settings.colors", "unknown key"),
    (
        "wrong type: number",
        '[settings]\ntimeout = "fast"  # <-\n',
        "settings.timeout",
        "should be a valid number (got a string)",
    ),
    (
        "wrong type: no lax coercion",
        '[settings]\nbell = "yes"  # <-\n',
        "settings.bell",
        "should be a valid boolean (got a string)",
    ),
    (
        "wrong type: integer",
        "[settings]\nmax_concurrency = 2.5  # <-\n",
        "settings.max_concurrency",
        "valid integer",
    ),
    (
        "wrong type: list",
        VL + f'datasets = "{ID_VL}"  # <-\n',
        "backends[0].datasets",
        "valid list (got a string)",
    ),
    (
        "wrong type: backends as a table",
        '[backends]  # <-\nname = "vl"\n',
        "backends",
        "valid list (got a table)",
    ),
    ("out of range", "[settings]\ntimeout = 0  # <-\n", "settings.timeout", "greater than 0"),
    (
        "too many requests",
        "[settings]\nmax_concurrency = 100  # <-\n",
        "settings.max_concurrency",
        "less than or equal to 64",
    ),
    (
        "missing name",
        VL + '\n[[backends]]  # <-\ntype = "cognee"\nurl = "http://h"\n',
        "backends[1].name",
        "missing required key 'name'",
    ),
    (
        "missing url",
        '[[backends]]  # <-\nname = "vl"\ntype = "cognee"\n',
        "backends[0].url",
        "missing required key 'url'",
    ),
    (
        "missing type",
        '[[backends]]  # <-\nname = "vl"\nurl = "http://h"\n',
        "backends[0].type",
        "missing required key 'type'",
    ),
    (
        "unknown type",
        '[[backends]]\nname = "vl"\ntype = "vlayer"  # <-\nurl = "http://h"\n',
        "backends[0].type",
        "'visual_layer' or 'cognee'",
    ),
    (
        "bad backend name",
        '[[backends]]\nname = "v l"  # <-\ntype = "cognee"\nurl = "http://h"\n',
        "backends[0].name",
        "letters, digits",
    ),
    (
        "duplicate backend name",
        VL + '\n[[backends]]\nname = "vl"  # <-\ntype = "cognee"\nurl = "http://h"\n',
        "backends[1].name",
        "backend name 'vl' is already used by backends[0]",
    ),
    (
        "dataset ID not a UUID",
        VL + f'datasets = [\n  "{ID_VL}",\n  "abc",  # <-\n]\n',
        "backends[0].datasets[1]",
        "'abc' is not a dataset ID (expected a UUID)",
    ),
    (
        "dataset ID on the key line",
        VL + 'datasets = ["x-1"]  # <-\n',
        "backends[0].datasets[0]",
        "'x-1' is not a dataset ID",
    ),
    (
        "duplicate dataset ID",
        VL + f'datasets = [\n  "{ID_VL}",\n  "{ID_VL.upper().replace("-", "")}",  # <-\n]\n',
        "backends[0].datasets[1]",
        f"dataset {ID_VL} is listed twice (first at datasets[0])",
    ),
    (
        "bad url scheme",
        '[[backends]]\nname = "vl"\ntype = "cognee"\nurl = "ftp://h"  # <-\n',
        "backends[0].url",
        "must start with http:// or https://",
    ),
    (
        "unknown pipeline",
        VL + 'pipelines = [\n  "add_pipeline",\n  "graph_pipeline",  # <-\n]\n',
        "backends[0].pipelines[1]",
        "unknown pipeline 'graph_pipeline'",
    ),
    (
        "env var name with spaces",
        VL + 'api_key_env = "VL API KEY"  # <-\n',
        "backends[0].api_key_env",
        "not an environment variable name",
    ),
    (
        "pasted secret",
        VL + f'token_env = "{SECRET}"  # <-\n',
        "backends[0].token_env",
        "looks like a secret pasted in place of an environment variable NAME",
    ),
    (
        "web_url without {id}",
        VL + 'web_url = "https://vl.example/datasets"  # <-\n',
        "backends[0].web_url",
        "must contain {id}",
    ),
    (
        "strings that look like TOML",
        '[[backends]]\nname = "a"\ntype = "cognee"\nurl = "http://h"\n'
        'token_command = """\n[[backends]]\nurl = "#"\n"""\n'
        "web_url = 'https://h/[{id}]#' # ]\n"
        '\n[[backends]]\nname = "b"\ntype = "cognee"\nurl = "nope"  # <-\n',
        "backends[1].url",
        "http:// or https://",
    ),
    (
        "inline table backend",
        'backends = [\n  {name = "a", type = "cognee", url = "http://h"},\n'
        '  {name = "b", type = "cognee", url = "gopher://h"},  # <-\n]\n',
        "backends[1].url",
        "http:// or https://",
    ),
    (
        "hook: on as one state",
        VL + '[[hooks]]\non = "ready"  # <-\ncommand = ["x"]\n',
        "hooks[0].on",
        'use "any" or a list of states, e.g. ["error", "ready"]',
    ),
    (
        "hook: unknown state",
        VL + '[[hooks]]\non = ["done"]  # <-\ncommand = ["x"]\n',
        "hooks[0].on[0]",
        "should be 'pending', 'running', ",
    ),
    (
        "hook: both command and url_env",
        VL + '[[hooks]]  # <-\ncommand = ["x"]\nurl_env = "X"\n',
        "hooks[0]",
        "set exactly one of command or url_env",
    ),
    (
        "hook: neither command nor url_env",
        VL + '[[hooks]]  # <-\non = "any"\n',
        "hooks[0]",
        "set exactly one of command or url_env",
    ),
    (
        "hook: command as a shell string",
        VL + '[[hooks]]\ncommand = "notify-send done"  # <-\n',
        "hooks[0].command",
        'an argument list, run without a shell: e.g. ["notify-send", "dswatch"];'
        ' for shell syntax, ["sh", "-c", "..."]',
    ),
    (
        "hook: empty program",
        VL + '[[hooks]]\ncommand = [""]  # <-\n',
        "hooks[0].command[0]",
        "the program to run cannot be empty",
    ),
    (
        "hook: url_env holding a URL",
        VL + '[[hooks]]\nurl_env = "https://hooks.slack.com/x"  # <-\n',
        "hooks[0].url_env",
        "not an environment variable name",
    ),
    (
        "hook: unknown backend",
        VL + '[[hooks]]\ncommand = ["x"]\nbackends = ["nope"]  # <-\n',
        "hooks[0].backends[0]",
        "no backend is named 'nope'",
    ),
    (
        "hook: timeout",
        VL + '[[hooks]]\ncommand = ["x"]\ntimeout = 0  # <-\n',
        "hooks[0].timeout",
        "greater than 0",
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_each_mistake_is_reported_with_file_line_and_key(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    path = write(tmp_path, text)
    error = load_error(path)
    line = marked_line(text)
    assert (error.path, error.line, error.key) == (path, line, key)
    assert str(error).startswith(f"{path}:{line}: {key}: ")
    assert fragment in error.message


def test_the_message_reads_file_line_key_message(tmp_path: Path) -> None:
    text = VL + '\n[[backends]]\nname = "cg"\ntype = "cognee"\nurl = "http://h"\n'
    text += 'datasets = ["abc"]\n'
    path = write(tmp_path, text)
    expected = f"{path}:10: backends[1].datasets[0]: 'abc' is not a dataset ID (expected a UUID)"
    assert str(load_error(path)) == expected


def test_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "[settings]\npoll_interval = 2.0\ntimeout = = 3\n")
    error = load_error(path)
    assert (error.line, error.column, error.key) == (3, 11, None)
    assert str(error) == f"{path}:3:11: invalid TOML: Invalid value"


def test_syntax_error_at_end_of_file_names_the_last_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[settings]\ntimeout = 3\nbell = "yes')
    error = load_error(path)
    assert error.line == 3
    assert "Unterminated string" in error.message


def test_the_first_problem_in_file_order_is_reported_with_a_count(tmp_path: Path) -> None:
    # Pydantic checks `settings` first; the file has the backend first.
    text = VL.replace("https://vl.example", "vl.example") + "\n[settings]\ntimeout = -1\n"
    path = write(tmp_path, text)
    error = load_error(path)
    assert (error.key, error.line) == ("backends[0].url", 4)
    assert [(e.key, e.line) for e in error.others] == [("settings.timeout", 7)]
    assert str(error).endswith("(and 1 more problem)")


def test_a_pasted_secret_is_never_echoed(tmp_path: Path) -> None:
    text = VL + f'api_key_env = "{SECRET}"\napi_secret_env = "{SECRET[::-1]}"\n'
    path = write(tmp_path, text)
    error = load_error(path)
    assert len(error.others) == 1
    messages = all_messages(error)
    assert SECRET not in messages
    assert SECRET[::-1] not in messages
    assert "looks like a secret" in messages


def test_a_secret_in_a_model_built_in_code_is_not_echoed_either() -> None:
    with pytest.raises(ValidationError) as caught:
        BackendConfig(name="vl", type="cognee", url="http://h", token_env=SECRET)
    assert SECRET not in str(caught.value)


def test_missing_file_is_an_empty_config_on_first_run(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "config.toml"
    config = load_config(path)
    assert config.backends == []
    assert config.settings == Settings()
    assert config.path == path


def test_missing_file_is_an_error_when_required(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, missing_ok=False)
    assert str(caught.value) == f"{path}: no such file"


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_an_unreadable_file_is_a_config_error(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # chmod 000 does not stop root (the CI user), so refuse the open itself.
    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    assert str(caught.value) == f"{config_path}: cannot read: Permission denied"


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"[settings]\nbell = true # caf\xe9\n")
    error = load_error(path)
    assert (error.line, error.message) == (2, "is not UTF-8 text")


def test_defaults(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, '[[backends]]\nname = "c"\ntype = "cognee"\nurl = "http://h/"\n')
    )
    assert config.settings.model_dump() == {
        "poll_interval": 5.0,
        "settled_interval": 60.0,
        "timeout": 10.0,
        "max_concurrency": 20,
        "bell": False,
        "notifications": "all",
        "desktop_notify": "auto",
        "notify_on": ["ready", "partial", "error", "not_found", "unauthorized", "stuck"],
        "history_days": 30.0,
        "history_max_mb": 50.0,
        "stuck_after": None,
        "max_hooks_running": 4,
    }
    backend = config.backends[0]
    assert backend.url == "http://h"
    assert backend.pipelines == ["add_pipeline", "cognify_pipeline"]
    assert (backend.datasets, backend.allow_insecure, backend.web_url) == ([], False, None)


def test_loading_normalizes_ids_and_accepts_integers_for_seconds(tmp_path: Path) -> None:
    text = f'[settings]\npoll_interval = 3\n{VL}datasets = ["{ID_VL.upper()}"]\n'
    config = load_config(write(tmp_path, text))
    assert config.settings.poll_interval == 3.0
    assert config.backends[0].datasets == [ID_VL]


def test_the_same_file_loads_to_equal_configs(config_path: Path) -> None:
    assert load_config(config_path) == load_config(config_path)


def test_env_var_overrides_the_default_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSWATCH_CONFIG", "~/elsewhere/dswatch.toml")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_config_path() == tmp_path / "elsewhere" / "dswatch.toml"
    monkeypatch.delenv("DSWATCH_CONFIG")
    assert default_config_path().parts[-2:] == ("dswatch", "config.toml")


# --------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------


def credential_error(text: str, tmp_path: Path, environ: dict[str, str]) -> ConfigError:
    config = load_config(write(tmp_path, text))
    with pytest.raises(ConfigError) as caught:
        check_credentials(config, environ)
    return caught.value


def test_credentials_that_are_set_pass(config_path: Path) -> None:
    check_credentials(load_config(config_path), ENV)


@pytest.mark.parametrize(("value", "says"), [(None, "is not set"), ("  ", "is empty")])
def test_an_unset_or_empty_variable_names_line_backend_and_variable(
    config_path: Path, value: str | None, says: str
) -> None:
    environ = dict(ENV)
    if value is None:
        del environ["COGNEE_API_KEY"]
    else:
        environ["COGNEE_API_KEY"] = value
    error = credential_error(BASE, config_path.parent, environ)
    assert str(error) == (
        f"{config_path}:18: backends[1].api_key_env: backend 'cognee':"
        f" environment variable COGNEE_API_KEY {says}"
    )


COGNEE = '[[backends]]\nname = "cg"\ntype = "cognee"\nurl = "http://localhost:8000"\n'
CREDENTIAL_CASES = [
    (
        "VL key without secret",
        VL + 'api_key_env = "K"  # <-\n',
        "backends[0].api_key_env",
        "set api_secret_env too",
    ),
    (
        "VL secret without key",
        VL + 'api_secret_env = "S"  # <-\n',
        "backends[0].api_secret_env",
        "set api_key_env too",
    ),
    (
        "Cognee with a secret",
        COGNEE + 'api_key_env = "K"\napi_secret_env = "S"  # <-\n',
        "backends[0].api_secret_env",
        "Cognee takes api_key_env alone",
    ),
    (
        "username without password",
        COGNEE + 'username_env = "U"  # <-\n',
        "backends[0].username_env",
        "set password_env",
    ),
    (
        "password without username",
        COGNEE + 'password_env = "P"  # <-\n',
        "backends[0].password_env",
        "set username_env",
    ),
    (
        "login on Visual Layer",
        VL + 'username_env = "U"  # <-\npassword_env = "P"\n',
        "backends[0].username_env",
        "only Cognee logs in",
    ),
    (
        "two methods",
        COGNEE + 'api_key_env = "K"\ntoken_env = "T"  # <-\n',
        "backends[0].token_env",
        "api_key_env and token_env are different ways",
    ),
    (
        "token and command",
        COGNEE + 'token_command = "pass show cg"\ntoken_env = "T"  # <-\n',
        "backends[0].token_env",
        "token_command and token_env are different ways",
    ),
    (
        "credentials over http",
        '[[backends]]\nname = "cg"\ntype = "cognee"\nurl = "http://cognee.lan:8000"  # <-\n'
        'api_key_env = "K"\n',
        "backends[0].url",
        "clear text to cognee.lan",
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [case[1:] for case in CREDENTIAL_CASES],
    ids=[case[0] for case in CREDENTIAL_CASES],
)
def test_incoherent_credentials_are_refused_without_showing_values(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    environ = {name: SECRET for name in ("K", "S", "T", "U", "P")}
    error = credential_error(text, tmp_path, environ)
    line = marked_line(text)
    assert str(error).startswith(f"{tmp_path / 'config.toml'}:{line}: {key}: backend ")
    assert fragment in error.message
    assert SECRET not in all_messages(error)


@pytest.mark.parametrize(
    "url_and_flag",
    [
        'url = "http://127.0.0.2:8000"',
        'url = "http://[::1]:8000"',
        'url = "http://dswatch.localhost:8000"',
        'url = "http://cognee.lan"\nallow_insecure = true',
        'url = "https://cognee.lan"',
    ],
)
def test_credentials_over_http_are_fine_locally_or_when_allowed(
    tmp_path: Path, url_and_flag: str
) -> None:
    text = f'[[backends]]\nname = "cg"\ntype = "cognee"\n{url_and_flag}\napi_key_env = "K"\n'
    check_credentials(load_config(write(tmp_path, text)), {"K": SECRET})


def test_no_credentials_at_all_is_allowed(tmp_path: Path) -> None:
    # Cognee without access control, Visual Layer on premises.
    check_credentials(load_config(write(tmp_path, VL + COGNEE)), {})


# --------------------------------------------------------------------------
# Secrets written into a readable file
# --------------------------------------------------------------------------

SECRET_FILES = [
    ("secret in an *_env key", VL + f'token_env = "{SECRET}"\n', "backends[0].token_env"),
    ("a key named like a secret", VL + 'api_key = "hunter2"\n', "backends[0].api_key"),
    (
        "a secret in token_command",
        VL + f'token_command = "echo {SECRET}"\n',
        "backends[0].token_command",
    ),
    (
        "a password in the url",
        '[[backends]]\nurl = "https://me:pw@vl.example"\n',
        "backends[0].url",
    ),
]


@pytest.mark.parametrize(
    ("text", "key"), [c[1:] for c in SECRET_FILES], ids=[c[0] for c in SECRET_FILES]
)
def test_secret_in_a_readable_file_is_warned_about_without_the_value(
    tmp_path: Path, text: str, key: str
) -> None:
    path = write(tmp_path, text)
    path.chmod(0o644)
    warnings = secret_warnings(path)
    assert len(warnings) == 1
    assert key in warnings[0] and "644" in warnings[0] and str(path) in warnings[0]
    assert SECRET not in warnings[0] and "hunter2" not in warnings[0]
    assert ":pw@" not in warnings[0]
    path.chmod(0o600)
    assert secret_warnings(path) == []


def test_no_warning_for_a_readable_file_without_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + 'token_command = "/usr/bin/vault read -field=token kv/cg"\n')
    path.chmod(0o644)
    assert secret_warnings(path) == []
    assert secret_warnings(EXAMPLE) == []


# --------------------------------------------------------------------------
# Editing: comments and layout survive, nothing written on refusal
# --------------------------------------------------------------------------


def test_add_to_a_one_line_array_changes_only_that_array(config_path: Path) -> None:
    assert add_datasets(config_path, "vl", [ID_NEW]) == [ID_NEW]
    expected = BASE.replace(f'["{ID_VL}"]', f'["{ID_VL}", "{ID_NEW}"]')
    assert config_path.read_text() == expected
    assert load_config(config_path).backend("vl").datasets == [ID_VL, ID_NEW]  # type: ignore[union-attr]


def test_add_to_a_multi_line_array_keeps_its_comments(config_path: Path) -> None:
    assert add_datasets(config_path, "cognee", [ID_NEW.upper()]) == [ID_NEW]
    expected = BASE.replace(
        f'    "{ID_COGNEE}",  # big one\n', f'    "{ID_COGNEE}",  # big one\n    "{ID_NEW}",\n'
    )
    assert config_path.read_text() == expected


def test_a_long_one_line_array_becomes_one_id_per_line(config_path: Path) -> None:
    add_datasets(config_path, "vl", [ID_NEW, ID_NEW_2])
    expected = BASE.replace(
        f'["{ID_VL}"]', f'[\n    "{ID_VL}",\n    "{ID_NEW}",\n    "{ID_NEW_2}",\n]'
    )
    assert config_path.read_text() == expected


def test_add_creates_the_datasets_key_when_missing(tmp_path: Path) -> None:
    path = write(tmp_path, VL + "# end of vl\n")
    add_datasets(path, "vl", [ID_NEW])
    assert load_config(path).backends[0].datasets == [ID_NEW]
    assert path.read_text().startswith(VL)
    assert "# end of vl" in path.read_text()


def test_add_is_idempotent_and_skips_ids_already_listed(config_path: Path) -> None:
    added = add_datasets(config_path, "vl", [ID_NEW, ID_VL.upper(), ID_NEW.replace("-", "")])
    assert added == [ID_NEW]
    before = config_path.read_bytes(), config_path.stat().st_mtime_ns
    assert add_datasets(config_path, "vl", [ID_NEW]) == []
    assert (config_path.read_bytes(), config_path.stat().st_mtime_ns) == before


def test_pasted_text_is_split_into_ids(config_path: Path) -> None:
    assert add_datasets(config_path, "vl", f"{ID_NEW}, {ID_NEW_2}\n") == [ID_NEW, ID_NEW_2]


def test_remove_keeps_the_rest_of_the_file(config_path: Path) -> None:
    add_datasets(config_path, "vl", [ID_NEW])
    assert remove_datasets(config_path, "vl", [ID_VL.upper(), ID_NEW_2]) == [ID_VL]
    assert config_path.read_text() == BASE.replace(f'["{ID_VL}"]', f'["{ID_NEW}"]')
    assert remove_datasets(config_path, "cognee", [ID_COGNEE]) == [ID_COGNEE]
    assert config_path.read_text().endswith("datasets = [\n    # staging\n]\n")


def test_remove_matches_ids_written_in_another_spelling(tmp_path: Path) -> None:
    path = write(tmp_path, VL + f'datasets = ["{ID_VL.upper().replace("-", "")}", "{ID_NEW}"]\n')
    assert remove_datasets(path, "vl", [ID_VL]) == [ID_VL]
    assert path.read_text() == VL + f'datasets = ["{ID_NEW}"]\n'


def test_remove_is_idempotent(config_path: Path) -> None:
    remove_datasets(config_path, "vl", [ID_VL])
    before = config_path.read_bytes(), config_path.stat().st_mtime_ns
    assert remove_datasets(config_path, "vl", [ID_VL]) == []
    assert (config_path.read_bytes(), config_path.stat().st_mtime_ns) == before


REFUSED_EDITS: list[tuple[str, Callable[[Path], object], str]] = [
    (
        "a bad id among good ones",
        lambda p: add_datasets(p, "vl", [ID_NEW, "nope"]),
        "'nope' is not a dataset ID",
    ),
    (
        "a bad id to remove",
        lambda p: remove_datasets(p, "vl", [ID_VL, "../etc"]),
        "'../etc' is not a dataset ID",
    ),
    (
        "an unknown backend",
        lambda p: add_datasets(p, "prod", [ID_NEW]),
        "no backend named 'prod' (configured: vl, cognee)",
    ),
    (
        "remove from an unknown backend",
        lambda p: remove_datasets(p, "prod", [ID_VL]),
        "no backend named 'prod'",
    ),
    (
        "a backend name in use",
        lambda p: add_backend(p, BackendConfig(name="cognee", type="cognee", url="http://h")),
        "a backend named 'cognee' already exists",
    ),
]


@pytest.mark.parametrize(
    ("edit", "fragment"), [c[1:] for c in REFUSED_EDITS], ids=[c[0] for c in REFUSED_EDITS]
)
def test_a_refused_edit_leaves_the_file_untouched(
    config_path: Path, edit: Callable[[Path], object], fragment: str
) -> None:
    before = config_path.read_bytes(), config_path.stat().st_mtime_ns
    with pytest.raises(ConfigError) as caught:
        edit(config_path)
    assert fragment in str(caught.value)
    assert str(caught.value).startswith(str(config_path))
    assert (config_path.read_bytes(), config_path.stat().st_mtime_ns) == before
    assert temp_files(config_path.parent) == []


def test_an_edit_of_an_invalid_file_is_refused_with_its_error(tmp_path: Path) -> None:
    text = VL + "datasets = []\n[settings]\ntimeout = -1\n"
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=r":7: settings.timeout: "):
        add_datasets(path, "vl", [ID_NEW])
    assert path.read_text() == text


def test_a_failed_save_is_a_config_error_and_leaves_the_file(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(config_module.tempfile, "mkstemp", refuse)
    with pytest.raises(ConfigError) as caught:
        add_datasets(config_path, "vl", [ID_NEW])
    assert str(caught.value) == f"{config_path}: cannot save: Permission denied"
    assert config_path.read_text() == BASE


def test_an_edit_keeps_the_permission_bits(config_path: Path) -> None:
    config_path.chmod(0o640)
    add_datasets(config_path, "vl", [ID_NEW])
    assert config_path.stat().st_mode & 0o777 == 0o640


def test_an_edit_through_a_symlink_edits_the_target(config_path: Path) -> None:
    link = config_path.parent / "link.toml"
    link.symlink_to(config_path)
    add_datasets(link, "vl", [ID_NEW])
    assert link.is_symlink()
    assert ID_NEW in config_path.read_text()


def test_add_backend_creates_a_private_file_and_directory(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "config.toml"
    backend = BackendConfig(
        name="vl",
        type="visual_layer",
        url="https://app.visual-layer.com",
        api_key_env="VL_API_KEY",
        api_secret_env="VL_API_SECRET",
    )
    add_backend(path, backend)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    text = path.read_text()
    assert text.startswith("# dswatch configuration.")
    assert load_config(path).backends == [backend]
    assert 'api_key_env = "VL_API_KEY"' in text and "datasets = []" in text


def test_add_backend_appends_after_the_file_unchanged(config_path: Path) -> None:
    add_backend(config_path, BackendConfig(name="prod", type="cognee", url="https://cg.example"))
    text = config_path.read_text()
    assert text.startswith(BASE + "\n[[backends]]\n")
    assert [b.name for b in load_config(config_path).backends] == ["vl", "cognee", "prod"]


def test_add_backend_refuses_an_inline_backends_array(tmp_path: Path) -> None:
    path = write(tmp_path, 'backends = [{name = "a", type = "cognee", url = "http://h"}]\n')
    with pytest.raises(ConfigError, match="inline array"):
        add_backend(path, BackendConfig(name="b", type="cognee", url="http://h"))


# --------------------------------------------------------------------------
# Crashes and concurrent editors
# --------------------------------------------------------------------------


def test_a_later_save_removes_old_leftover_temp_files_only(config_path: Path) -> None:
    """What a killed save left behind goes at the next save, once it is clearly
    not being written right now (another dswatch may be mid-save)."""
    directory = config_path.parent
    old = directory / f".{config_path.name}.dead1234.tmp"
    fresh = directory / f".{config_path.name}.live5678.tmp"
    other = directory / ".other.toml.dead9999.tmp"
    for path in (old, fresh, other):
        path.write_text("[settings]\n")
    an_hour_ago = time.time() - 3600
    for path in (old, other):
        os.utime(path, (an_hour_ago, an_hour_ago))
    add_datasets(config_path, "vl", [ID_NEW])
    assert temp_files(directory) == sorted([fresh, other])


def test_an_edit_made_after_loading_survives_the_next_edit(config_path: Path) -> None:
    loaded = load_config(config_path)
    config_path.write_text(config_path.read_text().replace("2.0", "3.0") + "# theirs\n")
    add_datasets(config_path, "vl", [ID_NEW])
    reloaded = load_config(config_path)
    assert reloaded.settings.poll_interval == 3.0 != loaded.settings.poll_interval
    assert reloaded.backends[0].datasets == [ID_VL, ID_NEW]
    assert config_path.read_text().endswith("# theirs\n")


def _edit_behind_our_back(path: Path, same_size_and_mtime: bool) -> None:
    if same_size_and_mtime:
        # Only the content hash can tell: same size, mtime restored.
        st = path.stat()
        path.write_text(path.read_text().replace("fast polls", "slow polls"))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    else:
        path.write_text(path.read_text() + "# theirs\n")


@pytest.fixture
def racing_editor(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[int, bool], list[int]]]:
    """Make another editor save the file while dswatch writes its temp file."""
    real_write_temp = config_module._write_temp

    def arm(times: int, same_size_and_mtime: bool) -> list[int]:
        calls: list[int] = []

        def write_temp(directory: Path, name: str, data: bytes, mode: int) -> Path:
            calls.append(len(calls))
            if len(calls) <= times:
                _edit_behind_our_back(config_path, same_size_and_mtime)
            return real_write_temp(directory, name, data, mode)

        monkeypatch.setattr(config_module, "_write_temp", write_temp)
        return calls

    yield arm


@pytest.mark.parametrize("same_size_and_mtime", [False, True], ids=["appended", "same-size"])
def test_a_change_during_the_edit_is_redone_on_the_new_content(
    config_path: Path,
    racing_editor: Callable[[int, bool], list[int]],
    same_size_and_mtime: bool,
) -> None:
    calls = racing_editor(1, same_size_and_mtime)
    assert add_datasets(config_path, "vl", [ID_NEW]) == [ID_NEW]
    assert len(calls) == 2  # the first attempt was abandoned
    text = config_path.read_text()
    assert ID_NEW in text
    assert ("slow polls" in text) if same_size_and_mtime else text.endswith("# theirs\n")
    assert temp_files(config_path.parent) == []


def test_a_file_that_keeps_changing_is_left_to_the_other_editor(
    config_path: Path, racing_editor: Callable[[int, bool], list[int]]
) -> None:
    calls = racing_editor(100, False)
    with pytest.raises(ConfigError, match="kept changing"):
        add_datasets(config_path, "vl", [ID_NEW_3])
    assert len(calls) == config_module.MAX_EDIT_ATTEMPTS
    assert ID_NEW_3 not in config_path.read_text()
    assert config_path.read_text().endswith("# theirs\n")
    assert temp_files(config_path.parent) == []


def test_the_watcher_sees_outside_edits_once(config_path: Path) -> None:
    watcher = ConfigWatcher(config_path)
    assert not watcher.changed()
    config_path.write_text(BASE + "# edited\n")
    assert watcher.changed()
    assert not watcher.changed()
    add_datasets(config_path, "vl", [ID_NEW])  # an atomic replace is a change too
    assert watcher.changed()
    config_path.unlink()
    assert watcher.changed()
    assert not watcher.changed()


# --------------------------------------------------------------------------
# The example file
# --------------------------------------------------------------------------


def test_the_example_config_loads_and_its_credentials_check_out() -> None:
    config = load_config(EXAMPLE, missing_ok=False)
    assert [b.name for b in config.backends] == ["vl", "cognee"]
    check_credentials(config, ENV)


def test_the_example_documents_every_key_with_valid_values() -> None:
    text = EXAMPLE.read_text()
    fields = {*Settings.model_fields, *BackendConfig.model_fields, *HookConfig.model_fields}
    written = re.findall(r"^(# )?(\w+) = (.*)$", text, re.MULTILINE)
    assert fields <= {key for _, key, _ in written}
    for commented, key, value in written:
        assert key in fields, key
        if commented:  # an alternative to uncomment: it must be valid as written
            tomllib.loads(f"{key} = {value}")


def test_the_examples_settings_are_the_defaults() -> None:
    """Its [settings] table says "these are the defaults": each value written there
    (or commented out) is the model's default, so copying it changes nothing."""
    text = EXAMPLE.read_text()
    table = text[text.index("[settings]") : text.index("[[backends]]")]
    written = dict(re.findall(r"^(?:# )?(\w+) = (.*?)\s*(?:#.*)?$", table, re.MULTILINE))
    defaults = Settings().model_dump()
    assert set(written) == set(defaults)
    for key, value in written.items():
        if defaults[key] is not None:  # stuck_after: unset by default, an example value shown
            assert tomllib.loads(f"v = {value}")["v"] == defaults[key], key
