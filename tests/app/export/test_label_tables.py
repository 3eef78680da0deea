"""Label tables out and back: 3D Slicer's colour table and ITK-SNAP's label descriptions."""

from __future__ import annotations

import pytest

from app.discover import read_sidecar
from app.errors import InputError, OutputError
from app.export import (
    ITKSNAP_HEADER,
    SLICER_COLUMNS,
    Code,
    CodeTriple,
    LabelRow,
    ReplaceRefused,
    itksnap_label_file,
    parse_itksnap_labels,
    parse_slicer_colour_table,
    read_itksnap_labels,
    read_slicer_colour_table,
    slicer_colour_table,
    write_itksnap_labels,
    write_slicer_colour_table,
)

ANATOMY = Code("SCT", "123037004", "Anatomical Structure")
ALTERED = Code("SCT", "49755003", "Morphologically Altered Structure")
KIDNEY = CodeTriple(ANATOMY, Code("SCT", "64033007", "Kidney"), Code("SCT", "7771000", "Left"))
ROWS = [
    LabelRow(5, "right_kidney", (185, 102, 83),
             CodeTriple(ANATOMY, Code("SCT", "64033007", "Kidney"),
                        Code("SCT", "24028007", "Right"))),
    LabelRow(1, "left_kidney", (185, 102, 83), KIDNEY),
    LabelRow(6, "mass, with a comma", (144, 238, 144),
             CodeTriple(ALTERED, Code("SCT", "4147007", "Mass")), alpha=128),
    LabelRow(7, "uncoded", (1, 2, 3)),
]

# Slicer's own example (Colors module docs, "Color table CSV file format"), the rows it
# has that Segmap writes (Segmap writes no Region columns).
SLICER_DOC = (
    "LabelValue,Name,Color_R,Color_G,Color_B,Color_A,Category_CodingScheme,Category_CodeValue,"
    "Category_CodeMeaning,Type_CodingScheme,Type_CodeValue,Type_CodeMeaning,"
    "TypeModifier_CodingScheme,TypeModifier_CodeValue,TypeModifier_CodeMeaning,"
    "Region_CodingScheme,Region_CodeValue,Region_CodeMeaning,RegionModifier_CodingScheme,"
    "RegionModifier_CodeValue,RegionModifier_CodeMeaning\n"
    "1,left_kidney,185,102,83,255,SCT,123037004,Anatomical Structure,SCT,64033007,Kidney,"
    "SCT,7771000,Left,,,,,,\n"
    "5,right_kidney,185,102,83,255,SCT,123037004,Anatomical Structure,SCT,64033007,Kidney,"
    "SCT,24028007,Right,,,,,,\n")


def test_slicer_table_is_slicers_documented_format():
    text = slicer_colour_table(ROWS[:2])
    assert text == SLICER_DOC
    assert text.splitlines()[0].split(",") == list(SLICER_COLUMNS)


def test_slicer_table_round_trips_labels_colours_and_codes(tmp_path):
    path = write_slicer_colour_table(tmp_path / "labels.csv", ROWS)
    back = read_slicer_colour_table(path)
    assert back == sorted(ROWS, key=lambda r: r.value)
    mass = next(r for r in back if r.value == 6)
    assert mass.name == "mass, with a comma" and mass.alpha == 128
    assert mass.code is not None and mass.code.type.meaning == "Mass"
    assert mass.code.category.meaning == "Morphologically Altered Structure"
    assert next(r for r in back if r.value == 1).code.modifier.meaning == "Left"
    # Segmap's discovery reads it as a Slicer table too (the names a mapping matches).
    table, _error = read_sidecar(path)
    assert table is not None and table.names[1] == "left_kidney"


def test_slicer_reader_takes_slicers_example_with_regions():
    text = SLICER_DOC + (
        "6,right_kidney_mass,144,238,144,255,SCT,49755003,Morphologically Altered Structure,"
        "SCT,4147007,Mass,,,,SCT,64033007,Kidney,SCT,24028007,Right\n")
    rows = parse_slicer_colour_table(text)
    assert [r.value for r in rows] == [1, 5, 6]
    assert rows[2].code == CodeTriple(ALTERED, Code("SCT", "4147007", "Mass"))


