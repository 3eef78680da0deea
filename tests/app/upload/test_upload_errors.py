"""An upload that cannot happen says so in one sentence, before the network when it can.

A host that does not resolve, a refused connection: one sentence of what failed
and why, with what to do in the hint, and the library's text only in ``detail``.
Organization and project ids are UUIDs, checked before any request. Retries are
said as retries, and the CLI never prints the same progress line twice.
"""

from __future__ import annotations

import io
import socket

import pytest

from app.cli import _common, main
from app.errors import InputError
from app.items import load_items
from app.progress import Progress, run
from app.upload import (
    Credentials,
    Destination,
    RedBrickClient,
    RetryPolicy,
    TaskResult,
    TaskState,
    TransientError,
    UploadOptions,
    _client,
    check_id,
    resolve_destination,
    upload,
)
from app.upload._uploader import _Board

from ..rb_server import API_KEY, ORG, PROJECT, make_items

NOWHERE = "nonexistent.invalid"


@pytest.fixture
def no_dns(monkeypatch):
    """``nonexistent.invalid`` does not resolve, as on any machine, without asking a DNS."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == NOWHERE:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(_client.RetryPolicy, "delay", lambda self, failures, after=None: 0.001)


def test_an_unknown_host_is_one_sentence_and_its_retries_are_said(tmp_path, no_dns):
    items = load_items(make_items(tmp_path, 1))
    seen = []
    client = RedBrickClient(API_KEY, f"https://{NOWHERE}", retry=RetryPolicy(3, 0.001, 0.002),
                            on_retry=lambda *retry: seen.append(retry))
    with pytest.raises(TransientError) as err:
        run(upload(items, Destination(f"https://{NOWHERE}", ORG, PROJECT),
                   options=UploadOptions(dry_run=True), client=client))
    assert err.value.message == (
        f"Checking the RedBrick project failed after 3 attempts: the name {NOWHERE} does not "
        "resolve (no network, or a wrong address).")
    assert f"https://{NOWHERE}" in err.value.hint and "internet connection" in err.value.hint
    assert "HTTPSConnectionPool" not in str(err.value)
    assert "NameResolutionError" in err.value.detail  # kept for the details pane
    reason = f"the name {NOWHERE} does not resolve (no network, or a wrong address)"
    assert seen == [("Checking the RedBrick project", 1, reason),
                    ("Checking the RedBrick project", 2, reason)]


def test_the_progress_message_says_a_retry_until_the_work_moves_on():
    board = _Board([TaskResult(0, "case-1")])
    board.retry("Checking the RedBrick project", "retry 1 of 4, after: why")
    assert board.progress("Checking the RedBrick project").message == (
        "Checking the RedBrick project: retry 1 of 4, after: why")
    board.retry("Uploading ct.dcm", "retry 2 of 4, after: why")
    assert board.progress().message == "Uploading ct.dcm: retry 2 of 4, after: why"
    board.update(0, state=TaskState.UPLOADING)
    assert board.progress().message == "case-1: uploading"
    board.retry("Uploading ct.dcm", "retry 1 of 4, after: why")
    assert board.progress().message == "case-1: uploading (Uploading ct.dcm: retry 1 of 4, " \
        "after: why)"
    board.retry(None)
    assert board.progress().message == "case-1: uploading"


def test_a_refused_connection_is_said_plainly(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = RedBrickClient(API_KEY, f"http://localhost:{port}", retry=RetryPolicy(2, 0.001))
    items = load_items(make_items(tmp_path, 1))
    with pytest.raises(TransientError) as err:
        for _ in upload(items, Destination(f"http://localhost:{port}", ORG, PROJECT),
                        client=client):
            pass
    assert err.value.message == ("Checking the RedBrick project failed after 2 attempts: "
                                 "localhost refused the connection.")


def test_the_cli_prints_one_error_and_no_repeated_progress_line(tmp_path, monkeypatch, capsys,
                                                                 no_dns, quick_retries):
    monkeypatch.setenv("REDBRICK_API_KEY", API_KEY)
    items_path = make_items(tmp_path, 1)
    code = main(["upload", str(items_path), "--org", ORG, "--project", PROJECT, "--url",
                 f"https://{NOWHERE}", "--dry-run"])
    err = capsys.readouterr().err
    assert code == 1
    lines = err.splitlines()
    assert lines[-2] == (f"segmap upload: error: Checking the RedBrick project failed after 5 "
                         f"attempts: the name {NOWHERE} does not resolve (no network, or a "
                         "wrong address).")
    assert lines[-1].startswith("  hint: Check the internet connection and the RedBrick URL")
    assert "HTTPSConnectionPool" not in err and "Traceback" not in err
    assert len(lines) == len(set(lines))


def test_progress_in_a_log_never_repeats_a_line(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(_common.sys, "stderr", stream)
    bar = _common.StderrProgress("upload", interval=0.0)
    for _ in range(6):
        bar(Progress(0, 2, "Checking the RedBrick project"))
    bar(Progress(0, 2, "Checking the RedBrick project: retry 1 of 4, after: ..."))
    bar(Progress(0, 2, "Checking the RedBrick project: retry 1 of 4, after: ..."))
    bar(Progress(2, 2, "Done"))
    assert stream.getvalue().splitlines() == [
        "upload:   0% Checking the RedBrick project",
        "upload:   0% Checking the RedBrick project: retry 1 of 4, after: ...",
        "upload: 100% Done"]


@pytest.mark.parametrize("value", ["abc", "11111111-aaaa-4bbb-8ccc-00000000000", f"{ORG}x",
                                   f"https://app.redbrickai.com/{ORG}/projects/{PROJECT}"])
def test_ids_must_be_uuids(value):
    with pytest.raises(InputError, match="is not a RedBrick id") as err:
        check_id(value, "organization", "--org")
    assert "(from --org)" in err.value.message and "app.redbrickai.com" in err.value.hint
    assert check_id(f" {ORG.upper()} ", "organization") == ORG
    with pytest.raises(InputError, match="project id 'p' is not"):
        Destination("https://api.redbrickai.com", ORG, "p")


def test_a_bad_id_fails_before_any_request(rb, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REDBRICK_API_KEY", API_KEY)
    items_path = make_items(tmp_path, 1)
    code = main(["upload", str(items_path), "--org", "my-org", "--project", PROJECT,
                 "--url", rb.url])
    err = capsys.readouterr().err
    assert code == 1 and rb.requests == 0
    assert "error: The organization id 'my-org' (from --org) is not a RedBrick id" in err
    config = tmp_path / ".redbrick" / "config"
    config.parent.mkdir()
    config.write_text(f"[org]\nid = {ORG}\n\n[project]\nid = project-one\n")
    creds = Credentials(API_KEY, "test")
    with pytest.raises(InputError, match=f"project id 'project-one' \\(from {config}\\)"):
        resolve_destination(None, None, None, creds, [tmp_path])
