"""Training GeoGen / EG3D: data, losses, schedules, the training iteration, safe snapshots.

Entry points: ``geogen-train`` (:mod:`geogen.cli.train`), :func:`geogen.training.run.train`,
and :func:`geogen.training.checkpoint.load_model_file` for everything that reads a model file.
"""
