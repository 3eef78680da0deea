"""The bytes of a DICOM file: is it DICOM, and the raw values of the wanted elements.

A scan reads thousands of files, so this skips pydicom's general machinery: a
small parser walks the element stream of the first kilobytes of a file
(explicit or implicit VR, little or big endian), skips every value it does not
need (sequences included, by length or by delimiter) and stops once past group
0028. Values stay raw bytes here; app.readers.dicom._header decodes them.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import stat
import struct
import threading
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from app.errors import InputError
from app.jsonio import file_kind, open_regular

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
# Enhanced images keep geometry and rescale in functional groups, even with one frame.
ENHANCED_CLASSES = frozenset(
    "1.2.840.10008.5.1.4.1.1." + c
    for c in ("2.1", "2.2", "4.1", "4.3", "4.4", "128.1", "130", "6.2", "13.1.3"))
PIXEL_DATA = 0x7FE00010
UNDEFINED_LENGTH = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_STOP = 0x00290000  # every element the scan needs lies before group 0029
_LONG_VRS = frozenset(
    (b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV")
)
_FIRST_READ = 8192  # bytes: holds the wanted part of most headers (CT ~3 KB, MR ~5 KB)
_MAX_HEADER = 64 << 20  # a header larger than this is not an image header


def quiet_warnings() -> contextlib.AbstractContextManager[object]:
    """Silence library warnings about odd files (Segmap reports problems its own way).

    Only on the main thread: ``warnings.catch_warnings`` saves and restores the global
    filter list, so two threads using it at once can leave "ignore" in force for good.
    On worker threads the (rare) warnings go to stderr.
    """
    if threading.current_thread() is threading.main_thread():
        return warnings.catch_warnings(action="ignore")
    return contextlib.nullcontext()


class HeaderError(Exception):
    """A file that looks like DICOM but whose header cannot be read."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- sniffing -----------------------------------------------------------------------------------

_NOT_DICOM_SUFFIXES = (
    ".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd", ".json", ".txt", ".csv", ".tsv",
    ".md", ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".pdf", ".xml", ".html",
    ".py", ".yaml", ".yml", ".zip", ".tar", ".bval", ".bvec", ".log", ".mat", ".npy", ".npz",
    ".h5", ".hdf5", ".pkl", ".ctbl",
)


def maybe_dicom_name(name: str) -> bool:
    """False for file names that are certainly not DICOM (skipped without opening)."""
    low = name.lower()
    return not (low.endswith(_NOT_DICOM_SUFFIXES) or low == "dicomdir" or low.startswith("."))


def _bare_dataset(head: bytes) -> str | None:
    """The encoding of a DICOM stream without the 128-byte preamble (old exporters).

    It starts with a group 0002 or 0008 element: explicit VR (two capitals follow the
    tag) little or big endian, or implicit VR little endian (a sane length follows).
    Returns the transfer syntax it implies, or None when it does not look like DICOM.
    """
    if len(head) < 12:
        return None
    vr = head[4:6]
    explicit = vr.isalpha() and vr.isupper()
    if head[:2] in (b"\x02\x00", b"\x08\x00") and head[3] == 0:
        if explicit:
            return "1.2.840.10008.1.2.1"
        return IMPLICIT_LE if int.from_bytes(head[4:8], "little") < 1024 else None
    if head[:2] in (b"\x00\x02", b"\x00\x08") and head[2] == 0 and explicit:
        return EXPLICIT_BE
    return None


class _Source:
    """The start of a file, plain or gzip-wrapped, grown on demand."""

    def __init__(self, path: Path, gzipped: bool, size: int, bare: str | None) -> None:
        self.path, self.gzipped, self.size = path, gzipped, size
        self.bare = bare  # the transfer syntax of a file without preamble and meta
        self.data = b""
        self.eof = False

    def grow(self, want: int) -> None:
        want = min(want, _MAX_HEADER)
        with open_file(self.path, self.gzipped) as fh:
            self.data = fh.read(want)
        self.eof = len(self.data) < want or want >= _MAX_HEADER


