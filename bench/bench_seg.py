"""Reading DICOM SEG and RTSTRUCT onto a 512x512x300 CT, against highdicom and rt-utils alone.

Data (written once under /tmp/segmap-bench-seg): the synthetic uncompressed CT of
``bench_dicom_load`` (512x512x300), a BINARY SEG of 117 non-overlapping segments on it
(written by highdicom from a label map, empty frames omitted, as TotalSegmentator's 117
structures would be), and an RT Structure Set of 50 ROIs written by rt-utils.

* SEG reference: ``highdicom.seg.segread`` + ``get_volume(combine_segments=True)`` (the
  segments decoded into one label-map volume on the SEG's own frames).
  segmap: ``read_seg(seg, series files)`` (scans the series' headers, decodes with
  highdicom, maps onto the series' grid), and ``read_seg(seg)`` on the SEG's own frames.
* RTSTRUCT reference: ``RTStructBuilder.create_from`` + ``get_roi_mask_by_name`` for every
  ROI; segmap: ``read_rtstruct(rt, series files)``.

Run: python -m bench.bench_seg [--rounds N]   (fresh processes; median of N, default 1)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from bench import harness
from bench.bench_dicom_load import make_series

ROOT = Path("/tmp/segmap-bench-seg")
SEGMENTS = 117
ROIS = 50


def _labels(shape: tuple[int, int, int], n: int) -> np.ndarray:
    """``n`` non-overlapping ellipsoids ([column, row, slice]) on a 13x9 lattice, each ~40
    slices long, numbered from 1."""
    out = np.zeros(shape, np.uint8)
    i, j = np.mgrid[0:shape[0], 0:shape[1]]
    for s in range(n):
        ci, cj = 20 + 36 * (s % 13), 30 + 52 * ((s // 13) % 9)
        ck = 20 + (s * 37) % (shape[2] - 40)
        disc = ((i - ci) / 16.0) ** 2 + ((j - cj) / 22.0) ** 2
        for k in range(ck - 20, ck + 20):
            r = 1 - ((k - ck) / 20.0) ** 2
            out[:, :, k][disc <= r] = s + 1
    return out


STUDY = {"StudyDate": "20240101", "StudyTime": "120000", "StudyID": "1",
         "PatientBirthDate": "", "PatientSex": "O", "ReferringPhysicianName": "",
         "AccessionNumber": "", "FrameOfReferenceUID": "1.2.826.0.1.3680043.8.498.77"}


def _add_study(folder: Path) -> None:
    """The study attributes highdicom and rt-utils copy, added to the bench's own slices."""
    import pydicom

    done = folder / ".study"
    if done.exists():
        return
    for f in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        for key, value in STUDY.items():
            setattr(ds, key, value)
        ds.save_as(f)
    done.touch()


def make_data() -> tuple[Path, Path, Path]:
    """The CT folder, the SEG and the RTSTRUCT (written once)."""
    import highdicom as hd
    import pydicom
    from pydicom.uid import generate_uid
    from rt_utils import RTStructBuilder

    from app.progress import run
    from app.readers.dicom import scan_dicom

    folder = make_series(ROOT, compressed=False)
    _add_study(folder)
    seg_path, rt_path = ROOT / "seg-117.dcm", ROOT / "rt-50.dcm"
    (series,) = run(scan_dicom(folder))
    assert series.grid is not None
    labels = _labels(series.grid.shape, SEGMENTS)
    if not seg_path.exists():
        algo = hd.AlgorithmIdentificationSequence(
            "bench", hd.sr.CodedConcept("123109", "DCM", "M"), "1")
        descriptions = [hd.seg.SegmentDescription(
            s + 1, f"structure {s + 1}", hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
            hd.sr.CodedConcept("10200004", "SCT", "Liver"), "AUTOMATIC", algo)
            for s in range(SEGMENTS)]
        sources = [pydicom.dcmread(f, stop_before_pixels=True) for f in series.files]
        seg = hd.seg.Segmentation(
            sources, labels.transpose(2, 1, 0),
            hd.seg.SegmentationTypeValues.BINARY, descriptions, generate_uid(), 99,
            generate_uid(), 1, "Segmap bench", "bench", "1", "1")
        seg.save_as(seg_path)
    if not rt_path.exists():
        rt = RTStructBuilder.create_new(str(folder))
        uids = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in series.files]
        order = [uids.index(ds.SOPInstanceUID) for ds in rt.series_data]
        for s in range(ROIS):
            mask = (labels == s + 1).transpose(1, 0, 2)[:, :, order]
            rt.add_roi(mask=np.ascontiguousarray(mask), name=f"roi{s + 1}")
        rt.save(str(rt_path))
    return folder, seg_path, rt_path


