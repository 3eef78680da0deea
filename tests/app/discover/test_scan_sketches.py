"""While a scan counts labels, its progress carries the cases so far, filled in as each
mask's census comes back: what the wizard's Cases page shows before the scan ends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.discover import CaseSketch, ScanProgress, ScanResult, scan
from app.discover import _scan as scan_module
from app.errors import InputError
from app.items import ImportShape
from app.parallel import Jobs
from app.progress import Progress, run
from tests.app import synth_layouts as synth

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"


def _scan(root: Path, jobs: Jobs) -> tuple[ScanResult, list[tuple[CaseSketch, ...]]]:
    steps: list[Progress] = []
    result = run(scan(root, jobs=jobs), steps.append)
    return result, [s.cases for s in steps if isinstance(s, ScanProgress)]


def _agrees(sketch: tuple[CaseSketch, ...], result: ScanResult) -> None:
    """The last sketch is the scan's cases (when no image splits into several)."""
    cases = sorted(result.cases, key=lambda c: c.name)
    assert [s.name for s in sketch] == [c.name for c in cases]
    assert all(s.ready for s in sketch)
    assert [s.shapes for s in sketch] == [(c.shape,) for c in cases]
    assert [len(s.masks) for s in sketch] == [len(c.masks) for c in cases]
    assert [s.image for s in sketch] == [c.image.label for c in cases]


@pytest.mark.parametrize("n", [1, 2])
def test_rows_are_all_there_once_paired_and_fill_in_as_masks_are_counted(
        tmp_path: Path, n: int) -> None:
    root = synth.nnunet(tmp_path / "ds", cases=9)
    result, sketches = _scan(root, Jobs(n))
    first, last = sketches[0], sketches[-1]
    assert len(first) == 9 and not any(s.ready for s in first)  # every case, none counted
    assert all(s.status().startswith("counting labels: 0 of 1") for s in first)
    done = [sum(s.ready for s in sk) for sk in sketches]
    assert done == sorted(done) and done[-1] == 9  # rows only ever fill in
    _agrees(last, result)
    assert all(s.labels == len(result.censuses[c.masks[0]].nonzero)
               for s, c in zip(last, sorted(result.cases, key=lambda c: c.name), strict=True))


@pytest.mark.parametrize("layout", [synth.totalseg, synth.brats, synth.kits, synth.msd])
def test_the_last_sketch_is_the_scans_cases(tmp_path: Path,
                                            layout: Callable[[Path], Path]) -> None:
    layout(tmp_path / "ds")
    result, sketches = _scan(tmp_path / "ds", Jobs(1))
    _agrees(sketches[-1], result)
    for s, c in zip(sketches[-1], sorted(result.cases, key=lambda c: c.name), strict=True):
        if c.shape is ImportShape.BINARY_MASKS:  # one structure per non-empty mask
            full = sum(not result.censuses[m].empty for m in c.masks)
            assert s.status().startswith(f"{full} structure(s)")
        else:
            assert s.status().startswith(f"{s.labels} label(s)")


def test_a_mask_whose_census_fails_is_counted_as_failed_not_waited_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = synth.nnunet(tmp_path / "ds", cases=3)
    real = scan_module.census

    def census(path: Path, info: object = None, **kw: object) -> object:
        if Path(path).name == "case_001.nii.gz":
            raise InputError(f"{path} is truncated: the compressed data ends early.")
        return real(path, info, **kw)

    monkeypatch.setattr(scan_module, "census", census)  # in this process: Jobs(1)
    result, sketches = _scan(root, Jobs(1))
    row = next(s for s in sketches[-1] if s.name == "case_001")
    assert row.ready and row.failed == 1 and row.counted == 0
    assert "1 unreadable mask(s)" in row.status()
    assert "case_001" not in {c.name for c in result.cases}  # the scan leaves it out


def test_real_datasets_sketch_what_they_scan_to() -> None:
    folders = [f for f in (SHARED / "totalsegmentator" / "tests" / "reference_files",
                           SHARED / "nnunet") if f.is_dir()]
    if not folders:
        pytest.skip("the shared data is not here")
    for folder in folders:
        result, sketches = _scan(folder, Jobs(2))
        names = {c.name for c in result.cases}
        assert sketches, folder
        for s in sketches[-1]:
            assert s.ready
            if len(s.shapes) == 1:  # an image split by shape has its own names at the end
                assert s.name in names, (folder, s.name)
