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
  each list Segmap writes recorded beside it (``record_output``, ``written_by_segmap``);
* standard labels out: ``write_dicom_seg`` (a DICOM SEG, label-map or binary, that
  references its source series, ``SegmentSpec`` per segment), the label table as a
  3D Slicer colour table (``slicer_colour_table``) and an ITK-SNAP label description
  (``itksnap_label_file``), written atomically and read back (``read_slicer_colour_table``,
  ``read_itksnap_labels``) as ``LabelRow``s; coded concepts are ``Code`` / ``CodeTriple``.
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
from app.export._dicom_seg import (
    LOCAL_SCHEME,
    SegKind,
    SegmentSpec,
    SegWritten,
    local_code,
    write_dicom_seg,
)
from app.export._export import ExportSummary, export_items
from app.export._label_tables import (
    ITKSNAP_HEADER,
    SLICER_COLUMNS,
    Code,
    CodeTriple,
    LabelRow,
    itksnap_label_file,
    parse_itksnap_labels,
    parse_slicer_colour_table,
    read_itksnap_labels,
    read_slicer_colour_table,
    slicer_colour_table,
    write_itksnap_labels,
    write_slicer_colour_table,
)
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
    "DCM_SUFFIX", "ITKSNAP_HEADER", "LOCAL_SCHEME", "SLICER_COLUMNS", "Code", "CodeTriple",
    "Conversion", "ExportSummary", "LabelRow", "LinkMode", "Renamed", "ReplaceRefused", "SegKind",
    "SegWritten", "SegmentSpec", "convert_masks", "dcm_name", "dicom_to_rename", "export_items",
    "guard_output", "itksnap_label_file", "list_inputs", "local_code", "needs_dcm_name",
    "parse_itksnap_labels", "parse_slicer_colour_table", "plan_conversions", "plan_renames",
    "read_itksnap_labels", "read_slicer_colour_table", "record_output", "record_path",
    "rename_dicom", "replace_question", "slicer_colour_table", "upload_name", "write_dicom_seg",
    "write_itksnap_labels", "write_slicer_colour_table", "written_by_segmap"
]
