"""A folder of NRRD label maps builds into a list RedBrick can take: every mask the list
names is a NIfTI conversion, so the built list passes its own validation (no not-nifti)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from app.items import load_items
from app.validate import validate

from ..builders import image
from .test_nrrd_masks import AFFINE, SHAPE, labels, write_nrrd

REFUSED = {"not-nifti", "file-corrupt", "gzip-name-mismatch", "mask-dimensions"}


def _built_findings(folder: Path, out: Path) -> tuple[str, set[str]]:
    assert main(["build", str(folder), "-o", str(out), "-q"]) == 0
    return out.read_text(), {f.code.value for f in validate(load_items(out))}


def test_built_list_of_nrrd_masks_validates_clean(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    for case in ("case1", "case2"):
        image(data / case / "ct.nii.gz", shape=SHAPE, affine=AFFINE)
        write_nrrd(data / case / "ct_seg.nrrd", labels())
        (data / case / "labels.ctbl").write_text("1 liver 255 0 0 255\n2 spleen 0 255 0 255\n")
    written, found = _built_findings(data, tmp_path / "built" / "items.json")
    assert ".nrrd" not in written and written.count("nifti-masks/") >= 2
    assert not found & REFUSED, found


@pytest.mark.shared_data
def test_dcmqi_folder_builds_a_list_that_validates_clean(shared_data: Path, tmp_path: Path,
                                                        capsys) -> None:
    written, found = _built_findings(shared_data / "dcmqi", tmp_path / "built" / "items.json")
    assert ".nrrd\"" not in written and "nifti-masks/" in written
    assert not found & REFUSED, found
