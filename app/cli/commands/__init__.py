"""Subcommands of `segmap`, one module each (discovered by app.cli)."""
