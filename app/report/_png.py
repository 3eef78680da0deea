"""A tiny PNG writer (RGB, 8 bits) without Qt or Pillow: numpy, zlib and struct.

The report's thumbnails are small RGB arrays; a PNG of them is a signature, an IHDR,
one IDAT of the rows (each after filter byte 0) deflated, and an IEND, each chunk with
its CRC. Nothing else is needed to open them in every browser, offline.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bytes(rgb: np.ndarray) -> bytes:
    """A PNG of ``rgb`` ((height, width, 3) uint8)."""
    a = np.ascontiguousarray(rgb, dtype=np.uint8)
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"expected a non-empty (height, width, 3) array, got {a.shape}")
    h, w = a.shape[:2]
    rows = np.zeros((h, 1 + 3 * w), np.uint8)  # filter type 0 (none) before each row
    rows[:, 1:] = a.reshape(h, 3 * w)
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8 bits, colour type 2 (RGB)
    return (_SIGNATURE + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + _chunk(b"IEND", b""))
