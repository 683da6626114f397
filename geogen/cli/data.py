"""``geogen-data``: the dataset stage's commands (dataset/cli.py: build, validate, preview, merge)
plus the reconstruction stage's pseudo-GT: the ``pseudo-gt`` command (``geogen-recon dataset``)
and the post-build step that ``build`` runs unless ``--no-pseudo-gt``.

The stages are put together here, at the top of the layer order (docs/architecture.md): the
dataset stage runs a registered post-build step and never imports the reconstruction stage.
"""

from __future__ import annotations

import typer

import reconstruction.dataset_step  # noqa: F401  (registers the "pseudo-gt" post-build step)
from dataset import cli as data
from geogen.common.cli import run_typer
from reconstruction import cli as recon

app = typer.Typer(add_completion=False, no_args_is_help=True, help=data.app.info.help)
for command in (data.build, data.validate, data.preview, data.merge):
    app.command()(command)
app.command("pseudo-gt", help="Pseudo-GT meshes from the images alone (multi-view stereo + screened Poisson) "
                              "for the test split (--all: every identity), with a quality report vs the exact "
                              "GT; resumable.")(recon.dataset)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: usage errors become one line too (exit 2)."""
    run_typer(app, "geogen-data", argv)


if __name__ == "__main__":
    main()
