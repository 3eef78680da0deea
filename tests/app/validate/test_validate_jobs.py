"""Validation on a process pool (``jobs``) gives exactly the findings of one process."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.discover import scan
from app.items import ItemsList, Taxonomy, load_items, load_taxonomy
from app.mapping import build
from app.parallel import Jobs
from app.progress import run
from app.readers import RUNS, _nifti
from app.validate import FileCache, Finding, validate_work
from app.validate._series import check_series, series_job
from tests.app import synth_layouts as synth


def _same_for_jobs(items: ItemsList, taxonomy: Taxonomy | None = None) -> list[Finding]:
    one = run(validate_work(items, taxonomy, jobs=Jobs(1)))
    two = run(validate_work(items, taxonomy, jobs=Jobs(2)))
    assert [f.to_json() for f in two] == [f.to_json() for f in one]
    return two


def _built(folder: Path, tmp_path: Path) -> ItemsList:
    scanned = run(scan(folder))
    out = tmp_path / "out" / "items.json"
    run(build(scanned, out))
    return load_items(out)


def test_the_demo_list_validates_the_same_on_two_processes(demo_dataset: Any) -> None:
    found = _same_for_jobs(load_items(demo_dataset.items_json),
                           load_taxonomy(demo_dataset.taxonomy_json))
    assert found  # the demo is made to have something to say


@pytest.mark.parametrize("layout", [synth.nnunet, synth.msd, synth.totalseg, synth.brats,
                                    synth.kits])
def test_synthetic_lists_validate_the_same_on_two_processes(
        tmp_path: Path, layout: Callable[[Path], Path]) -> None:
    items = _built(layout(tmp_path / "ds"), tmp_path)
    assert items.tasks
    _same_for_jobs(items)


def test_missing_and_broken_masks_are_found_the_same(tmp_path: Path) -> None:
    root = synth.nnunet(tmp_path / "ds", cases=4)
    items = _built(root, tmp_path)
    masks = sorted((root / "labelsTr").glob("*.nii.gz"))
    masks[0].unlink()
    masks[2].write_bytes(masks[2].read_bytes()[:100])
    found = _same_for_jobs(items)
    assert {f.code for f in found if f.severity == "error"}


def test_a_cache_keeps_the_checks_in_this_process(tmp_path: Path) -> None:
    items = _built(synth.nnunet(tmp_path / "ds", cases=2), tmp_path)
    cache = FileCache()
    with_cache = run(validate_work(items, cache=cache, jobs=Jobs(2)))
    assert with_cache == run(validate_work(items, jobs=Jobs(1)))
    assert cache._files  # the cache was filled here, not in a worker


def test_the_shared_totalsegmentator_case_validates_the_same(shared_data: Path,
                                                            tmp_path: Path) -> None:
    root = shared_data / "totalsegmentator" / "tests" / "reference_files"
    if not root.is_dir():
        pytest.skip("no TotalSegmentator reference files in the shared data")
    items = _built(root, tmp_path)
    assert items.tasks
    _same_for_jobs(items)


def test_a_validation_keeps_no_runs_unless_a_merge_follows(tmp_path: Path) -> None:
    # the runs of every label map read were kept for a merge that a validation never
    # does: 1,000 nnU-Net cases peaked at 493 MB in one process, 279 MB in each worker
    root = synth.nnunet(tmp_path / "ds", cases=3)
    items = _built(root, tmp_path)
    masks = sorted((root / "labelsTr").glob("*.nii.gz"))
    assert masks and all(any(s.segmentations for s in t.series) for t in items.tasks)
    RUNS.clear()
    run(validate_work(items, jobs=Jobs(1)))
    assert all(RUNS.get(m) is None for m in masks)
    check_series(series_job(items, None, 0, 0))  # as a worker runs it
    assert all(RUNS.get(m) is None for m in masks)
    run(validate_work(items, jobs=Jobs(1), keep_runs=True))  # an upload: its merges read them
    assert all(RUNS.get(m) is not None for m in masks)
    RUNS.clear()
    run(validate_work(items, cache=FileCache(), jobs=Jobs(1)))  # the wizard's session cache
    assert all(RUNS.get(m) is not None for m in masks)
    RUNS.clear()


def test_a_validation_reads_each_mask_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    # the overlap check reads the census's runs: dropping them before it (rather than
    # once the series is checked) read every mask twice
    case = tmp_path / "ds" / "s0000"
    synth.save(np.zeros((48, 48, 24), np.int16), case / "ct.nii.gz")
    for k, name in enumerate(("liver", "spleen", "kidney_left")):
        arr = np.zeros((48, 48, 24), np.uint8)
        arr[4 + 12 * k:10 + 12 * k, 4:10, 4:10] = 1
        synth.save(arr, case / "segmentations" / f"{name}.nii.gz")
    items = _built(tmp_path / "ds", tmp_path)
    opened: Counter[str] = Counter()
    real = _nifti._open
    monkeypatch.setattr(_nifti, "_open", lambda p, *a, **k: opened.update([str(p)])
                        or real(p, *a, **k))
    RUNS.clear()
    run(validate_work(items, jobs=Jobs(1)))
    masks = sorted(str(p) for p in (case / "segmentations").glob("*.nii.gz"))
    assert sorted(opened) == masks and set(opened.values()) == {1}
    assert all(RUNS.get(m) is None for m in masks)  # and nothing kept after


def test_runs_are_made_only_where_a_merge_reads_them(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # one label map per series: no overlap check, no merge after segmap validate (making
    # the runs of 1,000 nnU-Net label maps for nothing cost a third of the validation)
    import app.validate._files as files

    items = _built(synth.nnunet(tmp_path / "ds", cases=2), tmp_path)
    asked: list[bool] = []
    real = files.census
    monkeypatch.setattr(files, "census", lambda p, info=None, keep_runs=True: asked.append(
        keep_runs) or real(p, info, keep_runs=keep_runs))
    run(validate_work(items, jobs=Jobs(1)))
    assert asked == [False, False]
    run(validate_work(items, jobs=Jobs(1), keep_runs=True))  # an upload merges each series
    assert asked[2:] == [True, True]
