"""Edits of the mapping: a category for a row, accepting suggestions, including cases,
copying a mapping to cases with the same labels. Each returns the ``Change`` it made."""

from __future__ import annotations

from collections.abc import Iterable

from app.discover import rois_of
from app.items import Category, ImportShape, Segment, SegmentMap, relpath
from app.mapping import file_key
from app.session._model import CaseState, Change, SignOff
from app.session._rows import Row, SessionRows


def _free_key(smap: SegmentMap) -> int:
    used = set(smap.segments)
    key = 1
    while key in used:
        key += 1
    return key


class SessionEdits(SessionRows):
    """What the user changes on the Cases and Mapping pages."""

    def set_category(self, case: CaseState, row: Row, category: Category | None) -> Change:
        """Map a row to ``category`` (None unmaps it); the change is the user's, so reviewed."""
        series = case.series
        if series.segment_map is None:
            series.segment_map = SegmentMap()
            if case.binary:
                series.segment_map.flags["binaryMask"] = True
        smap = series.segment_map
        if smap.rois is None and not smap.segments and (rois := rois_of(case.masks)):
            smap.bind_rois(rois)  # an RTSTRUCT's map: by ROI place, written by ROI name
        if case.binary:
            key = row.key
            if category is None:
                if key is not None:
                    smap.remove(key)
                    case.unreviewed.discard(key)
            elif key is not None:
                smap.segments[key].category = category
                case.unreviewed.discard(key)
            elif row.files:
                key = _free_key(smap)
                smap.set(key, Segment(category=category, mask=relpath(row.files[0], self.base),
                                      compact=False))
        else:
            assert row.value is not None
            key = row.value
            if category is None:
                smap.remove(row.value)
            elif row.value in smap.segments:
                smap.segments[row.value].category = category
            else:
                smap.set(row.value, Segment(category=category))
            case.unreviewed.discard(row.value)
        if key is not None:
            if category is None:
                case.by_hand.discard(key)
            else:
                case.by_hand.add(key)
        self.sync_segmentations(case)
        return Change.of([case.name], count=1)

    def accept(self, case: CaseState, keys: Iterable[int] | None = None) -> Change:
        """Accept suggested mappings (all of the case's when ``keys`` is None).

        ``Change.count`` says how many were accepted.
        """
        todo = set(case.unreviewed) if keys is None else set(keys) & case.unreviewed
        case.unreviewed -= todo
        return Change.of([case.name] if todo else [], count=len(todo))

    def set_included(self, case: CaseState, included: bool) -> Change:
        """Include a case in the export, or leave it out."""
        if case.included == included:
            return Change()
        case.included = included
        return Change(cases=True, count=1)

    def set_all_included(self, included: bool) -> Change:
        """Include every case, or none."""
        changed = [c for c in self.cases if c.included != included]
        for c in changed:
            c.included = included
        return Change(cases=bool(changed), count=len(changed))

    def set_sign_off(self, case: CaseState, sign_off: SignOff | None) -> Change:
        """The reviewer's word on a case (None: not reviewed). A sign-off that says what
        the case's already says (review and comment) changes nothing, not even when."""
        old = case.sign_off
        if (old is None and sign_off is None) or (old is not None and old.same_word(sign_off)):
            return Change()
        case.sign_off = sign_off
        word = sign_off.review.value if sign_off is not None else "not reviewed"
        return Change(reviews=frozenset([case.name]), notes=(f"{case.name}: {word}",), count=1)

    def sync_segmentations(self, case: CaseState) -> None:
        """Write ``segmentations`` from the case's files that carry a mapping."""
        series = case.series
        smap = series.segment_map
        if case.binary:
            mapped = set(self.mask_keys(case))
            files = [f for f in case.masks if self.real(f) in mapped]
        else:
            files = [f for f in case.masks if (c := self.census(f)) is None or not c.empty]
            if not smap or not smap.segments:
                files = []
        rel = [relpath(f, self.base) for f in files]
        if not rel:
            series.segmentations = None
            if smap is not None and not smap.segments and not smap.extra:
                series.segment_map = None
        elif case.shape is ImportShape.LABEL_MAP and len(rel) == 1:
            series.segmentations = rel[0]
        else:
            series.segmentations = rel

    # ------------------------------------------------------- mapping several cases
    def label_set(self, case: CaseState) -> frozenset[str]:
        """What must be equal for a mapping to apply as is: values, or structure names."""
        if case.binary:
            return frozenset(file_key(f, case.case_key) for f in case.masks)
        values: set[str] = set()
        for f in case.masks:
            c = self.census(f)
            if c is not None:
                values.update(str(int(v)) for v in c.nonzero if float(v).is_integer())
        return frozenset(values)

    def mapping_of(self, case: CaseState) -> dict[str, Category | None]:
        """The case's mapping keyed like label_set: value text, or structure name."""
        out: dict[str, Category | None] = {}
        for row in self.rows(case):
            if case.binary and row.files:
                out[file_key(row.files[0], case.case_key)] = row.category
            elif not case.binary and row.value is not None:
                out[str(row.value)] = row.category
        return out

    def apply_mapping(self, source: CaseState, mapping: dict[str, Category | None] | None = None,
                      targets: Iterable[CaseState] | None = None) -> Change:
        """Copy ``source``'s mapping to every other case with the same label set.

        ``Change.mapping`` holds the cases changed, ``Change.skipped`` those whose
        labels differ.
        """
        mapping = mapping if mapping is not None else self.mapping_of(source)
        wanted = self.label_set(source)
        changed, differ, other_kind = [], [], 0
        for case in targets if targets is not None else self.cases:
            if case is source:
                continue
            if case.binary != source.binary:
                other_kind += 1
                continue
            if self.label_set(case) != wanted:
                differ.append(case.name)
                continue
            self.apply_to(case, mapping)
            changed.append(case.name)
        kind, other = ("binary masks", "label maps") if source.binary else \
            ("label maps", "binary masks")
        labels = "structure files" if source.binary else "label values"
        listed = f": {', '.join(changed[:12])}{' …' if len(changed) > 12 else ''}." \
            if changed else "."
        notes = [f"Applied the mapping of {source.name} to {len(changed)} case(s){listed}"]
        if differ:
            notes.append(f"{len(differ)} case(s) have other {labels} and were left as they "
                         "are: " + ", ".join(differ[:12]) + (" …" if len(differ) > 12 else ""))
        if other_kind:
            notes.append(f"{other_kind} case(s) hold {other}, not {kind}: a mapping is not "
                         "copied between the two.")
        if not (changed or differ or other_kind):
            notes.append("There is no other case to apply it to.")
        elif not changed:
            notes.append(f"Only a case with exactly the same {labels} takes the mapping as it "
                         "is; a mapping template (Save template…) applies the labels cases "
                         "share.")
        return Change.of(changed, skipped=tuple(differ), notes=tuple(notes), count=len(changed))

    def apply_to(self, case: CaseState, mapping: dict[str, Category | None]) -> None:
        """Set each row of ``case`` that ``mapping`` names (keys as ``label_set``'s)."""
        for row in self.rows(case):
            if case.binary:
                if not row.files:
                    continue
                k = file_key(row.files[0], case.case_key)
            else:
                k = str(row.value)
            if k not in mapping:
                continue
            if mapping[k] != row.category:
                self.set_category(case, row, mapping[k])
            elif row.key is not None:
                case.unreviewed.discard(row.key)  # the user's mapping vouches for it
