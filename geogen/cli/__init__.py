"""Command-line entry points: ``geogen-train`` (train.py) and ``geogen-gen`` (generate.py)."""
