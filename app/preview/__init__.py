"""What the wizard shows of a case, as arrays: no Qt here.

* ``load_case_preview(request)`` (long work, run off the GUI thread on a frozen
  ``PreviewRequest``): the image and the labels merged exactly as RedBrick will store
  them, placed on the image in world space (``DisplayVolumes``: slices, hover readout,
  largest slices);
* display style: window presets (``WINDOW_PRESETS``, ``auto_window``), ``window_to_uint8``,
  label colours and lookup tables (``label_lut``, overlap groups mixed), ``outline``;
* statistics: ``series_stats`` (``segmap stats``: voxels, mL and intensity per segment),
  ``preview_stats``.
"""

from app.preview._case import (
    CasePreview,
    ImageCache,
    PreviewRequest,
    ValueStats,
    load_case_preview,
    preview_stats,
)
from app.preview._display import (
    DISPLAY_AXCODES,
    EDGE_LETTERS,
    VIEWS,
    DisplayVolumes,
    HoverInfo,
    View,
    largest_slices,
)
from app.preview._stats import GeometryMismatchError, SegmentStats, series_stats, value_stats
from app.preview._style import (
    AUTO,
    FILE,
    PRESET_NAMES,
    RGB,
    WINDOW_PRESETS,
    Palette,
    auto_window,
    default_colour,
    default_colours,
    default_preset,
    group_members,
    label_lut,
    looks_like_ct,
    outline,
    preset_window,
    slice_histogram,
    unmapped_style,
    window_to_uint8,
)

__all__ = [
    "AUTO", "DISPLAY_AXCODES", "EDGE_LETTERS", "FILE", "PRESET_NAMES", "RGB", "VIEWS",
    "WINDOW_PRESETS", "CasePreview", "DisplayVolumes", "GeometryMismatchError", "HoverInfo",
    "ImageCache", "Palette", "PreviewRequest", "SegmentStats", "ValueStats", "View",
    "auto_window", "default_colour", "default_colours", "default_preset", "group_members",
    "label_lut", "largest_slices", "load_case_preview", "looks_like_ct", "outline",
    "preset_window", "preview_stats", "series_stats", "slice_histogram", "unmapped_style",
    "value_stats", "window_to_uint8"
]
