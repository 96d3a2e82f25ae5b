"""The empty dashboard's text: the config's error, or how to begin."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from ..config import ConfigError


def empty_text(
    config_error: ConfigError | None, config_path: Path | None, *, has_backends: bool
) -> Text:
    """What the dashboard shows with no rows: the config's error, or how to begin."""
    text = Text()
    if config_error is not None:
        text.append("The config file has an error:\n\n", "bold red")
        text.append(str(config_error) + "\n\n")
        text.append("Fix it in your editor: dswatch reloads it by itself.\n", "dim")
        return text
    text.append("No datasets are watched yet.\n\n", "bold")
    if has_backends:
        text.append("Press ")
        text.append("a", "bold reverse")
        text.append(" to add datasets: paste IDs or pick from a backend's list.\n")
    else:
        text.append("Press ")
        text.append("a", "bold reverse")
        text.append(" to define a backend (Visual Layer or Cognee), then ")
        text.append("a", "bold reverse")
        text.append(" again to add its datasets.\n")
        if config_path is not None and not config_path.exists():
            text.append("Or write a commented config file to edit: ")
            text.append("dswatch init", "bold")
            text.append("\n")
        else:
            text.append("Or edit the config file: config.example.toml documents every key.\n")
    if config_path is not None:
        text.append(f"\nConfig file: {config_path}\n", "dim")
    text.append("\nJust looking? Run ")
    text.append("dswatch --demo", "bold")
    text.append(" for a live demo: no account, no network.\n")
    return text
