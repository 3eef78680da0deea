"""Fast NIfTI-1/2 reading and writing for label maps.

nibabel parses the header (it knows every corner of the format); the voxel payload
is read here without intermediate copies: inflated with ISA-L (2-4x faster than
zlib) straight into one preallocated buffer, or streamed in cache-sized chunks for
a census. A whole-volume read costs about one decompressed volume of memory.
"""

from __future__ import annotations

import functools
import gzip
import io
import logging
import math
import os
import queue
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import nibabel as nib
import numpy as np
from isal import igzip, isal_zlib

from app import cores
from app.errors import VolumeReadError
from app.jsonio import atomic_path, open_regular
from app.readers._limits import (
    DEFLATE_MAX_RATIO,
    out_of_memory,
    require_memory,
    size_text,
)

GZIP_MAGIC = b"\x1f\x8b"
# Every NIfTI file save_nifti writes says so in its header's descrip field (80 bytes,
# read with the header at no cost), so a later scan of the folder can tell Segmap's own
# outputs (a merged label volume) from the user's data.
SEGMAP_MARK = "segmap:"
_HEAD_CHUNK = 4096  # compressed bytes read at a time for a header (it inflates from ~1 KB)
_READ_BLOCK = 1 << 24  # bytes per readinto() call: large enough to amortise call overhead
# isal's stub types isal_zlib.error as an instance; it is the exception class.
_GZIP_ERRORS: tuple[type[BaseException], ...] = (
    gzip.BadGzipFile, EOFError, cast(type[BaseException], isal_zlib.error), zlib.error)

NiftiHeader = nib.Nifti1Header | nib.Nifti2Header
# nibabel logs the header problems it fixes (an odd vox_offset) to stderr; Segmap's
# header checks go through this logger, which prints nothing and is no one else's.
_QUIET = logging.getLogger("segmap.readers.nibabel_checks")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


@dataclass(frozen=True)
class NiftiInfo:
    """What the header of a NIfTI file says, and where its voxels start."""

    path: Path
    header: NiftiHeader
    version: int
    shape: tuple[int, ...]
    dtype: np.dtype
    affine: np.ndarray
    offset: int
    gzipped: bool
    slope: float | None
    inter: float | None

    @property
    def nbytes(self) -> int:
        """Size of the voxel payload in bytes (exact: ``nifti_info`` checked the file holds it)."""
        return math.prod(self.shape) * self.dtype.itemsize

    @property
    def scaled(self) -> bool:
        """True when scl_slope / scl_inter change the stored values."""
        return self.slope is not None and (self.slope != 1.0 or (self.inter or 0.0) != 0.0)

    @property
    def zooms(self) -> tuple[float, ...]:
        """Voxel size in mm along each array axis."""
        return tuple(float(z) for z in self.header.get_zooms()[: len(self.shape)])

    @property
    def segmap_output(self) -> str:
        """What Segmap wrote this file as (``save_nifti``'s mark), or "" for other files."""
        raw = bytes(np.asarray(self.header["descrip"]).tobytes()).split(b"\0", 1)[0]
        text = raw.decode("latin-1").strip()
        if not text.startswith(SEGMAP_MARK):
            return ""
        return text[len(SEGMAP_MARK):].strip() or "output"


def _open(path: Path) -> tuple[BinaryIO, bool, int]:
    """(voxel stream, gzipped, size of the file on disk): see ``open_nifti_stream``."""
    fh = open_regular(path, "NIfTI file", VolumeReadError)
    try:
        size = os.fstat(fh.fileno()).st_size
        magic = fh.read(2)
        fh.seek(0)
    except OSError as exc:
        fh.close()
        raise VolumeReadError(f"Cannot read {path}: {exc.strerror or exc}") from None
    if magic == GZIP_MAGIC:
        stream = igzip.IGzipFile(fileobj=fh, mode="rb")
        stream.myfileobj = fh  # type: ignore[assignment]  # closed with the stream
        return stream, True, size  # type: ignore[return-value]
    return fh, False, size


