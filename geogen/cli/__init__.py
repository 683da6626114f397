"""The console commands, at the top of the layer order (docs/architecture.md): ``geogen-train``
(train.py), ``geogen-gen`` (generate.py), ``geogen-data`` (data.py: dataset + reconstruction
stages) and ``geogen-bench`` (bench.py: benchmark + leaderboard stages). ``geogen-recon`` is
reconstruction/cli.py."""
