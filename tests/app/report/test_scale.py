"""The report of 1,000 cases stays usable: the dataset part is compact tables (one light cell
per category and case), the cases fold away, and an outlier still stands out."""

from __future__ import annotations

import numpy as np

from app.preview import SegmentStats
from app.report._case import CaseRecord
from app.report._dataset import dataset
from app.report._html import case_html, dataset_html, page_head, page_tail
from tests.app.report._html_check import parse

N_CASES, N_LABELS = 1000, 117


def _records() -> list[CaseRecord]:
    rng = np.random.default_rng(5)
    out = []
    for i in range(N_CASES):
        stats = [SegmentStats(str(v), f"structure {v}", 1000 * v, float(rng.uniform(95, 105)),
                              float(rng.uniform(37, 43)), None, None)
                 for v in range(1, N_LABELS + 1)]
        if i == 617:  # a liver of a tenth the volume: the swapped mask a reviewer must see
            stats[0] = SegmentStats("1", "structure 1", 100, 10.0, 40.0, None, None)
        out.append(CaseRecord(i, f"case-{i:04d}", stats=stats))
    return out


def test_a_thousand_cases_of_117_labels_make_a_light_report(tmp_path):
    records = _records()
    ds = dataset(records)
    html = dataset_html(ds, [], records)
    cases = "".join(case_html(r) for r in records)
    page = page_head("1000 cases") + html + cases + page_tail()
    index = tmp_path / "index.html"
    index.write_text(page, encoding="utf-8")
    root = parse(index)  # well-formed
    assert len(page.encode()) < 40_000_000
    assert len(html.encode()) / (N_CASES * N_LABELS) < 40  # bytes per matrix cell
    assert sum(1 for d in root.iter("details")) == N_CASES  # every case folds away
    assert [(o.case, o.category) for o in ds.outliers if o.measure.startswith("vol")] == [
        ("case-0617", "structure 1")]