def open_nifti_stream(path: Path) -> tuple[BinaryIO, bool]:
    """The voxel stream of a NIfTI file (inflating when gzipped), and whether it is gzipped.

    Only a regular file is opened: a FIFO or a device is refused by what it is, never
    waited on or read forever. Closing the stream closes the file.
    """
    stream, gz, _ = _open(path)
    return stream, gz


def read_head(path: Path, n: int) -> tuple[bytes, bool, int, int | None]:
    """(the first ``n`` bytes of a NIfTI file's content, fewer if it holds fewer; whether it
    is gzipped; its size on disk; a gzip file's last four bytes, the size its last member
    says it inflates to, modulo 2**32). A gzipped header is inflated from the file's
    first kilobytes alone: a gzip stream reads and inflates 512 KB ahead, 150-200 us for
    an image's 540 header bytes where this takes 10 us (a third of validating 1,000
    nnU-Net cases was that read-ahead)."""
    fh = open_regular(path, "NIfTI file", VolumeReadError)
    with fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            first = fh.read(_HEAD_CHUNK)
            if first[:2] != GZIP_MAGIC:
                return first[:n] if len(first) >= n else first + fh.read(n - len(first)), \
                    False, size, None
            head = _inflate_head(fh, first, n)
            if len(first) < size:
                fh.seek(-4, os.SEEK_END)
            end = (first if len(first) == size else fh.read(4))[-4:]
            return head, True, size, int.from_bytes(end, "little") if len(end) == 4 else None
        except _GZIP_ERRORS as exc:  # (a BadGzipFile is an OSError)
            raise _gzip_error(path, exc) from None
        except OSError as exc:
            raise VolumeReadError(f"Cannot read {path}: {exc.strerror or exc}") from None


# gzip files whose last four bytes did not give their header's size and which were found
# whole by inflating them to their end, as (path, inode, size, mtime): not inflated again.
_WHOLE: set[tuple[str, int, int, int]] = set()


def _check_gzip_end(p: Path, content: int, isize: int | None) -> None:
    """Refuse a gzip file that ends before its deflate stream does (copied in part), or
    inflates to less than the ``content`` (header and voxels) its header announces. A whole
    file's last four bytes say the size it inflates to: when they say the header's, it is
    whole (four bytes of a cut-off stream match by a chance of 2**-32); when not (a file
    of several gzip members, bytes after the voxels, a truncated file), it is inflated to
    its end to tell, once (``_WHOLE``)."""
    if isize == content % (1 << 32):
        return
    try:
        st = os.stat(p)
    except OSError as exc:
        raise VolumeReadError(f"Cannot read {p}: {exc.strerror or exc}") from None
    seen = (str(p), st.st_ino, st.st_size, st.st_mtime_ns)  # inflated whole once: not again
    if seen in _WHOLE:
        return
    stream, _, _ = _open(p)
    inflated = 0
    try:
        with stream:
            while got := len(stream.read(_READ_BLOCK)):
                inflated += got
    except _GZIP_ERRORS as exc:
        raise _gzip_error(p, exc) from None
    except OSError as exc:
        raise VolumeReadError(f"Cannot read {p}: {exc.strerror or exc}") from None
    if inflated < content:
        raise VolumeReadError(
            f"{p} is truncated: its header announces {content} bytes with the voxel data, "
            f"the file inflates to {inflated}.",
            "The file was not written or copied completely; export it again.")
    if len(_WHOLE) >= 4096:
        _WHOLE.clear()
    _WHOLE.add(seen)


def _inflate_head(fh: BinaryIO, data: bytes, n: int) -> bytes:
    """The first ``n`` inflated bytes of the gzip data that starts with ``data`` and goes
    on in ``fh`` (members after the first included, as a gzip stream reads them)."""
    out = bytearray()
    inflate = zlib.decompressobj(wbits=31)
    while len(out) < n:
        if not data and not (data := fh.read(_HEAD_CHUNK)):
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        out += inflate.decompress(data, n - len(out))
        data = inflate.unconsumed_tail
        if inflate.eof:  # one member done: the next (if any) starts in its unused data
            data = inflate.unused_data + data
            if not data and not (data := fh.read(_HEAD_CHUNK)):
                break
            if data[:2] != GZIP_MAGIC:
                raise gzip.BadGzipFile("Not a gzipped file (trailing garbage)")
            inflate = zlib.decompressobj(wbits=31)
    return bytes(out[:n])


