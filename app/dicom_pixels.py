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

import gzip
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from app.dicom_frames import frame_rescale
from app.dicom_header import HeaderError, read_header
from app.dicom_series import DicomSeries
from app.errors import VolumeReadError
from app.progress import Progress, Work

_THREADS = 2  # decoders that release the GIL (openjpeg, gdcm, file reads) overlap
_INT16 = np.iinfo(np.int16)


def _read(path: Path) -> Any:
    import pydicom

    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if gz:
                with gzip.open(path, "rb") as fh:
                    return pydicom.dcmread(fh, force=True)
            return pydicom.dcmread(path, force=True)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds for broken files
        raise VolumeReadError(f"Cannot read {path}: {exc}",
                              "The file is damaged; export the series again.") from None


def _pixels(ds: Any, path: Path) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
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
    """The output volume: int16 while every value is an integer that fits, else float32."""

    def __init__(self, shape: tuple[int, int, int], exact: bool) -> None:
        self.data = np.empty(shape, dtype=np.int16 if exact else np.float32)

    def put(self, k: int, plane: np.ndarray, slope: float, inter: float, lut: Any = None) -> None:
        """Store ``plane`` ([row, column]) as slice k after rescaling."""
        if lut is not None:
            from pydicom.pixels import apply_modality_lut

            values = np.asarray(apply_modality_lut(plane, lut))
        elif float(slope).is_integer() and float(inter).is_integer() and plane.dtype.kind in "iub":
            if slope == 1.0 and not inter:
                values = plane
            else:
                values = plane.astype(np.int64) * int(slope) + int(inter)
        else:
            values = plane.astype(np.float32) * np.float32(slope) + np.float32(inter)
        if self.data.dtype == np.int16:
            integral = values.dtype.kind in "iub" or bool(np.all(np.mod(values, 1) == 0))
            if not (integral and values.size and _INT16.min <= values.min()
                    and values.max() <= _INT16.max):
                self.data = self.data.astype(np.float32)  # once, then float from here on
        self.data[:, :, k] = values.T


def _exact(rescales: Sequence[tuple[float, float]]) -> bool:
    return all(float(s).is_integer() and float(i).is_integer() for s, i in rescales)


def _check_plane(plane: np.ndarray, shape: tuple[int, int, int], path: Path) -> None:
    if plane.shape[:2] != (shape[1], shape[0]):
        raise VolumeReadError(
            f"{path} holds a {plane.shape[1]}x{plane.shape[0]} image where the series is "
            f"{shape[0]}x{shape[1]}.", "Scan the folder again: the files have changed.")


def _rescale_of(ds: Any) -> tuple[float, float]:
    slope, inter = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    try:
        return (1.0 if slope in (None, "") else float(slope),
                0.0 if inter in (None, "") else float(inter))
    except (TypeError, ValueError):
        return 1.0, 0.0


def _decoded(paths: Sequence[Path]) -> Iterator[tuple[Any, np.ndarray]]:
    """(dataset, pixels) per file in order, decoded on a small thread pool."""
    def job(p: Path) -> tuple[Any, np.ndarray]:
        ds = _read(p)
        return ds, _pixels(ds, p)

    if len(paths) < 4:
        yield from map(job, paths)
        return
    with ThreadPoolExecutor(_THREADS, thread_name_prefix="dicom-decode") as pool:
        futures = [pool.submit(job, p) for p in paths[: 2 * _THREADS]]
        for i in range(len(paths)):
            nxt = i + 2 * _THREADS
            if nxt < len(paths):
                futures.append(pool.submit(job, paths[nxt]))
            yield futures[i].result()
            futures[i] = None  # type: ignore[call-overload]  # drop the decoded slice


def _single_frames(series: DicomSeries, shape: tuple[int, int, int]) -> Work[np.ndarray]:
    n = len(series.files)
    vol: _Volume | None = None
    for k, (ds, plane) in enumerate(_decoded(series.files)):
        samples = int(ds.get("SamplesPerPixel") or 1)
        plane = _grey(plane, samples)
        _check_plane(plane, shape, series.files[k])
        slope, inter = _rescale_of(ds)
        lut = ds if "ModalityLUTSequence" in ds else None
        if vol is None:
            vol = _Volume(shape, lut is None and samples == 1 and _exact([(slope, inter)]))
        vol.put(k, plane, slope, inter, lut)
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nibabel calls its DICOM readers experimental
        from nibabel.nicom.dicomwrappers import MosaicWrapper

        try:
            tiles = MosaicWrapper(ds).get_unscaled_data()  # [row, column, slice]
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
    if series.grid is None or series.kind not in ("image", "localizer") or not series.files:
        raise VolumeReadError(
            f"Series {series.uid or series.description!r} has no 3-D image to load "
            f"({series.kind}{', no geometry' if series.grid is None else ''}).",
            "Pick an image series with a world grid (see the scan's warnings).")
    shape = series.grid.shape
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
