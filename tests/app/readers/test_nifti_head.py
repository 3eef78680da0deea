"""A NIfTI header is read from the file's first kilobytes, gzipped or not, and a gzip file
cut short is refused at its header whatever its size."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from isal import igzip

from app.errors import VolumeReadError
from app.readers import nifti_info
from app.readers._nifti import read_head


def _image(path: Path, shape: tuple[int, int, int] = (64, 64, 40)) -> Path:
    rng = np.random.default_rng(0)
    nib.save(nib.Nifti1Image(rng.integers(-1000, 1000, shape, dtype=np.int16), np.eye(4)),
             str(path))
    return path


def _streamed(path: Path, n: int) -> bytes:
    with igzip.open(path, "rb") as stream:
        return stream.read(n)


def test_the_head_is_what_a_gzip_stream_reads(shared_data: Path) -> None:
    files = sorted(shared_data.rglob("*.nii.gz"))[:80]
    assert files
    for path in files:
        head, gz, size, _ = read_head(path, 540)
        assert gz and size == path.stat().st_size
        assert head == _streamed(path, 540), path


def test_a_plain_file_and_gzip_members_read_as_a_stream_reads_them(tmp_path: Path) -> None:
    plain = tmp_path / "a.nii"
    plain.write_bytes(b"x" * 300)
    assert read_head(plain, 540) == (b"x" * 300, False, 300, None)
    members = tmp_path / "b.nii.gz"  # the header across two members (bgzip writes many)
    members.write_bytes(gzip.compress(b"a" * 100) + gzip.compress(b"b" * 1000))
    assert read_head(members, 540)[0] == _streamed(members, 540) == b"a" * 100 + b"b" * 440


def test_a_large_gzip_image_cut_short_is_refused_at_its_header(tmp_path: Path) -> None:
    whole = _image(tmp_path / "whole.nii.gz")
    assert whole.stat().st_size > 200_000  # a gzip stream's read-ahead never reached its end
    assert nifti_info(whole).shape == (64, 64, 40)
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 3 // 4])
    with pytest.raises(VolumeReadError, match="is truncated"):
        nifti_info(cut)


def test_a_gzip_image_of_several_members_is_whole(tmp_path: Path) -> None:
    one = _image(tmp_path / "one.nii.gz", (16, 16, 8))
    raw = gzip.decompress(one.read_bytes())
    two = tmp_path / "two.nii.gz"  # its last member's size is not the header's
    two.write_bytes(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:]))
    assert nifti_info(two).shape == (16, 16, 8)


def test_masks_sharing_a_header_are_checked_once_each_info_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    masks = []
    for k in range(5):  # one header, as a case's binary masks have
        masks.append(tmp_path / f"m{k}.nii.gz")
        nib.save(nib.Nifti1Image((np.arange(512).reshape(8, 8, 8) % (k + 2) == 0)
                                 .astype(np.uint8), np.diag([2.0, 2.0, 3.0, 1.0])), masks[-1])
    checks = []
    real = nib.Nifti1Header.check_fix
    monkeypatch.setattr(nib.Nifti1Header, "check_fix",
                        lambda self, *a, **k: checks.append(1) or real(self, *a, **k))
    infos = [nifti_info(p) for p in masks]
    assert len(checks) <= 1
    infos[0].header.set_data_dtype(np.int16)  # a caller's change stays with its info
    infos[0].affine[0, 0] = 9.0
    again = nifti_info(masks[1])
    assert again.dtype == np.uint8 and again.header.get_data_dtype() == np.uint8
    assert again.affine[0, 0] == 2.0 and infos[1].affine[0, 0] == 2.0


def test_a_refused_header_is_refused_every_time(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nii"
    header = nib.Nifti1Header()
    header.set_data_shape((4, 4, 4))
    block = bytearray(header.binaryblock)
    block[40:42] = (9).to_bytes(2, "little")  # dim[0] of 9: more than NIfTI's 7
    bad.write_bytes(bytes(block) + bytes(4 + 64))
    for _ in range(2):
        with pytest.raises(VolumeReadError):
            nifti_info(bad)


def test_a_gzip_image_of_several_members_is_inflated_whole_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.readers._nifti as niio

    one = _image(tmp_path / "one.nii.gz", (16, 16, 8))
    raw = gzip.decompress(one.read_bytes())
    two = tmp_path / "members.nii.gz"
    two.write_bytes(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:]))
    opened = []
    real = niio._open
    monkeypatch.setattr(niio, "_open", lambda p: opened.append(p) or real(p))
    for _ in range(3):
        assert nifti_info(two).shape == (16, 16, 8)
    assert opened == [two]
    two.write_bytes(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:-10]))  # now cut short
    with pytest.raises(VolumeReadError, match="truncated"):
        nifti_info(two)
