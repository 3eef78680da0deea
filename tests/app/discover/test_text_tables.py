"""Plain-text label tables beside a label map (MRIcron's aal.nii.txt, FSL/JHU tab-separated
.txt, .lut) name its values, as the other tables do; notes that look a little like tables
do not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.discover import TableKind, read_sidecar, scan
from app.mapping import build
from app.progress import run

from ..builders import image, nifti

SHAPE = (6, 5, 4)
AAL = "1 Precentral_L 2001\n2 Precentral_R 2002\n3 Frontal_Sup_L 2101\n"
JHU = "1\tGenu_of_corpus_callosum\n2\tBody_of_corpus_callosum\n3\tSplenium_of_corpus_callosum\n"


def _label_map(path: Path, values=(1, 2, 3)) -> Path:
    data = np.zeros(SHAPE, np.uint8)
    for i, v in enumerate(values):
        data[i, :, :] = v
    return nifti(path, data)


def _case(root: Path, mask_name: str, table_name: str, text: str, values=(1, 2, 3)) -> Path:
    image(root / "case1" / "t1.nii.gz", shape=SHAPE)
    _label_map(root / "case1" / mask_name, values)
    (root / "case1" / table_name).write_text(text)
    return root


def _built_map(root: Path, out: Path) -> dict[str, object]:
    result = run(build(run(scan(root)), out))
    assert result is not None
    [task] = json.loads(out.read_text())
    return task["series"][0].get("segmentMap") or {}


@pytest.mark.parametrize(("name", "text", "names"), [
    ("aal.nii.txt", AAL, {1: "Precentral_L", 2: "Precentral_R", 3: "Frontal_Sup_L"}),
    ("JHU-labels.txt", JHU, {1: "Genu_of_corpus_callosum", 2: "Body_of_corpus_callosum",
                             3: "Splenium_of_corpus_callosum"}),
    ("atlas.lut", "index\tname\n1\tLeft Hippocampus\n2\tRight Hippocampus\n",
     {1: "Left Hippocampus", 2: "Right Hippocampus"}),
])
def test_plain_text_tables_are_read(tmp_path: Path, name: str, text: str, names) -> None:
    (tmp_path / name).write_text(text)
    table, problem = read_sidecar(tmp_path / name)
    assert problem is None and table is not None
    assert (table.kind, table.names) == (TableKind.TEXT, names)


@pytest.mark.parametrize("text", [
    "Scanned on 2024-01-02\n1 patient moved\n",
    "1 apple\nbuy milk\ncall bob about the scans\nand more\n",
    "1 liver\n1 spleen\n",
    "1 2 3\n4 5 6\n",
])
def test_notes_are_not_tables(tmp_path: Path, text: str) -> None:
    (tmp_path / "notes.txt").write_text(text)
    assert read_sidecar(tmp_path / "notes.txt") == (None, None)


def test_freesurfer_lut_is_still_a_colour_table(tmp_path: Path) -> None:
    (tmp_path / "FreeSurferColorLUT.txt").write_text(
        "#$Id\n0 Unknown 0 0 0 0\n17 Left-Hippocampus 220 216 20 0\n")
    table, _ = read_sidecar(tmp_path / "FreeSurferColorLUT.txt")
    assert table is not None and table.kind is TableKind.SLICER
    assert table.names == {17: "Left-Hippocampus"}


@pytest.mark.parametrize(("mask", "table", "text"), [
    ("aal.nii.gz", "aal.nii.txt", AAL),
    ("jhu.nii.gz", "jhu_labels.txt", JHU),
    ("aal.nii.gz", "aal.lut", AAL),
])
def test_build_names_the_values_from_a_text_table(tmp_path: Path, mask, table, text) -> None:
    root = _case(tmp_path / "data", mask, table, text)
    smap = _built_map(root, tmp_path / "items.json")
    first = text.splitlines()[0].split(None, 2)[1]
    assert len(smap) == 3 and first.replace("_", " ").lower() in json.dumps(smap).lower() \
        .replace("_", " ")


def test_a_text_table_of_other_values_is_not_used(tmp_path: Path) -> None:
    root = _case(tmp_path / "data", "seg.nii.gz", "labels.txt", "7 apple\n8 pear\n9 plum\n")
    assert _built_map(root, tmp_path / "items.json") == {}


def test_a_text_table_in_another_folder_is_not_used(tmp_path: Path) -> None:
    root = _case(tmp_path / "data", "aal.nii.gz", "other.txt", "x\n")
    (root / "aal.nii.txt").write_text(AAL)  # beside the case folder, not the map
    assert _built_map(root, tmp_path / "items.json") == {}
