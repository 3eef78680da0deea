"""Matching local tasks to tasks already in RedBrick, and refusing masks off the remote grid."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from app.items import ItemsList, load_items
from app.readers import dicom_image_series
from app.upload import Match, MatchBy, MatchResult, match_tasks
from app.upload._remote import RemoteSeries, RemoteTask

from ..builders import image, items_file, nifti, volume
from ..dicom_synth import axial_positions, write_series

LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def headers_of(shape: tuple[int, ...], affine: Any, **extra: Any) -> tuple[dict[str, Any], ...]:
    """imageHeaders as RedBrick keeps them (SimpleITK's names, LPS) for a RAS grid."""
    lps = LPS @ np.asarray(affine, float)
    spacing = np.sqrt((lps[:3, :3] ** 2).sum(axis=0))
    return ({"dimensions": list(shape), "spacing": spacing.tolist(),
             "origin": lps[:3, 3].tolist(),
             "direction": (lps[:3, :3] / spacing).ravel().tolist(), **extra},)


def remote(name: str, *series: RemoteSeries, task_id: str | None = None) -> RemoteTask:
    return RemoteTask(task_id or f"id-{name}", name, "Label", tuple(series))


def rseries(name: str | None = "CT", shape: tuple[int, ...] | None = (4, 3, 2),
            affine: Any = None, n: int = 1, **kw: Any) -> RemoteSeries:
    headers = headers_of(shape, np.eye(4) if affine is None else affine) if shape else None
    return RemoteSeries(name, n, "NIFTI", image_headers=headers, **kw)


def case(folder: Path, name: str | None, series_name: str | None = "CT",
         mask_shape: tuple[int, int, int] = (4, 3, 2), mask_affine: Any = None,
         with_image: bool = True) -> dict[str, Any]:
    """A task with a NIfTI image (4x3x2, identity affine) and one mask, written under
    ``folder/<name>``; returns its items-list entry."""
    sub = folder / (name or "unnamed")
    if with_image:
        image(sub / "image.nii.gz")
    nifti(sub / "seg.nii.gz", volume({(0, 0, 0): 1}, shape=mask_shape), mask_affine)
    series: dict[str, Any] = {"items": f"{sub.name}/image.nii.gz",
                              "segmentations": [f"{sub.name}/seg.nii.gz"],
                              "segmentMap": {"1": "liver"}}
    if series_name is not None:
        series["name"] = series_name
    return {"name": name, "series": [series]} if name is not None else {"series": [series]}


def items_of(folder: Path, *tasks: dict[str, Any]) -> ItemsList:
    return load_items(items_file(folder, list(tasks)))


def names(result: MatchResult) -> dict[int, str]:
    return {m.task_index: m.remote.name for m in result.matches}


def only_match(result: MatchResult) -> Match:
    assert len(result.matches) == 1, result
    return result.matches[0]


# -- by task name -----------------------------------------------------------------------

def test_name_matches_exactly_and_lists_remote_tasks_left_over(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "case-1"), case(tmp_path, "case-2"))
    project = [remote("case-2", rseries()), remote("case-1", rseries()), remote("other", rseries())]
    result = match_tasks(items, project, MatchBy.NAME)
    assert names(result) == {0: "case-1", 1: "case-2"}
    assert all(m.how == "task name" for m in result.matches)
    assert [r.name for r in result.unmatched_remote] == ["other"]
    assert not result.unmatched_local and not result.ambiguous and not result.refused
    assert "imageHeaders" in (result.matches[0].grid or "")


def test_name_ignores_case_only_where_no_exact_name_took_the_remote_task(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "Case-1"), case(tmp_path, "CASE-2"),
                     case(tmp_path, "case-1"))
    project = [remote("case-1", rseries()), remote("case-2", rseries())]
    result = match_tasks(items, project, MatchBy.NAME)
    # "case-1" is taken exactly; "Case-1" must not also claim it (that would be ambiguous)
    assert names(result) == {1: "case-2", 2: "case-1"}
    assert "ignoring case" in result.matches[0].how
    assert result.unmatched_local[0][0] == 0
    assert "'Case-1'" in result.unmatched_local[0][1]


