"""What is in a file: volumes, masks and DICOM series, read fast. No RedBrick rules here.

Grids are RAS+ world grids (``app.geometry.Grid``); voxel arrays keep the file's
array order (NIfTI's x fastest). Which of these files RedBrick accepts, and how
its SDK turns their values into labels, is decided in ``app.items`` and
``app.merge``.

* formats: ``Format``, ``volume_format``, ``split_suffix`` and the suffix lists;
* NIfTI: ``nifti_info`` (header only), ``read_raw``, ``iter_raw`` (streamed), ``nonzero``,
  ``nifti_bytes``, ``save_nifti`` (atomic);
* NRRD: ``nrrd_info``, ``read_nrrd``; ``mask_as_nifti`` (an NRRD mask as the NIfTI it
  converts to);
* DICOM SEG masks: ``is_dicom_seg`` (by its header), ``seg_as_nifti`` (the NIfTI RedBrick's
  SDK stores for it, decoded once per file version and kept in ``SEG_CACHE``);
* any image: ``image_grid`` (headers only), ``load_image``, ``image_hints`` (modality and
  the file's own window, for display), ``dicom_tags`` (a few header values by keyword);
* masks: ``census`` (values and voxel counts, streamed), with each label map's non-zero
  runs kept in ``RUNS`` for a later merge;
* DICOM: ``scan_dicom``, ``load_dicom_volume``, ``DicomSeries``;
* DICOM SEG and RTSTRUCT: ``seg_header``, ``read_seg`` (``load_seg`` streamed),
  ``rtstruct_header``, ``read_rtstruct``; what RedBrick's SDK stores for them
  (``sdk_seg_volume``, ``sdk_rtstruct_volume``) and why it would refuse one (``sdk_refusal``);
* limits: ``require_memory`` (an allocation refused before it is made, naming the file),
  ``available_memory``, ``size_text``;
* folders: ``walk_folder`` (what a scan looks into: hidden entries skipped, links followed
  once).
"""

from app.readers._census import Census, ValueFlag, census, tally_chunks, value_text
from app.readers._formats import (
    NIFTI_SUFFIXES,
    NRRD_SUFFIXES,
    VOLUME_SUFFIXES,
    Format,
    is_volume_name,
    split_suffix,
    volume_format,
)
from app.readers._hints import ImageHints, image_hints
from app.readers._limits import available_memory, require_memory, size_text
from app.readers._nifti import (
    GZIP_MAGIC,
    NiftiHeader,
    NiftiInfo,
    iter_raw,
    nifti_bytes,
    nifti_info,
    nonzero,
    nonzero_in,
    open_nifti_stream,
    read_head,
    read_raw,
    save_nifti,
)
from app.readers._nrrd import NrrdInfo, nrrd_info, read_nrrd
from app.readers._runs import RUNS, RunCache, Runs, chunk_runs
from app.readers._tags import dicom_tags
from app.readers._volumes import (
    SEG_CACHE,
    dicom_image_series,
    image_grid,
    is_dicom_seg,
    is_rtstruct,
    load_image,
    mask_as_nifti,
    seg_as_nifti,
)
from app.readers._walk import walk_folder
from app.readers.dicom import (
    Code,
    DicomSeries,
    ObjectKind,
    Roi,
    RoiMask,
    RtFinding,
    RtHeader,
    RtMasks,
    SegHeader,
    SegMasks,
    Segment,
    load_dicom_volume,
    load_seg,
    read_rtstruct,
    read_seg,
    rtstruct_header,
    scan_dicom,
    sdk_refusal,
    sdk_rtstruct_volume,
    sdk_seg_volume,
    seg_header,
)

__all__ = [
    "GZIP_MAGIC", "NIFTI_SUFFIXES", "NRRD_SUFFIXES", "RUNS", "SEG_CACHE", "VOLUME_SUFFIXES",
    "Census", "Code", "DicomSeries", "Format", "ImageHints", "NiftiHeader", "NiftiInfo", "NrrdInfo",
    "ObjectKind", "Roi", "RoiMask", "RtFinding", "RtHeader", "RtMasks", "RunCache", "Runs",
    "SegHeader", "SegMasks", "Segment", "ValueFlag", "available_memory", "census", "chunk_runs",
    "dicom_image_series", "dicom_tags", "image_grid", "image_hints", "is_dicom_seg", "is_rtstruct",
    "is_volume_name", "iter_raw", "load_dicom_volume", "load_image", "load_seg", "mask_as_nifti",
    "nifti_bytes", "nifti_info", "nonzero", "nonzero_in", "nrrd_info", "open_nifti_stream",
    "read_head", "read_nrrd", "read_raw", "read_rtstruct", "read_seg", "require_memory",
    "rtstruct_header", "save_nifti", "scan_dicom", "sdk_refusal", "sdk_rtstruct_volume",
    "sdk_seg_volume", "seg_as_nifti", "seg_header", "size_text", "split_suffix", "tally_chunks",
    "value_text", "volume_format", "walk_folder",
]
