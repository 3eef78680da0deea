"""Checks of the items list's structure: format problems, task names, task-level fields."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from app.items import MASK_FLAGS, NO_CATEGORY, ItemsList, Problem, Task, Taxonomy, task_label
from app.validate._codes import Code
from app.validate._findings import Finding, finding
from app.validate._segment_map import check_map


def _format(items: ItemsList, p: Problem) -> Finding:
    task = items.tasks[p.task] if p.task < len(items.tasks) else None
    name = task_label(task) if task is not None else None
    where = f"series {p.series}: " if p.series is not None else ""
    field = f"`{p.field}` " if p.field else ""
    return finding(Code.FORMAT, (
        f"{'' if name else f'Task #{p.task + 1}: '}{where}{field}{p.message}. RedBrick checks "
        "the format on its server and refuses a batch holding such a field, and then uploads "
        "none of its tasks. Fix the value (see RedBrick's items-list format)."),
        task=name, series=p.series)


def check_tasks(items: ItemsList, taxonomy: Taxonomy | None) -> Iterator[Finding]:
    """Findings about the list and its tasks that need no image or mask file."""
    if not items.tasks:
        yield finding(Code.NO_TASKS, "The items list holds no tasks, so nothing would be uploaded. "
                      "Add tasks: [{\"name\": ..., \"series\": [...]}].")
        return
    for p in items.problems:
        if p.message != NO_CATEGORY:  # reported as category-none, with its consequence
            yield _format(items, p)
    labels = [task_label(t) for t in items.tasks]
    seen = Counter(label for label in labels if label)
    reported: set[str] = set()
    any_map = False
    for i, task in enumerate(items.tasks):
        label = labels[i]
        if "" in task.extra:  # not an object: reported as a format problem
            continue
        if not (isinstance(task.name, str) and task.name):
            yield finding(Code.TASK_NAME_MISSING, (
                f"Task #{i + 1} has no name; RedBrick names it after its first image "
                f"({label or 'none'}). Give it a name (names must be unique in the project)."),
                task=label)
        if label and seen[label] > 1 and label not in reported:
            reported.add(label)
            yield finding(Code.TASK_NAME_DUPLICATE, (
                f"{seen[label]} tasks are named {label!r}. RedBrick uploads the first and skips "
                "the others ('Skipping duplicate item name'). Give every task its own name."),
                task=label)
        if not task.series and not task.legacy and "series" not in task.extra:
            yield finding(Code.TASK_NO_SERIES, (
                f"Task {label or f'#{i + 1}'!r} lists no series, so it has no image. RedBrick "
                "skips it. Add a series with its image `items`."), task=label)
        yield from _check_series_names(task, label)
        if task.segment_map is not None:
            any_map = True
            yield from _check_task_map(items, task, i, label, taxonomy)
        any_map = any_map or any(s.segment_map is not None for s in task.series)
    if any_map and taxonomy is None:
        yield finding(Code.TAXONOMY_NOT_CHECKED, (
            "No taxonomy was given, so categories were not checked; RedBrick refuses the items "
            "list if a category is not in the project's taxonomy. Pass --taxonomy TAX.json."))


def _check_series_names(task: Task, label: str | None) -> Iterator[Finding]:
    names = Counter(s.name for s in task.series if s.name)
    for name, n in names.items():
        if n > 1:
            yield finding(Code.SERIES_NAME_DUPLICATE, (
                f"{n} series of this task are named {name!r}; RedBrick names exported "
                "segmentation files after the series, so they would overwrite each other on "
                "export. Give each series its own name."), task=label)


def _check_task_map(items: ItemsList, task: Task, index: int, label: str | None,
                    taxonomy: Taxonomy | None) -> Iterator[Finding]:
    assert task.segment_map is not None
    flags = [f for f in MASK_FLAGS if f in task.segment_map.flags]
    if flags:
        yield finding(Code.TASK_SEGMENT_MAP_FLAG, (
            f"The task-level segmentMap holds {', '.join(flags)}. RedBrick's SDK then stops "
            "with \"invalid literal for int() with base 10: '" + flags[0] + "'\" and silently "
            "uploads nothing at all (no task of the list). Move the flag into each series "
            "(\"binaryMask\": true on the series or inside the series' segmentMap)."), task=label)
    yield from check_map(task.segment_map, taxonomy, label, None)