def test_name_missing_says_so_with_the_closest_name(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "patient_01"))
    result = match_tasks(items, [remote("patient_001", rseries())], MatchBy.NAME)
    assert not result.matches
    (ti, reason), = result.unmatched_local
    assert ti == 0 and "'patient_01'" in reason and "closest is 'patient_001'" in reason
    assert [r.name for r in result.unmatched_remote] == ["patient_001"]


def test_two_local_tasks_on_one_remote_task_are_ambiguous(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "CASE-1"), case(tmp_path, "Case-1"))
    project = [remote("case-1", rseries())]
    result = match_tasks(items, project, MatchBy.NAME)
    assert not result.matches
    assert [(ti, [r.name for r in rs]) for ti, rs in result.ambiguous] == [
        (0, ["case-1"]), (1, ["case-1"])]
    assert [r.name for r in result.unmatched_remote] == ["case-1"]


def test_a_name_two_remote_tasks_share_is_ambiguous(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "case-1"))
    project = [remote("case-1", rseries(), task_id="a"), remote("case-1", rseries(), task_id="b")]
    result = match_tasks(items, project, MatchBy.NAME)
    assert not result.matches
    assert [r.task_id for r in result.ambiguous[0][1]] == ["a", "b"]


def test_an_unnamed_task_matches_by_the_name_redbrick_gave_it(tmp_path):
    items = items_of(tmp_path, case(tmp_path, None))
    result = match_tasks(items, [remote("unnamed/image.nii.gz", rseries())], MatchBy.NAME)
    assert names(result) == {0: "unnamed/image.nii.gz"}


# -- by series name ---------------------------------------------------------------------

def test_series_name_matches_and_unnamed_series_are_skipped_with_a_reason(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "a", series_name="ct_001"),
                     case(tmp_path, "b", series_name=None),
                     case(tmp_path, "c", series_name="ct_003"))
    project = [remote("t1", rseries("ct_001")), remote("t3", rseries("ct_003")),
               remote("t9", rseries("ct_009"))]
    result = match_tasks(items, project, MatchBy.SERIES)
    assert names(result) == {0: "t1", 2: "t3"}
    assert result.matches[0].how == "series name 'ct_001'"
    (ti, reason), = result.unmatched_local
    assert ti == 1 and "none of its series has a name" in reason


def test_a_series_name_in_two_remote_tasks_is_ambiguous(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "a", series_name="CT"))
    result = match_tasks(items, [remote("t1", rseries("CT")), remote("t2", rseries("CT"))],
                         MatchBy.SERIES)
    assert not result.matches
    assert [r.name for r in result.ambiguous[0][1]] == ["t1", "t2"]


def test_series_name_unknown_remotely(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "a", series_name="PET"))
    result = match_tasks(items, [remote("t1", rseries("CT"))], MatchBy.SERIES)
    assert "no remote task has a series named 'PET'" in result.unmatched_local[0][1]


# -- by DICOM UID -----------------------------------------------------------------------

def dicom_case(folder: Path, name: str, uid: str, slices: int = 3) -> tuple[dict[str, Any], Any]:
    """A task whose image is a synthetic DICOM series (3x4xN) with a mask on its grid."""
    files = write_series(folder / name / "dicom", axial_positions(range(slices)), uid=uid)
    grid = dicom_image_series(files).grid
    assert grid is not None
    nifti(folder / name / "seg.nii.gz", volume({(0, 0, 0): 1}, shape=grid.shape), grid.affine)
    return {"name": name, "series": [{
        "items": [str(f.relative_to(folder)) for f in files],
        "segmentations": f"{name}/seg.nii.gz", "segmentMap": {"1": "liver"}}]}, grid


