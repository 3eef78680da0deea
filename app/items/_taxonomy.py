"""RedBrick taxonomies: loading v1 and v2 files, category lookup, colours.

A taxonomy says which categories a project's labels may use (reference
redbrick.md §5.6, §6). Version 2 (``isNew``) lists ``objectTypes``, each with a
``category`` name, a ``classId``, a ``labelType`` and optional ``parents`` (the
nesting shown in the viewer), ``color``, ``archived``, ``attributes`` and
``hint``. Version 1 holds a ``categories`` tree under a root (usually
``"object"``) whose nodes have ``name``, ``classId`` and ``children``, and colours
in a separate ``colorMap``.

Both are read from a taxonomy JSON file (``load_taxonomy``) or from the object
RedBrick's API returns for ``project.taxonomy`` (``Taxonomy.from_json``). A
segmentMap names a category in one of four forms (reference §2.3): the name, the
class id, the nested path ``["Organs", "Liver"]``, or v1's internal
``[["object", "Organs", "Liver"]]``; ``Taxonomy.lookup`` resolves each of them.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from app.errors import TaxonomyError
from app.jsonio import load_json

LABEL_TYPES = ("BBOX", "CUBOID", "POINT", "POLYLINE", "POLYGON", "ELLIPSE", "SEGMENTATION",
               "LENGTH", "ANGLE")
SEGMENTATION = "SEGMENTATION"
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_FIX = "Export the taxonomy again from RedBrick, or correct that entry."

Color = tuple[int, int, int]


def _index() -> Any:
    return field(default_factory=dict, init=False, repr=False)


def sdk_color(color_hex: str | None = None, class_id: int | None = None) -> Color:
    """A category's colour exactly as RedBrick's SDK computes it (``get_color``).

    The hex colour when there is one (``#RGB`` or ``#RRGGBB``), else a
    deterministic hash of the class id.
    """
    if color_hex:
        h = color_hex.lstrip("#")
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    num = (374761397 + int(class_id or 0) * 3266489917) & 0xFFFFFFFF
    num = ((num ^ num >> 15) * 2246822519) & 0xFFFFFFFF
    num = ((num ^ num >> 13) * 3266489917) & 0xFFFFFFFF
    num = (num ^ num >> 16) >> 8
    r, g, b = num.to_bytes(3, "big")
    return (r, g, b)


@dataclass(frozen=True)
class AttributeInfo:
    """An attribute a label of a category can carry (name, type, id, option names)."""

    name: str
    attr_type: str
    attr_id: int | None = None
    options: tuple[str, ...] = ()
    archived: bool = False
    min_value: float | None = None  # NUMBER attributes: the range RedBrick's editor allows
    max_value: float | None = None


@dataclass(frozen=True)
class CategoryInfo:
    """One category of a taxonomy.

    ``path`` is the nesting shown in RedBrick, ending with ``name`` (v2:
    ``parents + [category]``; v1: the tree path below the root). ``label_type``
    is None for v1 taxonomies, whose categories serve every label type.
    """

    name: str
    path: tuple[str, ...]
    class_id: int
    label_type: str | None
    color: Color
    archived: bool = False
    attributes: tuple[AttributeInfo, ...] = ()
    hint: str | None = None

    @property
    def is_segmentation(self) -> bool:
        """True when segmentation labels may use this category."""
        return self.label_type in (None, SEGMENTATION)

    @property
    def label(self) -> str:
        """The category as people read it: ``Organs / Liver``."""
        return " / ".join(self.path)


@dataclass
class Taxonomy:
    """A loaded taxonomy: its categories and where it came from."""

    categories: list[CategoryInfo]
    version: int = 2
    name: str | None = None
    source: str = "taxonomy"
    root: str = "object"
    attributes: list[AttributeInfo] = field(default_factory=list)  # v1: for every category
    # The task's (study's) classification attributes: v2 ``studyClassify``, v1
    # ``taskAttributes``; a task's ``classification.attributes`` names them.
    study_attributes: list[AttributeInfo] = field(default_factory=list)
    _by_name: dict[str, list[CategoryInfo]] = _index()
    _by_path: dict[tuple[str, ...], list[CategoryInfo]] = _index()
    _by_id: dict[int, list[CategoryInfo]] = _index()

    def __post_init__(self) -> None:
        for c in self.categories:
            self._by_name.setdefault(c.name, []).append(c)
            self._by_path.setdefault(c.path, []).append(c)
            self._by_id.setdefault(c.class_id, []).append(c)

    @classmethod
    def from_json(cls, obj: Any, source: str = "taxonomy") -> Taxonomy:
        """Build a taxonomy from parsed JSON.

        Accepts a taxonomy file (v1 or v2), the ``taxonomy`` object of RedBrick's
        ``getProjectSDK`` answer, a project object holding one, or a bare list of
        v2 object types. Raises TaxonomyError naming the field that is wrong.
        """
        if isinstance(obj, list):
            return _parse_v2({"objectTypes": obj}, source)
        if not isinstance(obj, dict):
            raise TaxonomyError(
                f"{source}: a taxonomy must be a JSON object, not {type(obj).__name__}.", _FIX)
        if isinstance(obj.get("taxonomy"), dict):  # a project object from the API
            return cls.from_json(obj["taxonomy"], source)
        is_new = obj.get("isNew")
        if is_new is True or (is_new is None and obj.get("objectTypes") is not None):
            return _parse_v2(obj, source)
        if is_new is False or obj.get("categories") is not None:
            return _parse_v1(obj, source)
        raise TaxonomyError(
            f"{source} is not a RedBrick taxonomy: it has neither `objectTypes` (version 2) "
            "nor `categories` (version 1).",
            "Give the taxonomy JSON exported from RedBrick (Taxonomies page, or the API).")

    def matches(self, category: Any) -> list[CategoryInfo]:
        """Every category a segmentMap category value can mean (usually one)."""
        if isinstance(category, bool):
            return []
        if isinstance(category, int):
            return list(self._by_id.get(category, []))
        if isinstance(category, str):
            return list(self._by_name.get(category, []))
        if isinstance(category, list | tuple) and category:
            if len(category) == 1 and isinstance(category[0], list | tuple):
                inner = tuple(category[0])
                if inner and inner[0] == self.root:  # v1 internal form with the root
                    inner = inner[1:]
                return self.matches(list(inner)) if inner else []
            if all(isinstance(p, str) for p in category):
                path = tuple(category)
                found = list(self._by_path.get(path, []))
                if not found and len(path) == 1:
                    found = list(self._by_name.get(path[0], []))
                return found
        return []

    def lookup(self, category: Any) -> CategoryInfo | None:
        """The category a segmentMap value names, or None when the taxonomy has none.

        When several match (a name used twice), an active segmentation category wins.
        """
        found = self.matches(category)
        if not found:
            return None
        usable = [c for c in found if c.is_segmentation and not c.archived]
        return (usable or found)[0]

    def color_for(self, category: Any) -> Color | None:
        """The RGB colour RedBrick shows for a category, or None when it is unknown."""
        info = self.lookup(category)
        return info.color if info else None

    def segmentation_categories(self) -> list[CategoryInfo]:
        """Categories a segmentation may use (not archived), siblings kept together.

        The order is the taxonomy's, except that categories sharing parents are
        grouped under the first appearance of those parents, so a tree view can
        be built from ``path`` in one pass.
        """
        usable = [c for c in self.categories if c.is_segmentation and not c.archived]
        first: dict[tuple[str, ...], int] = {}
        for i, c in enumerate(usable):
            for n in range(1, len(c.path) + 1):
                first.setdefault(c.path[:n], i)
        return sorted(usable, key=lambda c: [first[c.path[:n]] for n in range(1, len(c.path) + 1)])

    def attributes_of(self, info: CategoryInfo) -> tuple[AttributeInfo, ...]:
        """The attributes a label of ``info`` can carry: its own (v2), else the
        taxonomy's, which serve every category (v1)."""
        return info.attributes or tuple(self.attributes)

    def category_value(self, info: CategoryInfo) -> str | list[str]:
        """What to write in a segmentMap for ``info``.

        Version 2: the category name, or its full path when the name is not
        unique. Version 1: the path below the root.
        """
        if self.version == 2 and len(self._by_name.get(info.name, [])) == 1:
            return info.name
        return list(info.path)


def load_taxonomy(path: str | os.PathLike[str]) -> Taxonomy:
    """Load a RedBrick taxonomy JSON file (version 1 or 2)."""
    p = Path(path)
    data = load_json(p, "taxonomy file")
    return Taxonomy.from_json(data, source=str(p))


# -- parsing -----------------------------------------------------------------------


def _fail(source: str, where: str, what: str, name: str | None = None) -> TaxonomyError:
    about = f" (the entry for {name!r})" if name else ""
    return TaxonomyError(f"{source}: {where} {what}{about}.", _FIX)


def _list_of(obj: dict[str, Any], key: str, source: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(source, f"`{key}`", f"must be a list, not {type(value).__name__}")
    return value


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _color(value: Any, class_id: int, source: str, where: str, name: str) -> Color:
    if value is None or value == "":
        return sdk_color(None, class_id)
    if not isinstance(value, str) or not _HEX.fullmatch(value.strip()):
        raise _fail(source, f"{where} `color`", f"is not a hex colour such as #FF8800: {value!r}",
                    name)
    return sdk_color(value.strip(), class_id)


def _attribute(a: Any, source: str, where: str, need_id: bool = True) -> AttributeInfo:
    # Messages as the SDK's validate_attribute writes them (reference §6).
    if not isinstance(a, dict):
        raise _fail(source, where, f"must be an object, not {type(a).__name__}")
    if a.get("name") is None:
        raise _fail(source, where, "has no `name`")
    if a.get("attrType") is None:
        raise _fail(source, where, "has no `attrType`")
    if need_id and a.get("attrId") is None:
        raise _fail(source, where, "has no `attrId`")
    opts = a.get("options") or a.get("whitelist") or []
    names = tuple(str(o.get("name")) if isinstance(o, dict) else str(o) for o in opts
                  if not (isinstance(o, dict) and o.get("archived")))
    attr_id = a.get("attrId")
    return AttributeInfo(str(a["name"]), str(a["attrType"]), attr_id if _is_int(attr_id) else None,
                         names, bool(a.get("archived") or a.get("disabled")),
                         _bound(a.get("minValue")), _bound(a.get("maxValue")))


def _bound(v: Any) -> float | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    return float(v) if ok else None


def _parse_v2(obj: dict[str, Any], source: str) -> Taxonomy:
    classify: dict[str, list[AttributeInfo]] = {}
    for key, label in (("studyClassify", "study_classify"), ("seriesClassify", "series_classify"),
                       ("instanceClassify", "instance_classify")):
        classify[key] = [_attribute(a, source, f"{label}->{i}")
                         for i, a in enumerate(_list_of(obj, key, source))]
    cats: list[CategoryInfo] = []
    for i, o in enumerate(_list_of(obj, "objectTypes", source)):
        where = f"object_types->{i}"
        if not isinstance(o, dict):
            raise _fail(source, where, f"must be an object, not {type(o).__name__}")
        name = o.get("category")
        if name is None:
            raise _fail(source, where, "has no `category`")
        if not isinstance(name, str) or not name.strip():
            raise _fail(source, f"{where} `category`", f"must be a non-empty text, not {name!r}")
        if o.get("classId") is None:
            raise _fail(source, where, "has no `classId`", name)
        class_id = o["classId"]
        if not _is_int(class_id) or class_id < 0:
            raise _fail(source, f"{where} `classId`",
                        f"must be a whole number from 0 up, not {class_id!r}", name)
        if o.get("labelType") is None:
            raise _fail(source, where, "has no `labelType`", name)
        label_type = o["labelType"]
        if label_type not in LABEL_TYPES:
            raise _fail(source, f"{where} `labelType`",
                        f"is {label_type!r}; it must be one of {', '.join(LABEL_TYPES)}", name)
        parents = o.get("parents") or []
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise _fail(source, f"{where} `parents`", f"must be a list of names, not {parents!r}",
                        name)
        archived = o.get("archived")
        if archived is not None and not isinstance(archived, bool):
            raise _fail(source, f"{where} `archived`", f"must be true or false, not {archived!r}",
                        name)
        attrs = tuple(_attribute(a, source, f"{where}->attributes->{j}")
                      for j, a in enumerate(_list_of(o, "attributes", source)))
        hint = o.get("hint")
        cats.append(CategoryInfo(
            name=name, path=(*parents, name), class_id=class_id, label_type=label_type,
            color=_color(o.get("color"), class_id, source, where, name),
            archived=bool(archived), attributes=attrs,
            hint=hint if isinstance(hint, str) else None))
    return Taxonomy(categories=cats, version=2, name=_name(obj), source=source,
                    study_attributes=classify["studyClassify"])


def _name(obj: dict[str, Any]) -> str | None:
    name = obj.get("name")
    return name if isinstance(name, str) else None


def _parse_v1(obj: dict[str, Any], source: str) -> Taxonomy:
    roots = _list_of(obj, "categories", source)
    if not roots or not isinstance(roots[0], dict) or not isinstance(roots[0].get("name"), str):
        raise _fail(source, "`categories`",
                    "must start with the root category (usually {\"name\": \"object\", "
                    "\"children\": [...]})")
    root = roots[0]["name"]
    colors: dict[tuple[str, ...], str] = {}
    for i, entry in enumerate(_list_of(obj, "colorMap", source)):
        if not isinstance(entry, dict):
            raise _fail(source, f"colorMap->{i}", "must be an object")
        trail = entry.get("trail")
        if isinstance(trail, list) and not entry.get("taskcategory") and entry.get("color"):
            colors.setdefault(tuple(str(t) for t in trail), entry["color"])
    cats: list[CategoryInfo] = []

    def walk(node: dict[str, Any], trail: tuple[str, ...], where: str) -> None:
        for j, child in enumerate(_list_of(node, "children", source)):
            cw = f"{where}->children->{j}"
            if not isinstance(child, dict):
                raise _fail(source, cw, f"must be an object, not {type(child).__name__}")
            name = child.get("name")
            if not isinstance(name, str) or not name:
                raise _fail(source, cw, "has no `name`")
            class_id = child.get("classId")
            if not _is_int(class_id) or class_id < 0:
                raise _fail(source, f"{cw} `classId`",
                            f"must be a whole number from 0 up, not {class_id!r}", name)
            full = (*trail, name)
            disabled = bool(child.get("disabled") or child.get("archived"))
            cats.append(CategoryInfo(
                name=name, path=full[1:], class_id=class_id, label_type=None,
                color=_color(colors.get(full), class_id, source, cw, name), archived=disabled))
            walk(child, full, cw)

    walk(roots[0], (root,), "categories->0")
    attrs = [_attribute(a, source, f"attributes->{i}", need_id=False)
             for i, a in enumerate(_list_of(obj, "attributes", source))]
    study = [_attribute(a, source, f"taskAttributes->{i}", need_id=False)
             for i, a in enumerate(_list_of(obj, "taskAttributes", source))]
    return Taxonomy(categories=cats, version=1, name=_name(obj), source=source, root=root,
                    attributes=attrs, study_attributes=study)
