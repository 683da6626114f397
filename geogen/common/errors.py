"""User-facing errors and the CLI wrapper that turns them into one-line messages (exit 2)."""

from __future__ import annotations

import sys
from typing import Callable


class UserError(Exception):
    """Bad input from the user: the message names the problem and the fix.

    CLIs print it as one line (``error: ...``) and exit with code 2, never a traceback.
    """


def run_cli(entry: Callable[[], object]) -> None:
    """Run a CLI entry point, mapping :class:`UserError` to a one-line message and exit code 2."""
    try:
        entry()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: partial work is kept in temporary files and will be redone on resume",
              file=sys.stderr)
        sys.exit(130)
