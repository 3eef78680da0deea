"""Across the dataset: the category x case matrix, outliers of volume and intensity per
category (robust: median and MAD), and the findings by severity.

Built from the small per-case records only (no voxels), after every case was read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from app.items import category_label
from app.report._case import CaseRecord

Z_LIMIT = 3.5  # Iglewicz and Hoaglin's cut-off for the modified z-score
MIN_CASES = 5  # fewer cases than this: no outliers are said


@dataclass(frozen=True)
class Cell:
    """One category in one case: its value, voxels, mL and mean intensity; ``flags`` say
    what stands out (missing, renumbered, a value meaning another category elsewhere)."""

    value: int | None
    voxels: int
    volume_ml: float
    mean: float | None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outlier:
    """A case whose volume or intensity of a category is far from the others, and why."""

    case: str
    category: str
    measure: str  # "volume" or "intensity"
    value: float
    median: float
    z: float
    why: str


@dataclass(frozen=True)
class Distribution:
    """A category's volumes (mL) and mean intensities over the cases that have voxels of it:
    (min, median, max) each, and the MAD of the volumes."""

    category: str
    cases: int
    volume: tuple[float, float, float]
    volume_mad: float
    intensity: tuple[float, float, float] | None


@dataclass
class Dataset:
    """The dataset's matrix (``cells[case][category]``), outliers and value conflicts."""

    categories: list[str]
    cases: list[str]
    cells: dict[str, dict[str, Cell]]
    usual_value: dict[str, int]
    conflicts: dict[int, list[str]]  # value -> the categories it means in different cases
    outliers: list[Outlier] = field(default_factory=list)
    distributions: list[Distribution] = field(default_factory=list)
    unmapped: dict[str, list[int]] = field(default_factory=dict)  # case -> values, no entry


def num(x: float) -> str:
    """A number for people: 1500, 40.5, 0.25."""
    a = abs(x)
    return f"{x:,.0f}" if a >= 100 else f"{x:.1f}" if a >= 10 else f"{x:.2f}"


def robust_z(values: Sequence[float]) -> tuple[float, np.ndarray]:
    """(median, modified z-scores) of ``values``: 0.6745 (x - median) / MAD; when the MAD
    is 0, the mean absolute deviation (times 1.2533) stands in for it."""
    x = np.asarray(values, np.float64)
    med = float(np.median(x))
    dev = np.abs(x - med)
    mad = float(np.median(dev))
    if mad > 0:
        return med, 0.6745 * (x - med) / mad
    mean_ad = float(np.mean(dev))
    if mean_ad == 0:
        return med, np.zeros_like(x)
    return med, (x - med) / (1.253314 * mean_ad)


def _cells(records: Sequence[CaseRecord]) -> dict[str, dict[str, Cell]]:
    cells: dict[str, dict[str, Cell]] = {}
    for rec in records:
        row: dict[str, Cell] = {}
        for s in rec.stats:
            if not s.mapped:
                continue
            name = category_label(s.category)
            value = int(s.key) if s.key.isdigit() else None
            row[name] = Cell(value, s.voxels, s.volume_ml, s.mean)
        if not rec.stats:  # no statistics (unreadable): the mapping still says the values
            for m in rec.mapping:
                if m.category is not None:
                    row[m.category] = Cell(m.value, 0, 0.0, None)
        cells[rec.name] = row
    return cells


def _flag(cells: dict[str, dict[str, Cell]], categories: list[str],
          binary: frozenset[str] = frozenset()
          ) -> tuple[dict[str, int], dict[int, list[str]]]:
    """Flag empty cells, and among label maps (``binary`` cases hold one file per category,
    their values are ids Segmap numbered, so they say nothing) renumbered values and values
    that mean different categories in different cases."""
    maps = {name: row for name, row in cells.items() if name not in binary}
    usual: dict[str, int | None] = {}
    for cat in categories:
        values = Counter(r[cat].value for r in maps.values() if cat in r)
        usual[cat] = values.most_common(1)[0][0] if values else None
    meaning: dict[int, set[str]] = {}
    for row in maps.values():
        for cat, c in row.items():
            if c.value is not None:
                meaning.setdefault(c.value, set()).add(cat)
    conflicts = {v: sorted(cats) for v, cats in sorted(meaning.items()) if len(cats) > 1}
    for name, row in cells.items():
        for cat, c in row.items():
            flags = []
            if c.voxels == 0:
                flags.append("empty")
            if name not in binary and c.value != usual[cat]:
                flags.append("renumbered")
            if name not in binary and c.value in conflicts:
                flags.append("conflict")
            row[cat] = Cell(c.value, c.voxels, c.volume_ml, c.mean, tuple(flags))
    return {k: v for k, v in usual.items() if v is not None}, conflicts


def _outliers(cells: dict[str, dict[str, Cell]], categories: list[str]) -> list[Outlier]:
    out = []
    for cat in categories:
        have = [(case, row[cat]) for case, row in cells.items()
                if cat in row and row[cat].voxels > 0]
        for measure, unit in (("volume", "mL"), ("intensity", "mean intensity")):
            pairs = [(case, c.volume_ml if measure == "volume" else c.mean) for case, c in have]
            vals = [(case, float(v)) for case, v in pairs if v is not None]
            if len(vals) < MIN_CASES:
                continue
            med, z = robust_z([v for _, v in vals])
            for (case, v), zi in zip(vals, z, strict=True):
                if abs(zi) > Z_LIMIT:
                    why = (f"{num(v)} mL {cat}: median {num(med)} mL" if measure == "volume"
                           else f"{unit} {num(v)} in {cat}: median {num(med)}")
                    out.append(Outlier(case, cat, measure, v, med, float(zi),
                                       f"{why} (robust z {zi:+.1f})"))
    return out


def _spread(values: Sequence[float]) -> tuple[float, float, float]:
    return float(np.min(values)), float(np.median(values)), float(np.max(values))


def _distributions(cells: dict[str, dict[str, Cell]], categories: list[str]
                   ) -> list[Distribution]:
    out = []
    for cat in categories:
        have = [row[cat] for row in cells.values() if cat in row and row[cat].voxels > 0]
        if not have:
            continue
        ml = [c.volume_ml for c in have]
        means = [c.mean for c in have if c.mean is not None]
        out.append(Distribution(cat, len(have), _spread(ml),
                                float(np.median(np.abs(np.subtract(ml, np.median(ml))))),
                                _spread(means) if means else None))
    return out


def dataset(records: Sequence[CaseRecord]) -> Dataset:
    """The dataset view of the cases' records."""
    cells = _cells(records)
    seen: dict[str, None] = {}
    for row in cells.values():
        seen.update(dict.fromkeys(row))
    categories = sorted(seen, key=lambda c: (min(
        (r[c].value or 0) for r in cells.values() if c in r), c))
    usual, conflicts = _flag(cells, categories,
                             frozenset(r.name for r in records if r.binary))
    unmapped = {r.name: [int(s.key) for s in r.stats if not s.mapped and s.key.isdigit()]
                for r in records}
    return Dataset(categories, [r.name for r in records], cells, usual, conflicts,
                   _outliers(cells, categories), _distributions(cells, categories),
                   {k: v for k, v in unmapped.items() if v})
