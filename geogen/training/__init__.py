"""Training GeoGen / EG3D: data, losses, schedules, the training iteration, safe snapshots.

Entry points: ``geogen-train`` (:mod:`geogen.cli.train`), :func:`geogen.training.run.train`,
which writes the model files that :func:`geogen.model.io.load_model_file` reads.
"""
