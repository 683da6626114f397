"""Running a typer app so that every way of failing is one line and exit code 2."""

from __future__ import annotations

import importlib
import sys

from .errors import UserError, run_cli


def _click_exception_modules() -> list:
    """Exception modules of click and of the click copy that newer typer versions vendor."""
    mods = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            mods.append(importlib.import_module(name))
        except ImportError:
            pass
    return mods


def run_typer(app, prog_name: str, argv: list[str] | None = None) -> None:
    """Console entry point for a typer ``app``.

    Usage errors (unknown option, missing argument, bad value) become one line ``error: ...``
    with exit code 2 like :class:`UserError`, instead of click's multi-line box; a bare command
    shows its help; Ctrl-C exits 130.
    """
    mods = _click_exception_modules()
    no_args = tuple(m.NoArgsIsHelpError for m in mods if hasattr(m, "NoArgsIsHelpError"))
    click_errors = tuple(m.ClickException for m in mods)
    aborts = tuple(m.Abort for m in mods if hasattr(m, "Abort"))

    def entry() -> None:
        try:
            code = app(args=argv, prog_name=prog_name, standalone_mode=False)
        except no_args as exc:  # bare command: show its help, like --help
            print(exc.ctx.get_help() if getattr(exc, "ctx", None) else str(exc))
            sys.exit(0)
        except click_errors as exc:
            raise UserError(" ".join(exc.format_message().split())) from None
        except aborts:
            raise KeyboardInterrupt from None
        if isinstance(code, int) and code != 0:
            sys.exit(code)

    run_cli(entry)
