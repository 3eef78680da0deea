"""Every broken file in every place a command takes one: a plain error, never a hang, an
internal error or a changed input (issue 16).

The corpus is built at test time (``corpus.broken_volumes``/``broken_json``); each call
runs under an alarm, so a read that would block on a FIFO fails the test instead of
hanging the suite.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from tests.app.builders import image, items_file
from tests.app.hostile.corpus import broken_json, broken_volumes

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="needs SIGALRM")

LIMIT_S = 30


class Hung(Exception):
    pass


@contextlib.contextmanager
def alarm(seconds: int = LIMIT_S) -> Iterator[None]:
    def ring(signum: int, frame: object) -> None:
        raise Hung(f"no answer in {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()
            and not p.name.startswith("fifo")}


def _run(capsys, argv: list[str]) -> tuple[int, str]:
    with alarm():
        code = main(argv)
    out, err = capsys.readouterr()
    return code, out + err


def _plain(code: int, text: str, name: str) -> None:
    assert "internal error" not in text and "Traceback" not in text, text
    assert "This is a bug" not in text, text
    assert code in (0, 1), (code, text)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("hostile") / "volumes"
    return folder, broken_volumes(folder)


VOLUMES = [
    "empty.nii", "empty.nii.gz", "empty.nrrd", "empty.dcm", "empty.mha",
    "garbage.nii", "garbage.nii.gz", "garbage.nrrd", "garbage.dcm", "garbage.mha",
    "truncated.nii.gz", "short-data.nii", "huge-claim.nii", "huge-claim.nii.gz",
    "negative-dim.nii", "nan-affine.nii", "vox-offset-0.nii", "header-only.nrrd",
    "unknown-encoding.nrrd", "fifo.nii.gz", "fifo.dcm", "zero.nii",
]


def _case(corpus, name: str) -> Path:
    folder, files = corpus
    if name not in files:
        pytest.skip(f"{name} cannot be made here")
    return files[name]


@pytest.mark.parametrize("name", VOLUMES)
def test_census_of_a_broken_mask(capsys, corpus, name):
    path = _case(corpus, name)
    code, text = _run(capsys, ["census", str(path)])
    _plain(code, text, name)
    assert code == 1 and path.name in text, text


def _list_with(tmp_path: Path, mask: Path | None, img: Path | None = None) -> Path:
    image(tmp_path / "img.nii.gz", shape=(2, 2, 2))
    series = {"items": str(img or tmp_path / "img.nii.gz"),
              "segmentations": str(mask or tmp_path / "img.nii.gz"),
              "segmentMap": {"1": "category-a"}}
    return items_file(tmp_path, [{"name": "t", "series": [series]}])


@pytest.mark.parametrize("name", VOLUMES)
@pytest.mark.parametrize("command", ["validate", "stats", "merge"])
def test_a_broken_mask_in_a_list(capsys, corpus, tmp_path, command, name):
    path = _case(corpus, name)
    before = _digest(corpus[0])
    listed = _list_with(tmp_path, path)
    extra = {"validate": [], "stats": ["--task", "t"],
             "merge": ["--task", "t", "-o", str(tmp_path / "out.nii.gz")]}[command]
    code, text = _run(capsys, [command, str(listed), *extra])
    _plain(code, text, name)
    assert code == 1, text
    assert path.name in text, text
    assert _digest(corpus[0]) == before


@pytest.mark.parametrize("name", VOLUMES)
def test_a_broken_image_in_a_list_fails_validation(capsys, corpus, tmp_path, name):
    path = _case(corpus, name)
    listed = _list_with(tmp_path, tmp_path / "img.nii.gz", img=path)
    code, text = _run(capsys, ["validate", str(listed)])
    _plain(code, text, name)
    assert code == 1 and path.name in text, text


@pytest.mark.parametrize("command", ["scan", "build"])
def test_a_folder_of_broken_files_is_scanned_around_them(capsys, corpus, tmp_path, command):
    data = tmp_path / "data"
    broken_volumes(data)
    image(data / "good" / "ct.nii.gz", shape=(2, 2, 2))
    before = _digest(data)
    extra = ["-o", str(tmp_path / "items.json")] if command == "build" else []
    code, text = _run(capsys, [command, str(data), *extra])
    _plain(code, text, command)
    if command == "scan":
        assert "1 image volumes" in text and "vox-offset-0.nii" in text
        if hasattr(os, "mkfifo"):
            assert "left out: fifo.nii.gz is a named pipe (FIFO)" in text
    assert _digest(data) == before


JSONS = ["empty.json", "nan.json", "huge-number.json", "surrogate.json", "wrong-types.json",
         "list-of-numbers.json", "deep.json", "fifo.json", "zero.json"]


@pytest.fixture(scope="module")
def bad_json(tmp_path_factory) -> dict[str, Path]:
    return broken_json(tmp_path_factory.mktemp("hostile-json"))


@pytest.mark.parametrize("name", JSONS)
@pytest.mark.parametrize("command", ["validate", "export", "stats", "merge"])
def test_a_broken_items_list(capsys, bad_json, tmp_path, command, name):
    if name not in bad_json:
        pytest.skip(f"{name} cannot be made here")
    path = bad_json[name]
    extra = {"validate": [], "export": ["-o", str(tmp_path / "out.json")],
             "stats": ["--task", "a"], "merge": ["--task", "a"]}[command]
    code, text = _run(capsys, [command, str(path), *extra])
    _plain(code, text, name)
    assert code == 1, text
    assert path.name in text or "Task #1" in text, text  # the file, or the place in it
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("name", JSONS)
def test_a_broken_taxonomy(capsys, bad_json, tmp_path, name):
    if name not in bad_json:
        pytest.skip(f"{name} cannot be made here")
    listed = _list_with(tmp_path, None)
    code, text = _run(capsys, ["validate", str(listed), "--taxonomy", str(bad_json[name])])
    _plain(code, text, name)
    assert code == 1 and bad_json[name].name in text, text


def test_the_corpus_is_what_it_says(corpus):
    _, files = corpus
    assert json.loads(json.dumps(sorted(files))) == sorted(files)
    assert set(files) <= set(VOLUMES)
