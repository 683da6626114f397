"""Shared low-level pieces: camera conventions, atomic file writing, mesh I/O, seeding,
registries and CLI error handling. Every stage imports these; none of them imports torch."""
