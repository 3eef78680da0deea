"""Task fields checked against the project when it is read: its stages for preAssign."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.items import load_items
from app.progress import run
from app.upload import Destination, UploadBlocked, UploadOptions, upload

from ..rb_server import ORG, PROJECT, RBServer, make_items
from .test_upload_e2e import fast_client


def test_pre_assign_to_a_stage_the_project_lacks_blocks_the_upload(rb: RBServer,
                                                                  tmp_path: Path) -> None:
    """The project's stages are known once it is read: preAssign is checked against them."""
    path = make_items(tmp_path, 1)
    data = json.loads(path.read_text())
    data[0]["preAssign"] = {"Reveiw": "a@b.org"}
    path.write_text(json.dumps(data))
    with pytest.raises(UploadBlocked) as err:
        run(upload(load_items(path), Destination(rb.url, ORG, PROJECT),
                   options=UploadOptions(), client=fast_client(rb)))
    (found,) = [f for f in err.value.findings if f.code == "preassign-stage"]
    assert "Reveiw" in found.message and "Label" in found.message
    assert "createDatapointSDK" not in rb.ops()