def open_file(path: Path, gzipped: bool = False) -> BinaryIO:
    """A DICOM file opened for reading (inflated when gzipped), only if it is a regular
    file: a FIFO swapped in after the folder was listed is refused, never waited on."""
    try:
        fh = open_regular(path, "DICOM file")
    except InputError as exc:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = stat.S_IFREG
        if stat.S_ISREG(mode):  # missing or unreadable: an OSError, as open() raises
            raise OSError(exc.message) from None
        raise HeaderError(f"it is {file_kind(mode)}, not a file") from None
    if not gzipped:
        return fh
    stream = gzip.GzipFile(fileobj=fh, mode="rb")
    stream.myfileobj = fh  # type: ignore[assignment]  # closed with the stream
    return stream  # type: ignore[return-value]


def sniff(path: Path) -> tuple[_Source, int] | None:
    """(source, offset of the first element) when ``path`` is a DICOM file, else None;
    HeaderError when it is no regular file."""
    try:
        with open_file(path) as fh:
            head = fh.read(_FIRST_READ)
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        return None
    gz = head[:2] == b"\x1f\x8b"
    if gz:
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, _FIRST_READ)
        except zlib.error:
            return None
    bare = None
    if head[128:132] == b"DICM":
        start = 132
    elif bare := _bare_dataset(head):
        start = 0
    else:
        return None
    src = _Source(path, gz, size, bare)
    if gz:
        src.grow(_FIRST_READ)
    else:
        src.data, src.eof = head, len(head) < _FIRST_READ
    return src, start


# -- the element parser -------------------------------------------------------------------------


class _NeedMore(Exception):
    """The header runs past the bytes read so far."""


_LE_TAG, _BE_TAG = struct.Struct("<HH"), struct.Struct(">HH")
LE_U16, BE_U16 = struct.Struct("<H"), struct.Struct(">H")
_LE_U32, _BE_U32 = struct.Struct("<I"), struct.Struct(">I")


