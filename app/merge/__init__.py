"""The merge RedBrick runs on a series' segmentation files, reproduced exactly.

* ``series_inputs``: the one translation from a series of the items list to the
  merge's inputs (``SeriesInputs``, immutable), used by validation, ``segmap merge``,
  ``segmap stats``, the preview and the upload;
* ``merge_files`` / ``merge``: redbrick-sdk 2.35.4's ``process_upload``, voxel for voxel
  (``MergeResult``: the label volume and its overlap groups);
* ``check_gzip_names``: the SDK's failure on a file whose name and compression disagree,
  found from two bytes of each file (the upload checks it before sending anything);
* ``sdk_label``: the label value RedBrick stores for a voxel value.
"""

from app.merge._engine import MergeResult, merge, merge_files
from app.merge._inputs import (
    Entry,
    SeriesInputs,
    entries_of,
    merge_inputs,
    merge_series,
    series_inputs,
)
from app.merge._read import check_gzip_names, sdk_label

__all__ = [
    "Entry", "MergeResult", "SeriesInputs", "check_gzip_names", "entries_of", "merge", "merge_files", "merge_inputs",
    "merge_series", "sdk_label", "series_inputs"
]
