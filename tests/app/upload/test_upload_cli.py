"""`segmap upload`: exit codes, the JSON summary, and the key kept out of every output."""

from __future__ import annotations

import json
import logging

import pytest

from app.cli import main

from ..rb_server import API_KEY, ORG, PROJECT, RBServer, make_items


@pytest.fixture
def rb():
    server = RBServer().start()
    yield server
    server.stop()


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("REDBRICK_PROFILE", raising=False)
    monkeypatch.setenv("REDBRICK_API_KEY", API_KEY)
    return monkeypatch


def cli(*args: str) -> int:
    return main(["upload", *args])


def test_upload_json_summary_and_exit_code(rb, env, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    items_path = make_items(tmp_path, 3)
    before = items_path.read_bytes()
    code = cli(str(items_path), "--org", ORG, "--project", PROJECT, "--url", rb.url, "--json")
    out, err = capsys.readouterr()
    assert code == 0
    summary = json.loads(out)
    assert summary["ok"] and summary["created"] == 3
    assert [t["taskId"] for t in summary["tasks"]] == [
        rb.datapoints[t["name"]]["taskId"] for t in summary["tasks"]]
    journal = (tmp_path / "items.upload-journal.jsonl").read_text()
    for text in (out, err, journal, caplog.text, items_path.read_text()):
        assert API_KEY not in text
    assert items_path.read_bytes() == before  # the user's list is not touched

    # Again: nothing to do, still success.
    assert cli(str(items_path), "--org", ORG, "--project", PROJECT, "--url", rb.url,
               "--json") == 0
    assert json.loads(capsys.readouterr().out)["alreadyCreated"] == 3


def test_exit_1_unless_every_task_was_created(rb, env, tmp_path, capsys):
    items_path = make_items(tmp_path, 2)
    (tmp_path / "case-001-II" / "s1.nii.gz").unlink()
    code = cli(str(items_path), "--org", ORG, "--project", PROJECT, "--url", rb.url,
               "--no-validate")
    out, err = capsys.readouterr()
    assert code == 1
    assert "created" in out and "failed" in out and "s1.nii.gz" in out
    assert "Run the same command again" in err


def test_wrong_key_is_one_clear_error(rb, env, tmp_path, capsys):
    env.setenv("REDBRICK_API_KEY", "z" * 43)
    items_path = make_items(tmp_path, 1)
    code = cli(str(items_path), "--org", ORG, "--project", PROJECT, "--url", rb.url)
    err = capsys.readouterr().err
    assert code == 1 and rb.requests == 1
    assert "refused the API key (HTTP 401)" in err and "Traceback" not in err
    assert "z" * 43 not in err


def test_project_folder_config_and_cli_credentials(rb, env, tmp_path, capsys):
    env.delenv("REDBRICK_API_KEY")
    creds = tmp_path / "home" / ".redbrickai" / "credentials"
    creds.parent.mkdir(parents=True)
    creds.write_text(f"[default]\nprofile = me\n\n[me]\nkey = {API_KEY}\norg = {ORG}\n"
                     f"url = {rb.url}\n")
    (tmp_path / ".redbrick").mkdir()
    (tmp_path / ".redbrick" / "config").write_text(f"[org]\nid = {ORG}\n\n[project]\n"
                                                   f"id = {PROJECT}\n")
    items_path = make_items(tmp_path, 1)
    assert cli(str(items_path), "--dry-run", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["dryRun"] and summary["ready"] == 1 and not rb.datapoints


def test_missing_credentials_and_bad_storage_are_explained(env, tmp_path, capsys):
    env.delenv("REDBRICK_API_KEY")
    items_path = make_items(tmp_path, 1)
    assert cli(str(items_path), "--org", ORG, "--project", PROJECT) == 1
    assert "REDBRICK_API_KEY" in capsys.readouterr().err
    env.setenv("REDBRICK_API_KEY", API_KEY)
    assert cli(str(items_path), "--org", ORG, "--project", PROJECT, "--storage", "s3") == 1
    assert "Invalid upload storage" in capsys.readouterr().err


def test_validation_errors_block_with_a_json_answer(rb, env, tmp_path, capsys):
    items_path = make_items(tmp_path, 2)
    tasks = json.loads(items_path.read_text())
    tasks[0]["series"][0]["segmentMap"]["1"] = "unknown-organ"
    items_path.write_text(json.dumps(tasks))
    code = cli(str(items_path), "--org", ORG, "--project", PROJECT, "--url", rb.url, "--json")
    out, err = capsys.readouterr()
    answer = json.loads(out)
    assert code == 1 and answer["ok"] is False
    assert [f["code"] for f in answer["findings"]] == ["category-missing"]
    assert "nothing was uploaded" in err and not rb.datapoints


def test_journal_elsewhere_for_a_read_only_data_folder(rb, env, tmp_path, capsys):
    items_path = make_items(tmp_path / "data", 1)
    journal = tmp_path / "state" / "upload.jsonl"
    journal.parent.mkdir()
    args = (str(items_path), "--org", ORG, "--project", PROJECT, "--url", rb.url,
            "--journal", str(journal), "--json")
    assert cli(*args) == 0
    assert json.loads(capsys.readouterr().out)["created"] == 1
    assert journal.exists() and not list(items_path.parent.glob("*.jsonl"))
    assert cli(*args) == 0
    assert json.loads(capsys.readouterr().out)["alreadyCreated"] == 1