def slice_headers(grid: Any, slices: int) -> tuple[dict[str, Any], ...]:
    """One 2-D header per DICOM instance, as for a DICOM series (origins per slice)."""
    (one,) = headers_of((grid.shape[0], grid.shape[1], 1), grid.affine)
    step = (LPS @ grid.affine)[:3, 2]
    return tuple({**one, "origin": (np.array(one["origin"]) + k * step).tolist()}
                 for k in range(slices))


def test_uid_matches_series_uid_then_study_uid_when_the_remote_lacks_one(tmp_path):
    task_a, _ = dicom_case(tmp_path, "a", "1.2.826.1")
    task_b, _ = dicom_case(tmp_path, "b", "1.2.826.2")
    items = items_of(tmp_path, task_a, task_b)
    project = [remote("by-series", RemoteSeries("CT", 3, "DICOM", series_uid="1.2.826.1",
                                                study_uid="1.2.3.4")),
               # the synthetic series all share StudyInstanceUID 1.2.3.4
               remote("by-study", RemoteSeries("CT", 3, "DICOM", study_uid="1.2.3.4"))]
    result = match_tasks(items, project, MatchBy.UID)
    assert names(result) == {0: "by-series", 1: "by-study"}
    assert result.matches[0].how == "SeriesInstanceUID"
    assert result.matches[1].how.startswith("StudyInstanceUID")
    # no imageHeaders: the local DICOM image's grid was the reference
    assert result.matches[0].grid == "the local image's headers"


def test_uid_a_known_different_series_uid_is_not_matched_by_study(tmp_path):
    task_a, _ = dicom_case(tmp_path, "a", "1.2.826.1")
    items = items_of(tmp_path, task_a)
    project = [remote("other", RemoteSeries("CT", 3, "DICOM", series_uid="1.2.826.99",
                                            study_uid="1.2.3.4"))]
    result = match_tasks(items, project, MatchBy.UID)
    assert not result.matches
    assert "SeriesInstanceUID 1.2.826.1" in result.unmatched_local[0][1]


def test_uid_nifti_images_have_none(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "a"))
    result = match_tasks(items, [remote("a", rseries())], MatchBy.UID)
    assert "NIfTI or NRRD, which carries no DICOM UIDs" in result.unmatched_local[0][1]


def test_per_instance_dicom_headers_make_the_volume(tmp_path):
    task_a, grid = dicom_case(tmp_path, "a", "1.2.826.1", slices=3)
    items = items_of(tmp_path, task_a)
    fits = RemoteSeries("CT", 3, "DICOM", image_headers=slice_headers(grid, 3),
                        series_uid="1.2.826.1")
    assert names(match_tasks(items, [remote("a", fits)], MatchBy.UID)) == {0: "a"}
    taller = RemoteSeries("CT", 5, "DICOM", image_headers=slice_headers(grid, 5),
                          series_uid="1.2.826.1")
    result = match_tasks(items, [remote("a", taller)], MatchBy.UID)
    assert not result.matches and result.refused[0][0] == 0
    assert "3x4x3" in result.refused[0][1] and "3x4x5" in result.refused[0][1]


# -- the grid check -----------------------------------------------------------------------

def test_a_mask_off_the_remote_grid_is_refused_with_both_grids(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "a", mask_shape=(4, 3, 3)),
                     case(tmp_path, "b"))
    project = [remote("a", rseries("CT")), remote("b", rseries("CT"))]
    result = match_tasks(items, project, MatchBy.NAME)
    assert names(result) == {1: "b"}
    (ti, message), = result.refused
    assert ti == 0
    for part in ("seg.nii.gz", "'a'", "series 'CT'", "4x3x3, 1x1x1 mm", "4x3x2, 1x1x1 mm"):
        assert part in message
    assert not result.unmatched_remote  # it was matched; it is refused, not left over


