"""The wire format and the SDK's local steps, checked against redbrick-sdk 2.35.4 itself."""

from __future__ import annotations

import base64
import gzip
import inspect
import json
import re

import pytest

from app.errors import InputError
from app.items import file_type
from app.upload import RedBrickClient, RetryPolicy, Timeouts, api_url
from app.upload import _queries as queries
from app.upload._client import encode_body
from app.upload._datapoint import TaskError, map_segmentation_category, series_info_variable

from ..rb_server import API_KEY, ORG, PROJECT, Faults, RBServer, make_items
from .test_upload_e2e import segmap_upload

sdk_client = pytest.importorskip("redbrick.common.client")


def _tokens(query: str) -> list[str]:
    return [t for t in re.findall(r"\.\.\.|\$?[A-Za-z_]\w*|[^\s\w]", query) if t != ","]


@pytest.mark.parametrize("url", [
    None, "https://api.redbrickai.com", "https://api.redbrickai.com/", "HTTPS://API.RedBrickAI.com",
    "https://preview.redbrickai.com", "http://app.example.org/some/path",
    "http://localhost:4000", "https://x.execute-api.us-east-1.amazonaws.com/dev",
])
def test_api_url_follows_the_sdks_rules(url):
    assert api_url(url) == sdk_client._get_api_url(url)


def test_bodies_are_encoded_as_the_sdk_encodes_them():
    variables = {"orgId": ORG, "name": "Café ü", "n": [1, 2.5, None, True]}
    body = encode_body("query x { y }", variables)
    assert body == sdk_client._prepare_query("query x { y }", variables)
    assert json.loads(gzip.decompress(base64.b64decode(body)))["variables"] == variables


def _sdk_document(method) -> str:
    src = inspect.getsource(method)
    return re.search(r'(?:query_string|query) = f?"""(.*?)"""', src, re.S).group(1)


def test_documents_are_the_sdks():
    from redbrick.repo import labeling, project, upload
    from redbrick.repo.shards import project_shard

    pairs = {
        queries.VALIDATE_AND_CONVERT: upload.UploadRepoImpl.validate_and_convert_to_import_format,
        queries.ITEMS_UPLOAD_PRESIGN: upload.UploadRepoImpl.items_upload_presign,
        queries.CREATE_DATAPOINT: upload.UploadRepoImpl.create_datapoint_async,
        queries.GET_LABEL_STORAGE: project.ProjectRepoImpl.get_label_storage,
        queries.PRESIGN_UPLOADS: labeling.LabelingRepoImpl.presign_labels_path,
    }
    for ours, method in pairs.items():
        assert _tokens(ours) == _tokens(_sdk_document(method)), method.__name__
    get_project = _sdk_document(project.ProjectRepoImpl.get_project).replace(
        "{project_shard(True, True)}", project_shard(True, True)).replace("{{", "{").replace(
        "}}", "}")
    assert _tokens(queries.GET_PROJECT) == _tokens(get_project)


@pytest.mark.parametrize("name", ["a.nii.gz", "a.NII", "b.dcm", "noext", "c.nrrd", "d.png",
                                  "e.jpeg", "f.IMA", "g.mha", "h.mov", "i.tar.gz"])
def test_file_types_are_the_sdks(name):
    from redbrick.utils.files import get_file_type

    try:
        expected = get_file_type(name)[1]
    except ValueError:
        with pytest.raises(InputError, match="does not accept"):
            file_type(name)
    else:
        assert file_type(name) == expected


@pytest.mark.parametrize("segment_map", [
    {"1": "cat-a", "2": 5, "3": ["Organs", "Liver"], "4": [["object", "Organs", "Liver"]]},
    {"7": {"category": "cat-a", "attributes": [{"name": "x", "value": True}]}},
    {"1": {"category": None}},
    {"1": "a", "binaryMask": True},
])
def test_task_level_segment_map_becomes_the_sdks_labels(segment_map):
    from redbrick.upload.interact import map_segmentation_category as sdk_map

    try:
        expected = sdk_map(segment_map)
    except ValueError as exc:
        with pytest.raises(TaskError) as err:
            map_segmentation_category(segment_map)
        assert str(exc) in str(err.value)  # the SDK's words are quoted for the user
    else:
        assert map_segmentation_category(segment_map) == expected


def test_series_info_drops_mask_flags_and_stringifies_json():
    point = {"seriesInfo": [{"name": "CT", "itemsIndices": [0], "dataType": "nifti",
                             "metaData": {"a": "1"}, "imageHeaders": None, "binaryMask": True,
                             "semanticMask": False, "pngMask": False, "masks": {"1": "m"}}]}
    assert series_info_variable(point) == [{"name": "CT", "itemsIndices": [0],
                                            "dataType": "nifti", "metaData": '{"a":"1"}',
                                            "imageHeaders": None}]


def test_redact_hides_the_key_and_presigned_signatures():
    client = RedBrickClient(API_KEY, "http://localhost:1")
    text = client.redact(f"bad key {API_KEY} at https://bucket/x.nii.gz?sig=abc&se=2 ok")
    assert API_KEY not in text and "sig=abc" not in text
    assert "https://bucket/x.nii.gz" in text
    assert API_KEY not in repr(client)


def test_slow_create_answers_time_out_and_are_looked_up(tmp_path):
    items_path = make_items(tmp_path, 2)
    faults = Faults(rate=1.0, kinds=("slow",), phases=("after",), slow_seconds=0.6,
                    ops=frozenset({"createDatapointSDK"}))
    server = RBServer(faults=faults).start()
    try:
        from app.items import load_items
        from app.progress import run
        from app.upload import Destination, UploadOptions, upload

        client = RedBrickClient(API_KEY, server.url, retry=RetryPolicy(4, 0.001, 0.01),
                                timeouts=Timeouts(api=(2, 0.3), put=(2, 2)))
        report = run(upload(load_items(items_path), Destination(server.url, ORG, PROJECT),
                            options=UploadOptions(validate=False), client=client))
        assert report.ok and report.retries >= 2
        assert set(server.creations.values()) == {1} and not server.rejected_duplicates
        assert server.ops().count("createDatapointSDK") == 2  # never sent twice
    finally:
        server.stop()


def test_rate_limits_are_waited_out(tmp_path):
    items_path = make_items(tmp_path, 2)
    server = RBServer(faults=Faults(rate=0.5, seed=3, kinds=("429",))).start()
    try:
        _, report = segmap_upload(server, items_path)
        assert report.ok and server.faults_done["429-before"] > 0
        assert report.retries >= server.faults_done["429-before"]
    finally:
        server.stop()
