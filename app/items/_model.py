"""The items list: RedBrick's import format, as one typed model.

An items list is a JSON array of tasks; a task holds series; a series holds image
items, segmentation files and a segmentMap (reference redbrick.md §2).

Loading someone else's list and saving it again keeps every field the app did not
edit with an equal JSON value, in the original key order: each object keeps the
keys it does not model (and known keys whose value is null or of the wrong type)
in ``extra``, and remembers its key order. Type problems are not fatal here; they
are collected in ``ItemsList.problems`` and reported by validation.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import ItemsFormatError, OutputError
from app.items._rules import is_remote, sdk_instance_id
from app.jsonio import load_json, printable, write_json_atomic

# A category: a name (taxonomy v2), a class id, a nested path, or the internal v1 form.
Category = str | int | list[str] | list[list[str]]
MASK_FLAGS = ("binaryMask", "semanticMask", "pngMask")
ANNOTATION_KEYS = ("heatMaps", "transforms", "centerline", "landmarks", "landmarks3d",
                   "measurements", "ellipses", "boundingBoxes", "cuboids", "polygons",
                   "polylines", "classifications", "instanceClassifications")
SERIES_KEYS = ("name", "items", "metaData", "imageHeaders", "segmentations", "segmentMap",
               *MASK_FLAGS, *ANNOTATION_KEYS)


NO_CATEGORY = "has no `category`"  # a segment without one (validate: category-none)


@dataclass(frozen=True)
class Problem:
    """A value that does not have the type the format requires."""

    task: int
    series: int | None
    field: str
    message: str


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_category(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, str | int):
        return True
    if _is_str_list(v) and v:
        return True
    return isinstance(v, list) and len(v) > 0 and all(_is_str_list(x) and x for x in v)


def category_label(category: Category | tuple[str, ...] | None) -> str:
    """A category as people read it: ``Organs / Liver`` for a nested path (a list, or the
    tuple a suggestion holds)."""
    if category is None:
        return "(none)"
    if isinstance(category, list | tuple):
        parts = category[0][1:] if category and isinstance(category[0], list) else category
        return " / ".join(str(p) for p in parts)
    return str(category)


@dataclass
class Segment:
    """One segmentMap value: the category of an instance id, and its options.

    ``compact`` is True when the JSON value was a bare category (``"liver"``,
    ``3`` or ``["Organs", "Liver"]``); it is written back the same way as long as
    nothing but the category is set.
    """

    category: Category | None = None
    mask: str | list[str] | None = None
    overlapping_groups: list[int] | None = None
    attributes: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    compact: bool = True
    _order: list[str] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def from_json(cls, value: Any) -> tuple[Segment, str | None]:
        """Parse a segmentMap value; returns the segment and a problem text or None."""
        if _is_category(value):
            return cls(category=copy.deepcopy(value), compact=True), None
        if not isinstance(value, dict):
            return cls(compact=False, extra={"": copy.deepcopy(value)}), (
                f"must be a category (text, class id or path) or an object, not {value!r}"
            )
        seg = cls(compact=False, _order=list(value))
        problem = None
        for key, v in value.items():
            if key == "category" and (v is None or _is_category(v)):
                seg.category = copy.deepcopy(v)
                if v is None:
                    seg.extra[key] = None
            elif key == "mask" and (isinstance(v, str) or (_is_str_list(v) and v)):
                seg.mask = copy.deepcopy(v)
            elif key == "overlappingGroups" and isinstance(v, list) and all(
                isinstance(g, int) and not isinstance(g, bool) for g in v
            ):
                seg.overlapping_groups = list(v)
            elif key == "attributes" and v is not None:
                seg.attributes = copy.deepcopy(v)
            else:
                seg.extra[key] = copy.deepcopy(v)
                if key in ("category", "mask", "overlappingGroups"):
                    problem = f"`{key}` has the wrong type: {v!r}"
        if value.get("category") is None:
            problem = problem or NO_CATEGORY
        return seg, problem

    def to_json(self) -> Any:
        """The segmentMap value as JSON."""
        if "" in self.extra:  # an unparseable value, kept as it was
            return copy.deepcopy(self.extra[""])
        simple = self.mask is None and self.overlapping_groups is None and self.attributes is None
        if self.compact and simple and not self.extra and self.category is not None:
            return _copied(self.category)
        known = {
            "category": self.category,
            "attributes": self.attributes,
            "mask": self.mask,
            "overlappingGroups": self.overlapping_groups,
        }
        return _emit(self._order, known, self.extra, always=("category",))


_ATOMIC = (str, int, float, bool, type(None))


def _copied(value: Any) -> Any:
    """A deep copy of a JSON value (a string or a number is its own)."""
    return value if type(value) in _ATOMIC else copy.deepcopy(value)


def _emit(order: list[str], known: dict[str, Any], extra: dict[str, Any],
          always: tuple[str, ...] = (), fresh: tuple[str, ...] = ()) -> dict[str, Any]:
    """Write known fields (skipping None) and extras, in the original key order, each a
    copy; ``fresh``: known fields whose values were made for this output (the series a
    task writes, the segmentMap a series writes), taken as they are (copied again at
    each level, a task's segmentMaps were copied three times: half of an autosave)."""
    out: dict[str, Any] = {}
    keys = list(order) + [k for k in (*known, *extra) if k not in order]
    for key in keys:
        if key in out:
            continue
        if key in known and known[key] is not None:
            out[key] = known[key] if key in fresh else _copied(known[key])
        elif key in extra:
            out[key] = _copied(extra[key])
        elif key in always and key in known:
            out[key] = None
    return out


@dataclass
class SegmentMap:
    """A segmentMap: instance id -> Segment, plus the mask flags it may hold.

    A key that is no whole number is an ROI name (``names``): RedBrick's ``--rt-struct``
    upload keys an RT Structure Set's map by ROI name. Validation says when such a key
    is on a series whose segmentations are not RTSTRUCT files.
    """

    segments: dict[int, Segment] = field(default_factory=dict)
    names: dict[str, Segment] = field(default_factory=dict)
    # An RTSTRUCT series' ROI names in file order, once bound (``bind_rois``): its entries
    # are then kept in ``segments`` by the ROI's place in the file (from 1), as the values
    # of the label map Segmap fills from it, and written back keyed by name.
    rois: tuple[str, ...] | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    _keys: dict[int, str] = field(default_factory=dict, repr=False, compare=False)
    _order: list[str] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> tuple[SegmentMap, list[tuple[str, str]]]:
        """Parse a segmentMap object; returns it and (key, problem) pairs."""
        smap = cls(_order=[str(k) for k in value])
        problems: list[tuple[str, str]] = []
        for key, v in value.items():
            skey = str(key)
            if skey in MASK_FLAGS:
                smap.flags[skey] = copy.deepcopy(v)
                if not isinstance(v, bool):
                    problems.append((skey, f"must be true or false, not {v!r}"))
                continue
            # Read as RedBrick's SDK reads it; a key it reads otherwise than written
            # ("01", "1_0") is kept as written and reported by validation (instance_id).
            inst = sdk_instance_id(skey)
            if inst is None:
                if not skey.strip():
                    smap.extra[skey] = copy.deepcopy(v)
                    problems.append((skey, "is not an instance id (a whole number), an ROI "
                                     "name or a mask flag"))
                    continue
                seg, problem = Segment.from_json(v)
                smap.names[skey] = seg
                if problem:
                    problems.append((skey, problem))
                continue
            if inst in smap.segments:
                problems.append((skey, f"instance id {inst} appears twice"))
                smap.extra[skey] = copy.deepcopy(v)
                continue
            seg, problem = Segment.from_json(v)
            smap.segments[inst] = seg
            smap._keys[inst] = skey
            if problem:
                problems.append((skey, problem))
        return smap, problems

    def to_json(self) -> dict[str, Any]:
        """The segmentMap as JSON, keys as they were written."""
        known: dict[str, Any] = {self.key_of(i): s.to_json() for i, s in self.segments.items()}
        known.update((name, s.to_json()) for name, s in self.names.items())
        return _emit(self._order, known, {**self.flags, **self.extra}, fresh=tuple(known))

    @classmethod
    def of(cls, categories: dict[int, Category], binary_masks: dict[int, str] | None = None
           ) -> SegmentMap:
        """Build a map from categories; with ``binary_masks`` it is a binaryMask map."""
        smap = cls()
        for inst, cat in categories.items():
            mask = (binary_masks or {}).get(inst)
            smap.segments[inst] = Segment(category=cat, mask=mask, compact=mask is None)
        if binary_masks is not None:
            smap.flags["binaryMask"] = True
        return smap

    def key_of(self, instance: int) -> str:
        """The key text of an instance as written in the file (a bound RTSTRUCT map's: the
        ROI's name)."""
        if self.rois is not None and 1 <= instance <= len(self.rois):
            return self.rois[instance - 1]
        return self._keys.get(instance, str(instance))

    def by_name(self) -> dict[str, Segment]:
        """An RTSTRUCT map's entries by ROI name, in the order they are written (the order
        RedBrick's SDK numbers them in)."""
        known = {self.key_of(i): s for i, s in self.segments.items()} \
            if self.rois is not None else {}
        known.update(self.names)
        order = [k for k in self._order if k in known] + [k for k in known
                                                          if k not in self._order]
        return {k: known[k] for k in order}

    def bind_rois(self, rois: Sequence[str]) -> None:
        """Key the entries of an RTSTRUCT series' map by their ROIs' places in the file
        (``rois``: its ROI names in order); names no ROI has stay in ``names``."""
        self.rois = tuple(rois)
        place = {n: i for i, n in enumerate(self.rois, start=1)}
        for name in [n for n in self.names if n in place]:
            self.segments[place[name]] = self.names.pop(name)

    def set(self, instance: int, segment: Segment) -> None:
        """Add or replace the segment of ``instance``."""
        self.segments[instance] = segment

    def remove(self, instance: int) -> None:
        """Drop ``instance`` from the map."""
        self.segments.pop(instance, None)
        key = self.key_of(instance)
        self._keys.pop(instance, None)
        if key in self._order:
            self._order.remove(key)


def _as_paths(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    if _is_str_list(v):
        return list(v)
    return []


@dataclass
class Series:
    """One image volume of a task, with its segmentations."""

    items: str | list[str] | None = None
    segmentations: str | list[str] | None = None
    segment_map: SegmentMap | None = None
    name: str | None = None
    binary_mask: bool | None = None
    semantic_mask: bool | None = None
    png_mask: bool | None = None
    meta_data: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _order: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def item_paths(self) -> list[str]:
        """The image files (one NIfTI, or the instances of a DICOM series)."""
        return _as_paths(self.items)

    @property
    def segmentation_paths(self) -> list[str]:
        """The segmentation files in the order RedBrick merges them."""
        return _as_paths(self.segmentations)

    def flag(self, name: str) -> bool:
        """A mask flag, set on the series or inside its segmentMap (both are accepted)."""
        attr = {"binaryMask": self.binary_mask, "semanticMask": self.semantic_mask,
                "pngMask": self.png_mask}[name]
        in_map = self.segment_map.flags.get(name) if self.segment_map else None
        return attr is True or in_map is True

    @property
    def is_binary(self) -> bool:
        """True for import shape III: one binary mask per category."""
        return self.flag("binaryMask")

    def to_json(self) -> dict[str, Any]:
        known = {
            "name": self.name,
            "items": self.items,
            "metaData": self.meta_data,
            "segmentations": self.segmentations,
            "segmentMap": self.segment_map.to_json() if self.segment_map is not None else None,
            "binaryMask": self.binary_mask,
            "semanticMask": self.semantic_mask,
            "pngMask": self.png_mask,
        }
        return _emit(self._order, known, self.extra, fresh=("segmentMap",))


@dataclass
class Task:
    """One task: a name and its series (and task-level fields kept as they are)."""

    name: str | None = None
    series: list[Series] = field(default_factory=list)
    segment_map: SegmentMap | None = None
    legacy: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    _order: list[str] = field(default_factory=list, repr=False, compare=False)

    def segment_map_of(self, series_index: int) -> SegmentMap | None:
        """The segmentMap that applies to a series: its own, else the task-level one."""
        s = self.series[series_index]
        return s.segment_map if s.segment_map is not None else self.segment_map

    def to_json(self) -> dict[str, Any]:
        if self.legacy:
            # A legacy flat task: its one series lives in the task's own keys.
            body = self.series[0].to_json() if self.series else {}
            merged = {**self.extra, **body}
            known = {"name": self.name, **body}
            if self.segment_map is not None:
                known["segmentMap"] = self.segment_map.to_json()
            return _emit(self._order, known, {k: v for k, v in merged.items() if k not in known},
                         fresh=tuple(k for k in known if k != "name"))
        known = {
            "name": self.name,
            # A malformed `series` value is kept in extra until the app sets real series.
            "series": [s.to_json() for s in self.series]
            if self.series or "series" not in self.extra else None,
            "segmentMap": self.segment_map.to_json() if self.segment_map is not None else None,
        }
        return _emit(self._order, known, self.extra, fresh=("series", "segmentMap"))


def task_label(task: Task) -> str | None:
    """The name RedBrick gives a task: its ``name``, else its first image path."""
    if isinstance(task.name, str) and task.name:
        return task.name
    for series in task.series:
        if series.item_paths:
            return series.item_paths[0]
    return None


@dataclass
class ItemsList:
    """A whole items list, with where it came from (for relative paths)."""

    tasks: list[Task] = field(default_factory=list)
    path: Path | None = None
    root: Path | None = None
    problems: list[Problem] = field(default_factory=list)
    _positions: dict[int, int] = field(default_factory=dict, init=False, repr=False,
                                       compare=False)

    def index_of(self, task: Task) -> int | None:
        """The position of ``task`` (this very object) in ``tasks``, or None.

        Constant time once known: a scan of the list for each task made validating a
        10,000-task list quadratic. The positions are checked on every call and found
        again when ``tasks`` has changed.
        """
        i = self._positions.get(id(task))
        if i is None or i >= len(self.tasks) or self.tasks[i] is not task:
            self._positions = {id(t): n for n, t in enumerate(self.tasks)}
            i = self._positions.get(id(task))
        return i

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths resolve against: ``root``, else the list's folder."""
        if self.root is not None:
            return self.root
        return self.path.parent if self.path is not None else Path.cwd()

    def resolve(self, path: str) -> Path | None:
        """A local path for an item or mask; None for a URL or storage key.

        Relative paths resolve against the items list's folder, as the RedBrick
        CLI does, or against an explicit ``root``.
        """
        if is_remote(path):
            return None
        p = Path(os.path.expanduser(path))
        return p if p.is_absolute() else self.base_dir / p

    def to_json(self) -> list[dict[str, Any]]:
        """The list as JSON."""
        return [t.to_json() for t in self.tasks]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the list atomically; relative paths are written as they are.

        ``OutputError`` naming ``path`` and the field when a value cannot be written as
        JSON (``check_writable``); nothing is written then."""
        target = Path(path)
        self.check_writable(target)
        write_json_atomic(target, self.to_json())
        return target

    def check_writable(self, target: str | os.PathLike[str]) -> None:
        """``OutputError`` when the list holds what JSON cannot carry: a NaN or infinite
        number, or a string UTF-8 cannot (a file name that is not UTF-8, read through
        the file system's escapes). The message names ``target``, the task and the field,
        so the user knows where it came from."""
        for ti, task in enumerate(self.tasks):
            where, value = _unwritable(task.to_json())
            if where is None:
                continue
            label = task_label(task)
            at = f"task {label!r}" if label else f"task #{ti + 1}"
            if isinstance(value, float):
                raise OutputError(
                    f"Cannot write {target}: {at}, `{where}` is {value} (NaN or an infinity), "
                    "which JSON cannot hold.", "Set that field to a plain number, or remove it.")
            raise OutputError(
                f"Cannot write {target}: {at}, `{where}` holds {printable(str(value))[:200]}, "
                "a name that is not valid UTF-8.",
                "Rename the file (or its folder) with a UTF-8 name: RedBrick reads items lists "
                "as UTF-8.")

    def copy(self, root: Path | None = None) -> ItemsList:
        """A deep copy (through JSON, as a reader of the saved list would get it), with
        ``root`` as the folder relative paths resolve against when it is given."""
        return parse_items(copy.deepcopy(self.to_json()), path=self.path,
                           root=root if root is not None else self.root)

    def find(self, name: str) -> Task:
        """The task called ``name``."""
        for t in self.tasks:
            if t.name == name:
                return t
        where = f" in {self.path}" if self.path is not None else " in the items list"
        named = [t.name for t in self.tasks if isinstance(t.name, str) and t.name]
        if not named:
            raise ItemsFormatError(f"No task named {name!r}{where}: no task there has a name.",
                                   "Give each task a \"name\" (segmap validate checks the list).")
        names = ", ".join(map(repr, named[:10]))
        raise ItemsFormatError(f"No task named {name!r}{where}.",
                               f"Tasks are: {names}{' ...' if len(named) > 10 else ''}")

    def require_well_formed(self) -> None:
        """``ItemsFormatError`` when a task or series has a field of the wrong type (a
        command that works on the list as RedBrick would read it cannot guess what it
        means); ``segmap validate`` lists them all as findings."""
        bad = [p for p in self.problems if p.message != NO_CATEGORY]
        if not bad:
            return
        def said(p: Problem) -> str:
            where = f"Task #{p.task + 1}" + (f", series {p.series}" if p.series is not None
                                             else "")
            return f"{where}{f' `{p.field}`' if p.field else ''}: {p.message}"
        more = f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ItemsFormatError(
            f"{self.path or 'The items list'} is not in RedBrick's items-list format: "
            + "; ".join(said(p) for p in bad[:3]) + more + ".",
            "Run segmap validate on it for every problem, fix them, and run again.")

    def iter_series(self) -> Iterator[tuple[int, Task, int, Series]]:
        """(task index, task, series index, series) for every series."""
        for ti, t in enumerate(self.tasks):
            for si, s in enumerate(t.series):
                yield ti, t, si, s


def json_safe(obj: Any) -> Any:
    """``obj`` with every string UTF-8 cannot carry (a non-UTF-8 file name, read through
    the file system's escapes) written with those characters escaped, ``case\\udcff``:
    for reports (``--json``), which name such files, never for an items list, which must
    not hold them (``ItemsList.check_writable``)."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return "".join(f"\\u{ord(c):04x}" if 0xD800 <= ord(c) < 0xE000 else c for c in obj)
        return obj
    if isinstance(obj, dict):
        return {json_safe(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def _unwritable(obj: Any) -> tuple[str | None, Any]:
    """The first place in JSON-ready ``obj`` JSON cannot write (``series[0].items[3]``)
    and its value: a NaN or infinite float, or a string with a lone surrogate."""
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return where, node
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return where or "(a key)", node
        elif isinstance(node, dict):
            for k, v in reversed(list(node.items())):
                stack.append((f"{where}.{k}" if where else str(k), v))
                stack.append((f"{where} (a key)" if where else "(a key)", k))
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", v) for i, v in reversed(list(enumerate(node))))
    return None, None


def _parse_series(value: Any, ti: int, si: int, problems: list[Problem]) -> Series:
    def bad(fieldname: str, msg: str) -> None:
        problems.append(Problem(ti, si, fieldname, msg))

    if not isinstance(value, dict):
        bad("", f"a series must be an object, not {type(value).__name__}")
        return Series(extra={"": copy.deepcopy(value)})
    s = Series(_order=list(value))
    for key, v in value.items():
        ok = True
        if key == "items" and (isinstance(v, str) or _is_str_list(v)):
            s.items = copy.deepcopy(v)
        elif key == "segmentations" and (isinstance(v, str) or _is_str_list(v)):
            s.segmentations = copy.deepcopy(v)
        elif key == "segmentMap" and isinstance(v, dict):
            s.segment_map, sp = SegmentMap.from_json(v)
            for k, msg in sp:
                bad(f"segmentMap.{k}", msg)
        elif key == "name" and isinstance(v, str):
            s.name = v
        elif key in MASK_FLAGS and isinstance(v, bool):
            setattr(s, {"binaryMask": "binary_mask", "semanticMask": "semantic_mask",
                        "pngMask": "png_mask"}[key], v)
        elif key == "metaData" and isinstance(v, dict):
            s.meta_data = copy.deepcopy(v)
        else:
            s.extra[key] = copy.deepcopy(v)
            ok = v is None or key not in ("items", "segmentations", "segmentMap", "name",
                                          "metaData", *MASK_FLAGS)
        if not ok:
            bad(key, f"has the wrong type ({type(v).__name__}): {_short(v)}")
    return s


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) < 60 else text[:57] + "..."


def _parse_task(value: Any, ti: int, problems: list[Problem]) -> Task:
    if not isinstance(value, dict):
        problems.append(Problem(ti, None, "", f"a task must be an object, not {_short(value)}"))
        return Task(extra={"": copy.deepcopy(value)})
    t = Task(_order=list(value))
    legacy = "series" not in value and ("items" in value or "segmentations" in value)
    if legacy:
        t.legacy = True
        series_part = {k: v for k, v in value.items() if k in SERIES_KEYS and k != "name"
                       and k != "segmentMap"}
        t.series = [_parse_series(series_part, ti, 0, problems)]
        t.series[0]._order = [k for k in value if k in series_part]
    for key, v in value.items():
        if legacy and key in SERIES_KEYS and key not in ("name", "segmentMap"):
            continue
        if key == "name" and isinstance(v, str):
            t.name = v
        elif key == "series" and isinstance(v, list):
            t.series = [_parse_series(s, ti, si, problems) for si, s in enumerate(v)]
        elif key == "segmentMap" and isinstance(v, dict):
            t.segment_map, sp = SegmentMap.from_json(v)
            for k, msg in sp:
                problems.append(Problem(ti, None, f"segmentMap.{k}", msg))
        else:
            t.extra[key] = copy.deepcopy(v)
            if v is not None and key in ("name", "series", "segmentMap"):
                problems.append(Problem(ti, None, key, f"has the wrong type: {_short(v)}"))
    return t


def parse_items(data: Any, path: Path | None = None, root: Path | None = None) -> ItemsList:
    """Build the model from parsed JSON."""
    if isinstance(data, dict) and isinstance(data.get("tasks"), list):
        raise ItemsFormatError(
            "The items list is an object with a `tasks` key, but RedBrick expects a JSON array.",
            "Write the array of tasks itself: [ {\"name\": ..., \"series\": [...]}, ... ].")
    if not isinstance(data, list):
        kind = {"dict": "an object", "str": "a string", "int": "a number", "float": "a number",
                "bool": "true/false", "NoneType": "null"}.get(type(data).__name__, "a value")
        raise ItemsFormatError(
            f"{path or 'The file'} is not an items list: RedBrick expects a JSON array of "
            f"tasks, and this is {kind}.",
            "Write [ {\"name\": \"case-1\", \"series\": [ ... ]}, ... ].")
    problems: list[Problem] = []
    tasks = [_parse_task(t, i, problems) for i, t in enumerate(data)]
    return ItemsList(tasks=tasks, path=path, root=root, problems=problems)


def load_items(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None
               ) -> ItemsList:
    """Load an items list from a file (the wizard and every CLI command use this)."""
    p = Path(path)
    data = load_json(p, "items list")
    return parse_items(data, path=p.resolve(), root=Path(root).resolve() if root else None)
