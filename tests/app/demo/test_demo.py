"""The demo dataset: deterministic, geometrically exact, and with exactly its deliberate problems."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom import config
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from app.cli import main
from app.demo import (
    MARKER,
    MASK_I,
    MASKS_II,
    SCRATCH_PREFIX,
    STRUCTURES,
    TASK_I,
    TASK_II,
    TASK_III,
    UNMAPPED,
    DemoInfo,
    is_demo,
    make_demo,
    mask_iii,
    write_demo,
)
from app.errors import InputError, MergeError
from app.items import load_items
from app.merge import merge_series
from app.progress import Progress, run
from app.readers import census

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _read_series(folder: Path) -> list[pydicom.Dataset]:
    """Every slice, read strictly, sorted by position along the slice normal."""
    old = config.settings.reading_validation_mode
    config.settings.reading_validation_mode = config.RAISE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            slices = [pydicom.dcmread(p) for p in sorted(folder.iterdir())]
            for ds in slices:
                ds.pixel_array  # noqa: B018 - decoding must not warn either
    finally:
        config.settings.reading_validation_mode = old
    iop = np.array(slices[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    return sorted(slices, key=lambda ds: float(np.dot(normal, np.array(ds.ImagePositionPatient, float))))


def _dicom_affine(slices: list[pydicom.Dataset]) -> np.ndarray:
    """The RAS+ affine of a sorted axial series, from IPP, IOP, PixelSpacing and positions."""
    iop = np.array(slices[0].ImageOrientationPatient, float)
    row_spacing, col_spacing = (float(v) for v in slices[0].PixelSpacing)
    first = np.array(slices[0].ImagePositionPatient, float)
    last = np.array(slices[-1].ImagePositionPatient, float)
    lps = np.eye(4)
    lps[:3, 0] = iop[:3] * col_spacing  # i: along a row, from column to column
    lps[:3, 1] = iop[3:] * row_spacing  # j: down a column, from row to row
    lps[:3, 2] = (last - first) / (len(slices) - 1)
    lps[:3, 3] = first
    return LPS_TO_RAS @ lps


@pytest.fixture(scope="module")
def series(demo_dataset: DemoInfo) -> list[pydicom.Dataset]:
    return _read_series(demo_dataset.dicom_dir)


@pytest.fixture(scope="module")
def ct(demo_dataset: DemoInfo) -> nib.Nifti1Image:
    return nib.load(demo_dataset.ct_nifti)


def _mask(demo: DemoInfo, rel: str) -> np.ndarray:
    return np.asanyarray(nib.load(demo.root / rel).dataobj)


def test_two_runs_write_identical_bytes(demo_dataset: DemoInfo, tmp_path: Path) -> None:
    again = make_demo(tmp_path / "again")
    first, second = _files(demo_dataset.root), _files(again.root)
    assert sorted(first) == sorted(second)
    assert len([f for f in first if f.endswith(".dcm")]) == 64
    assert [f for f in first if first[f] != second[f]] == []


def test_every_dicom_slice_is_a_standard_ct_image(series: list[pydicom.Dataset]) -> None:
    assert len(series) == 64
    for ds in series:
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.SOPClassUID == ds.file_meta.MediaStorageSOPClassUID == CTImageStorage
        assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
        assert ds.Modality == "CT" and ds.pixel_array.dtype == np.int16
        assert (ds.Rows, ds.Columns) == ds.pixel_array.shape == (112, 128)
        assert float(ds.RescaleSlope) == 1.0 and float(ds.RescaleIntercept) == -1024.0
        assert float(ds.WindowCenter[0]) == 40 and float(ds.WindowWidth[0]) == 400
    one = {(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID, str(ds.PatientName),
            ds.PatientID, ds.SeriesDescription) for ds in series}
    assert len(one) == 1 and "" not in next(iter(one))
    assert len({ds.SOPInstanceUID for ds in series}) == 64
    assert sorted(int(ds.InstanceNumber) for ds in series) == list(range(1, 65))


def test_dicom_files_are_not_named_or_numbered_in_slice_order(
        demo_dataset: DemoInfo, series: list[pydicom.Dataset]) -> None:
    by_name = sorted(series, key=lambda ds: Path(ds.filename).name)
    assert [ds.SOPInstanceUID for ds in by_name] != [ds.SOPInstanceUID for ds in series]
    assert all(re.fullmatch(r"IM_[0-9A-F]{8}\.dcm", Path(ds.filename).name) for ds in series)
    # Instance 1 is the top slice, as head-first scanners number them: position decides.
    assert [int(ds.InstanceNumber) for ds in series] == list(range(64, 0, -1))


def test_dicom_geometry_is_exactly_the_nifti_affine(demo_dataset: DemoInfo, ct: nib.Nifti1Image,
                                                     series: list[pydicom.Dataset]) -> None:
    affine = _dicom_affine(series)
    np.testing.assert_allclose(affine, ct.affine, atol=1e-6)
    positions = np.array([ds.ImagePositionPatient for ds in series], float)
    np.testing.assert_allclose(np.diff(positions[:, 2]), float(series[0].SpacingBetweenSlices))
    assert float(series[0].SliceThickness) == float(series[0].SpacingBetweenSlices)
    # Every slice's own position is where the affine puts voxel (0, 0, k).
    ras = (LPS_TO_RAS[:3, :3] @ positions.T).T
    np.testing.assert_allclose(ras, (ct.affine @ np.c_[np.zeros((64, 2)), np.arange(64),
                                                       np.ones(64)].T).T[:, :3], atol=1e-6)
    assert nib.aff2axcodes(ct.affine) == ("L", "P", "S")
    assert int(ct.header["qform_code"]) == int(ct.header["sform_code"]) == 1


def test_dicom_pixels_in_hu_are_the_nifti_voxels(ct: nib.Nifti1Image,
                                                  series: list[pydicom.Dataset]) -> None:
    volume = np.asanyarray(ct.dataobj)
    assert volume.dtype == np.int16 and volume.shape == (128, 112, 64)
    for k, ds in enumerate(series):
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        np.testing.assert_array_equal(hu, volume[:, :, k].T)


def test_every_mask_is_uint8_on_the_image_grid_with_its_values(
        demo_dataset: DemoInfo, ct: nib.Nifti1Image) -> None:
    expected = {MASK_I: set(range(8)), MASKS_II[0]: {0, 1, 2, 3, 4}, MASKS_II[1]: {0, 5, 6}}
    expected |= {mask_iii(s.name): {0, 1} for s in STRUCTURES}
    found = {p.relative_to(demo_dataset.root).as_posix()
             for p in (demo_dataset.root / "masks").rglob("*.nii.gz")}
    assert found == set(expected)
    for rel, values in expected.items():
        c = census(demo_dataset.root / rel)
        assert c.dtype == "uint8" and c.flags == ()
        assert c.shape == ct.shape
        np.testing.assert_array_equal(c.affine, ct.affine)
        assert set(c.values) == values, rel


def test_anatomy_is_where_it_belongs(demo_dataset: DemoInfo, ct: nib.Nifti1Image) -> None:
    hu = np.asanyarray(ct.dataobj)
    labels = _mask(demo_dataset, MASK_I)

    def centre(value: int) -> np.ndarray:
        """World centre (RAS+ mm: +x towards the patient's right, +y front, +z head)."""
        ijk = np.argwhere(labels == value).mean(axis=0)
        return (ct.affine @ np.r_[ijk, 1])[:3]

    by = {s.name: s.value for s in (*STRUCTURES, UNMAPPED)}
    assert centre(by["liver"])[0] > 0 and centre(by["kidney_right"])[0] > 0
    assert centre(by["spleen"])[0] < 0 and centre(by["kidney_left"])[0] < 0
    assert centre(by["vertebrae"])[1] < centre(by["aorta"])[1]  # the spine is behind the aorta
    assert centre(by["kidney_left"])[2] > centre(by["kidney_right"])[2]  # left kidney higher
    # Medians: the edges of small structures are blurred (partial volume), as on a scanner.
    median = {name: float(np.median(hu[labels == v])) for name, v in by.items()}
    assert 95 < median["liver"] < 115 and 40 < median["liver_tumor"] < 65
    assert 170 < median["aorta"] < 210 and 600 < median["vertebrae"] < 750
    assert abs(float(hu[0, 0, :].mean()) + 1000) < 15  # air outside the body
    # Voxel (36, 60) is the middle of the right lung (LPS x -68, y 12); the top slices
    # are above the diaphragm.
    assert -870 < float(np.median(hu[32:41, 56:65, 60:])) < -830


def test_the_tumour_overlaps_the_liver_and_nothing_else_overlaps(demo_dataset: DemoInfo) -> None:
    iii = {s.name: _mask(demo_dataset, mask_iii(s.name)).astype(bool) for s in STRUCTURES}
    tumour, liver = iii["liver_tumor"], iii["liver"]
    assert tumour.sum() > 500 and np.array_equal(tumour & liver, tumour)
    others = [n for n in iii if n not in ("liver", "liver_tumor")]
    for name, mask in iii.items():
        for other in others:
            if name != other:
                assert not (mask & iii[other]).any(), (name, other)
    # Shapes I and II label the same voxels, without overlaps.
    one = _mask(demo_dataset, MASK_I)
    organs, vessels = (_mask(demo_dataset, p) for p in MASKS_II)
    assert not (organs.astype(bool) & vessels.astype(bool)).any()
    np.testing.assert_array_equal(np.where(one == UNMAPPED.value, 0, one), organs + vessels)
    np.testing.assert_array_equal(one == 6, tumour)


def test_items_list_maps_everything_but_the_deliberate_value(demo_dataset: DemoInfo) -> None:
    items = load_items(demo_dataset.items_json)
    assert items.problems == []
    assert [t.name for t in items.tasks] == list(demo_dataset.tasks) == [TASK_I, TASK_II, TASK_III]
    for t in items.tasks:
        (s,) = t.series
        mapped = set(s.segment_map.segments)
        if s.is_binary:  # an instance is present when the file its `mask` names has voxels
            present = {i for i, seg in s.segment_map.segments.items()
                       if not census(items.resolve(seg.mask)).empty}
        else:
            files = [items.resolve(p) for p in s.segmentation_paths]
            present = set().union(*(census(f).nonzero for f in files))
        assert present - mapped == ({UNMAPPED.value} if t.name == TASK_I else set())
        assert mapped - present == set()
        for p in s.item_paths:
            assert items.resolve(p).is_file()
    images = {t.name: t.series[0].item_paths for t in items.tasks}
    assert images[TASK_II] == ["ct.nii.gz"]
    assert len(images[TASK_I]) == 64 and images[TASK_I] == images[TASK_III]
    binary = items.tasks[2].series[0]
    assert binary.is_binary and binary.segment_map.to_json()["binaryMask"] is True
    assert all(seg.mask == mask_iii(STRUCTURES[i - 1].name)
               for i, seg in binary.segment_map.segments.items())
    # The model keeps the file exactly as written.
    assert items.to_json() == json.loads(demo_dataset.items_json.read_text(encoding="utf-8"))


def test_every_task_merges_as_redbrick_will(demo_dataset: DemoInfo) -> None:
    items = load_items(demo_dataset.items_json)
    one, two, three = (run(merge_series(items, t, 0)) for t in items.tasks)
    assert one.segments_json() == {str(v): None for v in range(1, 8)}
    assert one.source == demo_dataset.root / MASK_I  # uploaded unchanged
    assert two.segments_json() == {str(v): None for v in range(1, 7)}
    np.testing.assert_array_equal(two.volume, np.where(_mask(demo_dataset, MASK_I) == 7, 0,
                                                       _mask(demo_dataset, MASK_I)))
    # III: the shared voxels become overlap group 7 (the smallest unused id).
    assert three.segments_json() == {"1": [7], "2": None, "3": None, "4": None, "5": None,
                                     "6": [7]}
    tumour = _mask(demo_dataset, mask_iii("liver_tumor")).astype(bool)
    np.testing.assert_array_equal(three.volume == 7, tumour)
    # --label-validate: shapes II and III pass, shape I fails on its unmapped value.
    for t in items.tasks[1:]:
        run(merge_series(items, t, 0, label_validate=True))
    with pytest.raises(MergeError, match=r"\[7\]"):
        run(merge_series(items, items.tasks[0], 0, label_validate=True))


def test_taxonomy_has_every_category_as_a_segmentation(demo_dataset: DemoInfo) -> None:
    tax = json.loads(demo_dataset.taxonomy_json.read_text(encoding="utf-8"))
    objects = tax["objectTypes"]
    assert tax["isNew"] is True
    assert [o["classId"] for o in objects] == list(range(len(objects)))
    assert all(o["labelType"] == "SEGMENTATION" and not o["archived"] for o in objects)
    assert all(re.fullmatch(r"#[0-9A-F]{6}", o["color"]) for o in objects)
    assert len({o["color"] for o in objects}) == len(objects)
    assert all(o["parents"] and o["parents"][0] in ("Abdomen", "Spine") for o in objects)
    names = {o["category"] for o in objects}
    items = load_items(demo_dataset.items_json)
    used = {seg.category for _, t, i, _ in items.iter_series()
            for seg in t.segment_map_of(i).segments.values()}
    assert used <= names and UNMAPPED.category in names
    rb_tax = pytest.importorskip("redbrick.utils.rb_tax_utils")
    rb_tax.validate_taxonomy(tax["studyClassify"], tax["seriesClassify"],
                             tax["instanceClassify"], objects)


def test_readme_names_every_file_and_the_deliberate_problems(demo_dataset: DemoInfo) -> None:
    text = " ".join(demo_dataset.readme.read_text(encoding="utf-8").split())
    for entry in ("dicom/", "ct.nii.gz", "items.json", "taxonomy.json", MASK_I, *MASKS_II,
                  TASK_I, TASK_II, TASK_III, "view-only", "overlap group"):
        assert entry in text, entry
    assert all(s.name in text for s in STRUCTURES)


@pytest.mark.filterwarnings("error")  # writing (pydicom, nibabel) must not warn either
def test_progress_runs_to_the_end(tmp_path: Path) -> None:
    steps: list[Progress] = []
    info = run(write_demo(tmp_path / "d"), steps.append)
    assert steps[-1].fraction == 1.0 and len(steps) > 60
    assert [s.done for s in steps] == sorted(s.done for s in steps)
    assert is_demo(info.root) and (info.root / MARKER).is_file()


def test_a_cancelled_run_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "new", tmp_path / "empty"):
        work = write_demo(target)
        for _ in range(10):
            next(work)
        work.close()  # what the wizard does on Cancel
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]
    assert list((tmp_path / "empty").iterdir()) == []


