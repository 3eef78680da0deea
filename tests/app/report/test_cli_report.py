"""`segmap report`: the folder it writes, its JSON summary, and what it refuses."""

from __future__ import annotations

import json

from app.cli import main

from ._html_check import check_files, parse


def test_segmap_report_writes_the_folder_and_prints_a_json_summary(demo_dataset, tmp_path,
                                                                    capsys):
    out = tmp_path / "report"
    code = main(["report", str(demo_dataset.items_json), "-o", str(out), "--json",
                 "--taxonomy", str(demo_dataset.taxonomy_json)])
    captured = capsys.readouterr()
    assert code == 0
    summary = json.loads(captured.out)
    assert summary["cases"] == 3 and summary["thumbnails"] == 9
    assert summary["index"] == str(out / "index.html")
    check_files(out / "index.html", parse(out / "index.html"))
    assert str(demo_dataset.taxonomy_json) in (out / "index.html").read_text()
    assert main(["report", str(demo_dataset.items_json), "-o", str(out), "-q"]) == 0  # again
    assert "Wrote" in capsys.readouterr().out


def test_segmap_report_refuses_an_output_that_is_an_input(demo_dataset, capsys):
    items = str(demo_dataset.items_json)
    assert main(["report", items, "-o", items, "-q"]) == 1
    assert "error:" in capsys.readouterr().err


def test_segmap_lists_report(capsys):
    main([])
    assert "\n    report " in capsys.readouterr().out
