"""The voxels of one DICOM series, rescaled, on the series' grid.

pydicom decodes the pixel data with its plugins (numpy for native data; pylibjpeg
with openjpeg and rle, and python-gdcm for JPEG lossless and JPEG-LS; all
permissive licences). Slices go into one preallocated volume indexed
[i=column, j=row, k=slice] to match ``DicomSeries.grid``; RescaleSlope /
RescaleIntercept (or a Modality LUT) give the stored values their meaning (HU
for CT). The volume is int16 when every rescaled value is an integer that fits,
else float32. Colour images become their luminance.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import VolumeReadError
from app.progress import Progress, Work
from app.readers._limits import require_memory
from app.readers.dicom._elements import open_file, quiet_warnings
from app.readers.dicom._frames import dicomwrappers, frame_rescale
from app.readers.dicom._header import Header, HeaderError, read_header
from app.readers.dicom._series import DicomSeries, ObjectKind

_THREADS = 2  # decoders that release the GIL (openjpeg, gdcm, file reads) overlap
_INT16 = np.iinfo(np.int16)


def _read(path: Path) -> Any:
    import pydicom

    try:
        with open_file(path) as fh:  # a regular file only: a FIFO is refused, not waited on
            gz = fh.read(2) == b"\x1f\x8b"
        with quiet_warnings(), open_file(path, gz) as fh:
            return pydicom.dcmread(fh, force=True)
    except HeaderError as exc:
        raise VolumeReadError(f"Cannot read {path}: {exc.reason}.") from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds for broken files
        raise VolumeReadError(f"Cannot read {path}: {exc}",
                              "The file is damaged; export the series again.") from None


def _pixels(ds: Any, path: Path) -> np.ndarray:
    try:
        with quiet_warnings():
            return np.asarray(ds.pixel_array)
    except Exception as exc:  # noqa: BLE001 - decoder plugins raise many kinds
        text = str(exc)
        hint = "The pixel data is damaged or truncated; export the series again."
        if "plugin" in text.lower() or "decod" in text.lower():
            hint = ("No installed decoder handles this compression "
                    f"({ds.file_meta.get('TransferSyntaxUID', '?')}); reinstall Segmap with "
                    "its dependencies (pylibjpeg, pylibjpeg-openjpeg, pylibjpeg-rle, python-gdcm).")
        raise VolumeReadError(f"Cannot decode the pixels of {path}: {text.splitlines()[0]}",
                              hint) from None


def _grey(arr: np.ndarray, samples: int) -> np.ndarray:
    if samples == 3 and arr.ndim >= 3 and arr.shape[-1] == 3:
        return arr.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return arr


class _Volume:
    """The output volume: int16 while every value is an integer that fits, else float32.

    Fortran order, so slice k is one contiguous block and a decoded [row, column]
    plane, transposed, is copied into it in memory order.
    """

    def __init__(self, shape: tuple[int, int, int], exact: bool) -> None:
        self.data = np.empty(shape, dtype=np.int16 if exact else np.float32, order="F")

    def _to_float(self) -> None:
        self.data = np.asfortranarray(self.data, dtype=np.float32)  # once, then float

    def put(self, k: int, plane: np.ndarray, slope: float, inter: float, lut: Any = None) -> None:
        """Store ``plane`` ([row, column]) as slice k after rescaling."""
        if lut is not None:
            from pydicom.pixels import apply_modality_lut

            plane, slope, inter = np.asarray(apply_modality_lut(plane, lut)), 1.0, 0.0
        if self.data.dtype == np.int16 and not self._put_int16(k, plane, slope, inter):
            self._to_float()
        if self.data.dtype == np.float32:
            dst = self.data[:, :, k]
            if slope == 1.0:
                dst[...] = plane.T
            else:
                np.multiply(plane.T, slope, out=dst, casting="unsafe")
            if inter:
                dst += np.float32(inter)

    def _put_int16(self, k: int, plane: np.ndarray, slope: float, inter: float) -> bool:
        """Store exactly as int16; False (nothing stored) when the values do not fit."""
        if plane.dtype.kind not in "iub" or not (float(slope).is_integer()
                                                 and float(inter).is_integer()):
            return False
        if plane.size == 0:
            return True
        lo, hi = int(plane.min()), int(plane.max())
        a, b = lo * int(slope) + int(inter), hi * int(slope) + int(inter)
        if not (_INT16.min <= min(a, b) and max(a, b) <= _INT16.max):
            return False
        dst = self.data[:, :, k]
        if _INT16.min <= lo and hi <= _INT16.max and _INT16.min <= lo * slope <= _INT16.max \
                and _INT16.min <= hi * slope <= _INT16.max:
            dst[...] = plane.T  # every step fits int16: rescale in place
            if slope != 1.0:
                dst *= np.int16(slope)
            if inter:
                dst += np.int16(inter)
        else:
            dst[...] = plane.T.astype(np.int32) * int(slope) + int(inter)
        return True


def _exact(rescales: Sequence[tuple[float, float]]) -> bool:
    return all(float(s).is_integer() and float(i).is_integer() for s, i in rescales)


def _check_plane(plane: np.ndarray, shape: tuple[int, int, int], path: Path) -> None:
    if plane.shape[:2] != (shape[1], shape[0]):
        raise VolumeReadError(
            f"{path} holds a {plane.shape[1]}x{plane.shape[0]} image where the series is "
            f"{shape[0]}x{shape[1]}.", "Scan the folder again: the files have changed.")


_NATIVE_LE = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")


def _native_ok(h: Header, shape: tuple[int, int, int]) -> bool:
    """True when the slice's pixels can be read straight from the file (see _native_plane)."""
    if (h.gzipped or h.transfer_syntax not in _NATIVE_LE or h.modality_lut
            or (h.samples or 1) != 1 or h.bits_allocated not in (8, 16, 32)
            or h.pixel_offset is None or h.frame is not None or h.mosaic
            or (h.rows, h.columns) != (shape[1], shape[0])):
        return False
    need = h.native_pixel_bytes() or 0
    return not (h.pixel_length is None or h.pixel_length < need
                or h.pixel_offset + need > h.file_size)


