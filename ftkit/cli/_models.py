"""``ftkit models merge|export|download``: what a fine-tune can become, through the same TrainedModel verbs
as Python (so a provider that lacks one says so, and what to use instead).

    ftkit models merge ftk-2026 --out merged/          # adapter + base as one model folder
    ftkit models export ftk-2026 --out ollama/         # merged weights + an Ollama Modelfile
    ftkit models download ftk-2026 --out weights/      # a managed fine-tune's weights
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ftkit.cli._output import console, print_json

if TYPE_CHECKING:
    from ftkit.model import TrainedModel

models_app = typer.Typer(help="Merge, export or download a trained model.", no_args_is_help=True)

MODEL = typer.Argument(..., help="Job id (or unique prefix), model folder, or provider:model.")
OUT = typer.Option(..., "--out", help="Folder to write; it must not exist yet, or be empty.")
OPTION = typer.Option([], "--option", "-o", help="Provider option KEY=VALUE for this verb (JSON values allowed).")
JSON = typer.Option(False, "--json", help="Print JSON instead of text.")


def _model(ref: str) -> TrainedModel:
    from ftkit.evaluation.models import resolve_model

    return resolve_model(ref)


def _fresh(out: Path) -> Path:
    """A path a user gave is never overwritten: refuse a folder that already has files in it."""
    from ftkit.errors import ConfigError

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} already exists and is not an empty folder; nothing was written. "
                          "Choose another --out, or remove it yourself.")
    return out


def _done(verb: str, path: Path, model: TrainedModel, json_out: bool) -> None:
    from ftkit._table import short_path

    if json_out:
        print_json({"model": model.model_dump(mode="json"), "path": str(path)})
    else:
        console().print(f"{verb} {model.label} -> {short_path(path)}", markup=False, soft_wrap=True)


def merge(model: str = MODEL, out: Path = OUT, option: list[str] = OPTION, json_out: bool = JSON) -> None:
    """Write the adapter merged into its base as one model folder that loads without ftkit."""
    from ftkit.cli._progress import showing_progress
    from ftkit.cli._train import parse_options

    trained = _model(model)
    with showing_progress():
        path = trained.merge(_fresh(out), **parse_options(option))
    _done("merged", path, trained, json_out)


def export(model: str = MODEL, out: Path = OUT, option: list[str] = OPTION, json_out: bool = JSON) -> None:
    """Write merged weights plus an Ollama Modelfile (`ollama create NAME -f Modelfile` serves it)."""
    from ftkit.cli._progress import showing_progress
    from ftkit.cli._train import parse_options

    trained = _model(model)
    with showing_progress():
        path = trained.export_ollama(_fresh(out), **parse_options(option))
    _done("exported", path, trained, json_out)


def download(model: str = MODEL, out: Path = OUT, option: list[str] = OPTION, json_out: bool = JSON) -> None:
    """Fetch a managed fine-tune's weights, to serve or merge them yourself."""
    from ftkit.cli._progress import showing_progress
    from ftkit.cli._train import parse_options

    trained = _model(model)
    with showing_progress():
        path = trained.download(_fresh(out), **parse_options(option))
    _done("downloaded", path, trained, json_out)


def register(app: typer.Typer) -> None:
    models_app.command("merge")(merge)
    models_app.command("export")(export)
    models_app.command("download")(download)
    app.add_typer(models_app, name="models")
