"""Shared output helpers for CLI commands: consoles, JSON, error blocks, the ``--wide`` option.

Human output goes to stdout through :func:`console` (tables via :mod:`ftkit.cli._table`); progress and
errors go to stderr through :func:`error_console`, so ``--json`` stdout carries only JSON. The consoles are
made once per command (``main()`` calls :func:`reset`), at the width of the terminal or ``$COLUMNS``.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from functools import cache
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

WIDE = typer.Option(False, "--wide", help="Show every column (one line per row) instead of those that fit.")

#: whether progress is shown: None follows the terminal, True (``--progress``) always, False never
_settings: dict[str, Any] = {"progress": None}


@cache
def console() -> Console:
    return Console(highlight=False)


@cache
def error_console() -> Console:
    return Console(stderr=True, highlight=False)


def reset(*, progress: bool | None = None) -> None:
    """Fresh consoles (the width and terminal may differ between calls of ``main()``) and progress mode."""
    console.cache_clear()
    error_console.cache_clear()
    _settings["progress"] = progress


def set_progress(progress: bool | None) -> None:
    _settings["progress"] = progress


def progress_wanted() -> bool | None:
    """The ``--progress``/``--no-progress`` choice (None: show it when stderr is a terminal)."""
    return _settings["progress"]


# Sentences of an error message that say what to do, rather than what went wrong.
_FIX = re.compile(r"^(Run|Pass|Install|Set|Use|Instead|Start|Wait|Upgrade|Add|Choose|Deploy|Remove|See|Give|"
                  r"Fix|Check|Try|Delete|Follow|Call|Raise|Lower|Increase|Reduce|Split|Convert)\b|`")


def error_block(error: BaseException, width: int) -> list[Text]:
    """One readable block: what failed (and why) after ``error:``, then what fixes it after ``fix:``."""
    from ftkit._table import shorten_paths

    # paths relative to the working directory or with ~ (whole: the user may need to open the file)
    message = shorten_paths(str(error).strip() or type(error).__name__, limit=10_000)
    head, _, detail = message.partition("\n")
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z`(])", head)
    what, why, fix = sentences[0], [], []
    for sentence in sentences[1:]:
        (fix if _FIX.search(sentence) else why).append(sentence)
    lines: list[Text] = []

    def add(label: str, text: str, style: str) -> None:
        wrapped = textwrap.wrap(text, width=max(30, width - 7), break_long_words=False, break_on_hyphens=False)
        for i, line in enumerate(wrapped or [""]):
            row = Text(f"{label:>5}: " if i == 0 else "       ", style=style if i == 0 else "")
            row.append(line)
            lines.append(row)

    add("error", " ".join([what, *why]), "bold red")
    for line in detail.splitlines():  # listed problems: each wrapped under its own indent
        indent = " " * (7 + len(line) - len(line.lstrip()))
        for i, piece in enumerate(textwrap.wrap(line.strip(), width=max(30, width - len(indent) - 2),
                                                break_long_words=False, break_on_hyphens=False) or [""]):
            lines.append(Text(indent + ("" if i == 0 else "  ") + piece))
    if fix:
        add("fix", " ".join(fix), "bold")
    return lines


def print_error(error: BaseException) -> None:
    err = error_console()
    for line in error_block(error, err.width):
        err.print(line, soft_wrap=True)


def print_json(data: Any) -> None:
    """Print JSON to stdout only (no rich markup), so ``--json`` output pipes into jq."""
    if hasattr(data, "model_dump"):
        data = data.model_dump(mode="json")
    sys.stdout.write(_dumps(data) + "\n")
    sys.stdout.flush()


def _dumps(data: Any) -> str:
    """Indented JSON; by orjson when it can (a validation report of 200,000 examples lists thousands of
    clusters: 0.7 s with ``json``, a tenth of that with orjson), else by ``json`` (integers beyond 64 bits)."""
    try:
        import orjson

        return orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except (ImportError, TypeError):  # orjson.JSONEncodeError is a TypeError
        return json.dumps(data, indent=2, default=str, ensure_ascii=False)


STATE_STYLE = {
    "pending": "dim",
    "validating": "cyan",
    "queued": "cyan",
    "running": "yellow",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "magenta",
}


def styled_state(state: str) -> Text:
    return Text(state, style=STATE_STYLE.get(state, ""))