def highdicom_seg(seg: str, folder: str) -> None:
    """Reference: highdicom reads the SEG and decodes it into one label-map volume."""
    import highdicom as hd

    hd.seg.segread(seg).get_volume(combine_segments=True)


def segmap_seg(seg: str, folder: str) -> None:
    """segmap: the SEG's masks on the series' grid (series headers scanned here)."""
    from app.readers.dicom import read_seg

    read_seg(seg, sorted(Path(folder).glob("*.dcm")))


def segmap_seg_own(seg: str, folder: str) -> None:
    """segmap: the SEG's masks on its own frames (no reference series)."""
    from app.readers.dicom import read_seg

    read_seg(seg)


def rt_utils_masks(rt: str, folder: str) -> None:
    """Reference: rt-utils loads the series and the file, then every ROI's mask."""
    from rt_utils import RTStructBuilder

    s = RTStructBuilder.create_from(folder, rt)
    _ = [s.get_roi_mask_by_name(n) for n in s.get_roi_names()]


def segmap_rt(rt: str, folder: str) -> None:
    """segmap: every ROI's mask on the series' grid, with findings."""
    from app.readers.dicom import read_rtstruct

    read_rtstruct(rt, sorted(Path(folder).glob("*.dcm")))


def _scan_folder(rt: str, folder: str) -> Path:
    """A folder holding the series and the structure set (links), and a fresh cache."""
    import os
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="segmap-bench-scan-"))
    (top / "patient" / "rt").mkdir(parents=True)
    os.symlink(folder, top / "patient" / "ct")
    os.symlink(rt, top / "patient" / "rt" / Path(rt).name)
    os.environ["SEGMAP_CACHE"] = str(top / "cache")
    return top / "patient"


def segmap_scan_kept(rt: str, folder: str) -> None:
    """segmap: scan a folder whose structure set RedBrick's SDK takes as it is (kept: its
    contours filled once to check for overlaps, nothing written)."""
    from app.discover import scan
    from app.progress import run

    result = run(scan(_scan_folder(rt, folder)))
    assert result.derived and all(d.native for d in result.derived)


def segmap_scan_converted(rt: str, folder: str) -> None:
    """The same scan as before a kept file went unconverted: every ROI written as a NIfTI
    mask into the cache first (the converter told no file can be kept)."""
    from app.discover import _derived, scan
    from app.progress import run

    _derived._Converter.native = lambda self, path, kind: None  # type: ignore[method-assign]
    result = run(scan(_scan_folder(rt, folder)))  # then kept all the same
    assert result.derived and all(d.native and d.masks[0].path.suffix == ".gz"
                                  for d in result.derived)


def noop(path: str, folder: str) -> None:
    """Same imports, no work: the memory baseline."""
    import highdicom  # noqa: F401
    import rt_utils  # noqa: F401

    import app.readers.dicom  # noqa: F401


METHODS = {f.__name__: f for f in (highdicom_seg, segmap_seg, segmap_seg_own, rt_utils_masks,
                                   segmap_rt, segmap_scan_kept, segmap_scan_converted, noop)}


def main() -> None:
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 1
    folder, seg, rt = make_data()
    print(f"machine: {harness.machine()}; median of {rounds} fresh process(es)")
    print("| method | seconds | peak MB above imports |")
    print("|---|---|---|")
    base = harness.measure("bench_seg", "noop", str(seg), str(folder), runs=1)["peak_mb"]
    got = {}
    for name, path in (("highdicom_seg", seg), ("segmap_seg", seg), ("segmap_seg_own", seg),
                       ("rt_utils_masks", rt), ("segmap_rt", rt), ("segmap_scan_kept", rt),
                       ("segmap_scan_converted", rt)):
        got[name] = harness.measure("bench_seg", name, str(path), str(folder), runs=rounds)
        print(f"| {name} | {got[name]['seconds']:.2f} | {got[name]['peak_mb'] - base:.0f} |")
    for ours, ref, target in (("segmap_seg", "highdicom_seg", 2.0),
                              ("segmap_seg_own", "highdicom_seg", 2.0),
                              ("segmap_rt", "rt_utils_masks", 1.5)):
        ratio = got[ours]["seconds"] / got[ref]["seconds"]
        print(f"{ours} / {ref}: {ratio:.2f}x (target {target}x: "
              f"{'met' if ratio <= target else 'NOT met'})")
    print(f"scan of the structure set's folder, kept as it is vs converted first: "
          f"{got['segmap_scan_kept']['seconds']:.2f} s vs "
          f"{got['segmap_scan_converted']['seconds']:.2f} s")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        harness.one(METHODS)
    else:
        main()
