"""Writing an items list where the user wants it: paths rebased, NRRD masks as NIfTI.

* ``export_items(items, path, root)`` writes the list atomically with its local paths
  relative to ``root`` (RedBrick's CLI resolves them against the list's own folder);
* ``convert_masks`` writes every NRRD mask a list names as NIfTI (RedBrick reads NIfTI
  only) and points the list at the copies; build, export and upload all use it and
  say what they converted (``Conversion``).
"""

from app.export._convert import CONVERTED_FOLDER, Conversion, convert_masks, plan_conversions
from app.export._export import ExportSummary, export_items

__all__ = [
    "CONVERTED_FOLDER", "Conversion", "ExportSummary", "convert_masks", "export_items",
    "plan_conversions"
]
