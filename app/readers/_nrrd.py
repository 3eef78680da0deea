"""NRRD volumes and label maps (.nrrd, or a .nhdr header with a detached data file).

pynrrd (MIT) parses the header and decodes the raw, gzip, bzip2 and text
encodings, attached or detached; this module turns NRRD's geometry into a world
grid. NRRD gives each spatial axis a vector (``space directions``) and an origin
(``space origin``) in a named ``space``: left-posterior-superior (Slicer's and
ITK's default), right-anterior-superior or left-anterior-superior; the affine is
converted to RAS+ like every grid in Segmap. Non-spatial axes (the layers of a
Slicer ``.seg.nrrd``, vector components, time) are moved after the three
spatial ones.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import VolumeReadError
from app.geometry import Grid
from app.jsonio import open_regular, regular_file
from app.readers._limits import DEFLATE_MAX_RATIO, require_memory, size_text

# Sign flips from each NRRD space to RAS; spaces with "-time" add a time axis.
_TO_RAS = {
    "right-anterior-superior": (1.0, 1.0, 1.0),
    "ras": (1.0, 1.0, 1.0),
    "left-posterior-superior": (-1.0, -1.0, 1.0),
    "lps": (-1.0, -1.0, 1.0),
    "left-anterior-superior": (-1.0, 1.0, 1.0),
    "las": (-1.0, 1.0, 1.0),
    # Scanner and unnamed right-handed spaces carry no anatomy: they are taken as RAS.
    "scanner-xyz": (1.0, 1.0, 1.0),
    "3d-right-handed": (1.0, 1.0, 1.0),
}


@dataclass(frozen=True)
class NrrdInfo:
    """What an NRRD header says: its fields, the spatial axes and the RAS grid."""

    path: Path
    header: dict[str, Any]
    grid: Grid
    spatial_axes: tuple[int, ...]  # which data axes are spatial, in order


def _error(path: Path, what: str) -> VolumeReadError:
    return VolumeReadError(f"{path} is not a readable NRRD file: {what}.",
                           "Save it again from Slicer or ITK as .nrrd (gzip encoding).")


_MAX_LINE = 1 << 16  # bytes: no header line is longer (a binary file has no lines)
_HEADER_ERRORS = (ValueError, TypeError, IndexError, KeyError, StopIteration)


def _read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed header fields of an NRRD file (values as pynrrd types them)."""
    import nrrd

    p = Path(path)
    with open_regular(p, "NRRD file", VolumeReadError) as fh:
        lines: list[str] = []
        try:
            while len(lines) <= 10000:
                raw = fh.readline(_MAX_LINE)
                # The header ends at the first blank line (attached data follows).
                line = raw.decode("ascii", errors="replace").rstrip("\r\n")
                if not line:
                    break
                if not lines and not line.startswith("NRRD"):
                    raise _error(p, "it does not start with NRRD's magic line")
                lines.append(line)
            else:
                raise _error(p, "no end of header")
        except OSError as exc:
            raise VolumeReadError(f"Cannot read {p}: {exc.strerror or exc}") from None
    if not lines:
        raise _error(p, "the file is empty (0 bytes)" if not raw else
                     "it does not start with NRRD's magic line")
    try:
        return dict(nrrd.read_header(lines))
    except nrrd.NRRDError as exc:
        raise _error(p, str(exc)) from None
    except _HEADER_ERRORS as exc:  # pynrrd's parsers raise these for malformed fields
        raise _error(p, f"a malformed header field ({exc})") from None


def _header_grid(header: dict[str, Any], path: Path) -> tuple[Grid, tuple[int, ...]]:
    """The RAS grid of the spatial axes, and which data axes they are."""
    sizes = [int(s) for s in header.get("sizes", [])]
    if not sizes:
        raise _error(path, "no sizes")
    if min(sizes) < 1:
        raise _error(path, f"its header is broken: sizes {' '.join(map(str, sizes))} (each "
                           "must be at least 1)")
    directions = header.get("space directions")
    if directions is not None:
        dirs = np.asarray(directions, dtype=np.float64)
        spatial = tuple(i for i in range(len(sizes)) if np.all(np.isfinite(dirs[i])))
        vectors = np.array([dirs[i] for i in spatial])
    else:
        spacings = header.get("spacings")
        spatial = tuple(i for i in range(len(sizes))
                        if spacings is None or np.isfinite(float(spacings[i])))[:3]
        vectors = np.diag([float(spacings[i]) if spacings is not None else 1.0 for i in spatial])
    if not 1 <= len(spatial) <= 3 or vectors.shape[1] < len(spatial):
        raise _error(path, f"{len(spatial)} spatial axes (2 or 3 are needed)")
    dim = vectors.shape[1]
    space = str(header.get("space", "")).lower().removesuffix("-time")
    flips = np.ones(3)
    if space:
        if space not in _TO_RAS:
            raise _error(path, f"unknown space {header.get('space')!r}")
        flips = np.array(_TO_RAS[space])
    affine = np.eye(4)
    for col, vec in enumerate(vectors):
        affine[:dim, col] = vec[:3]
    origin = header.get("space origin")
    if origin is not None:
        affine[: min(dim, 3), 3] = np.asarray(origin, dtype=np.float64)[:3]
    affine[:3, :] *= flips[:, None]
    shape = tuple(sizes[i] for i in spatial) + (1,) * (3 - len(spatial))
    if len(spatial) < 3:  # a 2-D image: give the missing axis a unit step along the normal
        affine[:3, len(spatial):3] = np.eye(3)[:, len(spatial):3]
    if not np.isfinite(affine).all():
        raise _error(path, "its header is broken: its space directions or origin hold NaN or "
                           "infinite values")
    return Grid.of(shape, affine), spatial