def test_spacing_and_origin_from_the_headers_are_checked(tmp_path):
    shifted = np.diag([1.0, 1.0, 2.0, 1.0])
    items = items_of(tmp_path, case(tmp_path, "a", mask_affine=shifted))
    result = match_tasks(items, [remote("a", rseries())], MatchBy.NAME)
    assert "1x1x2 mm" in result.refused[0][1]
    moved = np.eye(4)
    moved[:3, 3] = [0.3, 0, 0]
    items = items_of(tmp_path, case(tmp_path, "a", mask_affine=moved))
    assert match_tasks(items, [remote("a", rseries())], MatchBy.NAME).refused


def test_a_mask_stored_with_flipped_axes_but_the_same_voxels_fits(tmp_path):
    flipped = np.diag([-1.0, 1.0, 1.0, 1.0])
    flipped[0, 3] = 3.0  # the same voxel centres, the i axis reversed
    items = items_of(tmp_path, case(tmp_path, "a", mask_affine=flipped))
    assert names(match_tasks(items, [remote("a", rseries())], MatchBy.NAME)) == {0: "a"}


def test_without_headers_the_local_image_is_the_reference(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "a", mask_shape=(4, 3, 3)))
    result = match_tasks(items, [remote("a", rseries(shape=None))], MatchBy.NAME)
    assert "from the local image's headers" in result.refused[0][1]


def test_without_headers_or_image_only_the_slice_count_is_checked(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "a", with_image=False))
    five = match_tasks(items, [remote("a", rseries(shape=None, n=5))], MatchBy.NAME)
    assert "has 5 slices" in five.refused[0][1]
    two = match_tasks(items, [remote("a", rseries(shape=None, n=2))], MatchBy.NAME)
    assert only_match(two).grid == "the remote instance count (slices only)"


def test_an_unreadable_mask_is_refused_not_raised(tmp_path):
    entry = case(tmp_path, "a")
    (tmp_path / "a" / "seg.nii.gz").write_bytes(b"not a nifti file at all")
    result = match_tasks(items_of(tmp_path, entry), [remote("a", rseries())], MatchBy.NAME)
    assert not result.matches
    assert "seg.nii.gz" in result.refused[0][1] and "cannot be read" in result.refused[0][1]


def test_a_missing_mask_is_refused(tmp_path):
    entry = case(tmp_path, "a")
    (tmp_path / "a" / "seg.nii.gz").unlink()
    result = match_tasks(items_of(tmp_path, entry), [remote("a", rseries())], MatchBy.NAME)
    assert "not found" in result.refused[0][1]


def test_check_grid_off_keeps_the_match(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "a", mask_shape=(4, 3, 3)))
    result = match_tasks(items, [remote("a", rseries())], MatchBy.NAME, check_grid=False)
    assert only_match(result).grid is None and not result.refused


def test_a_local_series_with_no_remote_counterpart_is_refused(tmp_path):
    entry = case(tmp_path, "a", series_name="PET")
    items = items_of(tmp_path, entry)
    project = [remote("a", rseries("CT"), rseries("MR"), rseries("US"))]
    result = match_tasks(items, project, MatchBy.NAME)
    assert "cannot be told" in result.refused[0][1] and "CT, MR, US" in result.refused[0][1]


def test_root_resolves_relative_paths(tmp_path):
    data = tmp_path / "data"
    entry = case(data, "a", mask_shape=(4, 3, 3))
    items = load_items(items_file(tmp_path, [entry]))  # paths are relative to data/
    result = match_tasks(items, [remote("a", rseries())], MatchBy.NAME, root=data)
    assert "4x3x3" in result.refused[0][1]


# -- real data ----------------------------------------------------------------------------

