"""The dataset report (issue 15): one folder, index.html and thumbs/*.png, that opens
offline and prints to PDF.

* ``write_report(source, out)`` (long work): per case three thumbnails through the
  largest extent of the masks, drawn with the preview's own display code (the merge as
  RedBrick stores it), the legend, grids, the mapping and where each category came from,
  voxels / mL / mean intensity (as ``app.preview.series_stats`` measures them, on the
  preview's volumes: one read per image), findings and sign-off;
  across the dataset the category x case matrix (missing, renumbered, conflicting values
  highlighted), outliers of volume and intensity (median and MAD, robust z > 3.5),
  geometry problems and findings by severity; provenance (version, sources, taxonomy,
  template, time, SHA-256 per file). Returns a ``ReportSummary``.
* ``png_bytes``: a PNG writer without Qt (numpy, zlib, struct).
* ``robust_z``: median and modified z-scores, as the outliers use them.
"""

from app.report._dataset import Z_LIMIT, robust_z
from app.report._png import png_bytes
from app.report._write import ReportSummary, write_report

__all__ = ["Z_LIMIT", "ReportSummary", "png_bytes", "robust_z", "write_report"]