def test_an_existing_folder_is_filled_from_inside(tmp_path: Path) -> None:
    root = tmp_path / "d"
    root.mkdir()
    (root / f"{SCRATCH_PREFIX}0123abcd").mkdir()  # left by a run that was killed
    make_demo(root)  # the leftover does not make the folder "not empty"
    assert is_demo(root) and not any(p.name.startswith(SCRATCH_PREFIX) for p in root.iterdir())
    assert [p.name for p in tmp_path.iterdir()] == ["d"]  # the parent was not written to


def test_refuses_a_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty") as err:
        make_demo(tmp_path)
    assert "--force" in (err.value.hint or "")
    with pytest.raises(InputError, match="is a file"):
        make_demo(tmp_path / "notes.txt")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_rewrites_an_earlier_demo_and_force_touches_only_its_own_names(tmp_path: Path) -> None:
    root = tmp_path / "d"
    make_demo(root)
    (root / "dicom" / "stale.dcm").write_bytes(b"old")
    (root / "my_export.json").write_text("[]")
    make_demo(root)  # an earlier demo needs no --force
    assert not (root / "dicom" / "stale.dcm").exists()
    assert (root / "my_export.json").read_text() == "[]"
    (root / MARKER).unlink()  # now it is just a folder with files
    with pytest.raises(InputError):
        make_demo(root)
    make_demo(root, overwrite=True)
    assert is_demo(root) and (root / "my_export.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # no temporary folders left


def test_cli_writes_the_demo_and_says_what_to_run_next(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "demo dir"
    assert main(["demo", str(root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["items_json"] == str(root / "items.json") and out["tasks"][2] == TASK_III
    assert out["next"][0] == f"segmap validate '{root}/items.json' --taxonomy '{root}/taxonomy.json'"
    (root / MARKER).unlink()  # no longer a demo: refused without --force
    assert main(["demo", str(root)]) == 1
    err = capsys.readouterr().err
    assert "segmap demo: error:" in err and "not a Segmap demo folder" in err
    assert main(["demo", str(root), "--force"]) == 0
    text = capsys.readouterr().out
    assert "segmap validate" in text and "segmap merge" in text and "README.txt" in text