class _Stream:
    """Element headers of one encoding over a byte buffer."""

    def __init__(self, buf: bytes, little: bool, explicit: bool) -> None:
        self.buf, self.little, self.explicit = buf, little, explicit
        self.tag_s = _LE_TAG if little else _BE_TAG
        self.u16 = LE_U16 if little else BE_U16
        self.u32 = _LE_U32 if little else _BE_U32

    def element(self, pos: int) -> tuple[int, bytes | None, int, int]:
        """(tag, VR or None, value length, value start) of the element at ``pos``."""
        buf = self.buf
        if pos + 8 > len(buf):
            raise _NeedMore
        g, e = self.tag_s.unpack_from(buf, pos)
        tag = (g << 16) | e
        if g == 0xFFFE or not self.explicit:
            return tag, None, self.u32.unpack_from(buf, pos + 4)[0], pos + 8
        vr = buf[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > len(buf):
                raise _NeedMore
            return tag, vr, self.u32.unpack_from(buf, pos + 8)[0], pos + 12
        if not (vr.isalpha() and vr.isupper()):
            # Some writers switch to implicit VR inside an explicit file: read it as such.
            return tag, None, self.u32.unpack_from(buf, pos + 4)[0], pos + 8
        return tag, vr, self.u16.unpack_from(buf, pos + 6)[0], pos + 8

    def skip_sequence(self, pos: int, depth: int = 0) -> int:
        """Position after the sequence delimiter of an undefined-length sequence at ``pos``."""
        if depth > 32:
            raise HeaderError("sequences nested too deeply (corrupt header)")
        while True:
            tag, _, length, pos = self.element(pos)
            if tag == _SEQ_END:
                return pos
            if tag != _ITEM:
                raise HeaderError(f"unexpected element ({tag >> 16:04X},{tag & 0xFFFF:04X}) "
                                  "inside a sequence (corrupt header)")
            pos = self.skip_item(pos, depth) if length == UNDEFINED_LENGTH else pos + length

    def skip_item(self, pos: int, depth: int) -> int:
        while True:
            tag, vr, length, pos = self.element(pos)
            if tag == _ITEM_END:
                return pos
            if length != UNDEFINED_LENGTH:
                pos += length
            elif vr == b"UN" and self.explicit:
                # An undefined-length UN holds an implicit VR little endian sequence.
                pos = _Stream(self.buf, True, False).skip_sequence(pos, depth + 1)
            else:
                pos = self.skip_sequence(pos, depth + 1)


_LE_ELEM, _BE_ELEM = struct.Struct("<HH2sH"), struct.Struct(">HH2sH")
_SHORT_VRS = frozenset((b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS",
                        b"LO", b"LT", b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL",
                        b"US"))


def _walk(stream: _Stream, pos: int, raw: dict[int, bytes], eof: bool,
          wanted: frozenset[int] | Mapping[int, object]) -> tuple[int | None, int | None]:
    """Collect wanted values from ``pos`` on; returns the pixel data (offset, length).

    Past group 0028 the walk goes on only through bytes already read, to learn
    where the pixel data starts (for a truncation check) without reading more.
    The common explicit VR element is decoded inline: this loop is the scan's hot spot.
    """
    buf, n = stream.buf, len(stream.buf)
    elem = (_LE_ELEM if stream.little else _BE_ELEM).unpack_from
    u32 = stream.u32.unpack_from
    explicit = stream.explicit
    past = False
    try:
        while pos < n:
            if pos + 8 > n:
                raise _NeedMore
            g, e, vr, short = elem(buf, pos)
            tag = (g << 16) | e
            if explicit and vr in _SHORT_VRS:
                length, start = short, pos + 8
            elif explicit and vr in _LONG_VRS and g != 0xFFFE:
                if pos + 12 > n:
                    raise _NeedMore
                length, start = u32(buf, pos + 8)[0], pos + 12
            else:
                tag, vr, length, start = stream.element(pos)
            if tag >= PIXEL_DATA:
                if tag == PIXEL_DATA:
                    return start, None if length == UNDEFINED_LENGTH else length
                return None, None
            if tag >= _STOP:
                past = True
            if length == UNDEFINED_LENGTH:
                inner = _Stream(buf, True, False) if vr == b"UN" and explicit else stream
                pos = inner.skip_sequence(start)
                continue
            end = start + length
            if not past and tag in wanted:
                if end > n:
                    raise _NeedMore
                raw[tag] = buf[start:end]
            pos = end
    except _NeedMore:
        if past:
            return None, None
        if eof:
            raise HeaderError("the file ends inside its header (truncated)") from None
        raise
    if not (past or eof):
        raise _NeedMore
    return None, None


def parse(src: _Source, start: int, wanted: frozenset[int] | Mapping[int, object]
          ) -> tuple[dict[int, bytes], bool, int | None, int | None]:
    """Raw values of the ``wanted`` tags, whether they are little endian, and the pixel data.

    The source grows (8x at a time) until the wanted part of the header is read.
    """
    while True:
        buf = src.data
        raw: dict[int, bytes] = {}
        try:
            pos = start
            # File meta information: always explicit VR little endian.
            meta = _Stream(buf, True, True)
            while pos + 8 <= len(buf) and buf[pos : pos + 2] == b"\x02\x00":
                tag, _, length, vstart = meta.element(pos)
                if vstart + length > len(buf):
                    raise _NeedMore
                if tag in wanted:
                    raw[tag] = buf[vstart : vstart + length]
                pos = vstart + length
            ts = raw.get(0x00020010, b"").strip(b" \x00").decode("latin-1") or src.bare or ""
            if ts in DEFLATED:
                raise HeaderError("deflated")  # pydicom inflates these
            little = ts != EXPLICIT_BE
            explicit = ts != IMPLICIT_LE
            if not ts and pos + 6 <= len(buf):
                # Meta information without a transfer syntax: look at the first element.
                vr = buf[pos + 4 : pos + 6]
                explicit = vr.isalpha() and vr.isupper()
            offset, pixels = _walk(_Stream(buf, little, explicit), pos, raw, src.eof, wanted)
            return raw, little, offset, pixels
        except _NeedMore:
            if src.eof:
                raise HeaderError("the file ends inside its header (truncated)") from None
            src.grow(max(len(src.data) * 8, _FIRST_READ))
        except (struct.error, IndexError):
            raise HeaderError("malformed element (corrupt header)") from None


