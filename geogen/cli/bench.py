"""``geogen-bench``: the benchmark's commands (benchmark/cli.py: score, run, images, baselines,
shapes) and the leaderboard's (leaderboard/cli.py: leaderboard, agreement) as one console command.

The stages are put together here, at the top of the layer order (docs/architecture.md): the
benchmark writes result files and never imports the leaderboard that reads them.
"""

from __future__ import annotations

import typer

from benchmark import cli as bench
from geogen.common.cli import run_typer
from leaderboard import cli as board

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help=bench.app.info.help)
for command in (bench.score, bench.run, bench.images, board.leaderboard, bench.baselines, bench.shapes,
                board.agreement):
    app.command()(command)


def main() -> None:
    run_typer(app, "geogen-bench")


if __name__ == "__main__":
    main()
