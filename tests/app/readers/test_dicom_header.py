"""The fast header reader agrees with pydicom and never reads pixel data."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pydicom
import pytest

from app.readers.dicom import _elements as dicom_elements
from app.readers.dicom import _header as dicom_header
from app.readers.dicom._header import HeaderError, read_header, read_header_pydicom
from tests.app.dicom_synth import write_slice

PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def same(a: dicom_header.Header, b: dicom_header.Header) -> dict[str, tuple[object, object]]:
    da, db = asdict(a), asdict(b)
    da.pop("extras"), db.pop("extras")  # per-frame details only pydicom reads (e.g. SEG)
    if a.pixel_offset is None or b.pixel_offset is None:  # the fast path may stop before it
        for k in ("pixel_offset", "pixel_length"):
            da.pop(k), db.pop(k)
    return {k: (da[k], db[k]) for k in da if da[k] != db[k]}


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("syntax", ["explicit", "implicit", "big"])
def test_fast_reader_matches_pydicom_on_synthetic_syntaxes(tmp_path: Path, syntax: str) -> None:
    f = write_slice(tmp_path / "a.dcm", series_uid="1.2.3", position=(1, 2, 3), syntax=syntax,
                    slope=2, intercept=-3.5, PatientName="Müller^Jürgen", EchoNumbers=2,
                    ReferencedImageSequence=[pydicom.Dataset()])
    fast, slow = read_header(f), read_header_pydicom(f)
    assert fast is not None and not same(fast, slow)
    assert fast.patient == "Müller Jürgen"
    assert (fast.position, fast.slope, fast.intercept, fast.echo_number) == (
        (1.0, 2.0, 3.0), 2.0, -3.5, 2)
    assert fast.pixel_length == 4 * 3 * 2


def test_fast_reader_matches_pydicom_on_pydicom_test_files() -> None:
    checked = 0
    for f in all_files(PYDICOM_FILES):
        try:
            fast = read_header(f)
        except HeaderError:
            continue
        if fast is None:
            continue
        assert not same(fast, read_header_pydicom(f, fast.gzipped)), f
        checked += 1
    assert checked > 60


@pytest.mark.shared_data
def test_fast_reader_matches_pydicom_on_shared_data(shared_data: Path) -> None:
    checked = 0
    for f in all_files(shared_data):
        fast = read_header(f)
        if fast is None:
            continue
        assert not same(fast, read_header_pydicom(f, fast.gzipped)), f
        checked += 1
    assert checked > 200


def test_header_reading_stops_before_large_pixel_data(tmp_path: Path, monkeypatch) -> None:
    big = np.zeros((2048, 2048), np.int16)  # 8 MiB of pixels
    f = write_slice(tmp_path / "big.dcm", series_uid="1.2.3", position=(0, 0, 0), rows=2048,
                    cols=2048, pixels=big)
    reads: list[int] = []
    real_open = dicom_elements.open_regular

    class Counting:
        def __init__(self, fh):  # noqa: ANN001
            self.fh = fh

        def read(self, n: int = -1) -> bytes:
            data = self.fh.read(n)
            reads.append(len(data))
            return data

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(self.fh, name)

        def __enter__(self):  # noqa: ANN204
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

    monkeypatch.setattr(dicom_elements, "open_regular",
                        lambda p, *a: Counting(real_open(p, *a)))
    h = read_header(f)
    assert h is not None and h.rows == 2048 and h.problems == ()
    assert 0 < sum(reads) <= 8192  # the first 8 KiB, never the 8 MiB of pixels


def test_broken_and_foreign_files(tmp_path: Path) -> None:
    good = write_slice(tmp_path / "a.dcm", series_uid="1.2.3", position=(0, 0, 0))
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(HeaderError, match="truncated"):
        read_header(cut)
    text = tmp_path / "t.dat"
    text.write_bytes(b"just some text, definitely not DICOM" * 10)
    assert read_header(text) is None
    assert read_header(PYDICOM_FILES / "dicomdirtests" / "DICOMDIR") is None
    bare = read_header(PYDICOM_FILES / "ExplVR_BigEndNoMeta.dcm")
    assert bare is not None and bare.modality
