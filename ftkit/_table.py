"""Tables that fit the terminal: whole values only, columns in priority order, long notes as footnotes.

Every command (and the evaluation report's terminal table) prints its tables through :class:`FitTable`, so
they all behave alike:

* at the console's width, the columns that fit *in full* are shown (by priority, in their declared order)
  and a line says which were left out; ``--wide`` shows every column, one line per row (the terminal wraps
  a line longer than itself, ``less -S`` scrolls it);
* a cell is never cut: numbers, ids, provider and model names are shown whole or their column is left out;
* long notes (shutdown dates, approximations, assumptions) become numbered footnotes under the table;
* piped (not a terminal): no box drawing, no colour, one row per line, so ``| grep running`` works.

Paths are shown by :func:`short_path` and job ids by :func:`short_ids`, which the commands accept back.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

__all__ = ["FitTable", "note_lines", "print_facts", "print_hanging", "print_notes", "short_ids", "short_path",
           "shorten_paths", "show_model"]

#: the gap between columns
GAP = "  "


@dataclass
class _Column:
    header: str
    priority: float
    justify: str


@dataclass
class FitTable:
    """A table whose columns are dropped by priority (never cut) to fit the console.

    >>> from rich.console import Console
    >>> t = FitTable()
    >>> t.column("id"); t.column("state"); t.column("model", priority=2)
    >>> t.add_row("ftk-1", "running", "Qwen/Qwen2.5-7B-Instruct", notes=["started on 1 GPU"])
    >>> t.render(Console(width=40, force_terminal=False))     # piped: plain text, the model left out
    id     state    notes
    ftk-1  running  1
    Left out to fit 40 columns: model
    (--wide shows them).
    [1] started on 1 GPU
    """

    title: str | None = None
    columns: list[_Column] = field(default_factory=list)
    rows: list[list[Text]] = field(default_factory=list)
    row_notes: list[list[str]] = field(default_factory=list)
    #: notes about the whole table, numbered after the row notes
    notes: list[str] = field(default_factory=list)

    def column(self, header: str, *, priority: float = 0, justify: str = "left") -> None:
        """Add a column; lower ``priority`` is kept longer (0: always shown)."""
        self.columns.append(_Column(header, priority, justify))

    def add_row(self, *cells: Any, notes: Iterable[str] = ()) -> None:
        """Cells are plain strings (never read as markup) or rich ``Text`` (for colour); ``None`` shows "-"."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append([_text(c) for c in cells])
        self.row_notes.append([n for n in notes if n])

    # -- rendering ---------------------------------------------------------------------------------------------

    #: show every column (wrapping in a terminal) instead of those that fit
    wide: bool = False

    def render(self, console: Console, *, wide: bool | None = None) -> None:
        """Print the table, the left-out columns and the footnotes on ``console``."""
        for line in self.lines(console, wide=self.wide if wide is None else wide):
            if isinstance(line, Text):
                console.print(line, soft_wrap=True)  # already fits; never re-wrapped or cropped
            else:
                console.print(line)

    def __rich_console__(self, console: Console, options: Any) -> Any:
        # `console.print(table)` works too (the evaluation report's `.table()` is printed this way)
        yield from self.lines(console, width=options.max_width, wide=self.wide)

    def lines(self, console: Console, *, width: int | None = None, wide: bool = False) -> list[Any]:
        """The rendered lines, as rich ``Text``."""
        numbers = self._number_notes()
        rows = [[*cells, Text(_ranges(sorted({numbers[n] for n in notes})))]
                for cells, notes in zip(self.rows, self.row_notes, strict=True)]
        columns = list(self.columns)
        if any(self.row_notes):
            # kept right after the required columns; when even it does not fit, each footnote names its row
            columns.append(_Column("notes", 0.5, "left"))
        else:
            rows = [r[:-1] for r in rows]
        width = width or console.width
        plain = not console.is_terminal
        out: list[Any] = []
        if self.title:
            out += _wrapped(self.title, width, style="bold")
        # --wide: every column, one line per row; the terminal wraps a line longer than itself
        shown, left_out = _fit(columns, rows, None if wide else width)
        notes_shown = "notes" not in left_out
        if not columns:  # notes only
            pass
        elif not wide and sum(_widths(columns, rows)[i] for i in shown) + len(GAP) * (len(shown) - 1) > width:
            out += _stacked(columns, rows, width)  # even the required columns are too wide: one block a row
            left_out, notes_shown = [], True
        else:
            out += _row_lines([columns[i] for i in shown], [[r[i] for i in shown] for r in rows], plain)
        if left_out:
            out += _wrapped(f"Left out to fit {width} columns: {', '.join(left_out)} (--wide shows them).",
                            width, style="dim")
        out += note_lines(list(numbers) if notes_shown else self._labelled_notes(numbers), width)
        return out

    def _labelled_notes(self, numbers: dict[str, int]) -> list[str]:
        """Footnotes that say which rows they belong to (when the notes column was left out)."""
        owners: dict[str, list[str]] = {note: [] for note in numbers}
        for cells, notes in zip(self.rows, self.row_notes, strict=True):
            label = " ".join(c.plain for c in cells[:2])
            for note in notes:
                owners[note].append(label)
        return [f"{'; '.join(dict.fromkeys(owners[n]))}: {n}" if owners[n] else n for n in numbers]

    def _number_notes(self) -> dict[str, int]:
        numbers: dict[str, int] = {}
        for note in [n for notes in self.row_notes for n in notes] + self.notes:
            numbers.setdefault(note, len(numbers) + 1)
        return numbers


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``: footnote references kept short."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"{a}-{b}" if b > a + 1 else (f"{a}, {b}" if b == a + 1 else f"{a}") for a, b in spans)


