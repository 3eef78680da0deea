"""A folder in, the cases out: what is an image, what is a mask, and which goes with which.

``scan(folder)`` (long work) walks the folder once, reads image headers (NIfTI,
NRRD, DICOM series), censuses every mask once, reads label tables beside them
(dataset.json, colour tables, ...), pairs each mask with its image by the
dataset's layout and names, confirmed in world space, and groups them into
``Case``s in RedBrick's import shapes. Names and folders are read by
``parse_name`` / ``role_hint`` / ``structure_name``; label tables are ``LabelTable``s.
A volume's role is decided by its folder, name, header, then values (a one-byte volume's
by its census, a label table beside it and the pairing; ``Volume.why`` and
``Volume.evidence`` say what decided), unless the user's ``RoleOverride`` says; the folder
chosen (the dataset or any parent) does not change the pairing. Segmap's own
outputs found in the folder are left out (``ScanResult.own_outputs``, ``OwnOutput``).
DICOM SEG and RTSTRUCT files become binary NIfTI masks of the series they reference, in
a cache outside the user's folders (``ScanResult.derived``, ``Derived``, ``derived_root``);
export copies them out of it (``derived_mask`` says which masks are such).
"""

from app.discover._cases import Case
from app.discover._derived import (
    Derived,
    DerivedMask,
    derived_info,
    derived_mask,
    derived_root,
    segment_info,
)
from app.discover._layouts import Layout, ParsedName, parse_name, role_hint, structure_name
from app.discover._outputs import OwnOutput
from app.discover._pairing import ImageRef, MaskRef, Pair, Unpaired
from app.discover._roles import RoleOverride
from app.discover._rt_lists import (
    RtSeries,
    bind_rt_maps,
    is_rt_series,
    rois_of,
    rt_census,
    rt_everything,
    rt_of,
    rt_places,
    rt_series,
    value_segments,
    with_rt_as_nifti,
)
from app.discover._scan import ScanResult, Volume, scan
from app.discover._sidecars import LabelTable, TableKind, dcmqi_name, read_sidecar
from app.discover._sketch import CaseSketch, ScanProgress

__all__ = [
    "Case", "CaseSketch", "Derived", "DerivedMask", "ImageRef", "LabelTable", "Layout",
    "MaskRef", "OwnOutput", "Pair", "ParsedName", "RoleOverride", "RtSeries", "ScanProgress",
    "ScanResult", "TableKind",
    "Unpaired", "Volume", "bind_rt_maps", "dcmqi_name", "derived_info", "derived_mask",
    "derived_root", "is_rt_series", "parse_name", "read_sidecar", "role_hint", "rois_of",
    "rt_census", "rt_everything", "rt_of", "rt_places", "rt_series", "scan", "segment_info",
    "structure_name", "value_segments", "with_rt_as_nifti"
]
