"""Segmap's core: items list, census, merge, validation, data discovery, upload.

Headless by design: nothing here imports Qt, so the CLI and servers can use it.
"""

__version__ = "0.1.0"
