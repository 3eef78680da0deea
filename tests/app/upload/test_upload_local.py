"""Credentials, destination and the journal: the parts of an upload that stay on disk."""

from __future__ import annotations

import json

import pytest

from app.errors import InputError
from app.upload import (
    PUBLIC_STORAGE,
    REDBRICK_STORAGE,
    CredentialsError,
    Journal,
    load_credentials,
    parse_storage,
    resolve_destination,
)
from app.upload._credentials import Credentials, find_project_config

from ..rb_server import API_KEY

KEY2 = "p" * 43


def write_credentials(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_env_key_wins_and_bad_lengths_are_refused_without_echo():
    assert load_credentials(env={"REDBRICK_API_KEY": f" {API_KEY}\n"}).api_key == API_KEY
    with pytest.raises(CredentialsError, match="has 5 characters") as err:
        load_credentials(env={"REDBRICK_API_KEY": "short"})
    assert "short" not in str(err.value)


def test_cli_credentials_profile(tmp_path):
    creds = write_credentials(tmp_path / "credentials", f"""
[default]
profile = work

[work]
type = apikey
key = {KEY2}
org = 11111111-AAAA-4BBB-8CCC-000000000001
url = https://preview.redbrickai.com/

[other]
key = {API_KEY}
org = o2
url = https://api.redbrickai.com
""")
    c = load_credentials(env={}, credentials_file=creds)
    assert (c.api_key, c.org_id, c.url) == (KEY2, "11111111-aaaa-4bbb-8ccc-000000000001",
                                           "https://preview.redbrickai.com")
    assert KEY2 not in repr(c) and KEY2 not in c.source
    assert load_credentials(env={"REDBRICK_PROFILE": "other"},
                            credentials_file=creds).api_key == API_KEY
    assert load_credentials("other", env={"REDBRICK_API_KEY": KEY2},
                            credentials_file=creds).api_key == API_KEY
    with pytest.raises(CredentialsError, match="profiles: work, other"):
        load_credentials("nope", env={}, credentials_file=creds)


def test_browser_login_profiles_and_broken_files_are_explained(tmp_path):
    creds = write_credentials(tmp_path / "c1", "[default]\nprofile = s\n[s]\ntype = session\n"
                              "org = o\nurl = https://api.redbrickai.com\n")
    with pytest.raises(CredentialsError, match="browser"):
        load_credentials(env={}, credentials_file=creds)
    broken = write_credentials(tmp_path / "c2", f"key = {API_KEY}\n[x]\n")
    with pytest.raises(CredentialsError, match="not a valid INI") as err:
        load_credentials(env={}, credentials_file=broken)
    assert API_KEY not in str(err.value)
    with pytest.raises(CredentialsError, match="REDBRICK_API_KEY"):
        load_credentials(env={}, credentials_file=tmp_path / "missing")


def test_cli_looks_in_the_virtualenv_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    venv = tmp_path / "venv"
    venv.mkdir()
    write_credentials(tmp_path / "home" / ".redbrickai" / "credentials",
                      f"[default]\nprofile = a\n[a]\nkey = {API_KEY}\norg = o\nurl = u\n")
    assert load_credentials(env={"VIRTUAL_ENV": str(venv)}).api_key == API_KEY
    write_credentials(venv / ".redbrickai" / "credentials",
                      f"[default]\nprofile = a\n[a]\nkey = {KEY2}\norg = o\nurl = u\n")
    assert load_credentials(env={"VIRTUAL_ENV": str(venv)}).api_key == KEY2


def test_destination_from_flags_project_config_and_profile(tmp_path):
    o_prof, o_conf, o_flag = (f"{n}1111111-aaaa-4bbb-8ccc-000000000001" for n in "123")
    p_conf, p_flag = (f"{n}2222222-AAAA-4BBB-8CCC-000000000002" for n in "45")
    creds = Credentials(API_KEY, "test", org_id=o_prof, url="https://x.org")
    project_dir = tmp_path / "proj"
    (project_dir / ".redbrick").mkdir(parents=True)
    (project_dir / ".redbrick" / "config").write_text(
        f"[org]\nid = {o_conf.upper()}\n\n[project]\nid = {p_conf}\n")
    deep = project_dir / "cases" / "a"
    deep.mkdir(parents=True)
    assert find_project_config([deep]).project_id == p_conf.lower()
    d = resolve_destination(None, None, None, creds, [deep])
    assert (d.org_id, d.project_id, d.url) == (o_conf, p_conf.lower(), "https://x.org")
    d = resolve_destination(o_flag.upper(), p_flag, "http://localhost:9", creds, [deep])
    assert (d.org_id, d.project_id, d.url) == (o_flag, p_flag.lower(), "http://localhost:9")
    d = resolve_destination(None, p_flag, None, Credentials(API_KEY, "t", org_id=o_prof),
                            [tmp_path])
    assert d.org_id == o_prof and d.url == "https://api.redbrickai.com"
    with pytest.raises(CredentialsError, match="--project"):
        resolve_destination(o_flag, None, None, creds, [tmp_path])


def test_storage_choices():
    assert parse_storage(None) == parse_storage("RedBrick") == REDBRICK_STORAGE
    assert parse_storage("public") == PUBLIC_STORAGE
    uid = "abcdef01-2345-6789-abcd-ef0123456789"
    assert parse_storage(uid.upper()) == uid
    with pytest.raises(InputError, match="Invalid upload storage"):
        parse_storage("s3://bucket")


def test_journal_survives_a_torn_line_and_keeps_other_destinations(tmp_path):
    path = tmp_path / "items.upload-journal.jsonl"
    j = Journal(path, "dest-A")
    j.record_file("t1", "/x/img.nii.gz", [10, 5], "org/p/items/u/img.nii.gz")
    j.creating("t2")
    j.created("t2", "dp", "task", ["task"])
    j.close()
    other = json.dumps({"d": "dest-B", "t": "t9", "e": "created", "taskId": "b"})
    with open(path, "a") as fh:  # another destination's record, then a crash mid-line
        fh.write(other + "\n" + '{"d": "dest-A", "t": "t3", "e": "fi')
    j = Journal(path, "dest-A")
    assert j.uploaded_file("t1", "/x/img.nii.gz", [10, 5]) == "org/p/items/u/img.nii.gz"
    assert j.uploaded_file("t1", "/x/img.nii.gz", [11, 5]) is None  # the file changed
    assert j.state("t2") == ("created", {"dpId": "dp", "taskId": "task", "taskIds": ["task"]})
    j.record_label("t1", 0, "k", "org/p/labels/0.nii.gz", {1: [3], 2: None})
    j.close()
    j = Journal(path, "dest-A", read_only=True)
    assert j.label("t1", 0, "k").segments == {1: [3], 2: None}
    assert j.label("t1", 0, "other inputs") is None
    assert Journal(path, "dest-B", read_only=True).state("t9")[0] == "created"
    lines = path.read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # compacted: no torn line left


def test_journal_restart_forgets_and_one_run_at_a_time(tmp_path):
    path = tmp_path / "j.jsonl"
    j = Journal(path, "d")
    j.created("t", "dp", "task", [])
    with pytest.raises(InputError, match="Another upload"):
        Journal(path, "d")
    j.close()
    j = Journal(path, "d", restart=True)
    assert j.state("t") == (None, {})
    j.close()
    assert Journal(path, "d", read_only=True).state("t") == (None, {})
