"""The header of one DICOM file, fast: the few elements Segmap needs, never the pixels.

The raw values come from app.readers.dicom._elements' small parser (5-8x faster than
``pydicom.dcmread(stop_before_pixels=True)``, see bench/bench_dicom_scan.py; its
memory does not depend on the pixel size) and are decoded here.

pydicom reads what the small parser does not handle: deflated transfer syntax,
enhanced multi-frame files (per-frame functional groups) and Siemens mosaics
(the CSA header, through nibabel). Both paths give the same ``Header``;
tests/app/readers/test_dicom_header.py checks they agree on real files.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO, cast

from pydicom.charset import convert_encodings, decode_bytes

from app.readers.dicom._elements import (
    _FIRST_READ,
    _MAX_HEADER,
    BE_U16,
    DEFLATED,
    DICOMDIR_CLASS,
    ENHANCED_CLASSES,
    LE_U16,
    PIXEL_DATA,
    UNDEFINED_LENGTH,
    HeaderError,
    maybe_dicom_name,
    open_file,
    parse,
    quiet_warnings,
    sniff,
)
from app.readers.dicom._frames import dataset_header_extras
from app.readers.dicom._record import WANTED, Header, is_compressed

__all__ = ["Header", "HeaderError", "decode", "is_compressed", "maybe_dicom_name", "read_header",
           "read_header_pydicom"]

# -- decoding values ----------------------------------------------------------------------------


_PAD = b" \x00"


def _text(value: bytes) -> str:
    return value.strip(_PAD).decode("latin-1")


def _numbers(value: bytes, what: str) -> list[float]:
    try:  # float() reads ASCII bytes directly: no str round trip on the hot path
        nums = [float(p) for p in value.split(b"\\") if p.strip(_PAD)]
    except ValueError:
        raise ValueError(f"{what} is not a number: {_text(value)!r}") from None
    if not all(map(math.isfinite, nums)):  # float() reads "NaN" and "inf" too
        raise ValueError(f"{what} is not a finite number: {_text(value)!r}")
    return nums


def _decode_text(value: bytes, charset: bytes | None) -> str:
    if value.isascii():
        return value.decode("ascii")
    # Non-ASCII text: decode as the file's SpecificCharacterSet says.
    encodings = convert_encodings(
        [p.strip() for p in _text(charset).split("\\")] if charset else None)
    with quiet_warnings():  # pydicom warns, then falls back to latin-1 or replacements
        return decode_bytes(value, encodings, {0x5C, 0x5E, 0x3D})


def decode(raw: dict[int, bytes], little: bool) -> dict[str, Any]:
    """Header fields from raw element values (problems go in ``problems``)."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    charset = raw.get(0x00080005)
    u16 = LE_U16 if little else BE_U16
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
    per-frame geometry (see app.readers.dicom._frames); ``expand_frames`` turns them into slices.
    """
    sniffed = sniff(path)
    if sniffed is None:
        return None
    src, start = sniffed
    try:
        raw, little, offset, length = parse(src, start, WANTED)
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
    """The header with a problem (and ``pixels_unusable``) when its pixel data is too short."""
    need = header.native_pixel_bytes()
    if not need or is_compressed(header.transfer_syntax) or header.gzipped \
            or header.transfer_syntax in DEFLATED:
        return header
    if header.pixel_length is not None and header.pixel_length < need:
        problem = (f"its pixel data holds {header.pixel_length} bytes where "
                   f"{header.rows}x{header.columns} pixels need {need}")
    elif need + (header.pixel_offset or 0) > header.file_size:
        problem = "its pixel data is truncated (the file is shorter than the image)"
    else:
        return header
    return replace(header, problems=(*header.problems, problem), pixels_unusable=True)


_DEFLATED_LE = "1.2.840.10008.1.2.1.99"  # the whole dataset deflated (1.2.8.1 deflates frames)
_PIXEL_TAG_LE = b"\xe0\x7f\x10\x00"


class _Inflater:
    """A deflated stream inflated on demand, never further than asked."""

    def __init__(self, compressed: BinaryIO) -> None:
        self.compressed, self.inflater = compressed, zlib.decompressobj(-zlib.MAX_WBITS)
        self.data, self.pending = bytearray(), b""

    def upto(self, want: int) -> tuple[bytes, bool]:
        """The first ``want`` inflated bytes (fewer at the end), and whether it ended."""
        while len(self.data) < want and not self.inflater.eof:
            if not self.pending:
                self.pending = self.compressed.read(1 << 16)
                if not self.pending:
                    break
            self.data += self.inflater.decompress(self.pending, want - len(self.data))
            self.pending = self.inflater.unconsumed_tail
        return bytes(self.data), self.inflater.eof or len(self.data) < want


def _deflated_dataset(fh: BinaryIO, stop_when: Any) -> Any:
    """``read_partial`` for a Deflated Explicit VR Little Endian file, bounded in memory.

    pydicom inflates the whole file first: a 3 MB file of zero pixels becomes 3 GB. Here
    the dataset is inflated in steps (8x larger each time, up to 64 MB) until it is read
    to its pixel data, or ends.
    """
    from pydicom.dataset import FileDataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import _read_file_meta_info, read_dataset, read_preamble

    preamble = read_preamble(fh, True)
    meta = _read_file_meta_info(fh)
    inflated, want = _Inflater(fh), _FIRST_READ
    while True:
        data, ended = inflated.upto(want)
        if ended or want >= _MAX_HEADER or _PIXEL_TAG_LE in data:
            buf, reached = DicomBytesIO(data), [False]

            def at_pixels(*args: Any, buf: Any = buf, reached: list[bool] = reached) -> bool:
                reached[0] = stop_when(buf, *args)
                return reached[0]

            dataset = read_dataset(cast(BinaryIO, buf), False, True, stop_when=at_pixels)
            if reached[0] or ended or want >= _MAX_HEADER:
                break
        want *= 8
    ds = FileDataset(str(getattr(fh, "name", "")), dataset, preamble, meta, False, True)
    ds.set_original_encoding(False, True, dataset._character_set)
    return ds


def _is_deflated(fh: BinaryIO) -> bool:
    from pydicom.filereader import _read_file_meta_info, read_preamble

    try:
        read_preamble(fh, True)
        return bool(_read_file_meta_info(fh).get("TransferSyntaxUID") == _DEFLATED_LE)
    except Exception:  # noqa: BLE001 - not for this check to say what is wrong
        return False
    finally:
        fh.seek(0)


def _read_dataset(path: Path, gzipped: bool, pixel: list[int | None]) -> Any:
    """The dataset up to its pixel data; ``pixel`` gets where they start and their length."""
    import pydicom

    with open_file(path, gzipped) as fh, quiet_warnings():

        def at_pixels(stream: BinaryIO, tag: Any, vr: Any, length: int) -> bool:
            if tag == PIXEL_DATA:
                pixel[:] = [stream.tell(), None if length == UNDEFINED_LENGTH else length]
            return bool(tag >= PIXEL_DATA)

        if _is_deflated(fh):
            return _deflated_dataset(fh, at_pixels)
        # read_partial defers nothing here: every value read is in memory already
        return pydicom.filereader.read_partial(
            fh, stop_when=lambda *a: at_pixels(fh, *a), force=True)


def read_header_pydicom(path: Path, gzipped: bool = False) -> Header:
    """The same Header through pydicom (deflated files, multi-frame files, mosaics)."""
    from pydicom.dataelem import RawDataElement

    pixel: list[int | None] = [None, None]
    try:
        ds = _read_dataset(path, gzipped, pixel)
    except HeaderError:
        raise
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
    try:
        with quiet_warnings():
            extras = dataset_header_extras(ds, header)
    except Exception as exc:  # noqa: BLE001 - malformed functional groups raise many kinds
        extras = {"problems": (*header.problems,
                               f"its per-frame geometry cannot be read ({exc})")}
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
        return (LE_U16 if little else BE_U16).pack(int(value))
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value).encode("utf-8")
    return str(value).encode("utf-8")
