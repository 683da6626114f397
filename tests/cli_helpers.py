"""Run a console entry point in-process (its one-line error handling included)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys


def call_main(main, prog: str, *args) -> subprocess.CompletedProcess:
    """Call ``main()`` with ``sys.argv = [prog, *args]``: (exit code, stdout, stderr) as a CompletedProcess."""
    out, err = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, [prog, *map(str, args)]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())
