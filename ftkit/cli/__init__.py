"""The ``ftkit`` command line (typer + rich).

Commands are registered one way: each module in ``_COMMAND_MODULES`` has a ``register(app)`` that adds its
commands (``app.command(name)(function)``) or its group (``app.add_typer(group, name=...)``). The flags mean
the same everywhere: ``-m/--model``, ``-o/--option KEY=VALUE`` (provider options), ``-p/--provider``,
``--metric``, ``--out`` (no short form), ``--json``, ``--wide``.

Errors from ftkit are printed as one block without a traceback (what failed, then what fixes it) and exit
with the error's code: 0 success, 1 the data or job failed, 2 bad usage or setup.
"""

from __future__ import annotations

import functools
import importlib
import logging

import typer

from ftkit.errors import FtkitError

app = typer.Typer(
    name="ftkit",
    help="One fine-tuning job API over local and managed providers: validate, estimate, train, follow, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Command modules, in help order; each has register(app).
_COMMAND_MODULES = ("_data", "_estimate", "_train", "_jobs", "_models", "_deployments", "_eval", "_migrate", "_providers")


@functools.cache
def _register_commands() -> None:
    # once per process: main() may be called many times (tests, embedding)
    for name in _COMMAND_MODULES:
        importlib.import_module(f"ftkit.cli.{name}").register(app)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"ftkit {version('ftkit')}")
        raise typer.Exit(0)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what ftkit does (to stderr)."),
    progress: bool | None = typer.Option(
        None, "--progress/--no-progress",
        help="Show progress of long steps on stderr (default: only when stderr is a terminal)."),
    _version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                  help="Print the ftkit version and exit."),
) -> None:
    from ftkit.cli._output import set_progress

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    set_progress(progress)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ftkit`` script."""
    from ftkit.cli._output import error_console, print_error, reset

    _register_commands()
    reset()
    try:
        # standalone_mode=False hands errors to us; a command's typer.Exit comes back as its code
        code = app(args=argv, standalone_mode=False)
    except FtkitError as e:
        print_error(e)
        return e.exit_code
    except typer.Exit as e:
        return e.exit_code
    except KeyboardInterrupt:
        error_console().print("interrupted; jobs keep running — follow them with `ftkit jobs wait ID`")
        return 130
    except typer.Abort:
        return 1
    except Exception as e:
        # usage errors of typer's (vendored) click carry their own exit code (2) and know how to show themselves
        show, exit_code = getattr(e, "show", None), getattr(e, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            return exit_code
        raise
    return code if isinstance(code, int) else 0
