"""Task names from a pattern, a fields CSV joined by case, and both written by `segmap build`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from app.demo import write_demo
from app.errors import InputError
from app.items import Taxonomy, load_items, safe_task_name
from app.mapping import NameSource, placeholders, plan_names, read_task_fields
from app.progress import run

TAX = Taxonomy.from_json({
    "isNew": True,
    "studyClassify": [{"name": "Slices", "attrType": "NUMBER", "attrId": 0},
                      {"name": "Findings", "attrType": "MULTISELECT", "attrId": 1,
                       "options": [{"name": "a", "optionId": 0}, {"name": "b", "optionId": 1}]},
                      {"name": "Note", "attrType": "TEXT", "attrId": 2}],
    "objectTypes": [{"category": "Liver", "classId": 0, "labelType": "SEGMENTATION",
                     "attributes": [{"name": "Lesion", "attrType": "BOOL", "attrId": 0}]}]})


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fields") / "demo"
    run(write_demo(root))
    return root


def nifti_source(tmp_path: Path, case: str, stem: str = "img") -> NameSource:
    folder = tmp_path / case
    return NameSource(case, (folder / f"{stem}.nii.gz",), False)


def test_unknown_placeholder_names_the_known_ones():
    with pytest.raises(InputError) as exc:
        placeholders("{patient}-{case}", "--name-pattern")
    assert "{patient}" in exc.value.message and "{patient_id}" in str(exc.value.hint)
    with pytest.raises(InputError):
        placeholders("{case")
    assert placeholders("{{x}}-{case}") == ["case"]


def test_file_name_placeholders_missing_values_and_unique_names(tmp_path):
    sources = [nifti_source(tmp_path, "c1", "scan"), nifti_source(tmp_path, "c2", "scan"),
               nifti_source(tmp_path, "c3", "other")]
    plan = plan_names(sources, "{folder}_{image_stem}")
    assert plan.names == {"c1": "c1_scan", "c2": "c2_scan", "c3": "c3_other"}
    plan = plan_names(sources, "{image_stem}-{patient_id}")
    # NIfTI has no PatientID: left empty (its dangling "-" dropped), said; clashes get -2.
    assert plan.names == {"c1": "scan", "c2": "scan-2", "c3": "other"}
    assert any("c1: its image has no DICOM PatientID" in n for n in plan.notes)
    assert any("'scan' is taken by an earlier case; named 'scan-2'" in n for n in plan.notes)
    # A name the pattern leaves empty falls back to the case id; a case's own name wins.
    plan = plan_names(sources, "{patient_id}", given={"c3": "mine/{case}"})
    assert plan.names == {"c1": "c1", "c2": "c2", "c3": "mine_c3"}


def test_safe_task_name():
    assert safe_task_name(" a/b\\c\n\td  e\x85 ") == "a_b_c_d e_"


def test_dicom_placeholders_from_the_header(demo):
    from app.discover import scan
    scanned = run(scan(demo))
    sources = [NameSource(c.name, c.image.files, c.image.is_dicom) for c in scanned.cases]
    plan = plan_names(sources, "{patient_id}_{modality}_{series_number}")
    assert all(n.startswith("SEGMAP-DEMO-001_CT_") for n in plan.names.values())
    assert len(set(plan.names.values())) == len(sources)


def write(tmp_path: Path, text: str, name: str = "fields.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_columns_become_fields(tmp_path):
    path = write(tmp_path, "case\tpriority\tmeta.site\tpreassign.Label\tclassification.Slices\t"
                 "classification.Findings\tclassification.Note\tlabel.Liver.Lesion\tname\n"
                 "c1\t0.5\tA\ta@b.org;c@d.org\t120\ta;b\t007\tyes\t{case}-x\n"
                 "c2\t\t\t\t\t\t\t\t\n", "f.tsv")
    fields = read_task_fields(path, ["c1", "c2", "c3"], TAX)
    f = fields["c1"]
    assert (f.name, f.priority, f.meta, f.pre_assign) == (
        "{case}-x", 0.5, {"site": "A"}, {"Label": ["a@b.org", "c@d.org"]})
    assert f.classification == {"Slices": 120, "Findings": ["a", "b"], "Note": "007"}
    assert f.labels == {"Liver": {"Lesion": True}}
    assert fields["c2"].empty and "c3" not in fields
    # Without a taxonomy a plain number is a number, the rest text.
    untyped = read_task_fields(path, ["c1", "c2"])["c1"].classification
    assert untyped == {"Slices": 120, "Findings": "a;b", "Note": 7}


@pytest.mark.parametrize(("text", "said"), [
    ("name,priority\nc1,0.5\n", "row 1 has no `case` column"),
    ("case,priority\nc1,high\n", "row 2, column 'priority': 'high' is not a number"),
    ("case,priority\nc1,0.5\nc1,0.2\n", "row 3: case 'c1' is listed twice"),
    ("case,priority\nc9,0.5\n", "row 2: the scan has no case 'c9' (its cases: c1, c2)"),
    ("case,prio\nc1,0.5\n", "row 1, column 2 'prio' is not a field column"),
    ("case,label.Liver\nc1,1\n", "'label.Liver' is not a field column"),
    ("case,classification.Slices\nc1,many\n", "'many' is not a number (the attribute is a "
     "NUMBER)"),
    ("case,name\nc1,{pid}\n", "row 2, column 'name'"),
])
def test_csv_problems_name_file_row_and_column(tmp_path, text, said):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        read_task_fields(path, ["c1", "c2"], TAX)
    assert str(path) in exc.value.message and said in exc.value.message
    assert "case" in str(exc.value.hint)


def test_build_writes_names_and_fields_and_they_round_trip(demo, tmp_path, capsys):
    csv = write(tmp_path, "case,priority,meta.site,preassign.Label,label.Liver.Volume,name\n"
                "demo-segmentation,0.7,A,a@b.org,120,\n"
                "demo-II_two_files,2,B,,,own-{case}\n")
    out = tmp_path / "out" / "items.json"
    assert main(["build", str(demo), "-o", str(out), "-q", "--fields", str(csv),
                 "--name-pattern", "{patient_id}-{modality}"]) == 0
    text = capsys.readouterr()
    assert "priority-range" in text.err  # 2 is written, and said at once
    assert "is taken by an earlier case" in text.out
    data = json.loads(out.read_text())
    by_name = {t["name"]: t for t in data}
    assert sorted(by_name) == ["SEGMAP-DEMO-001-CT", "SEGMAP-DEMO-001-CT-2",
                               "own-demo-II_two_files"]
    seg = by_name["SEGMAP-DEMO-001-CT-2"]
    assert (seg["priority"], seg["metaData"], seg["preAssign"]) == (0.7, {"site": "A"},
                                                                    {"Label": "a@b.org"})
    liver = [v for v in seg["series"][0]["segmentMap"].values()
             if isinstance(v, dict) and v.get("category") == "Liver"]
    assert liver and liver[0]["attributes"] == {"Volume": 120}
    # What RedBrick is sent is what was written: load and write again, unchanged.
    assert load_items(out).to_json() == data


def test_build_with_a_bad_csv_writes_nothing(demo, tmp_path, capsys):
    csv = write(tmp_path, "case,priority\nnot-a-case,0.5\n")
    out = tmp_path / "items.json"
    assert main(["build", str(demo), "-o", str(out), "-q", "--fields", str(csv)]) == 1
    assert "the scan has no case 'not-a-case'" in capsys.readouterr().err
    assert not out.exists()
    assert main(["build", str(demo), "-o", str(out), "-q", "--name-pattern", "{nope}"]) == 1
    assert "Known placeholders" in capsys.readouterr().err and not out.exists()
