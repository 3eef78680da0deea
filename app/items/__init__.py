"""The items list (RedBrick's import format) as one typed model, with RedBrick's rules.

* the model: ``ItemsList``, ``Task``, ``Series``, ``SegmentMap``, ``Segment``, ``Category``;
  ``load_items`` / ``parse_items``; unknown fields are carried through untouched; what
  JSON cannot hold is refused with where it is (``ItemsList.check_writable``) or, in a
  report, escaped (``json_safe``);
* RedBrick's rules, once each: ``ImportShape``, ``MAX_ID``, ``instance_id`` (which
  segmentMap keys are ids; ``sdk_instance_id`` what the SDK reads), ``task_label`` (the name a task
  gets), ``sdk_path`` (how the CLI rewrites a path), ``file_type`` / ``uploadable`` (which
  files go up), ``mask_accepted`` / ``mask_converted`` (which masks it reads), and the
  folders Segmap writes beside a list so RedBrick takes it (``CONVERTED_FOLDER``,
  ``RENAMED_FOLDER``);
* every path of a list: ``walk``, ``iter_paths``, ``rebase``, ``relpath``;
* the taxonomy: ``Taxonomy``, ``load_taxonomy``;
* a task's fields at creation (priority, metaData, preAssign, classification, label
  attributes): ``TaskFields``, ``with_fields``; the characters a task name may hold:
  ``safe_task_name``.
"""

from app.items._fields import TaskFields, safe_task_name, with_fields
from app.items._model import (
    MASK_FLAGS,
    NO_CATEGORY,
    Category,
    ItemsList,
    Problem,
    Segment,
    SegmentMap,
    Series,
    Task,
    category_label,
    json_safe,
    load_items,
    parse_items,
    task_label,
)
from app.items._paths import (
    PathRef,
    PathRole,
    iter_paths,
    rebase,
    relpath,
    task_paths,
    walk,
    walk_task,
)
from app.items._rules import (
    BACKGROUND,
    CONVERTED_FOLDER,
    FILE_TYPES,
    MAX_ID,
    NIFTI_TYPE,
    OUTSIDE_FOLDER,
    RENAMED_FOLDER,
    VIDEO_EXTENSIONS,
    ImportShape,
    file_extension,
    file_type,
    gzip_name_fault,
    instance_id,
    is_remote,
    mask_accepted,
    mask_converted,
    sdk_instance_id,
    sdk_path,
    uploadable,
)
from app.items._taxonomy import (
    AttributeInfo,
    CategoryInfo,
    Taxonomy,
    load_taxonomy,
    sdk_color,
)

__all__ = [
    "BACKGROUND", "CONVERTED_FOLDER", "FILE_TYPES", "MASK_FLAGS", "MAX_ID", "NIFTI_TYPE",
    "NO_CATEGORY", "OUTSIDE_FOLDER", "RENAMED_FOLDER", "VIDEO_EXTENSIONS", "AttributeInfo",
    "Category", "CategoryInfo", "ImportShape", "ItemsList", "PathRef", "PathRole", "Problem",
    "Segment", "SegmentMap", "Series", "Task", "TaskFields", "Taxonomy", "category_label",
    "file_extension", "file_type", "gzip_name_fault", "instance_id", "is_remote", "iter_paths",
    "json_safe", "load_items", "load_taxonomy", "mask_accepted", "mask_converted", "parse_items",
    "rebase", "relpath", "safe_task_name", "sdk_color", "sdk_instance_id", "sdk_path",
    "task_label", "task_paths", "uploadable", "walk", "walk_task", "with_fields"
]
