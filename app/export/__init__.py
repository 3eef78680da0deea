"""Writing an items list where the user wants it: paths rebased, files RedBrick refuses
written in a form it takes.

* ``export_items(items, path, root, dcm_names=...)`` writes the list atomically with its
  local paths relative to ``root`` (RedBrick's CLI resolves them against the list's own
  folder), and says what it wrote (``ExportSummary``);
* ``convert_masks`` writes every NRRD mask a list names as NIfTI (RedBrick reads NIfTI
  only) and points the list at the copies; build, export and upload all use it and
  say what they converted (``Conversion``);
* DICOM files without ``.dcm`` (PACS exports named by UID, ``CT.1.3.6.1...300000``):
  ``needs_dcm_name`` says which files RedBrick refuses for their name alone; the upload
  sends them under ``upload_name``; ``rename_dicom`` (export and build, on request)
  writes links or copies under ``.dcm`` names (``LinkMode``, ``Renamed``) and points the
  list at them; ``dicom_to_rename`` lists a list's such files (the wizard asks about them);
* outputs: never over an input (``guard_output``, ``list_inputs``), a file Segmap did not
  write replaced only when asked (``replace_question``, ``ReplaceRefused``, ``--force``),
  each list Segmap writes recorded beside it (``record_output``, ``written_by_segmap``).
"""

from app.export._convert import Conversion, convert_masks, plan_conversions
from app.export._dicom_names import (
    DCM_SUFFIX,
    LinkMode,
    Renamed,
    dcm_name,
    dicom_to_rename,
    needs_dcm_name,
    plan_renames,
    rename_dicom,
    upload_name,
)
from app.export._export import ExportSummary, export_items
from app.export._own import (
    ReplaceRefused,
    guard_output,
    list_inputs,
    record_output,
    record_path,
    replace_question,
    written_by_segmap,
)

__all__ = [
    "DCM_SUFFIX", "Conversion", "ExportSummary", "LinkMode", "Renamed", "ReplaceRefused",
    "convert_masks", "dcm_name", "dicom_to_rename", "export_items", "guard_output", "list_inputs",
    "needs_dcm_name", "plan_conversions", "plan_renames", "record_output", "record_path",
    "rename_dicom", "replace_question", "upload_name", "written_by_segmap"
]