def test_slicer_table_without_colour_alpha_is_opaque():
    rows = parse_slicer_colour_table("LabelValue,Name,Color_R,Color_G,Color_B\n3,liver,1,2,3\n")
    assert rows == [LabelRow(3, "liver", (1, 2, 3))]


def test_quotes_cannot_reach_either_file():
    row = LabelRow(2, 'the "big" one', (9, 9, 9))
    assert '"' not in slicer_colour_table([row]).splitlines()[1]
    assert parse_itksnap_labels(itksnap_label_file([row]))[0].name == "the 'big' one"


def test_itksnap_file_is_what_itksnap_writes(tmp_path):
    text = itksnap_label_file([LabelRow(1, "liver", (255, 0, 0)),
                               LabelRow(2, "half", (0, 10, 200), alpha=128)])
    lines = text.splitlines()
    assert text.startswith(ITKSNAP_HEADER)
    assert lines[0] == "#" * 48 and lines[1] == "# ITK-SnAP Label Description File"
    assert lines[3] == "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL"
    assert len(ITKSNAP_HEADER.splitlines()) == 14
    # ColorLabelTable::SaveToFile's columns: setw(3) fields, alpha setw(7) with 2 digits.
    assert lines[14] == '    0     0    0    0        0  0  0    "Clear Label"'
    assert lines[15] == '    1   255    0    0        1  1  1    "liver"'
    assert lines[16] == '    2     0   10  200      0.5  1  1    "half"'


def test_itksnap_file_round_trips(tmp_path):
    path = write_itksnap_labels(tmp_path / "labels.txt", ROWS)
    back = read_itksnap_labels(path)
    assert [(r.value, r.name, r.rgb) for r in back] == \
        [(r.value, r.name, r.rgb) for r in sorted(ROWS, key=lambda r: r.value)]
    assert next(r for r in back if r.value == 6).alpha == 128
    table, _error = read_sidecar(path)
    assert table is not None and table.names == {1: "left_kidney", 5: "right_kidney",
                                                 6: "mass, with a comma", 7: "uncoded"}


def test_itksnap_reader_takes_files_from_other_writers():
    text = ('# ITK-SnAP Label Description File\n'
            '    0     0    0    0        0  0  0    "background"\n'
            '   12   255  255  150     1    1   1  "Label 1"\n'
            '    3    51   51  255  0.25  0  1    "label three"\n')
    rows = parse_itksnap_labels(text)
    assert rows == [LabelRow(3, "label three", (51, 51, 255), alpha=64),
                    LabelRow(12, "Label 1", (255, 255, 150))]


def test_malformed_tables_are_named_errors(tmp_path):
    with pytest.raises(InputError, match="LabelValue"):
        parse_slicer_colour_table("Name,Color_R\nliver,3\n")
    with pytest.raises(InputError, match="line 2"):
        parse_slicer_colour_table("LabelValue,Name\nseven,liver\n")
    with pytest.raises(InputError, match="line 2"):
        parse_itksnap_labels("# ITK-SnAP Label Description File\n1 2 3\n")
    with pytest.raises(InputError, match="twice"):
        slicer_colour_table([LabelRow(1, "a", (0, 0, 0)), LabelRow(1, "b", (0, 0, 0))])


def test_codes_json_round_trip():
    assert CodeTriple.from_json(KIDNEY.to_json()) == KIDNEY
    assert Code("SCT", "1", "x") == Code("SCT", "1", "another meaning")  # meaning is text
    with pytest.raises(InputError, match="scheme"):
        CodeTriple.from_json({"category": {"value": "1"}, "type": {}})


def test_writers_replace_their_own_files_only(tmp_path):
    path = write_slicer_colour_table(tmp_path / "labels.csv", ROWS)
    write_slicer_colour_table(path, ROWS[:1])  # Segmap's own file: replaced without asking
    assert len(read_slicer_colour_table(path)) == 1
    theirs = tmp_path / "theirs.txt"
    theirs.write_text("# hand-made\n")
    with pytest.raises(ReplaceRefused):
        write_itksnap_labels(theirs, ROWS)
    assert theirs.read_text() == "# hand-made\n"
    write_itksnap_labels(theirs, ROWS, force=True)
    with pytest.raises(OutputError, match="input"):
        write_itksnap_labels(theirs, ROWS, force=True, inputs=[theirs])