def _gzip_error(path: Path, exc: BaseException) -> VolumeReadError:
    if isinstance(exc, EOFError):
        what = "is truncated: the compressed data ends early"
    else:
        what = f"is not a valid gzip file ({exc})"
    return VolumeReadError(
        f"{path} {what}.", "The file is corrupt or was not copied completely; export it again."
    )


def _header_class(p: Path, block: bytes) -> tuple[type[NiftiHeader], int]:
    """The header class and NIfTI version a file's first bytes announce."""
    if len(block) < 348:
        raise VolumeReadError(
            f"{p} is not a NIfTI file: only {len(block)} bytes long.",
            "Masks must be NIfTI (.nii or .nii.gz).",
        )
    sizeof = int.from_bytes(block[:4], "little")
    swapped = int.from_bytes(block[:4], "big")
    if 348 in (sizeof, swapped):
        header_cls, version, magic = nib.Nifti1Header, 1, block[344:348]
    elif 540 in (sizeof, swapped) and len(block) >= 540:
        header_cls, version, magic = nib.Nifti2Header, 2, block[4:8]
    else:
        raise VolumeReadError(
            f"{p} is not a NIfTI file (no NIfTI header found).",
            "Masks must be NIfTI (.nii or .nii.gz); convert NRRD/MHA/DICOM SEG first.",
        )
    if magic[:3] in (b"ni1", b"ni2"):
        raise VolumeReadError(
            f"{p} is the header of a NIfTI pair (.hdr + .img).",
            "Save it as a single-file NIfTI (.nii.gz).",
        )
    if magic[:3] not in (b"n+1", b"n+2"):
        raise VolumeReadError(
            f"{p} has no NIfTI magic string (it may be an old ANALYZE file).",
            "Save it as NIfTI (.nii.gz).",
        )
    return header_cls, version


_BROKEN_HINT = "The file was written wrongly; export it again from the program that made it."


def _broken(p: Path, what: str) -> VolumeReadError:
    return VolumeReadError(f"{p} has a broken NIfTI header: {what}.", _BROKEN_HINT)


def _check_header(p: Path, shape: tuple[int, ...], affine: np.ndarray, offset: int,
                  version: int) -> None:
    """Refuse what no reader can place or read: no voxels, no world position, voxels
    inside the header."""
    if not shape or min(shape) < 1:
        dims = "x".join(map(str, shape)) or "none"
        raise _broken(p, f"its dimensions are {dims} (each must be at least 1)")
    if not np.isfinite(affine).all():
        raise _broken(p, "its affine (sform/qform) holds NaN or infinite values, so its "
                         "voxels have no place in space")
    if offset < (348 if version == 1 else 540):
        # nibabel (and RedBrick's SDK with it) reads a vox_offset of 0 as it stands: the
        # header's own bytes become labels. Reading from byte 352 instead would give other
        # labels than RedBrick, silently; the file is refused instead.
        raise _broken(p, f"its vox_offset is {offset}, which puts the voxels inside the "
                         "header (nibabel and RedBrick would read the header's bytes as labels)")


def _check_size(p: Path, shape: tuple[int, ...], dtype: np.dtype, offset: int, gz: bool,
                size: int) -> None:
    """Refuse a header that claims more voxel data than its file can hold (a stat's cost)."""
    nbytes = math.prod(shape) * dtype.itemsize
    what = f"{'x'.join(map(str, shape))} {dtype.name} voxels ({size_text(nbytes)})"
    if gz:
        if offset + nbytes > DEFLATE_MAX_RATIO * size:
            raise _broken(p, f"it claims {what}, more than a gzip file of {size_text(size)} "
                             f"can hold (deflate inflates at most {DEFLATE_MAX_RATIO} times)")
        return
    if offset + nbytes <= size:
        return
    if offset + nbytes > 1000 * size:
        raise _broken(p, f"it claims {what} from byte {offset}, but the file holds "
                         f"{size_text(size)}")
    raise VolumeReadError(
        f"{p} is truncated: the header announces {nbytes} bytes of voxel data "
        f"({'x'.join(map(str, shape))} {dtype.name}) from byte {offset}, the file holds "
        f"{size}.", "The file was not written or copied completely; export it again.")


