"""``ftkit providers``: what is installed, where it came from, what it can do and which options it takes."""

from __future__ import annotations

from typing import Any

import typer

from ftkit.cli._output import console, print_json


def providers(json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
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
                capabilities=sorted(c.value for c in cls.capabilities),
                credential_env=cls.credential_env,
                options=dict(describe_options(cls.Options)),
            )
        rows.append(row)
    if json_out:
        print_json(rows)
        return
    from rich.table import Table

    table = Table("provider", "origin", "capabilities", "API key from", "options")
    for row in rows:
        if row["installed"]:
            table.add_row(row["name"], row["origin"], ", ".join(row["capabilities"]), row["credential_env"] or "-",
                          ", ".join(row["options"]) or "-")
        else:
            table.add_row(row["name"], row["origin"], f"[red]not available[/]: {row['problem']}", "", "")
    console().print(table)


def register(app: typer.Typer) -> None:
    app.command("providers")(providers)
