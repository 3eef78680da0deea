"""A corpus of hostile and broken inputs, generated at test time (never committed binaries).

Each builder writes one case into a folder the test gives and returns its path. Tests in
this package feed them to the CLI, the core and the wizard's loaders and assert a plain
error that names the file, never a hang, a traceback or a changed input.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")


def fifo(path: Path) -> Path:
    """A named pipe: opening it for reading blocks until a writer comes (none will)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    assert stat.S_ISFIFO(os.stat(path).st_mode)
    return path


def device_link(path: Path, device: str = "/dev/zero") -> Path:
    """A link to a character device: reading it never ends (``/dev/zero``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(device)
    return path


def nested_json(path: Path, depth: int = 1000) -> Path:
    """Valid JSON that nests ``depth`` lists deep (json's recursion limit is about 1000)."""
    path.write_text("[" * depth + "]" * depth, encoding="utf-8")
    return path


def _nifti_header(**fields: object) -> bytes:
    """A valid 348-byte NIfTI-1 header of a 2x2x2 uint8 volume, with ``fields`` set."""
    import nibabel as nib
    import numpy as np

    hdr = nib.Nifti1Header()
    hdr.set_data_shape((2, 2, 2))
    hdr.set_data_dtype(np.uint8)
    hdr["vox_offset"] = 352
    hdr.set_sform(np.eye(4), code=1)
    for name, value in fields.items():
        hdr[name] = value
    return hdr.binaryblock + b"\0" * 4


def broken_volumes(folder: Path) -> dict[str, Path]:
    """Files that claim to be images or masks and are not what they claim, by name.

    FIFOs and device links (hangs), empty and garbage files of every format Segmap
    reads, truncated gzip, headers that lie about their size, dims or affine.
    """
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        (folder / name).write_bytes(data)
        out[name] = folder / name

    for ext in (".nii", ".nii.gz", ".nrrd", ".dcm", ".mha"):
        put(f"empty{ext}", b"")
        put(f"garbage{ext}", bytes(range(256)) * 8)
    whole = _nifti_header() + bytes(8)
    put("truncated.nii.gz", gzip.compress(whole * 4)[:60])
    put("short-data.nii", whole[:-5])
    put("huge-claim.nii", _nifti_header(dim=[3, 32767, 32767, 32767, 1, 1, 1, 1]))  # 3.5e13
    put("huge-claim.nii.gz", gzip.compress(_nifti_header(dim=[4] + [30000] * 4 + [1] * 3)))
    put("negative-dim.nii", _nifti_header(dim=[3, -2, 2, 2, 1, 1, 1, 1]) + bytes(8))
    import numpy as np

    nan = np.eye(4)
    nan[0, 0] = np.nan
    put("nan-affine.nii", _nifti_header(srow_x=nan[0], qform_code=0) + bytes(8))
    put("vox-offset-0.nii", _nifti_header(vox_offset=0) + bytes(8))
    put("header-only.nrrd", b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 2 2 2\n"
        b"encoding: raw\n\n")
    put("unknown-encoding.nrrd", b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 2 2 2\n"
        b"encoding: rot13\n\n" + bytes(8))
    if hasattr(os, "mkfifo"):
        out["fifo.nii.gz"] = fifo(folder / "fifo.nii.gz")
        out["fifo.dcm"] = fifo(folder / "fifo.dcm")
    out["zero.nii"] = device_link(folder / "zero.nii")
    return out


def broken_json(folder: Path) -> dict[str, Path]:
    """Files given where an items list or taxonomy is expected, that are none."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def put(name: str, text: str) -> None:
        (folder / name).write_text(text, encoding="utf-8")
        out[name] = folder / name

    put("empty.json", "")
    put("nan.json", '[{"name": "a", "items": "x.nii.gz", "series": NaN}]')
    put("huge-number.json", '[{"name": "a", "series": [{"items": "x.nii.gz", "index": 1e999}]}]')
    put("surrogate.json", '[{"name": "\\ud800", "items": "x.nii.gz"}]')
    put("wrong-types.json", '{"name": 5, "series": "no"}')
    put("list-of-numbers.json", "[1, 2, 3]")
    out["deep.json"] = nested_json(folder / "deep.json", 950)
    if hasattr(os, "mkfifo"):
        out["fifo.json"] = fifo(folder / "fifo.json")
    out["zero.json"] = device_link(folder / "zero.json")
    return out
