"""The demo dataset Segmap writes itself: a synthetic CT (DICOM and NIfTI), organ masks in
all three import shapes, a taxonomy and an items list, so the wizard shows something at once.

``write_demo(folder)`` (long work) / ``make_demo(folder)``; ``is_demo(folder)``; the layout
of what it writes (file names, structures, task names) is described by the constants here.
"""

from app.demo._layout import (
    CT_NIFTI,
    DICOM_DIR,
    ITEMS_JSON,
    MASK_I,
    MASKS_II,
    MASKS_III_DIR,
    README,
    STRUCTURES,
    TASK_I,
    TASK_II,
    TASK_III,
    TAXONOMY_JSON,
    UNMAPPED,
    Structure,
    mask_iii,
)
from app.demo._phantom import SHAPE
from app.demo._writer import MARKER, SCRATCH_PREFIX, DemoInfo, is_demo, make_demo, write_demo

__all__ = [
    "CT_NIFTI", "DICOM_DIR", "ITEMS_JSON", "MARKER", "MASKS_II", "MASKS_III_DIR", "MASK_I",
    "README", "SCRATCH_PREFIX", "SHAPE", "STRUCTURES", "TASK_I", "TASK_II", "TASK_III",
    "TAXONOMY_JSON", "UNMAPPED", "DemoInfo", "Structure", "is_demo", "make_demo", "mask_iii",
    "write_demo"
]