def print_facts(console: Console, facts: Sequence[tuple[str, Any]], *, indent: int = 0) -> None:
    """``label  value`` lines; a long value wraps under itself at the console's width, words never cut.
    Facts whose value is None or "" are skipped."""
    facts = [(label, value) for label, value in facts if value not in (None, "")]
    if not facts:
        return
    pad = max(len(label) for label, _ in facts) + 2
    room = max(20, console.width - indent - pad)
    for label, value in facts:
        text = value if isinstance(value, Text) else Text(str(value))
        pieces = textwrap.wrap(text.plain, width=room, break_long_words=False, break_on_hyphens=False) or [""]
        # a value that fits on one line keeps its colour
        pieces_text = [value] if isinstance(value, Text) and len(pieces) == 1 else [Text(p) for p in pieces]
        for i, piece in enumerate(pieces_text):
            line = Text(" " * indent + (f"{label:<{pad}}" if i == 0 else " " * pad))
            line.append_text(piece)
            console.print(line, soft_wrap=True)


def note_lines(notes: Sequence[str], width: int, *, start: int = 1) -> list[Text]:
    """Numbered footnotes, wrapped at ``width`` with a hanging indent (words are never cut)."""
    lines = []
    for i, note in enumerate(notes, start):
        note = shorten_paths(note, max(20, width - 10))
        marker = f"[{i}] "
        lines += [Text(line) for line in textwrap.wrap(
            note, width=max(20, width), initial_indent=marker, subsequent_indent=" " * len(marker),
            break_long_words=False, break_on_hyphens=False)]
    return lines


def print_notes(console: Console, notes: Sequence[str], *, start: int = 1) -> None:
    """Print :func:`note_lines` at the console's width."""
    for line in note_lines(notes, console.width, start=start):
        console.print(line, soft_wrap=True)


def print_hanging(console: Console, text: str, style: str = "") -> None:
    """One line of a report, wrapped at the console's width under its own indent (plus two), words whole."""
    indent = len(text) - len(text.lstrip(" "))
    lines = textwrap.wrap(text.strip(), width=max(20, console.width - indent), break_long_words=False,
                          break_on_hyphens=False) or [""]
    for i, line in enumerate(lines):
        lead = " " * (indent if i == 0 else indent + 2)
        console.print(Text(lead + line, style=style), soft_wrap=True)


def _wrapped(text: str, width: int, style: str = "") -> list[Text]:
    return [Text(line, style=style)
            for line in textwrap.wrap(text, width=max(20, width), break_long_words=False, break_on_hyphens=False)]


def _text(value: Any) -> Text:
    if isinstance(value, Text):
        return value
    text = "-" if value is None or value == "" else str(value)
    return Text(text.replace("\n", "; "))


def _widths(columns: list[_Column], rows: list[list[Text]]) -> list[int]:
    return [max([Text(c.header).cell_len, *(r[i].cell_len for r in rows)]) for i, c in enumerate(columns)]


def _stacked(columns: list[_Column], rows: list[list[Text]], width: int) -> list[Text]:
    """Each row as a block (its first cell, then ``header  value`` lines): for values wider than the screen."""
    pad = max(len(c.header) for c in columns[1:]) + 2 if len(columns) > 1 else 2
    out: list[Text] = []
    for row in rows:
        out.append(Text(row[0].plain, style="bold"))
        for column, cell in zip(columns[1:], row[1:], strict=True):
            if cell.plain in ("", "-"):
                continue
            pieces = textwrap.wrap(cell.plain, width=max(20, width - pad - 2), break_long_words=False) or [""]
            for i, piece in enumerate(pieces):
                out.append(Text("  " + (f"{column.header:<{pad}}" if i == 0 else " " * pad) + piece))
    return out