def _native_plane(h: Header | None, shape: tuple[int, int, int]) -> np.ndarray | None:
    """The pixels of an uncompressed little-endian grey slice, read straight from the file.

    Header scan gave where they start; this skips pydicom's full parse (the
    costliest part of loading raw slices). Values are treated as pydicom does:
    bits above BitsStored are masked (unsigned) or sign-extended (signed).
    Returns None when the file needs pydicom.
    """
    if h is None or not _native_ok(h, shape):
        return None
    assert h.rows and h.columns and h.bits_allocated and h.pixel_offset is not None
    signed = h.pixel_representation == 1
    dtype = np.dtype(f"<{'i' if signed else 'u'}{h.bits_allocated // 8}")
    plane = np.fromfile(h.path, dtype=dtype, count=h.rows * h.columns, offset=h.pixel_offset)
    plane = plane.reshape(h.rows, h.columns)
    stored = h.bits_stored or h.bits_allocated
    if stored < h.bits_allocated:
        lo, hi = ((-(1 << (stored - 1)), (1 << (stored - 1)) - 1) if signed
                  else (0, (1 << stored) - 1))
        if plane.min() < lo or plane.max() > hi:
            shift = h.bits_allocated - stored
            plane = (plane << shift) >> shift if signed else plane & hi
    return plane


def _rescale_of(ds: Any) -> tuple[float, float]:
    slope, inter = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    try:
        return (1.0 if slope in (None, "") else float(slope),
                0.0 if inter in (None, "") else float(inter))
    except (TypeError, ValueError):
        return 1.0, 0.0


@dataclass
class _Slice:
    plane: np.ndarray
    slope: float
    inter: float
    samples: int
    lut: Any  # a dataset with a Modality LUT, or None


def _decode_slice(path: Path, shape: tuple[int, int, int]) -> _Slice:
    try:
        h = read_header(path)
    except HeaderError:
        h = None
    plane = _native_plane(h, shape)
    if plane is not None and h is not None:
        return _Slice(plane, 1.0 if h.slope is None else h.slope,
                      0.0 if h.intercept is None else h.intercept, 1, None)
    ds = _read(path)
    slope, inter = _rescale_of(ds)
    samples = int(ds.get("SamplesPerPixel") or 1)
    return _Slice(_grey(_pixels(ds, path), samples), slope, inter, samples,
                  ds if "ModalityLUTSequence" in ds else None)


