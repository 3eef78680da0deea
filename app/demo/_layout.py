"""What the demo folder holds: its structures, masks, items list, taxonomy and README.

Everything here is plain data built from the phantom; ``app.demo._writer`` writes it.
The masks use TotalSegmentator's structure names so name-based mapping
suggestions work; the taxonomy uses the names a clinician would choose.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.demo._dicom import PATIENT_ID, SERIES_DESCRIPTION
from app.demo._phantom import SHAPE, SPACING, Phantom, Tissue
from app.items import ItemsList, SegmentMap, Series, Task


@dataclass(frozen=True)
class Structure:
    """One labelled structure: its value in the multi-label files and its category."""

    value: int
    name: str  # TotalSegmentator's name, used for the binary mask's file name
    category: str
    parents: tuple[str, ...]
    colour: str
    tissue: Tissue


STRUCTURES = (
    Structure(1, "liver", "Liver", ("Abdomen",), "#E07B54", Tissue.LIVER),
    Structure(2, "spleen", "Spleen", ("Abdomen",), "#9B6DC6", Tissue.SPLEEN),
    Structure(3, "kidney_left", "Left Kidney", ("Abdomen",), "#F2C14E", Tissue.KIDNEY_L),
    Structure(4, "kidney_right", "Right Kidney", ("Abdomen",), "#5DADE2", Tissue.KIDNEY_R),
    Structure(5, "aorta", "Aorta", ("Abdomen", "Vessels"), "#E74C3C", Tissue.AORTA),
    Structure(6, "liver_tumor", "Liver Tumor", ("Abdomen", "Lesions"), "#2ECC71", Tissue.TUMOUR),
)
# In file I only, and deliberately left out of the items list's segmentMap.
UNMAPPED = Structure(7, "vertebrae", "Vertebrae", ("Spine",), "#E8DCB5", Tissue.VERTEBRA)
BY_NAME = {s.name: s for s in (*STRUCTURES, UNMAPPED)}

TASK_I = "demo-I-one-multilabel-file"
TASK_II = "demo-II-two-multilabel-files"
TASK_III = "demo-III-binary-mask-per-organ"
TASKS = (TASK_I, TASK_II, TASK_III)

DICOM_DIR = "dicom"
CT_NIFTI = "ct.nii.gz"
MASK_I = "masks/I_one_file/segmentation.nii.gz"
MASKS_II = ("masks/II_two_files/organs.nii.gz", "masks/II_two_files/vessels_lesion.nii.gz")
MASKS_II_NAMES = (("liver", "spleen", "kidney_left", "kidney_right"), ("aorta", "liver_tumor"))
MASKS_III_DIR = "masks/III_one_file_per_organ"
README = "README.txt"
ITEMS_JSON = "items.json"
TAXONOMY_JSON = "taxonomy.json"


def mask_iii(name: str) -> str:
    """The relative path of the binary mask of structure ``name`` (import shape III)."""
    return f"{MASKS_III_DIR}/{name}.nii.gz"


def label_map(phantom: Phantom, structures: tuple[Structure, ...]) -> np.ndarray:
    """A uint8 multi-label volume: each structure's voxels hold its value."""
    lut = np.zeros(max(Tissue) + 1, dtype=np.uint8)
    for s in structures:
        lut[s.tissue] = s.value
    return lut[phantom.tissue]


def masks(phantom: Phantom) -> dict[str, np.ndarray]:
    """Every mask file of the demo (relative path -> uint8 volume)."""
    out = {MASK_I: label_map(phantom, (*STRUCTURES, UNMAPPED))}
    for path, names in zip(MASKS_II, MASKS_II_NAMES, strict=True):
        out[path] = label_map(phantom, tuple(BY_NAME[n] for n in names))
    for s in STRUCTURES:
        # The liver mask covers the lesion too, as a liver model's output does: the
        # deliberate overlap that becomes an overlap group on import.
        tissues = (Tissue.LIVER, Tissue.TUMOUR) if s.name == "liver" else (s.tissue,)
        out[mask_iii(s.name)] = phantom.region(*tissues).astype(np.uint8)
    return out


def items_list(dicom_files: list[str]) -> ItemsList:
    """The demo's items list: one task per import shape, paths relative to the folder."""
    categories: dict[int, Any] = {s.value: s.category for s in STRUCTURES}

    def series(items: str | list[str], kind: str, segmentations: str | list[str],
               smap: SegmentMap) -> Series:
        return Series(name=f"CT abdomen ({kind})", items=items, segmentations=segmentations,
                      segment_map=smap)

    def note(text: str) -> dict[str, Any]:
        return {"metaData": {"Segmap demo": text}}

    tasks = [
        Task(name=TASK_I, series=[series(dicom_files, "DICOM", MASK_I, SegmentMap.of(categories))],
             extra=note("Import shape I: one multi-label file. Value 7 (vertebrae) is "
                        "deliberately not mapped.")),
        Task(name=TASK_II, series=[series(CT_NIFTI, "NIfTI", list(MASKS_II),
                                          SegmentMap.of(categories))],
             extra=note("Import shape II: two multi-label files sharing one value mapping.")),
        Task(name=TASK_III,
             series=[series(dicom_files, "DICOM", [mask_iii(s.name) for s in STRUCTURES],
                            SegmentMap.of(categories, {s.value: mask_iii(s.name)
                                                       for s in STRUCTURES}))],
             extra=note("Import shape III: one binary mask per organ. The tumour mask "
                        "deliberately overlaps the liver mask.")),
    ]
    return ItemsList(tasks=tasks)


