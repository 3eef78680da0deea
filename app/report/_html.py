"""The report's HTML, piece by piece: well-formed (every element closed, every text
escaped), one file with its own style (no scripts, fonts or links outside the folder),
printable (``@media print``: each case on its own, never split across pages).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from app.items import category_label
from app.report._case import CaseRecord
from app.report._dataset import Dataset, num
from app.validate import Finding, Severity, counts

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .4em 0; }
td, th { border: 1px solid #ccc; padding: 1px 5px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.matrix td, .matrix th { font-size: 11px; padding: 0 3px; white-space: nowrap; }
.missing { background: #fdd; } .renumbered { background: #ffe6a8; }
.conflict { background: #f6c; } .empty { background: #eee; color: #888; }
.error { color: #b00; font-weight: bold; } .warning { color: #a60; } .info { color: #357; }
.reviewed { color: #070; font-weight: bold; } .needs-work { color: #b00; font-weight: bold; }
.not-reviewed { color: #777; }
.swatch { display: inline-block; width: .9em; height: .9em; border: 1px solid #444;
          vertical-align: middle; }
.thumbs img { margin: 0 .4em .4em 0; border: 1px solid #999; background: #000; }
details.case { border: 1px solid #bbb; margin: .4em 0; padding: .3em .6em;
               page-break-inside: avoid; break-inside: avoid; }
details.case summary { cursor: pointer; font-weight: bold; }
.scroll { overflow-x: auto; max-height: 40em; overflow-y: auto; }
@media print {
  details.case { page-break-inside: avoid; break-inside: avoid; }
  details.case summary { list-style: none; }
  h2 { page-break-before: auto; page-break-after: avoid; }
  .scroll { overflow: visible; max-height: none; }
  table { page-break-inside: auto; } tr { page-break-inside: avoid; }
}
"""


def e(text: object) -> str:
    """Text escaped for HTML and XML alike."""
    return escape(str(text), quote=True)


