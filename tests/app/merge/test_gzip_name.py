"""An uncompressed file named .nii.gz (or a gzip file named .nii): RedBrick's SDK cannot
open it, so merge, stats and upload say so, as validation's gzip-name-mismatch does."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from app.cli import main
from app.errors import MergeError
from app.items import load_items
from app.merge import merge
from app.progress import run
from app.upload import Destination, TaskState, UploadOptions, upload
from app.validate import validate

from ..builders import image, items_file, nifti, volume
from ..rb_server import ORG, PROJECT, RBServer, make_items
from ..sdk_oracle import sdk_merge
from ..upload.test_upload_e2e import fast_client


def _plain_named_gz(path: Path) -> str:
    """An uncompressed NIfTI at ``path``, a name ending in .nii.gz."""
    plain = nifti(path.with_name("tmp-plain.nii"), volume({(0, 0, 0): 1, (1, 0, 0): 2}))
    os.replace(plain, path)
    return str(path)


def _gz_named_nii(path: Path) -> str:
    zipped = nifti(path.with_name("tmp-zipped.nii.gz"), volume({(2, 1, 0): 3}))
    os.replace(zipped, path)
    return str(path)


def _case(tmp_path: Path, seg: str) -> Path:
    image(tmp_path / "img.nii.gz")
    return items_file(tmp_path, [{"name": "t", "series": [{
        "items": "img.nii.gz", "segmentations": seg, "segmentMap": {"1": "a", "2": "b"}}]}])


@pytest.mark.oracle
@pytest.mark.parametrize("make", [_plain_named_gz, _gz_named_nii])
def test_merge_fails_as_the_sdk_does(tmp_path: Path, make) -> None:
    good = nifti(tmp_path / "good.nii.gz", volume({(3, 2, 1): 2}))
    bad = make(tmp_path / ("bad.nii.gz" if make is _plain_named_gz else "bad.nii"))
    for files in ([bad], [str(good), bad]):
        theirs = sdk_merge(files, {1: None, 2: None})
        assert theirs.error is not None
        with pytest.raises(MergeError) as exc:
            merge(files, {1: None, 2: None})
        assert exc.value.sdk_message == theirs.error


def test_merge_and_stats_cli_refuse(tmp_path: Path, capsys) -> None:
    _plain_named_gz(tmp_path / "seg.nii.gz")
    items = _case(tmp_path, "seg.nii.gz")
    assert "gzip-name-mismatch" in {f.code for f in validate(load_items(items))}
    for command in ("merge", "stats"):
        assert main([command, str(items), "--task", "t"]) == 1
        err = capsys.readouterr().err
        assert "not gzip-compressed" in err and "unchanged" not in err


def test_merge_json_says_no_unchanged_upload(tmp_path: Path, capsys) -> None:
    _plain_named_gz(tmp_path / "seg.nii.gz")
    items = _case(tmp_path, "seg.nii.gz")
    assert main(["merge", str(items), "--task", "t"]) == 1
    assert "RedBrick would upload" not in capsys.readouterr().out


def test_upload_refuses_before_sending_anything(rb: RBServer, tmp_path: Path) -> None:
    items_path = make_items(tmp_path, 1, kinds=("I",))
    tasks = json.loads(items_path.read_text())
    segs = tasks[0]["series"][0]["segmentations"]
    seg = tmp_path / (segs[0] if isinstance(segs, list) else segs)
    assert str(seg).endswith(".nii.gz")
    seg.write_bytes(gzip.decompress(seg.read_bytes()))
    report = run(upload(load_items(items_path), Destination(rb.url, ORG, PROJECT),
                        options=UploadOptions(validate=False), client=fast_client(rb)))
    [task] = report.tasks
    assert task.state is TaskState.FAILED
    assert "is not a gzip file" in (task.error or "")
    assert rb.blobs == {} and "createDatapointSDK" not in rb.ops()
