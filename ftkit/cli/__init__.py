"""The ``ftkit`` command line (typer + rich).

Each command group lives in its own module with a ``register(app)`` function. Errors from ftkit are
printed without a traceback and exit with the error's code: 0 success, 1 the data or job failed,
2 bad usage or setup.
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
_COMMAND_MODULES = ("_data", "_estimate", "_train", "_jobs", "_eval", "_providers")


@functools.cache
def _register_commands() -> None:
    # once per process: main() may be called many times (tests, embedding)
    for name in _COMMAND_MODULES:
        importlib.import_module(f"ftkit.cli.{name}").register(app)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what ftkit does (to stderr)."),
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ftkit`` script."""
    from ftkit.cli._output import error_console

    _register_commands()
    try:
        # standalone_mode=False hands errors to us; a command's typer.Exit comes back as its code
        code = app(args=argv, standalone_mode=False)
    except FtkitError as e:
        error_console().print(f"[bold red]error:[/] {_escape(str(e))}", highlight=False)
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


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
