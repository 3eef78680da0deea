"""Checks of a segmentMap on its own: ids, overlap groups, categories, attributes.

These need no file: they compare the map with RedBrick's rules (reference
redbrick.md §2.3, §3.4) and with the project's taxonomy.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from app.items import (
    MAX_ID,
    CategoryInfo,
    Segment,
    SegmentMap,
    Taxonomy,
    category_label,
    instance_id,
)
from app.validate._codes import Code
from app.validate._fields import attribute_pairs, value_problem
from app.validate._findings import Finding, Where, finding


def check_map(smap: SegmentMap, taxonomy: Taxonomy | None, task: str | None,
              series: int | None) -> Iterator[Finding]:
    """Findings about one segmentMap (task-level when ``series`` is None).

    A missing category is reported here (``category-none``), not as a format
    problem, with what RedBrick does about it.
    """
    where: Where = {"task": task, "series": series}
    for key in smap.names:  # RTSTRUCT series were read into values: these are on others
        yield finding(Code.SEGMENT_MAP_KEY, (
            f"segmentMap key {key!r} is no number. RedBrick reads ROI-name keys only for RT "
            "Structure Sets (`redbrick upload --rt-struct`), and this series' segmentations are "
            f"not one, so RedBrick's SDK fails on it (int({key!r})). Key the entry by the value "
            "its label has in the mask."), **where)
    groups_of: dict[int, list[int]] = {}
    for inst, seg in smap.segments.items():
        key = smap.key_of(inst)
        name = _name(seg)
        if instance_id(key) != inst:
            yield _key_finding(key, inst, name, where)
        if inst == 0:
            yield finding(Code.INSTANCE_ZERO, (
                f"segmentMap id 0 ({name}) is ignored by RedBrick: 0 is the background value, so "
                "this category gets no label. Give it a value from 1 up (and the same value in "
                "the mask)."), value=0, **where)
        elif not 1 <= inst <= MAX_ID:
            yield finding(Code.ID_OUT_OF_RANGE, (
                f"segmentMap id {key} ({name}) is outside 1..{MAX_ID}; RedBrick stores labels as "
                "16-bit values, so no voxel can carry it. Use an id from 1 to 65535."),
                value=inst, **where)
        for g in seg.overlapping_groups or []:
            groups_of.setdefault(g, []).append(inst)
            if not 1 <= g <= MAX_ID:
                yield finding(Code.ID_OUT_OF_RANGE, (
                    f"Overlap group {g} of segmentMap id {key} ({name}) is outside 1..{MAX_ID}; "
                    "no voxel can carry it. Use ids from 1 to 65535."), value=g, **where)
        if seg.category is None:
            if "" not in seg.extra:  # an unparseable value is a format finding
                yield finding(Code.CATEGORY_NONE, (
                    f"segmentMap id {key} has no category. RedBrick refuses it ('Invalid "
                    "category None') and uploads nothing for the task. Choose a category."),
                    value=inst, **where)
        elif taxonomy is not None:
            yield from _check_category(seg, inst, key, taxonomy, where)
    for g, members in sorted(groups_of.items()):
        if g in smap.segments:
            yield finding(Code.GROUP_ID_COLLISION, (
                f"Id {g} is both a segmentMap id ({_name(smap.segments[g])}) and an overlap group "
                f"of id {', '.join(map(str, members))}. RedBrick's merge fails ('Found common "
                f"instance and group ids: {{{g}}}') and the task is not uploaded. Renumber the "
                "overlappingGroups to ids no segmentMap key uses."), value=g, **where)


def _key_finding(key: str, inst: int, name: str, where: Where) -> Finding:
    how = ("Python reads '_' as a digit separator" if "_" in key else
           "it holds digits that are not ASCII" if not key.strip().lstrip("+-").isascii()
           else "Python's int() ignores the " + (
               "spaces" if key != key.strip() else "sign" if key.startswith("+")
               else "leading zeros"))
    return finding(Code.SEGMENT_MAP_KEY, (
        f"segmentMap key {key!r} ({name}) is not a plain number. RedBrick's SDK reads it as "
        f"id {inst} ({how}), but the key goes to RedBrick's server as written, which may read "
        f"it as another id or refuse it, so the label may not get this category. Write "
        f"\"{inst}\" instead."), value=inst, **where)


def _name(seg: Segment) -> str:
    return repr(category_label(seg.category)) if seg.category is not None else "no category"


def _check_category(seg: Segment, inst: int, key: str, taxonomy: Taxonomy,
                    where: Where) -> Iterator[Finding]:
    label = category_label(seg.category)
    found = taxonomy.matches(seg.category)
    tax = taxonomy.name or taxonomy.source
    if not found:
        near = difflib.get_close_matches(str(label), [c.label for c in
                                         taxonomy.segmentation_categories()], n=3, cutoff=0.6)
        did = f" Did you mean {', '.join(repr(n) for n in near)}?" if near else ""
        yield finding(Code.CATEGORY_MISSING, (
            f"segmentMap id {key}: category {label!r} is not in the taxonomy {tax!r}. RedBrick "
            f"refuses the items list (categories must exist in the project's taxonomy).{did} "
            "Choose an existing category or add it to the taxonomy."), value=inst, **where)
        return
    info = taxonomy.lookup(seg.category)
    assert info is not None
    if len(found) > 1:
        which = "; ".join(f"{c.label} (class {c.class_id})" for c in found[:4])
        yield finding(Code.CATEGORY_AMBIGUOUS, (
            f"segmentMap id {key}: {label!r} matches {len(found)} taxonomy entries ({which}); "
            f"Segmap assumes {info.label} (class {info.class_id}), RedBrick may pick another. "
            "Write the full path, e.g. [\"Parent\", \"Name\"], to make it unique."),
            value=inst, **where)
    if info.archived:
        yield finding(Code.CATEGORY_ARCHIVED, (
            f"segmentMap id {key}: category {info.label!r} is archived in the taxonomy; RedBrick "
            "does not accept new labels of it. Choose an active category or restore it."),
            value=inst, **where)
    elif not info.is_segmentation:
        yield finding(Code.CATEGORY_NOT_SEGMENTATION, (
            f"segmentMap id {key}: category {info.label!r} is a {info.label_type} category, not "
            "SEGMENTATION, so a mask cannot use it. Choose a segmentation category (or add one "
            "with this name)."), value=inst, **where)
    yield from _check_attributes(seg, inst, key, info, taxonomy, where)


def _check_attributes(seg: Segment, inst: int, key: str, info: CategoryInfo,
                      taxonomy: Taxonomy, where: Where
                      ) -> Iterator[Finding]:
    defined = {a.name: a for a in taxonomy.attributes_of(info)}
    for name, value in attribute_pairs(seg.attributes) or []:
        attribute = defined.get(name)
        if attribute is None:
            known = ", ".join(sorted(defined)) or "none"
            yield finding(Code.ATTRIBUTE_UNKNOWN, (
                f"segmentMap id {key}: attribute {name!r} is not defined for category "
                f"{info.label!r} (its attributes: {known}); RedBrick may refuse it or drop it. "
                "Fix the attribute name."), value=inst, **where)
        elif (problem := value_problem(attribute, value)) is not None:
            code, words = problem
            yield finding(code, (
                f"segmentMap id {key} ({info.label}): attribute {name!r}: {words}; RedBrick "
                "refuses a value its attribute does not allow. Give a value the taxonomy "
                "allows."), value=inst, **where)
