"""`write_report` on the demo, on planted outliers and on real data: the numbers in the
report are those computed here independently, the page is well-formed and complete."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from app.errors import OutputError
from app.progress import run
from app.report import ReportSummary, write_report
from app.report._write import THUMBS
from app.session import Review, SignOff, open_items
from app.validate import Severity, counts

from ..builders import items_file, nifti
from ._html_check import case_section, check_files, decode_png, parse, rows, text


@pytest.fixture(scope="module")
def demo_report(demo_dataset, tmp_path_factory) -> tuple[ReportSummary, Path]:
    out = tmp_path_factory.mktemp("report") / "report"
    summary = run(write_report(demo_dataset.items_json, out))
    return summary, out


def _expected_series(folder: Path, image_file: str, masks: list[str]) -> dict[int, tuple]:
    """Voxels, mL and mean intensity per value, straight from the files: a voxel counts for
    every value any of the masks gives it (as RedBrick's overlap groups do)."""
    img = nib.load(folder / image_file)
    ct = np.asarray(img.dataobj, np.float64)
    ml = abs(float(np.linalg.det(img.affine[:3, :3]))) / 1000
    arrays = [np.asarray(nib.load(folder / m).dataobj) for m in masks]
    out = {}
    for v in sorted({int(x) for a in arrays for x in np.unique(a)} - {0}):
        where = np.zeros(ct.shape, bool)
        for a in arrays:
            where |= a == v
        out[v] = (int(where.sum()), where.sum() * ml, float(ct[where].mean()))
    return out


def test_demo_report_holds_the_numbers_of_the_files(demo_report, demo_dataset):
    summary, out = demo_report
    root = parse(out / "index.html")
    task = json.loads(demo_dataset.items_json.read_text())[1]
    series = task["series"][0]
    expected = _expected_series(demo_dataset.root, series["items"], series["segmentations"])
    section = case_section(root, task["name"])
    stats = rows(section.findall(".//table")[1])
    assert len(stats) == len(series["segmentMap"])
    for key, category, voxels, ml, mean in stats:
        n, vol, avg = expected[int(key)]
        assert category == series["segmentMap"][key]
        assert voxels == f"{n:,}"
        assert float(ml) == pytest.approx(vol, abs=0.006)
        assert float(mean.replace(",", "")) == pytest.approx(avg, rel=0.01)
    assert summary.cases == 3 and summary.thumbnails == 9


def test_demo_report_counts_the_findings_of_validation(demo_report, demo_dataset):
    summary, out = demo_report
    session = run(open_items(demo_dataset.items_json))
    n = counts(run(session.validate_work()))
    assert summary.findings == {str(s): n[s] for s in Severity}
    table = parse(out / "index.html").findall(".//table")[0]
    assert rows(table) == [[str(s), str(n[s])] for s in Severity]


def test_demo_report_matrix_shows_every_category_of_every_case(demo_report, demo_dataset):
    _, out = demo_report
    root = parse(out / "index.html")
    matrix = next(t for t in root.iter("table") if t.get("class") == "matrix")
    head = [text(th) for th in matrix.iter("th")][1:]
    assert head.pop() == "not mapped"  # demo-I holds value 7, named by no entry
    tasks = json.loads(demo_dataset.items_json.read_text())
    maps = {t["name"]: t["series"][0]["segmentMap"] for t in tasks}
    assert sorted(head) == sorted({v if isinstance(v, str) else v["category"]
                                   for m in maps.values() for k, v in m.items()
                                   if k != "binaryMask"})
    for row in matrix.iter("tr"):
        cells = row.findall("td")
        if not cells:
            continue
        smap = maps[text(cells[0])]
        by_name = {(v if isinstance(v, str) else v["category"]): k for k, v in smap.items()
                   if k != "binaryMask"}
        assert [text(c) for c in cells[1:-1]] == [by_name[h] for h in head]


def test_demo_report_is_complete_offline_and_printable(demo_report):
    _, out = demo_report
    index = out / "index.html"
    root = parse(index)
    files = check_files(index, root)
    assert len([f for f in files if f.suffix == ".png"]) == 9
    assert all(decode_png(f.read_bytes()).shape[2] == 3 for f in files)
    page = index.read_text()
    assert "@media print" in page and "page-break-inside: avoid" in page
    assert [f.name for f in out.iterdir() if f.name.startswith(".report-cases")] == []
    assert "SHA-256" in page and "Provenance" in page


def test_report_records_file_hashes(demo_report, demo_dataset):
    import hashlib
    _, out = demo_report
    ct = demo_dataset.ct_nifti
    assert hashlib.sha256(ct.read_bytes()).hexdigest() in (out / "index.html").read_text()


def test_sign_off_of_each_case_is_shown(demo_dataset, tmp_path):
    session = run(open_items(demo_dataset.items_json))
    session.cases[0].sign_off = SignOff(Review.NEEDS_WORK, "liver <edge> off", "ana",
                                        "2026-12-01T10:00:00+00:00")
    session.cases[1].sign_off = SignOff(Review.REVIEWED, by="bo")
    summary = run(write_report(session, tmp_path / "r"))
    root = parse(tmp_path / "r" / "index.html")
    first = text(case_section(root, session.cases[0].name).find("summary"))
    assert "needs work" in first and "liver <edge> off" in first and "ana" in first
    assert "reviewed by bo" in text(case_section(root, session.cases[1].name).find("summary"))
    assert "not reviewed" in text(case_section(root, session.cases[2].name).find("summary"))
    assert (summary.reviewed, summary.needs_work) == (1, 1)


def test_report_refuses_to_write_over_an_input(demo_dataset, tmp_path):
    with pytest.raises(OutputError):
        run(write_report(demo_dataset.items_json, demo_dataset.items_json))
    items = items_file(tmp_path, [])
    (tmp_path / "index.html").write_text("mine")
    with pytest.raises(OutputError):
        run(write_report(items, tmp_path))
    assert (tmp_path / "index.html").read_text() == "mine"


def _case(folder: Path, name: str, liver: int, tissue: float) -> dict:
    """A 10x10x10 case with ``liver`` voxels of value 1 at intensity ``tissue``."""
    shape = (10, 10, 10)
    img = np.full(shape, tissue, np.float32)
    labels = np.zeros(shape, np.uint8).ravel()
    labels[:liver] = 1
    labels[-20:] = 2
    nifti(folder / name / "ct.nii.gz", img)
    nifti(folder / name / "seg.nii.gz", labels.reshape(shape))
    return {"name": name, "series": [{"items": f"{name}/ct.nii.gz",
                                      "segmentations": f"{name}/seg.nii.gz",
                                      "segmentMap": {"1": "liver", "2": "spleen"}}]}


def _liver_voxels(tasks: list[dict], folder: Path) -> list[int]:
    return [int((np.asarray(nib.load(folder / t["series"][0]["segmentations"]).dataobj) == 1)
                .sum()) for t in tasks]


def test_an_outlier_planted_among_30_cases_is_flagged_and_said_why(tmp_path):
    rng = np.random.default_rng(1)
    tasks = [_case(tmp_path, f"c{i:02d}", int(rng.integers(300, 330)), 60 + float(rng.normal()))
             for i in range(29)]
    tasks.append(_case(tmp_path, "small", 40, 60.0))
    summary = run(write_report(items_file(tmp_path, tasks), tmp_path / "out"))
    assert len(summary.outliers) == 1
    why = summary.outliers[0]
    assert why.startswith("0.04 mL liver: median 0.3")  # 1 mm voxels: 40 voxels, 0.04 mL
    root = parse(tmp_path / "out" / "index.html")
    outliers = next(t for t in root.iter("table") if [text(th) for th in t.iter("th")][:2]
                    == ["case", "category"] and "measure" in text(t))
    assert rows(outliers)[0][:3] == ["small", "liver", "volume"]
    spread = next(t for t in root.iter("table") if "mL MAD" in text(t))
    liver = next(r for r in rows(spread) if r[0] == "liver")
    volumes = sorted(n / 1000 for n in _liver_voxels(tasks, tmp_path))  # 1 mm voxels
    assert liver[1] == "30" and liver[2] == f"{volumes[0]:.2f}"
    assert liver[3] == f"{np.median(volumes):.2f}" and liver[4] == f"{volumes[-1]:.2f}"


def test_renumbered_and_missing_categories_stand_out(tmp_path):
    a = _case(tmp_path, "a", 100, 50.0)
    b = _case(tmp_path, "b", 100, 50.0)
    c = _case(tmp_path, "c", 100, 50.0)
    b["series"][0]["segmentMap"] = {"1": "spleen", "2": "liver"}
    c["series"][0]["segmentMap"] = {"1": "liver"}
    run(write_report(items_file(tmp_path, [a, b, c]), tmp_path / "out"))
    root = parse(tmp_path / "out" / "index.html")
    matrix = next(t for t in root.iter("table") if t.get("class") == "matrix")
    cells = {text(tr.findall("td")[0]): tr.findall("td")[1:3] for tr in matrix.iter("tr")
             if tr.findall("td")}  # liver, spleen; then the values no category names
    flags = {k: [c.get("class") for c in v] for k, v in cells.items()}
    assert "missing" in flags["c"][1]
    assert all("renumbered" in f and "conflict" in f for f in flags["b"])
    assert not any("renumbered" in (f or "") for f in flags["a"])


def test_totalsegmentator_case_reports_its_labels(shared_data, tmp_path):
    ts = shared_data / "totalsegmentator" / "tests" / "reference_files"
    seg = nib.load(ts / "example_seg.nii.gz")
    values = np.unique(np.asarray(seg.dataobj))
    items = items_file(tmp_path, [{"name": "ts", "series": [{
        "items": str(ts / "example_ct_sm.nii.gz"), "segmentations": str(ts / "example_seg.nii.gz"),
        "segmentMap": {str(int(v)): f"label {int(v)}" for v in values if v}}]}])
    summary = run(write_report(items, tmp_path / "out"))
    root = parse(tmp_path / "out" / "index.html")
    check_files(tmp_path / "out" / "index.html", root)
    stats = rows(case_section(root, "ts").findall(".//table")[1])
    data = np.asarray(seg.dataobj)
    assert len(stats) == int((values != 0).sum()) > 0
    for key, _, voxels, _, _ in stats:
        assert voxels == f"{int((data == int(key)).sum()):,}"
    assert summary.thumbnails == 3


def test_every_case_measures_as_segmap_stats_does(demo_report, demo_dataset):
    from app.items import load_items
    from app.preview import series_stats

    _, out = demo_report
    root = parse(out / "index.html")
    items = load_items(demo_dataset.items_json)
    for task in items.tasks:
        expected = run(series_stats(items, task, 0))
        got = rows(case_section(root, str(task.name)).findall(".//table")[1])
        assert [(r[0], r[2], r[3]) for r in got] == [
            (s.key, f"{s.voxels:,}", f"{s.volume_ml:.2f}") for s in expected], task.name


def test_geometry_problems_are_listed_and_not_measured(tmp_path):
    good = _case(tmp_path, "good", 100, 50.0)
    bad = _case(tmp_path, "bad", 100, 50.0)
    shifted = np.eye(4)
    shifted[:3, 3] = (3.0, 0.0, 0.0)
    labels = np.asarray(nib.load(tmp_path / "bad" / "seg.nii.gz").dataobj)
    nifti(tmp_path / "bad" / "seg.nii.gz", labels, shifted)
    run(write_report(items_file(tmp_path, [good, bad]), tmp_path / "out"))
    root = parse(tmp_path / "out" / "index.html")
    geometry = next(h for h in root.iter("h2") if text(h) == "Geometry")
    body = list(root.find("body"))
    listed = body[body.index(geometry) + 1]
    assert listed.tag == "table" and all(r[1].startswith("grid-") for r in rows(listed))
    assert any("bad" in r[2] for r in rows(listed))
    section = case_section(root, "bad")
    assert "statistics" in text(section) or "preview" in text(section)


def test_report_is_long_work_that_stops_when_closed(demo_dataset, tmp_path):
    from app.progress import Progress

    out = tmp_path / "r"
    work = write_report(demo_dataset.items_json, out, jobs=1)
    for step in work:
        assert isinstance(step, Progress) and 0 <= step.fraction <= 1
        if step.message.endswith("Reading the image of demo-II-two-multilabel-files"):
            break
    work.close()
    assert not (out / "index.html").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    assert min(p.name for p in (out / "thumbs").iterdir()).startswith("case00000-")


def test_cases_read_side_by_side_stop_when_closed(demo_dataset, tmp_path):
    """Two cases at a time, on two processes: a cancel once a case is done stops both
    (no worker process left, no index, no temporary file)."""
    import psutil

    from app.progress import Progress

    out = tmp_path / "r"
    work = write_report(demo_dataset.items_json, out, jobs=2)
    seen = []
    workers: set[int] = set()
    for step in work:
        assert isinstance(step, Progress) and 0 <= step.fraction <= 1
        seen.append(step.message)
        workers |= {c.pid for c in psutil.Process().children(recursive=True)
                    if _is_worker(c.pid)}
        if workers:  # the cases are on the pool
            break
    work.close()
    assert workers
    _, alive = psutil.wait_procs([psutil.Process(p) for p in workers if psutil.pid_exists(p)],
                                 timeout=10)
    assert alive == []
    assert not (out / "index.html").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def _is_worker(pid: int) -> bool:
    """A pool worker (not the fork server nor the resource tracker, which outlive a run)."""
    from multiprocessing import forkserver, resource_tracker

    keep = {getattr(forkserver._forkserver, "_forkserver_pid", None),
            getattr(resource_tracker._resource_tracker, "_pid", None)}
    return pid not in keep


def test_cases_on_processes_write_the_report_of_one_by_one(demo_dataset, tmp_path):
    run(write_report(demo_dataset.items_json, tmp_path / "one", jobs=1))
    run(write_report(demo_dataset.items_json, tmp_path / "two", jobs=2))

    def text(name: str) -> list[str]:
        lines = (tmp_path / name / "index.html").read_text().splitlines()
        return [x for x in lines if "<td>written</td>" not in x]

    assert text("one") == text("two")
    thumbs = sorted(p.name for p in (tmp_path / "one" / THUMBS).iterdir())
    assert thumbs == sorted(p.name for p in (tmp_path / "two" / THUMBS).iterdir())
    for name in thumbs:
        assert (tmp_path / "one" / THUMBS / name).read_bytes() == \
            (tmp_path / "two" / THUMBS / name).read_bytes()


def test_cases_side_by_side_give_the_report_of_one_by_one(demo_dataset, tmp_path):
    one = run(write_report(demo_dataset.items_json, tmp_path / "one", jobs=1))
    two = run(write_report(demo_dataset.items_json, tmp_path / "two", jobs=2))
    assert one.to_json() | {"index": ""} == two.to_json() | {"index": ""}
    strip = re.compile(r"<tr><td>written</td><td>[^<]*</td></tr>")
    html = [(tmp_path / d / "index.html").read_text() for d in ("one", "two")]
    assert all(strip.search(h) for h in html)
    html = [strip.sub("", h) for h in html]
    assert html[0] == html[1]
    for name in sorted(p.name for p in (tmp_path / "one" / "thumbs").iterdir()):
        assert (tmp_path / "one" / "thumbs" / name).read_bytes() == \
            (tmp_path / "two" / "thumbs" / name).read_bytes()


def _origins(index: Path, case: str) -> list[str]:
    return [r[3] for r in rows(case_section(parse(index), case).findall(".//table")[0])]


def test_mapping_says_where_each_category_came_from(demo_dataset, tmp_path):
    session = run(open_items(demo_dataset.items_json))
    case = session.cases[1]
    case.by_hand.add(1)
    run(write_report(session, tmp_path / "list"))
    origins = _origins(tmp_path / "list" / "index.html", case.name)
    assert origins[0] == "mapped by hand"
    assert set(origins[1:]) == {"from the items list"}
    folder = tmp_path / "folder"
    ct = np.zeros((10, 10, 10), np.int16)
    nifti(folder / "p1" / "ct.nii.gz", ct)
    for name, where in (("liver", np.s_[1:4]), ("spleen", np.s_[6:8])):
        mask = np.zeros(ct.shape, np.uint8)
        mask[where] = 1
        nifti(folder / "p1" / "segmentations" / f"{name}.nii.gz", mask)
    run(write_report(folder, tmp_path / "scanned"))
    origins = _origins(tmp_path / "scanned" / "index.html", "p1")
    assert len(origins) == 2 and all(o.startswith("suggestion: ") for o in origins), origins


def test_an_intensity_outlier_is_flagged_with_its_median(tmp_path):
    tasks = [_case(tmp_path, f"c{i:02d}", 300 + i, 60.0 + (i % 3)) for i in range(12)]
    tasks.append(_case(tmp_path, "bright", 305, 400.0))
    summary = run(write_report(items_file(tmp_path, tasks), tmp_path / "out"))
    assert [w for w in summary.outliers if "liver" in w] == [
        next(w for w in summary.outliers if w.startswith("mean intensity 400 in liver: median 61"))]


def test_a_case_that_cannot_be_read_is_reported_not_fatal(tmp_path):
    good = _case(tmp_path, "good", 100, 50.0)
    lost = _case(tmp_path, "lost", 100, 50.0)
    (tmp_path / "lost" / "ct.nii.gz").unlink()
    summary = run(write_report(items_file(tmp_path, [good, lost]), tmp_path / "out"))
    assert summary.cases == 2 and summary.thumbnails == 3 and summary.findings["error"] >= 1
    root = parse(tmp_path / "out" / "index.html")
    check_files(tmp_path / "out" / "index.html", root)
    section = case_section(root, "lost")
    assert "(errors)" in text(section.find("summary"))
    assert any(li.get("class") == "error" for li in section.iter("li"))


def test_the_page_opens_with_the_dataset_at_a_glance(demo_report):
    _, out = demo_report
    first = parse(out / "index.html").find("body/p")
    assert first is not None
    assert text(first) == ("3 cases, 6 categories; sign-off: 0 reviewed, 0 need work, "
                           "3 not reviewed; 0 outliers.")


def test_values_without_a_category_stand_out_in_the_matrix(tmp_path):
    a = _case(tmp_path, "a", 100, 50.0)
    b = _case(tmp_path, "b", 100, 50.0)
    b["series"][0]["segmentMap"] = {"1": "liver"}
    run(write_report(items_file(tmp_path, [a, b]), tmp_path / "out"))
    root = parse(tmp_path / "out" / "index.html")
    matrix = next(t for t in root.iter("table") if t.get("class") == "matrix")
    assert [text(th) for th in matrix.iter("th")][-1] == "not mapped"
    last = {text(tr.findall("td")[0]): tr.findall("td")[-1] for tr in matrix.iter("tr")
            if tr.findall("td")}
    assert text(last["b"]) == "2" and last["b"].get("class") == "missing"
    assert text(last["a"]) == ""


def test_a_session_is_read_when_the_work_is_made_not_while_it_runs(demo_dataset, tmp_path):
    session = run(open_items(demo_dataset.items_json))
    work = write_report(session, tmp_path / "r")  # the wizard: made on the GUI thread
    case = session.cases[0]
    case.sign_off = SignOff(Review.REVIEWED, by="later")  # edits while a worker runs it
    case.by_hand.add(1)
    summary = run(work)
    assert summary.reviewed == 0
    section = case_section(parse(tmp_path / "r" / "index.html"), case.name)
    assert "not reviewed" in text(section.find("summary"))
    assert "mapped by hand" not in text(section)


def test_one_mask_per_category_is_never_renumbered_or_in_conflict(demo_report):
    """Shape III values are ids Segmap numbers per case (one file each), not values in a
    file: the demo's III case maps Aorta to 1 where its label maps hold Liver at 1, and
    nothing of that is a mistake to flag."""
    _, out = demo_report
    root = parse(out / "index.html")
    matrix = next(t for t in root.iter("table") if t.get("class") == "matrix")
    classes = [c.get("class") or "" for tr in matrix.iter("tr") for c in tr.findall("td")[1:-1]]
    assert classes and not any("renumbered" in c or "conflict" in c for c in classes)