def _decoded(paths: Sequence[Path], shape: tuple[int, int, int]) -> Iterator[_Slice]:
    """Decoded slices in order; compressed ones on a small thread pool.

    Decoders (openjpeg, gdcm) release the GIL, so two threads overlap them; raw
    slices are a file read and a copy, which threads only slow down (measured:
    3x slower on 2 cores), so those are read in order on this thread.
    """
    try:
        first = read_header(paths[0]) if paths else None
    except HeaderError:
        first = None
    if len(paths) < 4 or (first is not None and _native_ok(first, shape)):
        yield from (_decode_slice(p, shape) for p in paths)
        return
    ahead = 2 * _THREADS
    with ThreadPoolExecutor(_THREADS, thread_name_prefix="dicom-decode") as pool:
        futures = [pool.submit(_decode_slice, p, shape) for p in paths[:ahead]]
        for i in range(len(paths)):
            if i + ahead < len(paths):
                futures.append(pool.submit(_decode_slice, paths[i + ahead], shape))
            yield futures[i].result()
            futures[i] = None  # type: ignore[call-overload]  # drop the decoded slice


def _single_frames(series: DicomSeries, shape: tuple[int, int, int]) -> Work[np.ndarray]:
    n = len(series.files)
    vol: _Volume | None = None
    for k, sl in enumerate(_decoded(series.files, shape)):
        _check_plane(sl.plane, shape, series.files[k])
        if vol is None:
            vol = _Volume(shape, sl.lut is None and sl.samples == 1
                          and _exact([(sl.slope, sl.inter)]))
        vol.put(k, sl.plane, sl.slope, sl.inter, sl.lut)
        yield Progress(k + 1, n, "Decoding slices")
    assert vol is not None
    return vol.data


def _multi_frame(series: DicomSeries, shape: tuple[int, int, int]) -> Work[np.ndarray]:
    path = series.files[0]
    ds = _read(path)
    yield Progress(0, len(series.frames), "Decoding frames")
    pixels = _pixels(ds, path)
    samples = int(ds.get("SamplesPerPixel") or 1)
    if int(ds.get("NumberOfFrames") or 1) == 1:
        pixels = pixels[None]
    rescale = frame_rescale(ds)
    vol = _Volume(shape, samples == 1 and _exact([rescale[f] for f in series.frames]))
    for k, f in enumerate(series.frames):
        plane = _grey(pixels[f], samples)
        _check_plane(plane, shape, path)
        vol.put(k, plane, *rescale[f])
        yield Progress(k + 1, len(series.frames), "Decoding frames")
    return vol.data


def _mosaic(ds: Any, path: Path, shape: tuple[int, int, int]) -> np.ndarray:
    with quiet_warnings():
        try:
            tiles = dicomwrappers.MosaicWrapper(ds).get_unscaled_data()  # [row, column, slice]
        except Exception as exc:  # noqa: BLE001
            raise VolumeReadError(f"Cannot unpack the Siemens mosaic {path}: {exc}") from None
    slope, inter = _rescale_of(ds)
    vol = _Volume(shape, _exact([(slope, inter)]))
    for k in range(shape[2]):
        vol.put(k, tiles[:, :, k], slope, inter)
    return vol.data


def load_dicom_volume(series: DicomSeries) -> Work[np.ndarray]:
    """The series' voxels, rescaled, indexed [i=column, j=row, k=slice] like ``series.grid``.

    int16 when every value is an exact integer that fits, else float32. Yields
    Progress per slice. Raises VolumeReadError (naming the file) when a file
    cannot be read or decoded, or when the series has no 3-D geometry.
    """
    if series.grid is None or not series.files or \
            series.kind not in (ObjectKind.IMAGE, ObjectKind.LOCALIZER):
        raise VolumeReadError(
            f"Series {series.uid or series.description!r} has no 3-D image to load "
            f"({series.kind}{', no geometry' if series.grid is None else ''}).",
            "Pick an image series with a world grid (see the scan's warnings).")
    shape = series.grid.shape
    # float32 at worst; a multi-frame file's decoded frames are held beside the volume.
    require_memory(series.files[0], math.prod(shape) * (6 if series.frames else 4),
                   f"the {'x'.join(map(str, shape))} volume of its series")
    if series.frames:
        return (yield from _multi_frame(series, shape))
    try:
        mosaic = read_header(series.files[0]) if len(series.files) != shape[2] else None
    except HeaderError as exc:
        raise VolumeReadError(f"Cannot read {series.files[0]}: {exc.reason}.") from None
    if mosaic is not None and mosaic.mosaic:
        yield Progress(0, 1, "Unpacking mosaic")
        volume = _mosaic(_read(series.files[0]), series.files[0], shape)
        yield Progress(1, 1, "Unpacking mosaic")
        return volume
    if len(series.files) != shape[2]:
        raise VolumeReadError(f"Series {series.uid} lists {len(series.files)} files for "
                              f"{shape[2]} slices.", "Scan the folder again.")
    return (yield from _single_frames(series, shape))