def table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table; ``head`` is escaped here, the cells are given as HTML already."""
    attr = f' class="{cls}"' if cls else ""
    out = [f"<table{attr}><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head)
           + "</tr></thead><tbody>"]
    out += ["<tr>" + "".join(cells) + "</tr>" for cells in (
        [c if c.startswith("<td") else f"<td>{c}</td>" for c in row] for row in rows)]
    out.append("</tbody></table>")
    return "\n".join(out)


def page_head(title: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\" />"
            f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>\n"
            f"<h1>{e(title)}</h1>\n")


def page_tail() -> str:
    return "</body></html>\n"


def swatch(rgb: tuple[int, int, int]) -> str:
    r, g, b = rgb
    return f'<span class="swatch" style="background: rgb({r}, {g}, {b})"></span>'


def sign_off_html(rec: CaseRecord) -> str:
    s = rec.sign_off
    if s is None:
        return '<span class="not-reviewed">not reviewed</span>'
    cls = "reviewed" if s.review.value == "reviewed" else "needs-work"
    parts = [f'<span class="{cls}">{e(s.review.value)}</span>']
    if s.by or s.at:
        parts.append(e(" by " + s.by if s.by else "") + e(" at " + s.at if s.at else ""))
    if s.comment:
        parts.append(f": {e(s.comment)}")
    return "".join(parts)


def _findings_table(found: Sequence[Finding]) -> str:
    return table(["severity", "code", "where", "message"], (
        [f'<td class="{e(f.severity)}">{e(f.severity)}</td>', e(f.code),
         e(", ".join(x for x in (f.task or "", f"series {f.series}" if f.series is not None else "",
                                  f.file or "", f"value {f.value}" if f.value is not None
                                  else "") if x)), e(f.message)] for f in found))


def case_html(rec: CaseRecord) -> str:
    """One case as a collapsible section."""
    worst = {f.severity for f in rec.findings}
    badge = ("errors" if Severity.ERROR in worst else "warnings" if Severity.WARNING in worst
             else "")
    out = [f'<details class="case" id="case-{rec.index}"><summary>{e(rec.name)}'
           + (f' <span class="{badge[:-1]}">({e(badge)})</span>' if badge else "")
           + ("" if rec.included else " (excluded)") + f" | {sign_off_html(rec)}</summary>"]
    if rec.thumbs:
        out.append('<div class="thumbs">' + "".join(
            f'<img src="thumbs/{e(name)}" alt="{e(view)}" title="{e(view)}" loading="lazy" />'
            for view, name in rec.thumbs.items()) + "</div>")
    out.append("<p>Legend and mapping: the colour of each value in the thumbnails, its "
               "category and where that came from.</p>")
    out.append(table(["", "value", "category", "from", "status"], (
        [swatch(m.colour), f'<td class="n">{e(m.value if m.value is not None else "-")}</td>',
         e(m.category or "(not mapped: view-only in RedBrick)"), e(m.origin), e(m.status)]
        for m in rec.mapping)))
    out.append(table(["key", "category", "voxels", "mL", "mean intensity"], (
        [e(s.key), e(category_label(s.category)) if s.mapped else "(no segmentMap entry)", f'<td class="n">{s.voxels:,}</td>',
         f'<td class="n">{s.volume_ml:.2f}</td>',
         f'<td class="n">{"-" if s.mean is None else num(s.mean)}</td>'] for s in rec.stats)))
    grids = [["image", e(rec.image_grid)], *([e(n), e(g)] for n, g in rec.mask_grids)]
    if rec.relation:
        grids.append(["mask on image", e(rec.relation)])
    out.append(table(["grid", ""], grids))
    if rec.errors:
        out.append("<ul>" + "".join(f'<li class="error">{e(x)}</li>' for x in rec.errors)
                   + "</ul>")
    if rec.findings:
        out.append(_findings_table(rec.findings))
    out.append("</details>\n")
    return "\n".join(out)


def _matrix(ds: Dataset) -> str:
    head = ["case", *ds.categories, *(["not mapped"] if ds.unmapped else [])]
    rows = []
    for i, case in enumerate(ds.cases):
        row = [f'<td><a href="#case-{i}">{e(case)}</a></td>']
        for cat in ds.categories:
            c = ds.cells[case].get(cat)
            if c is None:
                row.append('<td class="missing" title="missing">-</td>')
                continue
            if not c.flags:  # most cells: kept small, a matrix of 1,000 cases stays light
                row.append(f'<td class="n">{e(c.value)}</td>')
                continue
            tip = f"{cat}: value {c.value}, {c.voxels:,} voxels, {c.volume_ml:.2f} mL"
            if "renumbered" in c.flags:
                tip += f" (usually {ds.usual_value.get(cat)})"
            row.append(f'<td class="n {" ".join(c.flags)}" title="{e(tip)}">{e(c.value)}</td>')
        if ds.unmapped:
            values = ", ".join(map(str, ds.unmapped.get(case, [])))
            row.append(f'<td class="missing">{e(values)}</td>' if values else "<td></td>")
        rows.append(row)
    return '<div class="scroll">' + table(head, rows, "matrix") + "</div>"


def dataset_html(ds: Dataset, found: Sequence[Finding], records: Sequence[CaseRecord]) -> str:
    """The dataset's sections: at a glance, findings totals, matrix, conflicts, volumes and
    intensities, outliers, geometry."""
    reviews = [r.sign_off.review.value if r.sign_off else "" for r in records]
    glance = (f"<p>{len(records)} cases, {len(ds.categories)} categories; sign-off: "
              f'<span class="reviewed">{reviews.count("reviewed")} reviewed</span>, '
              f'<span class="needs-work">{reviews.count("needs work")} need work</span>, '
              f'<span class="not-reviewed">{reviews.count("")} not reviewed</span>; '
              f"{len(ds.outliers)} outliers.</p>")
    n = counts(found)
    out = [glance, "<h2>Findings</h2>", table(["severity", "findings"], (
        [f'<td class="{e(s)}">{e(s)}</td>', f'<td class="n">{n[s]}</td>'] for s in Severity))]
    out.append("<h2>Categories in each case</h2><p>The value of each category per case. "
               '<span class="missing">missing</span>, <span class="renumbered">renumbered'
               '</span> (not its usual value), <span class="conflict">a value meaning '
               'different categories in different cases</span>, <span class="empty">'
               "mapped but empty</span>; values in the masks no category names (view-only "
               "in RedBrick) under <em>not mapped</em>.</p>")
    out.append(_matrix(ds))
    if ds.conflicts:
        out.append("<h3>Values that mean different categories</h3>")
        out.append(table(["value", "categories"], (
            [e(v), e(", ".join(cats))] for v, cats in ds.conflicts.items())))
    out.append("<h2>Volumes and intensities per category</h2>")
    out.append(table(["category", "cases", "mL min", "mL median", "mL max", "mL MAD",
                      "intensity min", "intensity median", "intensity max"], (
        [e(d.category), f'<td class="n">{d.cases}</td>',
         *(f'<td class="n">{num(x)}</td>' for x in (*d.volume, d.volume_mad)),
         *(f'<td class="n">{"-" if d.intensity is None else num(x)}</td>'
           for x in (d.intensity or (0.0, 0.0, 0.0)))] for d in ds.distributions)))
    out.append("<h2>Outliers</h2><p>Per category over cases: median and MAD, "
               "|robust z| &gt; 3.5.</p>")
    out.append(table(["case", "category", "measure", "why"], (
        [e(o.case), e(o.category), e(o.measure), e(o.why)] for o in ds.outliers))
               if ds.outliers else "<p>None.</p>")
    geometry = [f for f in found if str(f.code).startswith("grid-")]
    out.append("<h2>Geometry</h2>")
    out.append(_findings_table(geometry) if geometry else "<p>No geometry problems.</p>")
    return "\n".join(out) + "\n"
