"""Helpers shared by tests, importable from worker subprocesses (cwd and PYTHONPATH = repo root)."""
