"""Where Segmap keeps what it derives from a user's files: never in their folders."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root(name: str) -> Path:
    """The cache folder ``name``: under ``$SEGMAP_CACHE``, else ``$XDG_CACHE_HOME/segmap``,
    else ``~/.cache/segmap``."""
    own = os.environ.get("SEGMAP_CACHE")
    if own:
        return Path(own).expanduser() / name
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "segmap" / name