def test_117_real_masks_fit_their_ct_and_a_mismatched_image_refuses(shared_data, tmp_path):
    ref = shared_data / "totalsegmentator" / "tests" / "reference_files"
    masks = sorted((ref / "example_seg_fast").glob("*.nii.gz"))
    if not masks:
        pytest.skip("TotalSegmentator's binary masks are absent")
    task = {"name": "ct", "series": [{"name": "CT", "items": str(ref / "example_ct_sm.nii.gz"),
                                      "segmentations": [str(m) for m in masks]}]}
    items = items_of(tmp_path, task)
    small = nib.load(ref / "example_ct_sm.nii.gz")
    headers = headers_of(small.shape, small.affine)
    start = time.perf_counter()
    result = match_tasks(items, [remote("ct", RemoteSeries("CT", 1, image_headers=headers))],
                         MatchBy.NAME)
    assert time.perf_counter() - start < 10  # headers only
    assert names(result) == {0: "ct"}, result.refused
    big = nib.load(ref / "example_ct.nii.gz")  # 122x101x112: not the masks' image
    wrong = RemoteSeries("CT", 1, image_headers=headers_of(big.shape, big.affine))
    refused = match_tasks(items, [remote("ct", wrong)], MatchBy.NAME)
    assert not refused.matches and "122x101x112" in refused.refused[0][1]


def test_remote_headers_that_give_no_grid_fall_back_to_the_local_image(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "a", mask_shape=(4, 3, 3)))
    odd = RemoteSeries("CT", 1, image_headers=({"dimensions": [4, 3, 2], "totalFrames": "x"},
                                               {"dimensions": "?"}))
    result = match_tasks(items, [remote("a", odd)], MatchBy.NAME)
    assert "from the local image's headers" in result.refused[0][1]
    flat = RemoteSeries("CT", 1, image_headers=({"dimensions": [4, 3, 2],
                                                 "spacing": [1, 1, 0]},))
    result = match_tasks(items, [remote("a", flat)], MatchBy.NAME)
    assert "from the local image's headers" in result.refused[0][1]


def test_real_dicom_series_with_nrrd_and_dicom_seg_masks_by_uid(shared_data, tmp_path):
    from ..builders import dcmqi_case

    folder = dcmqi_case(shared_data, tmp_path / "case")
    (folder / "liver.dcm").symlink_to(shared_data / "dcmqi" / "data" / "segmentations"
                                      / "liver.dcm")
    slices = sorted((folder / "image").iterdir())
    series = dicom_image_series(slices)
    assert series.grid is not None
    task = {"name": "ct", "series": [{"items": [f"image/{p.name}" for p in slices],
                                      "segmentations": ["liver_seg.nrrd", "liver.dcm"]}]}
    items = load_items(items_file(folder, [task]))
    here = RemoteSeries(None, 3, "DICOM", series_uid=series.series_uid)
    result = match_tasks(items, [remote("x", here)], MatchBy.UID)
    assert only_match(result).how == "SeriesInstanceUID", result.refused
    assert result.matches[0].grid == "the local image's headers"
    headers = RemoteSeries(None, 3, "DICOM", series_uid=series.series_uid,
                           image_headers=slice_headers(series.grid, 3))
    fits = match_tasks(items, [remote("x", headers)], MatchBy.UID)
    assert "imageHeaders" in (only_match(fits).grid or ""), fits.refused
    more = RemoteSeries(None, 3, "DICOM", series_uid=series.series_uid,
                        image_headers=slice_headers(series.grid, 4))
    refused = match_tasks(items, [remote("x", more)], MatchBy.UID)
    assert "liver_seg.nrrd" in refused.refused[0][1] and "liver.dcm" in refused.refused[0][1]


def test_a_local_image_with_another_slice_count_than_the_remote_series_refuses(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "a"))  # image and mask 4x3x2
    result = match_tasks(items, [remote("a", rseries(shape=None, n=7))], MatchBy.NAME)
    assert "the remote series has 7 slices" in result.refused[0][1]
    assert result.refused[0][1].startswith("Not sent: mask seg.nii.gz")
