"""Reading the header of one DICOM file fast: the few elements Segmap needs, never the pixels.

A scan reads thousands of files, so the common case skips pydicom's general
machinery: a small parser walks the element stream of the first kilobytes of a
file (explicit or implicit VR, little or big endian), skips every value it does
not need (sequences included, by length or by delimiter) and stops once past
group 0028. It is 5-10x faster than ``pydicom.dcmread(stop_before_pixels=True)``
(bench/bench_dicom_scan.py) and its memory does not depend on the pixel size.

pydicom reads what the small parser does not handle: deflated transfer syntax,
enhanced multi-frame files (per-frame functional groups) and Siemens mosaics
(the CSA header, through nibabel). Both paths give the same ``Header``;
tests/app/test_dicom_header.py checks they agree on real files.
"""

from __future__ import annotations

import gzip
import os
import struct
import warnings
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from pydicom.charset import convert_encodings, decode_bytes

from app.dicom_frames import dataset_header_extras

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
# Enhanced images keep geometry and rescale in functional groups, even with one frame.
ENHANCED_CLASSES = frozenset(
    "1.2.840.10008.5.1.4.1.1." + c
    for c in ("2.1", "2.2", "4.1", "4.3", "4.4", "128.1", "130", "6.2", "13.1.3"))
PIXEL_DATA = 0x7FE00010
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_STOP = 0x00290000  # every element the scan needs lies before group 0029
_LONG_VRS = frozenset(
    (b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV")
)
_FIRST_READ = 8192  # bytes: holds the wanted part of most headers (CT ~3 KB, MR ~5 KB)
_MAX_HEADER = 64 << 20  # a header larger than this is not an image header

# tag -> (Header field, how to decode the value)
WANTED: dict[int, tuple[str, str]] = {
    0x00020002: ("media_class", "uid"),
    0x00020010: ("transfer_syntax", "uid"),
    0x00080005: ("charset", "strs"),
    0x00080008: ("image_type", "strs"),
    0x00080016: ("sop_class", "uid"),
    0x00080018: ("sop_uid", "uid"),
    0x00080060: ("modality", "str"),
    0x00081030: ("study_description", "text"),
    0x0008103E: ("series_description", "text"),
    0x00100010: ("patient_name", "text"),
    0x00100020: ("patient_id", "text"),
    0x00180050: ("thickness", "ds1"),
    0x00180086: ("echo_number", "is"),
    0x00180088: ("spacing_between", "ds1"),
    0x00181120: ("tilt", "ds1"),
    0x0020000D: ("study_uid", "uid"),
    0x0020000E: ("series_uid", "uid"),
    0x00200011: ("series_number", "is"),
    0x00200012: ("acquisition_number", "is"),
    0x00200013: ("instance_number", "is"),
    0x00200032: ("position", "ds3"),
    0x00200037: ("orientation", "ds6"),
    0x00200100: ("temporal_position", "is"),
    0x00280002: ("samples", "us"),
    0x00280004: ("photometric", "str"),
    0x00280008: ("frames", "is"),
    0x00280010: ("rows", "us"),
    0x00280011: ("columns", "us"),
    0x00280030: ("pixel_spacing", "ds2"),
    0x00280100: ("bits_allocated", "us"),
    0x00280101: ("bits_stored", "us"),
    0x00280103: ("pixel_representation", "us"),
    0x00281052: ("intercept", "ds1"),
    0x00281053: ("slope", "ds1"),
    0x00283000: ("modality_lut", "present"),
}


class HeaderError(Exception):
    """A file that looks like DICOM but whose header cannot be read."""

    def __init__(self, reason: str, partial: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial or {}


@dataclass(frozen=True)
class Header:
    """What the scan needs from one DICOM file (or one frame of a multi-frame file)."""

    path: Path
    transfer_syntax: str = ""
    media_class: str = ""
    sop_class: str = ""
    sop_uid: str = ""
    modality: str = ""
    image_type: tuple[str, ...] = ()
    study_uid: str = ""
    series_uid: str = ""
    study_description: str = ""
    series_description: str = ""
    patient_name: str = ""
    patient_id: str = ""
    series_number: int | None = None
    acquisition_number: int | None = None
    instance_number: int | None = None
    echo_number: int | None = None
    temporal_position: int | None = None
    position: tuple[float, float, float] | None = None
    orientation: tuple[float, float, float, float, float, float] | None = None
    pixel_spacing: tuple[float, float] | None = None
    thickness: float | None = None
    spacing_between: float | None = None
    tilt: float | None = None
    rows: int | None = None
    columns: int | None = None
    frames: int | None = None
    samples: int | None = None
    photometric: str = ""
    bits_allocated: int | None = None
    bits_stored: int | None = None
    pixel_representation: int | None = None
    slope: float | None = None
    intercept: float | None = None
    modality_lut: bool = False
    gzipped: bool = False
    file_size: int = 0
    pixel_offset: int | None = None  # where the pixel data value starts (None: not reached)
    pixel_length: int | None = None  # its declared length (None: undefined / not reached)
    problems: tuple[str, ...] = ()  # non-fatal: the header is usable, something is off
    # Set for files that hold more than one slice (see app.dicom_frames).
    frame: int | None = None  # this record's frame index in a multi-frame file
    mosaic: int | None = None  # number of slices in a Siemens mosaic
    stack: str | None = None  # StackID of an enhanced multi-frame frame
    extras: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def patient(self) -> str:
        """PatientName, else PatientID."""
        return self.patient_name or self.patient_id

    @property
    def multi_slice(self) -> bool:
        """True when the file holds several slices (multi-frame or mosaic)."""
        return self.frame is not None or self.mosaic is not None

    def native_pixel_bytes(self) -> int | None:
        """Bytes the pixel data needs when stored uncompressed (None when unknown)."""
        if not (self.rows and self.columns and self.bits_allocated):
            return None
        samples = self.samples or 1
        if self.photometric in ("YBR_FULL_422", "YBR_PARTIAL_422") and samples == 3:
            samples = 2  # two chroma samples are shared by each pair of pixels
        bits = self.rows * self.columns * (self.frames or 1) * samples * self.bits_allocated
        return (bits + 7) // 8


def is_compressed(transfer_syntax: str) -> bool:
    """True for encapsulated (compressed) transfer syntaxes."""
    return transfer_syntax not in ("", IMPLICIT_LE, "1.2.840.10008.1.2.1", EXPLICIT_BE, *DEFLATED)


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
        opener = gzip.open if self.gzipped else open
        with opener(self.path, "rb") as fh:  # type: ignore[operator]
            self.data = fh.read(want)
        self.eof = len(self.data) < want or want >= _MAX_HEADER


def sniff(path: Path) -> tuple[_Source, int] | None:
    """(source, offset of the first element) when ``path`` is a DICOM file, else None."""
    try:
        with open(path, "rb") as fh:
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
_LE_U16, _BE_U16 = struct.Struct("<H"), struct.Struct(">H")
_LE_U32, _BE_U32 = struct.Struct("<I"), struct.Struct(">I")


class _Stream:
    """Element headers of one encoding over a byte buffer."""

    def __init__(self, buf: bytes, little: bool, explicit: bool) -> None:
        self.buf, self.little, self.explicit = buf, little, explicit
        self.tag_s = _LE_TAG if little else _BE_TAG
        self.u16 = _LE_U16 if little else _BE_U16
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
            pos = self.skip_item(pos, depth) if length == _UNDEFINED else pos + length

    def skip_item(self, pos: int, depth: int) -> int:
        while True:
            tag, vr, length, pos = self.element(pos)
            if tag == _ITEM_END:
                return pos
            if length != _UNDEFINED:
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


def _walk(stream: _Stream, pos: int, raw: dict[int, bytes], eof: bool
          ) -> tuple[int | None, int | None]:
    """Collect wanted values from ``pos`` on; returns the pixel data (offset, length).

    Past group 0028 the walk goes on only through bytes already read, to learn
    where the pixel data starts (for a truncation check) without reading more.
    The common explicit VR element is decoded inline: this loop is the scan's hot spot.
    """
    buf, n = stream.buf, len(stream.buf)
    elem = (_LE_ELEM if stream.little else _BE_ELEM).unpack_from
    u32 = stream.u32.unpack_from
    explicit = stream.explicit
    wanted = WANTED
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
                    return start, None if length == _UNDEFINED else length
                return None, None
            if tag >= _STOP:
                past = True
            if length == _UNDEFINED:
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


def _parse(src: _Source, start: int) -> tuple[dict[int, bytes], bool, int | None, int | None]:
    """Raw values of the wanted tags, whether they are little endian, and the pixel data."""
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
                if tag in WANTED:
                    raw[tag] = buf[vstart : vstart + length]
                pos = vstart + length
            ts = _text(raw.get(0x00020010, b"")) or src.bare or ""
            if ts in DEFLATED:
                raise HeaderError("deflated")  # pydicom inflates these
            little = ts != EXPLICIT_BE
            explicit = ts != IMPLICIT_LE
            if not ts and pos + 6 <= len(buf):
                # Meta information without a transfer syntax: look at the first element.
                vr = buf[pos + 4 : pos + 6]
                explicit = vr.isalpha() and vr.isupper()
            offset, length = _walk(_Stream(buf, little, explicit), pos, raw, src.eof)
            return raw, little, offset, length
        except _NeedMore:
            if src.eof:
                raise HeaderError("the file ends inside its header (truncated)") from None
            src.grow(max(len(src.data) * 8, _FIRST_READ))
        except (struct.error, IndexError):
            raise HeaderError("malformed element (corrupt header)") from None


# -- decoding values ----------------------------------------------------------------------------


_PAD = b" \x00"


def _text(value: bytes) -> str:
    return value.strip(_PAD).decode("latin-1")


def _numbers(value: bytes, what: str) -> list[float]:
    try:  # float() reads ASCII bytes directly: no str round trip on the hot path
        return [float(p) for p in value.split(b"\\") if p.strip(_PAD)]
    except ValueError:
        raise ValueError(f"{what} is not a number: {_text(value)!r}") from None


def _decode_text(value: bytes, charset: bytes | None) -> str:
    if value.isascii():
        return value.decode("ascii")
    # Non-ASCII text: decode as the file's SpecificCharacterSet says.
    encodings = convert_encodings(
        [p.strip() for p in _text(charset).split("\\")] if charset else None)
    return decode_bytes(value, encodings, {0x5C, 0x5E, 0x3D})


def decode(raw: dict[int, bytes], little: bool) -> dict[str, Any]:
    """Header fields from raw element values (problems go in ``problems``)."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    charset = raw.get(0x00080005)
    u16 = _LE_U16 if little else _BE_U16
    for tag, value in raw.items():
        name, kind = WANTED[tag]
        if kind == "present":
            out[name] = True
            continue
        if not value or tag == 0x00080005:
            continue
        try:
            if kind == "uid" or kind == "str":
                out[name] = _text(value)
            elif kind[0] == "d":  # ds1, ds2, ds3, ds6
                count = int(kind[2:])
                nums = _numbers(value, name)
                if len(nums) < count:
                    raise ValueError(f"{name} has {len(nums)} values where {count} are needed")
                out[name] = nums[0] if count == 1 else tuple(nums[:count])
            elif kind == "us":
                out[name] = u16.unpack_from(value)[0] if len(value) >= 2 else None
            elif kind == "is":
                nums = _numbers(value, name)
                out[name] = int(nums[0]) if nums else None
            elif kind == "strs":
                out[name] = tuple(p.strip(" \x00").upper() for p in _text(value).split("\\"))
            else:  # text
                text = _decode_text(value, charset)
                if name == "patient_name":
                    text = " ".join(p for p in text.split("=")[0].split("^") if p.strip())
                out[name] = text.strip(" \x00")
        except (ValueError, struct.error, LookupError) as exc:
            problems.append(str(exc))
    if problems:
        out["problems"] = tuple(problems)
    return out


# -- reading one file ---------------------------------------------------------------------------


def read_header(path: Path) -> Header | None:
    """The header of ``path``; None when it is not DICOM; HeaderError when it is broken.

    Multi-frame files and mosaics come back with ``extras`` holding the dataset's
    per-frame geometry (see app.dicom_frames); ``expand_frames`` turns them into slices.
    """
    sniffed = sniff(path)
    if sniffed is None:
        return None
    src, start = sniffed
    try:
        raw, little, offset, length = _parse(src, start)
        fields = decode(raw, little)
    except HeaderError as exc:
        if exc.reason != "deflated":
            raise
        return read_header_pydicom(path, src.gzipped)
    if fields.get("media_class") == DICOMDIR_CLASS:
        return None  # an index of other files, not an object of its own
    header = Header(path=path, gzipped=src.gzipped, file_size=src.size,
                    pixel_offset=offset, pixel_length=length, **fields)
    if (header.frames is not None or "MOSAIC" in header.image_type
            or header.sop_class in ENHANCED_CLASSES):
        # Per-frame geometry or the CSA header: pydicom (and nibabel) read those.
        return read_header_pydicom(path, src.gzipped)
    return _checked(header)


def _checked(header: Header) -> Header:
    problems = list(header.problems)
    need = header.native_pixel_bytes()
    if (need and not is_compressed(header.transfer_syntax) and not header.gzipped
            and header.transfer_syntax not in DEFLATED):
        if header.pixel_length is not None and header.pixel_length < need:
            problems.append(f"its pixel data holds {header.pixel_length} bytes where "
                            f"{header.rows}x{header.columns} pixels need {need}")
        elif header.pixel_offset is not None and header.pixel_offset + need > header.file_size:
            problems.append("its pixel data is truncated (the file is shorter than the image)")
        elif header.pixel_offset is None and need > header.file_size:
            problems.append("its pixel data is truncated (the file is shorter than the image)")
    return replace(header, problems=tuple(problems)) if problems != list(header.problems) else header


def _open_dataset_stream(path: Path, gzipped: bool) -> BinaryIO:
    return gzip.open(path, "rb") if gzipped else open(path, "rb")  # type: ignore[return-value]


def read_header_pydicom(path: Path, gzipped: bool = False) -> Header:
    """The same Header through pydicom (deflated files, multi-frame files, mosaics)."""
    import pydicom
    from pydicom.dataelem import RawDataElement

    pixel: list[int | None] = [None, None]
    try:
        with _open_dataset_stream(path, gzipped) as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about every odd VR it meets

            def at_pixels(tag: Any, vr: Any, length: int) -> bool:
                if tag == PIXEL_DATA:
                    pixel[:] = [fh.tell(), None if length == _UNDEFINED else length]
                return bool(tag >= PIXEL_DATA)

            ds = pydicom.filereader.read_partial(fh, stop_when=at_pixels, force=True)
            # read_partial defers nothing here: every value read is in memory already
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds for broken files
        raise HeaderError(f"pydicom cannot read it ({type(exc).__name__}: {exc})") from None
    little = ds.original_encoding[1] is not False
    raw: dict[int, bytes] = {}
    for tag in WANTED:
        holder = ds.file_meta if tag >> 16 == 0x0002 else ds
        if tag not in holder:
            continue
        elem = holder.get_item(tag)
        if isinstance(elem, RawDataElement):
            raw[tag] = bytes(elem.value or b"") if WANTED[tag][1] != "present" else b"1"
        elif elem is not None:
            raw[tag] = _reencode(elem.value, WANTED[tag][1], little)
    size = os.stat(path).st_size
    header = Header(path=path, gzipped=gzipped, file_size=size, pixel_offset=pixel[0],
                    pixel_length=pixel[1], **decode(raw, little))
    extras = dataset_header_extras(ds, header)
    if extras:
        header = replace(header, **extras)
    return _checked(header)


def _reencode(value: Any, kind: str, little: bool) -> bytes:
    # An element pydicom already converted (file meta, or read while parsing): back to bytes.
    if kind == "present":
        return b"1"
    if value is None:
        return b""
    if kind == "us":
        return (_LE_U16 if little else _BE_U16).pack(int(value))
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value).encode("utf-8")
    return str(value).encode("utf-8")