def taxonomy() -> dict[str, Any]:
    """A RedBrick taxonomy (v2) with every demo structure, vertebrae included."""
    return {
        "name": "Segmap demo: abdomen CT",
        "isNew": True,
        "archived": False,
        "studyClassify": [],
        "seriesClassify": [],
        "instanceClassify": [],
        "objectTypes": [
            {"category": s.category, "classId": i, "labelType": "SEGMENTATION",
             "color": s.colour, "parents": list(s.parents), "attributes": [], "archived": False}
            for i, s in enumerate((*STRUCTURES, UNMAPPED))
        ],
    }


def _entry(name: str, text: str) -> list[str]:
    return [name, *textwrap.wrap(text, 88, initial_indent="    ", subsequent_indent="    ",
                                 break_on_hyphens=False)]


def _bullet(text: str) -> list[str]:
    return textwrap.wrap(text, 88, initial_indent="* ", subsequent_indent="  ",
                         break_on_hyphens=False)


def readme(n_slices: int) -> str:
    """The README.txt of the demo folder."""
    shape = "x".join(map(str, SHAPE))
    mm = "x".join(f"{s:g}" for s in SPACING)
    values = ", ".join(f"{s.value} {s.name}" for s in (*STRUCTURES, UNMAPPED))
    ii = "; ".join(", ".join(f"{BY_NAME[n].value} {n}" for n in names) for names in MASKS_II_NAMES)
    lines = [
        "Segmap demo dataset",
        "===================",
        "",
        *textwrap.wrap(
            "A synthetic CT of the abdomen (a phantom drawn by Segmap, not a patient) with organ "
            "masks in the three shapes RedBrick AI imports, a taxonomy and a matching items list. "
            "The DICOM series, its NIfTI copy and every mask lie on one world grid.", 88),
        "",
        "Files",
        "-----",
        *_entry(f"{DICOM_DIR}/",
                f"{n_slices} axial CT slices: DICOM CT Image Storage, explicit VR little endian, "
                "int16 pixels with a rescale to Hounsfield units; patient ID "
                f"{PATIENT_ID}, series \"{SERIES_DESCRIPTION}\". As in real exports, neither the "
                "file names nor the order they were written in follow the slice order."),
        *_entry(CT_NIFTI, f"The same CT as NIfTI: int16 HU, {shape} voxels of {mm} mm."),
        *_entry(MASK_I, f"Import shape I, one multi-label file: {values}."),
        *_entry(f"{MASKS_II[0]}, {MASKS_II[1]}",
                f"Import shape II, two multi-label files sharing one value mapping: {ii}."),
        *_entry(f"{MASKS_III_DIR}/*.nii.gz",
                "Import shape III, one binary (0/1) mask per structure, named as TotalSegmentator "
                "names them: " + ", ".join(s.name for s in STRUCTURES) + "."),
        *_entry(TAXONOMY_JSON, "A RedBrick taxonomy (v2) with a category and a colour for each "
                "structure, vertebrae included."),
        *_entry(ITEMS_JSON, f"A RedBrick items list with one task per import shape: {TASK_I} "
                f"(image: the DICOM series), {TASK_II} (image: {CT_NIFTI}) and {TASK_III} "
                "(image: the DICOM series). Paths are relative to this folder."),
        *_entry(".segmap-demo.json", "Marks the folder as a complete Segmap demo; it is "
                "written last."),
        "",
        "Deliberate problems (everything else is clean)",
        "----------------------------------------------",
        *_bullet(f"{TASK_I}: value {UNMAPPED.value} ({UNMAPPED.name}) is in {MASK_I} but not in "
                 "the segmentMap. Validation warns: RedBrick would import it as an uneditable, "
                 f"view-only annotation with no category. Fix: map {UNMAPPED.value} to "
                 f"{UNMAPPED.category} (it is in the taxonomy)."),
        *_bullet(f"{TASK_III}: liver_tumor.nii.gz lies inside liver.nii.gz (a liver model's mask "
                 "includes its lesions). On import the shared voxels become an overlap group: "
                 "a new id that the liver and the tumour both list in overlappingGroups."),
        "",
        "Try",
        "---",
        f"  segmap validate {ITEMS_JSON} --taxonomy {TAXONOMY_JSON}",
        f"  segmap merge {ITEMS_JSON} --task {TASK_III} -o merged.nii.gz",
        f"  segmap census {MASK_I}",
        "",
    ]
    return "\n".join(lines)