@functools.lru_cache(maxsize=256)
def _parsed(header_cls: type[NiftiHeader], block: bytes) -> tuple[
        NiftiHeader, tuple[int, ...], np.dtype, np.ndarray, int, float | None, float | None]:
    """A fixed header (its bytes: extensions, TotalSegmentator's label names, follow it and
    are read by whoever needs them) parsed and checked by nibabel: (the header, shape,
    dtype, affine, vox_offset, slope, inter). Remembered by its bytes: the masks of a
    case most often share one header (the 129 NIfTI files of TotalSegmentator's test data
    have 9), and nibabel's checks are two thirds of a header read. A header nibabel
    refuses raises each time (the cache keeps only what it accepted)."""
    with np.errstate(all="ignore"):  # a broken qform warns; it is refused by the caller
        header = header_cls.from_fileobj(io.BytesIO(block), check=False)
        # nibabel's checks, raising what it refuses; what it fixes is not printed.
        header.check_fix(logger=_QUIET)
        slope, inter = header.get_slope_inter()
        return (header, tuple(int(s) for s in header.get_data_shape()),
                header.get_data_dtype(), np.asarray(header.get_best_affine(), dtype=np.float64),
                int(header.get_data_offset()), None if slope is None else float(slope),
                None if inter is None else float(inter))


def nifti_info(path: str | os.PathLike[str]) -> NiftiInfo:
    """Read and check the header of a NIfTI-1 or NIfTI-2 file (gzipped or not).

    Costs one header read and a stat: a header whose sizes the file cannot hold, or
    whose dimensions, affine or vox_offset no reader can use, is refused here, before
    anything streams or allocates.
    """
    p = path if isinstance(path, Path) else Path(path)
    block, gz, size, isize = read_head(p, 540)
    header_cls, version = _header_class(p, block)
    try:
        header, shape, dtype, affine, offset, slope, inter = _parsed(
            header_cls, block[: 348 if version == 1 else 540])
    except Exception as exc:  # nibabel raises many kinds for a broken header
        raise _broken(p, str(exc)) from None
    header, affine = header.copy(), affine.copy()  # the file's own: a caller may change them
    _check_header(p, shape, affine, offset, version)
    _check_size(p, shape, dtype, offset, gz, size)
    if gz:
        _check_gzip_end(p, offset + math.prod(shape) * dtype.itemsize, isize)
    return NiftiInfo(
        path=p,
        header=header,
        version=version,
        shape=shape,
        dtype=dtype,
        affine=affine,
        offset=offset,
        gzipped=gz,
        slope=slope,
        inter=inter,
    )


def _payload(info: NiftiInfo) -> BinaryIO:
    stream, _ = open_nifti_stream(info.path)
    try:
        if info.gzipped:
            skip = info.offset
            while skip:
                got = len(stream.read(min(skip, _READ_BLOCK)))
                if not got:
                    break
                skip -= got
        else:
            stream.seek(info.offset)
    except _GZIP_ERRORS as exc:
        stream.close()
        raise _gzip_error(info.path, exc) from None
    return stream


def _truncated(info: NiftiInfo, got: int) -> VolumeReadError:
    return VolumeReadError(
        f"{info.path} is truncated: the header announces {info.nbytes} bytes of voxel data "
        f"({'x'.join(map(str, info.shape))} {info.dtype.name}), the file holds {got}.",
        "The file was not written or copied completely; export it again.",
    )


def _read_chunk(stream: BinaryIO, buf: np.ndarray, want: int, info: NiftiInfo, done: int) -> None:
    """Fill ``buf[:want]`` from the payload; ``done`` bytes were read before (for the error)."""
    try:
        got = _read_full(stream, buf.data[:want])
    except _GZIP_ERRORS as exc:
        raise _gzip_error(info.path, exc) from None
    if got < want:
        raise _truncated(info, done + got)