def _fit(columns: list[_Column], rows: list[list[Text]], width: int | None) -> tuple[list[int], list[str]]:
    """Indices of the columns to show (declared order) and the headers left out, so no line exceeds width."""
    widths = _widths(columns, rows)
    if width is None:
        return list(range(len(columns))), []
    chosen: set[int] = set()
    used = 0
    for i in sorted(range(len(columns)), key=lambda i: (columns[i].priority, i)):
        extra = widths[i] + (len(GAP) if chosen else 0)
        if columns[i].priority == 0 or used + extra <= width:
            chosen.add(i)
            used += extra
    return sorted(chosen), [c.header for i, c in enumerate(columns) if i not in chosen]


def _row_lines(columns: list[_Column], rows: list[list[Text]], plain: bool) -> list[Text]:
    widths = _widths(columns, rows)

    def line(cells: list[Text], style: str = "") -> Text:
        out = Text(style=style)
        for i, (cell, col, w) in enumerate(zip(cells, columns, widths, strict=True)):
            pad = " " * (w - cell.cell_len)
            if i:
                out.append(GAP)
            if col.justify == "right":
                out.append(pad)
                out.append_text(cell)
            else:
                out.append_text(cell)
                if i < len(cells) - 1:
                    out.append(pad)
        return out

    lines = [line([Text(c.header) for c in columns], style="" if plain else "bold")]
    if not plain:
        lines.append(Text(GAP.join("─" * w for w in widths), style="dim"))
    return lines + [line(row) for row in rows]


# -- values that must stay readable ------------------------------------------------------------------------------


def short_path(path: str | os.PathLike[str], limit: int = 40) -> str:
    """A path relative to the working directory, or with ``~``; past ``limit`` characters, its last
    components after ``…/`` (the last one is always whole).

    >>> short_path("/srv/runs/2026/ticket-router/checkpoints/final", limit=20)
    '…/checkpoints/final'
    """
    p = Path(path).expanduser()
    text = str(path)
    if p.is_absolute():
        for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
            try:
                text = prefix + str(p.relative_to(base))
                break
            except ValueError:
                continue
        text = "." if text == "" else text
    if len(text) <= limit:
        return text
    parts = Path(text).parts
    kept = [parts[-1]]
    for part in reversed(parts[:-1]):
        if len("…/" + "/".join([part, *kept])) > limit:
            break
        kept.insert(0, part)
    return "…/" + "/".join(kept)


_PATH = re.compile(r"(?<![\w/.~])(?:~|/)[^\s,;:()'\"`]*/[^\s,;:()'\"`]*")


def shorten_paths(text: str, limit: int) -> str:
    """Every absolute path in a message shown as :func:`short_path` would, so it fits a line."""
    def short(match: re.Match[str]) -> str:
        found = match.group(0)
        tail = found[len(found.rstrip(".")):]
        return short_path(found.rstrip("."), limit) + tail

    return _PATH.sub(short, text)


def looks_like_path(value: str) -> bool:
    """Whether a model name is a folder on disk rather than a hub or service name."""
    return value.startswith(("/", "~", "./", "../")) or (os.sep in value and Path(value).exists())


def show_model(model: str | None, limit: int = 40) -> str:
    """A model name as a table shows it: whole, or (a folder) by :func:`short_path`."""
    if not model:
        return "-"
    return short_path(model, limit) if looks_like_path(model) else model


def short_ids(ids: Iterable[str], known: Iterable[str], *, minimum: int = 8) -> dict[str, str]:
    """Each id's shortest prefix (at least ``minimum`` long) that no other ``known`` id starts with, as git
    abbreviates commits; every command accepts such a prefix back.

    >>> short_ids(["ftk-20261201-1030-aa"], ["ftk-20261201-1030-aa", "ftk-20261201-1129-bb"])
    {'ftk-20261201-1030-aa': 'ftk-20261201-10'}
    """
    others = sorted(set(known))
    result = {}
    for job_id in ids:
        n = min(minimum, len(job_id))
        for other in others:
            if other == job_id:
                continue
            common = next((i for i, (a, b) in enumerate(zip(job_id, other, strict=False)) if a != b),
                          min(len(job_id), len(other)))
            n = max(n, min(common + 1, len(job_id)))
        result[job_id] = job_id[:n]
    return result
