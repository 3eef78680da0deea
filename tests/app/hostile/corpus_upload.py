"""Hostile inputs for the upload: addresses, keys, credentials files and damaged journals.

Built at test time like ``corpus``; each builder writes one case and returns its path,
or is a list of cases for ``pytest.mark.parametrize``.
"""

from __future__ import annotations

import json
from pathlib import Path

# Addresses that merely contain "localhost" or "amazonaws.com": foreign hosts all the same.
# (URL, the host it names)
FOREIGN_HTTP = [
    ("http://localhost.attacker.example", "localhost.attacker.example"),
    ("http://localhost.attacker.example:8080/graphql", "localhost.attacker.example"),
    ("http://attacker.example/localhost", "attacker.example"),
    ("http://s3.amazonaws.com.attacker.example", "s3.amazonaws.com.attacker.example"),
    ("http://attacker.example/amazonaws.com", "attacker.example"),
    ("http://x.execute-api.us-east-1.amazonaws.com/dev", "x.execute-api.us-east-1.amazonaws.com"),
    ("http://127.0.0.1.attacker.example", "127.0.0.1.attacker.example"),
    ("https://api.redbrickai.com.attacker.example", "api.redbrickai.com.attacker.example"),
]

# Loopback: plain http stays plain (a local server for tests, a tunnel).
LOOPBACK_HTTP = ["http://localhost:4000", "http://LOCALHOST:4000/", "http://127.0.0.1:4000",
                 "http://127.8.9.10:1", "http://[::1]:4000"]

# Not a plain address: a user part, a backslash, a control character, another scheme.
REFUSED_URLS = ["http://localhost@attacker.example", "http://user:pw@api.example.org",
                "http://attacker.example\\@localhost", "http://local\nhost:4000",
                "http://localhost:80.attacker.example", "ftp://api.example.org", "http://"]


def key_with(break_: str = "\r\n") -> str:
    """A 43-character key with a line break (or another character) inside."""
    head = "KEYHEAD" + "a" * 14
    key = head + break_ + "b" * (43 - len(head) - len(break_) - 7) + "KEYTAIL"
    assert len(key) == 43
    return key


def credentials_with_key_as_profile(path: Path, key: str) -> Path:
    """A credentials file whose ``[default] profile =`` line holds the key itself."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[default]\nprofile = {key}\n\n[work]\nkey = {'w' * 43}\norg = x\n",
                    encoding="utf-8")
    return path


def credentials_with_folded_key(path: Path, key_head: str, key_tail: str) -> Path:
    """A profile whose key runs on in an indented line (INI folds it: a line break)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[default]\nprofile = p\n\n[p]\nkey = {key_head}\n  {key_tail}\n",
                    encoding="utf-8")
    return path


def journal_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def garble_line(path: Path, match: str) -> Path:
    """The journal with the line holding ``match`` overwritten by bytes that are no JSON
    (a bad sector, a bad edit); the lines after it stay."""
    lines = journal_lines(path)
    n = next(i for i, line in enumerate(lines) if match in line)
    lines[n] = lines[n][: len(lines[n]) // 2] + "\x00\x00#garbage"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wrong_types(path: Path) -> Path:
    """The journal with records that are valid JSON of the wrong types appended."""
    lines = journal_lines(path)
    dest = json.loads(lines[1])["d"]
    lines += [json.dumps(r) for r in (
        {"d": dest, "t": "case-000-I", "e": "label", "series": "zero", "key": 5},
        {"d": dest, "t": ["x"], "e": "file", "path": 1, "fp": "ab", "filePath": None},
        {"d": dest, "t": "case-001-II", "e": "created", "taskIds": "not a list"},
        [1, 2, 3], "just a string", {"d": dest, "e": "no-such-event", "t": "x"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tear_last_line(path: Path) -> Path:
    """A record cut off half-way, as a kill -9 during the write leaves it."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"d": "https://x 1 2", "t": "case-0')
    return path
