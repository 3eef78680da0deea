"""RT Structure Sets for the tests, written with rt-utils (what RedBrick's SDK reads them with)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
from rt_utils import RTStructBuilder

from tests.app.dicom_synth import axial_positions, write_series

# What rt-utils copies from the slices into a new structure set.
STUDY = {"StudyDate": "20240101", "StudyTime": "120000", "StudyID": "1",
         "PatientBirthDate": "", "PatientSex": "O", "ReferringPhysicianName": "",
         "AccessionNumber": "", "FrameOfReferenceUID": "1.2.826.0.1.3680043.8.498.1"}


def write_rtstruct(series_folder: Path, path: Path, masks: dict[str, np.ndarray]) -> Path:
    """An RTSTRUCT of ``masks`` ([column, row, slice] in Segmap's order) by rt-utils."""
    rt = RTStructBuilder.create_new(dicom_series_path=str(series_folder))
    uids = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID
            for f in sorted(series_folder.iterdir())]
    z = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID:
         float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2])
         for f in sorted(series_folder.iterdir())}
    ours = sorted(uids, key=lambda u: z[u])  # Segmap's slices: ascending along the normal
    order = [ours.index(ds.SOPInstanceUID) for ds in rt.series_data]
    for name, mask in masks.items():
        rt.add_roi(mask=np.ascontiguousarray(mask.transpose(1, 0, 2)[:, :, order]), name=name)
    rt.save(str(path))
    return path


def ball(shape: tuple[int, int, int], centre: tuple[float, float, float], r: float
         ) -> np.ndarray:
    i, j, k = np.indices(shape)
    return ((i - centre[0]) ** 2 + (j - centre[1]) ** 2 + 4 * (k - centre[2]) ** 2) <= r * r


SHAPE = (32, 32, 5)


def write_rt_list(folder: Path) -> Path:
    """A series, a structure set of three ROIs (Cord overlaps Liver; Body holds both), and an
    items list whose map names two of them (in another order than the file's) and one ROI it
    lacks."""
    files = write_series(folder / "ct", axial_positions([1.5 * k for k in range(5)]),
                         rows=32, cols=32, spacing=(0.8, 0.8), **STUDY)
    (folder / "rt").mkdir()
    write_rtstruct(folder / "ct", folder / "rt" / "rs.dcm",
                   {"Liver": ball(SHAPE, (12, 12, 2), 7), "Cord": ball(SHAPE, (16, 16, 2), 4),
                    "Body": ball(SHAPE, (16, 16, 2), 14)})
    items = [{"name": "p1", "series": [{
        "items": [f"ct/{f.name}" for f in files], "segmentations": "rt/rs.dcm",
        "segmentMap": {"Cord": "category-b", "Spleen": "spleen", "Liver": "category-a"}}]}]
    path = folder / "items.json"
    path.write_text(json.dumps(items))
    return path


def write_rt_folder(folder: Path) -> Path:
    """A patient folder: a series in ct/ and a structure set of three ROIs apart in rt/."""
    write_series(folder / "ct", axial_positions([1.5 * k for k in range(5)]), rows=32,
                 cols=32, spacing=(0.8, 0.8), **STUDY)
    (folder / "rt").mkdir()
    write_rtstruct(folder / "ct", folder / "rt" / "rs.dcm",
                   {"Liver": ball(SHAPE, (10, 10, 2), 6), "Cord": ball(SHAPE, (24, 22, 2), 4),
                    "Couch": ball(SHAPE, (24, 6, 2), 3)})
    return folder


def add_nifti_task(items_path: Path, segment_map: dict[str, str]) -> None:
    """Add a task with a NIfTI image and mask (4x4x2) to the list at ``items_path``."""
    import nibabel as nib

    img = nib.Nifti1Image(np.ones((4, 4, 2), np.uint8), np.eye(4))
    nib.save(img, items_path.parent / "m.nii.gz")
    nib.save(img, items_path.parent / "im.nii.gz")
    data = json.loads(items_path.read_text())
    data.append({"name": "p2", "series": [{"items": "im.nii.gz", "segmentations": "m.nii.gz",
                                           "segmentMap": segment_map}]})
    items_path.write_text(json.dumps(data))


TOTALSEG = "totalsegmentator/tests/reference_files"


def real_ct_organs(shared_data: Path, folder: Path) -> dict[str, np.ndarray]:
    """TotalSegmentator's real 20-slice CT copied into ``folder`` (its anonymised UIDs filled
    in, which rt-utils needs); returns its organs with more than 50 voxels (spleen, liver,
    kidneys) as masks on the series' grid."""
    import nibabel as nib

    from app.geometry import Grid, align_to_image, compare_grids
    from app.readers import dicom_image_series

    root = shared_data / TOTALSEG
    folder.mkdir(parents=True)
    uid = pydicom.uid.generate_uid()
    for f in sorted((root / "example_ct_dicom").iterdir()):
        ds = pydicom.dcmread(f)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SeriesInstanceUID = uid
        ds.save_as(folder / f"{f.name}.dcm")
    series = dicom_image_series(sorted(folder.iterdir()))
    img = nib.load(root / "example_seg_dicom.nii.gz")
    assert series.grid is not None
    labels = align_to_image(np.asanyarray(img.dataobj),
                            compare_grids(series.grid, Grid.of(img.shape, img.affine)))
    names = {1: "spleen", 5: "liver", 2: "kidney_right", 3: "kidney_left"}
    return {n: labels == v for v, n in names.items() if (labels == v).sum() > 50}


def write_real_ct_rt(shared_data: Path, folder: Path) -> dict[str, np.ndarray]:
    """``real_ct_organs`` in ``folder/ct`` and its organs as an rt-utils structure set
    ``folder/rt/organs.dcm``; returns the organs' masks on the series' grid."""
    organs = real_ct_organs(shared_data, folder / "ct")
    (folder / "rt").mkdir()
    write_rtstruct(folder / "ct", folder / "rt" / "organs.dcm", organs)
    return organs