def nrrd_info(path: str | os.PathLike[str]) -> NrrdInfo:
    """The header and grid of an NRRD file, without reading its voxels."""
    p = Path(path)
    header = _read_header(p)
    try:
        grid, spatial = _header_grid(header, p)
    except (ValueError, TypeError, IndexError) as exc:  # ragged or non-numeric geometry
        raise _error(p, f"its geometry fields are malformed ({exc})") from None
    info = NrrdInfo(p, header, grid, spatial)
    _claim(info)  # a stat: a header whose data is missing or cut short is no volume
    return info


def _data_file(info: NrrdInfo) -> Path:
    """The file holding the voxels: the header's own file, or its detached data file."""
    name = info.header.get("data file", info.header.get("datafile"))
    if name is None:
        return info.path
    data = Path(str(name))
    return data if data.is_absolute() else info.path.parent / data


def _attached_offset(path: Path) -> int:
    """Where attached data starts: after the blank line that ends the header."""
    with open_regular(path, "NRRD file", VolumeReadError) as fh:
        head = fh.read(1 << 20)
    ends = [i + len(sep) for sep in (b"\n\n", b"\r\n\r\n") if (i := head.find(sep)) >= 0]
    return min(ends) if ends else len(head)


def _claim(info: NrrdInfo) -> tuple[int, str]:
    """The bytes the header's voxels take, and them in words; a data file that is no
    regular file, or holds less than a raw header claims (a gzip one: than deflate can
    inflate to), is refused before anything is read."""
    import nrrd

    data = _data_file(info)
    if data != info.path and not os.path.lexists(data):
        return 0, ""  # read_nrrd says the data file is missing
    size = regular_file(data, "NRRD data file", VolumeReadError).st_size
    if data == info.path:
        size -= _attached_offset(data)
    try:
        dtype = nrrd.reader._determine_datatype(info.header)
    except (nrrd.NRRDError, KeyError) as exc:
        raise _error(info.path, f"its type cannot be read ({exc})") from None
    sizes = [int(s) for s in info.header["sizes"]]
    claim = math.prod(sizes) * dtype.itemsize
    what = f"{'x'.join(map(str, sizes))} {dtype.name} voxels ({size_text(claim)})"
    encoding = str(info.header.get("encoding", "")).lower()
    if (encoding == "raw" and claim > size) or (
            encoding in ("gzip", "gz") and claim > DEFLATE_MAX_RATIO * max(size, 1)) or (
            size <= 0 < claim):
        raise _error(info.path, f"its header is broken or its data cut short: it claims "
                                f"{what}, but {data.name} holds {size_text(max(size, 0))}"
                                + (" of data" if data == info.path else ""))
    return claim, what


def _check_claim(info: NrrdInfo) -> None:
    """Refuse, before pynrrd reads anything, a size the data cannot hold or voxels the
    free memory cannot hold."""
    claim, what = _claim(info)
    if claim:
        require_memory(info.path, claim, f"its {what}")


def read_nrrd(path: str | os.PathLike[str]) -> tuple[np.ndarray, Grid]:
    """The voxels (spatial axes first, in NRRD axis order) and the RAS grid of a file."""
    import nrrd

    p = Path(path)
    info = nrrd_info(p)
    _check_claim(info)
    try:
        data = nrrd.read(str(p), index_order="F")[0]
    except FileNotFoundError as exc:
        raise VolumeReadError(
            f"The data file of {p} is missing ({exc.filename or exc}).",
            "A .nhdr header needs its data file next to it, named as in its 'data file' "
            "field.") from None
    except (nrrd.NRRDError, ValueError, EOFError, OSError) as exc:
        raise _error(p, str(exc)) from None
    other = [i for i in range(data.ndim) if i not in info.spatial_axes]
    data = np.transpose(data, (*info.spatial_axes, *other))
    n = len(info.spatial_axes)
    if n < 3:
        data = data.reshape(data.shape[:n] + (1,) * (3 - n) + data.shape[n:])
    if not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))
    return data, info.grid