def _check_plain_dtype(info: NiftiInfo) -> None:
    if info.dtype.fields is not None or info.dtype.kind == "c":
        raise VolumeReadError(
            f"{info.path} stores {info.dtype} voxels (colour or complex), not labels.",
            "A label map must hold integer values (uint8 or uint16 is best).",
        )


def read_raw(info: NiftiInfo) -> np.ndarray:
    """Read the stored voxel values (no scaling) as a writable, native-endian array.

    The result has ``info.shape`` in NIfTI's Fortran (x fastest) order and owns
    its memory: writing to it never touches the file.
    """
    _check_plain_dtype(info)
    buf = allocate(info.path, info.nbytes, np.uint8, voxels_text(info))
    with _payload(info) as stream:
        _read_chunk(stream, buf, info.nbytes, info, 0)
    arr = buf.view(info.dtype)
    if not info.dtype.isnative:  # in place: a copy would double the memory
        arr = arr.byteswap(inplace=True).view(info.dtype.newbyteorder("="))
    return arr.reshape(info.shape, order="F")


def voxels_text(info: NiftiInfo) -> str:
    """``its 512x512x300 uint16 voxels``, for a message about memory."""
    return f"its {'x'.join(map(str, info.shape))} {info.dtype.name} voxels"


def allocate(path: Path, nbytes: int, dtype: np.typing.DTypeLike, what: str) -> np.ndarray:
    """``np.empty`` of ``nbytes`` bytes of ``dtype``, once the memory is known to be free;
    an allocation the system refuses anyway is an error naming ``path``."""
    require_memory(path, nbytes, what)
    try:
        return np.empty(nbytes // np.dtype(dtype).itemsize, dtype=dtype)
    except MemoryError:
        raise out_of_memory(path, nbytes, what) from None


def _read_full(stream: BinaryIO, view: memoryview) -> int:
    got = 0
    while got < len(view):
        n = stream.readinto(view[got : got + _READ_BLOCK])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


def iter_raw(
    info: NiftiInfo, chunk_bytes: int = 1 << 20, prefetch: bool | None = None
) -> Iterator[np.ndarray]:
    """Yield the stored voxel values in order as native-endian 1-D chunks.

    Memory stays at a few chunks; the chunks are in file (Fortran) order. A chunk
    is only valid until the next one is requested. With ``prefetch`` the file is
    inflated on a second thread while the caller works on the previous chunk
    (inflate releases the GIL), so reading and counting overlap; by default where this
    process has a core to spare (``app.cores``: not in a pool's worker).
    """
    _check_plain_dtype(info)
    item = info.dtype.itemsize
    chunk_bytes = max(item, chunk_bytes - chunk_bytes % item)
    native = info.dtype.newbyteorder("=")

    def as_values(buf: np.ndarray, n: int) -> np.ndarray:
        chunk = buf[:n].view(info.dtype)
        return chunk if info.dtype.isnative else chunk.byteswap().view(native)

    sizes = [min(chunk_bytes, info.nbytes - start) for start in range(0, info.nbytes, chunk_bytes)]
    ahead = cores.spare() if prefetch is None else prefetch
    if not ahead or len(sizes) < 3:
        buf = np.empty(chunk_bytes, dtype=np.uint8)
        with _payload(info) as stream:
            done = 0
            for want in sizes:
                _read_chunk(stream, buf, want, info, done)
                done += want
                yield as_values(buf, want)
        return
    yield from _prefetched(info, sizes, chunk_bytes, as_values)


def _prefetched(
    info: NiftiInfo,
    sizes: list[int],
    chunk_bytes: int,
    as_values: Callable[[np.ndarray, int], np.ndarray],
) -> Iterator[np.ndarray]:
    full: queue.SimpleQueue[tuple[np.ndarray, int] | BaseException | None] = queue.SimpleQueue()
    free: queue.SimpleQueue[np.ndarray | None] = queue.SimpleQueue()
    for _ in range(3):
        free.put(np.empty(chunk_bytes, dtype=np.uint8))
    stream = _payload(info)

    def produce() -> None:
        done = 0
        try:
            for want in sizes:
                buf = free.get()
                if buf is None:  # the consumer stopped early
                    return
                _read_chunk(stream, buf, want, info, done)
                done += want
                full.put((buf, want))
            full.put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            full.put(exc)

    worker = threading.Thread(target=produce, name="nifti-inflate", daemon=True)
    worker.start()
    try:
        while (got := full.get()) is not None:
            if isinstance(got, BaseException):
                raise got
            buf, n = got
            yield as_values(buf, n)
            free.put(buf)
    finally:
        free.put(None)
        worker.join()
        stream.close()


def nonzero_in(chunk: np.ndarray) -> np.ndarray:
    """Indices of the non-zero values of a 1-D chunk.

    Masks are mostly zeros: scanning 8-byte words first and looking inside only
    the non-zero words is several times faster than np.flatnonzero on voxels.
    """
    per_word = 8 // chunk.itemsize
    n_words = chunk.size // per_word if per_word else 0
    if not n_words or chunk.ctypes.data % 8:
        return np.flatnonzero(chunk)
    words = chunk[: n_words * per_word].view(np.uint64)
    hit = np.flatnonzero(words)
    idx = np.empty(0, dtype=np.intp)
    if hit.size:
        rows, cols = np.nonzero(chunk[: n_words * per_word].reshape(-1, per_word)[hit])
        idx = hit[rows] * per_word + cols
    tail = np.flatnonzero(chunk[n_words * per_word :])
    return np.concatenate([idx, tail + n_words * per_word]) if tail.size else idx


def nonzero(info: NiftiInfo, chunk_bytes: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """Flat (Fortran-order) indices and stored values of every non-zero voxel.

    Streams the file in cache-sized chunks, so a mostly-empty mask of any size
    costs little more than inflating it, and memory is its non-zero voxels.
    """
    parts_idx: list[np.ndarray] = []
    parts_val: list[np.ndarray] = []
    offset = 0
    for chunk in iter_raw(info, chunk_bytes, prefetch=False):
        idx = nonzero_in(chunk)
        if idx.size:
            parts_idx.append(idx + offset)
            parts_val.append(chunk[idx])
        offset += chunk.size
    if not parts_idx:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=info.dtype.newbyteorder("="))
    return np.concatenate(parts_idx), np.concatenate(parts_val)


def nifti_bytes(img: nib.Nifti1Image | nib.Nifti2Image, compresslevel: int = 1) -> bytes:
    """Serialise an image to .nii.gz bytes (ISA-L deflate, level 1 as nibabel uses).

    The gzip header carries no time stamp, so the same image gives the same bytes.
    """
    return igzip.compress(img.to_bytes(), compresslevel=compresslevel, mtime=0)


def save_nifti(img: nib.Nifti1Image | nib.Nifti2Image, path: str | os.PathLike[str],
               what: str = "label volume") -> Path:
    """Write ``img`` atomically; gzip it when the name ends in .gz.

    The file's ``descrip`` says ``segmap: <what>`` (:attr:`NiftiInfo.segmap_output` reads
    it back), so a scan of the folder leaves Segmap's own output out; ``img`` itself is
    not changed.
    """
    target = Path(path)
    header = img.header
    before = header["descrip"].copy()
    header["descrip"] = f"{SEGMAP_MARK} {what}"[:79].encode("latin-1", errors="replace")
    try:
        with atomic_path(target) as tmp:
            _stream_image(img, tmp, target.name.endswith(".gz"))
    finally:
        header["descrip"] = before
    return target


def _stream_image(img: nib.Nifti1Image | nib.Nifti2Image, path: Path, gz: bool) -> None:
    """Write ``img`` to ``path`` as nibabel writes it, streamed: no copy of the volume is
    made in memory (``to_bytes`` would need one the size of the volume). Gzipped with
    ISA-L at level 1, with no name or time stamp, as ``nifti_bytes``."""
    with open(path, "wb") as raw:
        if not gz:
            img.to_file_map({"image": nib.FileHolder(fileobj=raw)})
            return
        with igzip.IGzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1,
                             mtime=0) as stream:
            img.to_file_map({"image": nib.FileHolder(fileobj=stream)})
