"""The upload against hostile addresses, redirects, keys and damaged journals.

The API key goes only to the host the user named, only over TLS unless that host is
this computer, never in an error, a log or a file; a damaged journal never makes a
task twice.
"""

from __future__ import annotations

import json
import logging
import socket
from urllib.parse import quote, urlsplit

import pytest

from app.cli import main
from app.errors import InputError, SegmapError
from app.upload import (
    CredentialsError,
    RedBrickClient,
    RedBrickError,
    RetryPolicy,
    TaskState,
    Timeouts,
    TransientError,
    api_url,
    load_credentials,
    typed_or_stored,
)
from app.upload._journal import Journal, journal_path
from app.upload._protocol import get_project
from tests.app.hostile.corpus_upload import (
    FOREIGN_HTTP,
    LOOPBACK_HTTP,
    REFUSED_URLS,
    credentials_with_folded_key,
    credentials_with_key_as_profile,
    garble_line,
    key_with,
    tear_last_line,
    wrong_types,
)
from tests.app.rb_server import API_KEY, ORG, PROJECT, Catcher, RBServer, make_items
from tests.app.upload.test_upload_e2e import segmap_upload


@pytest.fixture(autouse=True)
def _state_home(monkeypatch, tmp_path):
    """Upload locks go to a state folder of the test's own."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
def catcher():
    other = Catcher().start()
    yield other
    other.stop()


def one_sentence(error: SegmapError) -> None:
    assert "\n" not in error.message and error.message.endswith(".")
    assert error.message.count(". ") == 0, error.message
    assert error.hint


# -- 1. redirects -------------------------------------------------------------------------

@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_never_takes_the_key_there(rb, catcher, tmp_path, status):
    rb.redirect = (status, f"{catcher.url}/graphql/")
    with pytest.raises(RedBrickError) as err:
        segmap_upload(rb, make_items(tmp_path, 2))
    assert catcher.received == []  # nothing at all went there, let alone the key
    assert rb.requests == 1  # a redirect is an answer: not retried
    assert "127.0.0.1" in err.value.message and "localhost" in err.value.message
    assert not isinstance(err.value, TransientError)
    one_sentence(err.value)
    assert API_KEY not in str(err.value)


def test_a_same_host_redirect_is_refused_as_well(rb, tmp_path):
    rb.redirect = (308, f"{rb.url}/elsewhere/graphql/")
    with pytest.raises(RedBrickError, match="redirect") as err:
        segmap_upload(rb, make_items(tmp_path, 1))
    assert rb.requests == 1
    one_sentence(err.value)


def test_presigned_puts_carry_no_key(rb, tmp_path):
    _, report = segmap_upload(rb, make_items(tmp_path, 3))
    assert report.ok and rb.blobs
    for blob in rb.blobs.values():
        assert "apikey" not in {k.lower() for k in blob.headers}
        assert API_KEY not in json.dumps(blob.headers)


def test_a_redirected_put_is_not_followed(rb, catcher, tmp_path):
    rb.put_redirect = (307, f"{catcher.url}/bucket/x")
    _, report = segmap_upload(rb, make_items(tmp_path, 1))
    assert report.tasks[0].state == TaskState.FAILED
    assert "redirect" in report.tasks[0].error and "127.0.0.1" in report.tasks[0].error
    assert catcher.received == [] and not rb.datapoints


# -- 2. plain http only to this computer ---------------------------------------------------

@pytest.mark.parametrize(("url", "host"), FOREIGN_HTTP)
def test_a_foreign_host_is_spoken_to_over_https(url, host):
    endpoint = api_url(url)
    assert urlsplit(endpoint).scheme == "https"
    assert urlsplit(endpoint).hostname == host


@pytest.mark.parametrize("url", LOOPBACK_HTTP)
def test_this_computer_may_be_spoken_to_in_plain_http(url):
    endpoint = api_url(url)
    assert endpoint.startswith("http://") and endpoint.endswith("/graphql/")
    assert urlsplit(endpoint).hostname == urlsplit(url).hostname


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_an_address_that_is_not_plain_is_refused(url):
    with pytest.raises(InputError) as err:
        api_url(url)
    assert "\n" not in err.value.message
    one_sentence(err.value)


def test_an_upgrade_to_https_is_said():
    client = RedBrickClient(API_KEY, "http://localhost.attacker.example:8080")
    assert client.url == "https://localhost.attacker.example:8080/api/graphql/"
    assert client.url_note is not None and "https" in client.url_note
    assert RedBrickClient(API_KEY, "http://localhost:9").url_note is None
    assert RedBrickClient(API_KEY, "https://api.redbrickai.com").url_note is None


def test_the_key_never_goes_in_clear_text_to_a_lookalike_host(catcher, monkeypatch):
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):  # the lookalike name points at the catcher
        if host == "localhost.attacker.example":
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    client = RedBrickClient(API_KEY, f"http://localhost.attacker.example:{catcher.port}",
                            retry=RetryPolicy(1), timeouts=Timeouts(api=(2, 2)))
    with pytest.raises(TransientError):
        get_project(client, ORG, PROJECT)
    assert catcher.received  # it was reached, over TLS
    assert API_KEY.encode() not in catcher.everything()
    assert b"ApiKey" not in catcher.everything()


# -- 3. keys a header cannot carry, and the key in any spelling ----------------------------

@pytest.mark.parametrize("odd", ["\r\n", "\n", "\r", "\x1b", "\x7f", "é"])
def test_a_key_a_header_cannot_carry_is_refused_before_any_request(rb, monkeypatch, tmp_path,
                                                                   capsys, caplog, odd):
    caplog.set_level(logging.DEBUG)
    key = key_with(odd)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("REDBRICK_API_KEY", key)
    items_path = make_items(tmp_path, 1)
    code = main(["upload", str(items_path), "--org", ORG, "--project", PROJECT, "--url",
                 rb.url])
    out, err = capsys.readouterr()
    assert code == 1 and rb.requests == 0
    assert "REDBRICK_API_KEY" in err and "character" in err
    for text in (out, err, caplog.text):
        assert "KEYHEAD" not in text and "KEYTAIL" not in text
    with pytest.raises(InputError) as refused:
        RedBrickClient(key, rb.url)
    assert "KEYHEAD" not in str(refused.value) and "KEYTAIL" not in str(refused.value)


@pytest.mark.parametrize("odd", ["\x00", "\r\n", "\t", " ", "\u2028"])
def test_a_typed_key_a_header_cannot_carry_is_refused_unechoed(odd):
    with pytest.raises(CredentialsError) as err:
        typed_or_stored(key_with(odd), None)
    assert "KEYHEAD" not in str(err.value) and "KEYTAIL" not in str(err.value)
    one_sentence(err.value)


def test_a_folded_key_in_the_credentials_file_is_refused_unechoed(tmp_path):
    path = credentials_with_folded_key(tmp_path / "credentials", "KEYHEAD" + "a" * 14,
                                       "b" * 14 + "KEYTAIL")
    with pytest.raises(CredentialsError) as err:
        load_credentials(env={}, credentials_file=path)
    assert "line break" in err.value.message
    assert "KEYHEAD" not in str(err.value) and "KEYTAIL" not in str(err.value)
    one_sentence(err.value)


def test_a_profile_line_holding_the_key_is_not_echoed(tmp_path):
    path = credentials_with_key_as_profile(tmp_path / "credentials", API_KEY)
    with pytest.raises(CredentialsError) as err:
        load_credentials(env={}, credentials_file=path)
    assert API_KEY not in str(err.value) and API_KEY[:12] not in str(err.value)
    assert "work" in str(err.value)  # the profiles there are still named
    one_sentence(err.value)


@pytest.mark.parametrize("key", ["a" * 20 + "/+\\'" + "b" * 19, "Zz9-" * 10 + "\"%&"])
def test_redaction_covers_escaped_and_quoted_spellings(key):
    assert len(key) == 43
    client = RedBrickClient(key, "http://localhost:1")
    spellings = [key, repr(key), json.dumps(key), quote(key, safe=""), ascii(key),
                 key.encode("unicode_escape").decode()]
    text = client.redact(" | ".join(spellings))
    assert key[:20] not in text and key[-12:] not in text, text


# -- 5. damaged journals ------------------------------------------------------------------

def test_a_torn_last_line_is_ignored_quietly(rb, tmp_path):
    items_path = make_items(tmp_path, 3)
    assert segmap_upload(rb, items_path)[1].ok
    tear_last_line(journal_path(items_path))
    ops_before = len(rb.ops())
    _, report = segmap_upload(rb, items_path)
    assert report.count(TaskState.EXISTING) == 3 and not report.warnings
    assert rb.ops()[ops_before:] == ["getProjectSDK"]
    assert not list(tmp_path.glob("*.damaged-*"))


def test_a_damaged_journal_is_kept_aside_and_no_task_is_made_twice(tmp_path):
    server = RBServer(accept_duplicates=True).start()  # a server that would take duplicates
    try:
        items_path = make_items(tmp_path, 6)
        assert segmap_upload(server, items_path)[1].ok
        journal = journal_path(items_path)
        garble_line(journal, '"case-003-I"')
        garble_line(journal, '"case-005-III"')
        damaged = journal.read_bytes()
        _, report = segmap_upload(server, items_path)
        assert set(server.creations.values()) == {1}, server.creations
        assert report.ok and report.count(TaskState.EXISTING) == 6
        copies = list(tmp_path.glob("items.upload-journal.jsonl.damaged-*"))
        assert len(copies) == 1 and copies[0].read_bytes() == damaged
        warning = next(w for w in report.warnings if "damaged" in w)
        assert str(copies[0]) in warning and "line" in warning
        looked_up = [v["taskSearch"] for v in server.variables("tasksListSDK")]
        assert sorted(looked_up) == ['"case-003-I"', '"case-005-III"']
        # The new journal is whole again, and says it was rebuilt from a damaged one.
        _, again = segmap_upload(server, items_path)
        assert again.count(TaskState.EXISTING) == 6 and not again.warnings
    finally:
        server.stop()


def test_records_of_the_wrong_types_are_damage_not_an_internal_error(rb, tmp_path):
    items_path = make_items(tmp_path, 2)
    assert segmap_upload(rb, items_path)[1].ok
    wrong_types(journal_path(items_path))
    _, report = segmap_upload(rb, items_path)
    assert report.ok and report.count(TaskState.EXISTING) == 2
    assert any("damaged" in w for w in report.warnings)
    assert set(rb.creations.values()) == {1} and not rb.rejected_duplicates
    assert len(list(tmp_path.glob("*.damaged-*"))) == 1


def test_a_rebuilt_journal_stays_distrustful_until_tasks_are_checked(tmp_path):
    path = tmp_path / "j.jsonl"
    j = Journal(path, "d")
    j.created("a", "dp", "t", ["t"])
    j.close()
    garble_line(path, '"a"')
    j = Journal(path, "d")
    assert j.damage is not None and j.damaged_copy is not None and j.damaged_copy.exists()
    assert j.state("a") == (None, {}) and j.unsure("a") and j.unsure("b")
    j.not_created("b")
    assert not j.unsure("b")
    # Killed here: the next run still knows the journal was rebuilt.
    j2 = Journal(path, "d", read_only=True)
    assert j2.damage is None and j2.unsure("a") and not j2.unsure("b")


def test_a_journal_that_is_not_a_journal_is_damage(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"journal": "something-else"}\n{"d": "d", "t": "a", "e": "creating"}\n')
    j = Journal(path, "d")
    assert j.damage is not None and "line 1" in j.damage
    j.close()
