"""``ftkit providers``: what is installed, where it came from, what it can do and which options it takes."""

from __future__ import annotations

from typing import Any

import typer

from ftkit._table import FitTable
from ftkit.cli._output import WIDE, console, print_json


def providers(
    wide: bool = WIDE,
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List built-in and plugin providers (plugins register through the 'ftkit.providers' entry points)."""
    from ftkit.errors import ConfigError
    from ftkit.provider import describe_options
    from ftkit.registry import available_providers, get_provider

    rows: list[dict[str, Any]] = []
    for name, info in available_providers().items():
        row: dict[str, Any] = {"name": name, "origin": info.origin, "target": info.target}
        try:
            cls = get_provider(name)
        except ConfigError as e:
            row.update(installed=False, problem=str(e))
        else:
            row.update(
                installed=True,
                hosting=cls.hosting.value,
                default_model=cls.default_model(),
                capabilities=sorted(c.value for c in cls.capabilities),
                credential_env=cls.credential_env,
                options=dict(describe_options(cls.Options)),
            )
        rows.append(row)
    if json_out:
        print_json(rows)
        return
    from rich.text import Text

    table = FitTable()
    for header, priority in (("provider", 0), ("hosting", 0), ("API key from", 1), ("default model", 2),
                             ("origin", 3)):
        table.column(header, priority=priority)
    for row in rows:
        if row["installed"]:
            notes = [f"{row['name']} can: {', '.join(row['capabilities'])}; options: "
                     f"{', '.join(row['options']) or 'none'}"]
            table.add_row(row["name"], row["hosting"], row["credential_env"] or "-", row["default_model"] or "-",
                          row["origin"], notes=notes)
        else:
            table.add_row(row["name"], Text("not installed", style="red"), "-", "-", row["origin"],
                          notes=[f"{row['name']}: {row['problem']}"])
    table.render(console(), wide=wide)


def register(app: typer.Typer) -> None:
    app.command("providers")(providers)
