"""``ftkit deployments list|delete``: every paid endpoint ftkit created, found in the job store, and stopped.

    ftkit deployments list            # those that may still be billed
    ftkit deployments list --all      # also the deleted ones, with what they cost
    ftkit deployments delete dep-2026
"""

from __future__ import annotations

import typer

from ftkit.cli._output import WIDE, console, print_json

deployments_app = typer.Typer(help="List and delete deployments (paid endpoints serving fine-tunes).",
                              no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


def list_command(
    provider: str | None = typer.Option(None, "--provider", "-p", help="Only this provider's deployments."),
    all_: bool = typer.Option(False, "--all", "-a", help="Also list deleted deployments."),
    wide: bool = WIDE,
    json_out: bool = JSON,
) -> None:
    """Deployments from the job store (no provider calls), newest first."""
    from rich.text import Text

    from ftkit._table import FitTable, short_ids
    from ftkit.deployment import list_deployments

    found = list_deployments(provider=provider, active_only=not all_)
    if json_out:
        print_json([d.model_dump(mode="json") for d in found])
        return
    if not found:
        console().print("No deployments" + ("." if all_ else " that may be billed (--all lists deleted ones)."))
        return
    ids = short_ids([d.id for d in found], [d.id for d in list_deployments()])
    table = FitTable()
    for header, priority, justify in [("id", 0, "left"), ("provider", 0, "left"), ("state", 0, "left"),
                                      ("model", 1, "left"), ("$/h", 2, "right"), ("cost so far", 3, "right"),
                                      ("created", 4, "left"), ("job", 5, "left")]:
        table.column(header, priority=priority, justify=justify)
    for d in found:
        state = Text(d.state.value, style="green" if d.state.value == "ready" else "yellow" if d.state.is_billed else "dim")
        table.add_row(ids[d.id], d.provider, state, d.model_id,
                      f"${d.price_per_hour:g}" if d.price_per_hour is not None else "-",
                      f"${d.cost_usd:,.2f}" if d.cost_usd is not None else "-",
                      f"{d.created_at:%Y-%m-%d %H:%M}", d.job_id or "-",
                      notes=[f"{ids[d.id]}: {d.error}"] if d.error else ())
    table.render(console(), wide=wide)


def delete(
    deployment_id: str = typer.Argument(..., help="Deployment id or a unique prefix."),
    api_key: str | None = typer.Option(None, "--api-key", help="Provider API key (default: its env variable)."),
    base_url: str | None = typer.Option(None, "--base-url", help="Provider base URL override."),
    json_out: bool = JSON,
) -> None:
    """Stop paying for a deployment: the provider removes everything ftkit created for it."""
    from ftkit.cli._progress import showing_progress
    from ftkit.deployment import Deployment

    config = {k: v for k, v in {"api_key": api_key, "base_url": base_url}.items() if v}
    deployment = Deployment.attach(deployment_id, **config)
    with showing_progress():
        deployment.delete()
    if json_out:
        print_json(deployment)
    else:
        cost = f", {deployment.hours:.1f} h, ${deployment.cost_usd:,.2f}" if deployment.cost_usd is not None else ""
        console().print(f"{deployment.id}: {deployment.state.value}{cost}", markup=False)


def register(app: typer.Typer) -> None:
    deployments_app.command("list")(list_command)
    deployments_app.command("delete")(delete)
    app.add_typer(deployments_app, name="deployments")
