"""A scan on a process pool (``jobs``) finds exactly what a scan in one process finds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app import parallel
from app.cli import main
from app.discover import ScanResult, scan
from app.parallel import Jobs
from app.progress import run
from app.readers import RUNS
from tests.app import synth_layouts as synth


def _seen(r: ScanResult) -> dict[str, Any]:
    """Everything a scan gives, in its order (censuses as JSON: their affines are arrays)."""
    return {"json": r.to_json(), "censuses": [(str(p), c.to_json()) for p, c in
                                             r.censuses.items()],
            "cases": [r.case_json(c) for c in r.cases], "warnings": r.warnings,
            "unpaired": [u.to_json() for u in r.unpaired],
            "pairs": [(p.image.label, p.mask.label, p.evidence) for p in r.pairing.pairs]}


def _same_for_jobs(root: Path) -> ScanResult:
    one = run(scan(root, jobs=Jobs(1)))
    two = run(scan(root, jobs=Jobs(2)))
    assert _seen(two) == _seen(one)
    return two


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_the_demo_dataset_scans_the_same_on_two_processes(
        demo_dataset: Any, method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "start_method", lambda: method)  # forkserver: the wizard's
    assert _same_for_jobs(demo_dataset.root).cases


@pytest.mark.parametrize("layout", [synth.nnunet, synth.msd, synth.totalseg, synth.brats,
                                    synth.kits])
def test_synthetic_layouts_scan_the_same_on_two_processes(
        tmp_path: Path, layout: Callable[[Path], Path]) -> None:
    layout(tmp_path / "ds")
    assert _same_for_jobs(tmp_path / "ds").cases


def test_a_mask_that_cannot_be_read_is_reported_the_same(tmp_path: Path) -> None:
    root = synth.nnunet(tmp_path / "ds", cases=4)
    (root / "labelsTr" / "case_001.nii.gz").unlink()
    broken = synth.labelmap(root / "labelsTr" / "case_001.nii")
    broken.write_bytes(broken.read_bytes()[:400])  # its header, then half its voxels
    r = _same_for_jobs(root)
    assert [u.file for u in r.unpaired if u.kind == "mask"] == ["labelsTr/case_001.nii"]
    assert len(r.cases) == 3


def test_the_census_runs_are_kept_for_the_merge_when_a_worker_read_them(tmp_path: Path
                                                                         ) -> None:
    root = synth.nnunet(tmp_path / "ds", cases=3)
    RUNS.clear()
    r = run(scan(root, jobs=Jobs(2)))
    assert r.masks and all(RUNS.get(m.path) is not None for m in r.masks)


def test_the_shared_totalsegmentator_masks_scan_the_same(shared_data: Path) -> None:
    root = shared_data / "totalsegmentator" / "tests" / "reference_files"
    if not root.is_dir():
        pytest.skip("no TotalSegmentator reference files in the shared data")
    r = _same_for_jobs(root)
    assert len(r.masks) >= 117


@pytest.mark.parametrize("command", ["scan", "build", "validate", "report"])
@pytest.mark.parametrize("bad", ["0", "-2", "two"])
def test_jobs_must_be_a_whole_number_of_one_or_more(
        command: str, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main([command, "x", "-o", "y", "--jobs", bad] if command in ("build", "report")
             else [command, "x", "--jobs", bad])
    assert stop.value.code == 2
    assert f"--jobs takes a whole number of 1 or more, not '{bad}'" in capsys.readouterr().err


def test_segmap_scan_and_validate_print_the_same_for_any_jobs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = synth.kits(tmp_path / "ds")
    printed = []
    for n in ("1", "2"):
        assert main(["scan", str(root), "--json", "-q", "--jobs", n]) == 0
        out = tmp_path / f"items-{n}.json"
        assert main(["build", str(root), "-o", str(out), "-q", "--jobs", n]) == 0
        main(["validate", str(out), "--json", "-q", "--jobs", n])
        printed.append(capsys.readouterr().out.replace(f"items-{n}", "items"))
    assert printed[0] == printed[1]


@pytest.mark.parametrize("folder", ["dicom2nifti", "dcmqi", "highdicom", "dcm_qa_ts"])
def test_the_shared_dicom_folders_scan_the_same(shared_data: Path, folder: str) -> None:
    root = shared_data / folder
    if not root.is_dir():
        pytest.skip(f"no {folder} in the shared data")
    run(scan(root))  # SEG / RTSTRUCT conversions into the cache first: "reused" then in both
    _same_for_jobs(root)


@pytest.mark.parametrize("n", [1, 2])
def test_a_scan_that_keeps_no_runs_finds_the_same_and_keeps_none(tmp_path: Path,
                                                                 n: int) -> None:
    root = synth.kits(tmp_path / "ds")
    RUNS.clear()
    kept = run(scan(root, jobs=Jobs(n)))
    assert len(RUNS)  # the runs a later merge reads instead of the files
    RUNS.clear()
    lean = run(scan(root, jobs=Jobs(n), keep_runs=False))  # what `segmap scan` runs
    assert _seen(lean) == _seen(kept)
    assert not len(RUNS)
