"""Preview speed on a 512x512x300 CT with a 117-label merged volume, offscreen.

Measures, in one process each (data generated once and cached as .npy under
$SEGMAP_BENCH_DATA):

* first overlay: from arrays in memory to the first painted slice
  (DisplayVolumes.build + PreviewWidget.set_volumes + grab()), for a mask on the
  image grid and for a mask stored with other axes (aligned by a copy);
* slice change: 100 slice changes per view, each painted with grab(), for the
  widget as shipped (window_to_uint8 + labels coloured with a 32-bit take) side by
  side with letting pyqtgraph do it (levels on the int16 slice, the label LUT as
  an Indexed8 colour table);
* the jump table (largest_slices): by runs, side by side with the direct
  nonzero-coordinates count;
* a visibility change (new LUT + repaint);
* the three linked planes (issue 11): the first overlay with all three planes against the
  one-plane layout (which paints what the single-plane preview painted), a crosshair move
  (a click in the axial plane, then the coronal and sagittal planes repainted through the
  new point), and the peak memory of each layout.

Run: QT_QPA_PLATFORM=offscreen python -m bench.bench_preview
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

from bench import harness, phantom, synth  # noqa: E402

SHAPE = (512, 512, 300)
N_LABELS = 117
GROUPS = {118: (5, 17), 119: (40, 41), 120: (5, 17, 60)}  # overlap groups in the merged volume


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, list[int] | None]]:
    """CT image (int16, LPS storage), merged labels (uint8), affine, segments; cached."""
    folder = harness.DATA / "preview"
    folder.mkdir(parents=True, exist_ok=True)
    img_p, lab_p = folder / "ct_512x512x300.npy", folder / "labels_512x512x300_117.npy"
    if not img_p.exists():
        np.save(img_p, np.asfortranarray(phantom.torso(SHAPE).image))
    if not lab_p.exists():
        lab = synth.label_field(SHAPE, N_LABELS)
        rng = np.random.default_rng(0)
        for g in GROUPS:  # balls where labels overlap, as a merge writes them
            c = rng.integers(100, 400, 3)
            sl = tuple(slice(int(x) - 12, int(x) + 12) for x in c[:2]) + (slice(100, 130),)
            lab[sl] = g
        np.save(lab_p, np.asfortranarray(lab))
    image = np.load(img_p)
    labels = np.load(lab_p)
    affine = phantom.lps_affine(SHAPE, (0.8, 0.8, 1.0))
    segments: dict[int, list[int] | None] = {v: None for v in range(1, N_LABELS + 1)}
    for g, members in GROUPS.items():
        for m in members:
            segments[m] = (segments[m] or []) + [g]
    return image, labels, affine, segments


def _widget(pyqtgraph_paints: bool = False, layout: str = "one"):
    from PySide6.QtWidgets import QApplication

    from app.preview import label_lut
    from ui.preview import PreviewWidget

    class PyqtgraphPaints(PreviewWidget):
        """Reference: pyqtgraph applies the window (levels) and the label LUT itself."""

        def _render_image(self, view=None) -> None:
            if self._volumes is not None:
                c, w = self._window
                for v in [view] if view is not None else self.visible_planes():
                    image2d, _ = self._volumes.slice(v, self._point[v])
                    self.planes[v].image_item.setImage(image2d, autoLevels=False,
                                                       levels=(c - w / 2, c + w / 2))

        def _render_labels(self, view=None) -> None:
            vols = self._volumes
            if vols is None or vols.labels is None:
                return
            lut = label_lut(vols.segments, self._colours, self._opacity, self._visible,
                            self._solo, 256)
            for v in [view] if view is not None else self.visible_planes():
                _, labels2d = vols.slice(v, self._point[v])
                item = self.planes[v].label_item
                item.setLookupTable(lut, update=False)
                item.setImage(labels2d, autoLevels=False, levels=None)

    app = QApplication.instance() or QApplication(sys.argv)
    w = (PyqtgraphPaints if pyqtgraph_paints else PreviewWidget)(layout=layout)
    w.resize(1000, 900)
    w.show()
    app.processEvents()
    return app, w


def first_overlay(mode: str, layout: str = "one") -> dict[str, float]:
    """Seconds from arrays in memory to the first painted overlay (5 runs, same widget)."""
    from app.geometry import Grid
    from app.preview import DisplayVolumes

    image, labels, affine, segments = data()
    grid = Grid.of(image.shape, affine)
    if mode == "reoriented":  # the mask stored RAS while the image is LPS: aligned by a copy
        labels = np.asfortranarray(labels[::-1, ::-1, :])
        flip = np.diag([-1.0, -1.0, 1.0, 1.0])  # RAS index -> LPS index
        flip[:3, 3] = [SHAPE[0] - 1, SHAPE[1] - 1, 0]
        lab_grid = Grid.of(labels.shape, affine @ flip)
    else:
        lab_grid = grid
    app, w = _widget(layout=layout)
    runs: list[dict[str, float]] = []
    for _ in range(5):
        t0 = time.perf_counter()
        vols = DisplayVolumes.build(image, grid, labels, lab_grid, segments)
        t1 = time.perf_counter()
        w.set_volumes(vols)
        t2 = time.perf_counter()
        w.grab()
        t3 = time.perf_counter()
        runs.append({"build": t1 - t0, "set_volumes": t2 - t1, "paint": t3 - t2, "total": t3 - t0})
        assert mode != "reoriented" or vols.match.relation == "reoriented"
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]} | {
        "total_max": max(r["total"] for r in runs), "peak_mb": harness._peak_mb()}


def crosshair_moves() -> dict[str, float]:
    """ms per crosshair move: a click in the axial plane at another point, the coronal and
    sagittal planes repainted through it, all three painted (grab), 100 moves."""
    from app.geometry import Grid
    from app.preview import DisplayVolumes

    image, labels, affine, segments = data()
    grid = Grid.of(image.shape, affine)
    app, w = _widget(layout="three")
    w.set_volumes(DisplayVolumes.build(image, grid, labels, grid, segments))
    w.grab()
    times = []
    for k in range(100):
        t = time.perf_counter()
        w.planes["axial"].pixelClicked.emit(60 + (3 * k) % 400, 50 + (7 * k) % 400)
        w.grab()
        times.append(time.perf_counter() - t)
    return {"mean_ms": 1e3 * statistics.mean(times),
            "p95_ms": 1e3 * float(np.percentile(times, 95)), "max_ms": 1e3 * max(times)}


def slice_changes(painter: str) -> dict[str, float]:
    """Mean and max ms per slice change (set_slice + grab), 100 changes per view."""
    from app.geometry import Grid
    from app.preview import DisplayVolumes

    image, labels, affine, segments = data()
    grid = Grid.of(image.shape, affine)
    app, w = _widget(pyqtgraph_paints=painter == "pyqtgraph")
    w.set_volumes(DisplayVolumes.build(image, grid, labels, grid, segments))
    out: dict[str, float] = {}
    for view in ("axial", "coronal", "sagittal"):
        w.set_view(view)
        w.grab()
        n = w.volumes().n_slices(view)
        times = []
        for k in range(100):
            t = time.perf_counter()
            w.set_slice((n // 4 + 3 * k) % n)
            w.grab()
            times.append(time.perf_counter() - t)
        out[f"{view}_mean_ms"] = 1e3 * statistics.mean(times)
        out[f"{view}_p95_ms"] = 1e3 * float(np.percentile(times, 95))
        out[f"{view}_max_ms"] = 1e3 * max(times)
    t = time.perf_counter()
    for k in range(20):
        w.set_label_visibility(None, k + 1)
        w.grab()
    out["visibility_ms"] = 1e3 * (time.perf_counter() - t) / 20
    return out


def largest_by_runs() -> dict[str, float]:
    from app.preview import largest_slices

    _, labels, _, segments = data()
    display = labels.T[::-1]  # the display orientation of this LPS volume: a view
    t = time.perf_counter()
    largest_slices(display, segments)
    return {"seconds": time.perf_counter() - t}


def largest_by_nonzero() -> dict[str, float]:
    """Reference: the direct count (coordinates of every non-zero voxel, one bincount per axis)."""
    _, labels, _, _ = data()
    display = labels.T[::-1]
    t = time.perf_counter()
    n = display.shape
    nv = int(display.max()) + 1
    counts = [np.zeros(n[a] * nv, np.int64) for a in range(3)]
    step = max(1, (1 << 23) // (n[1] * n[2]))
    for k0 in range(0, n[0], step):
        slab = display[k0:k0 + step]
        k, j, i = np.nonzero(slab)
        v = slab[k, j, i].astype(np.int64)
        counts[0][k0 * nv:(k0 + slab.shape[0]) * nv] += np.bincount(k * nv + v,
                                                                     minlength=slab.shape[0] * nv)
        counts[1] += np.bincount(j * nv + v, minlength=n[1] * nv)
        counts[2] += np.bincount(i * nv + v, minlength=n[2] * nv)
    for a in range(3):
        counts[a].reshape(n[a], nv).argmax(axis=0)
    return {"seconds": time.perf_counter() - t}


METHODS = {
    "first_overlay_same_grid": lambda: first_overlay("same"),
    "first_overlay_reoriented_mask": lambda: first_overlay("reoriented"),
    "first_overlay_three_planes": lambda: first_overlay("same", "three"),
    "crosshair_move_three_planes": crosshair_moves,
    "slice_change_segmap": lambda: slice_changes("segmap"),
    "slice_change_pyqtgraph_lut": lambda: slice_changes("pyqtgraph"),
    "largest_slices_runs": largest_by_runs,
    "largest_slices_nonzero_reference": largest_by_nonzero,
}


def _run(name: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "bench.bench_preview", "--one", name],
                         cwd=harness.ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    data()  # generate the cached arrays once, outside the timings
    rows = {name: _run(name) for name in METHODS}
    print(f"machine: {harness.machine()}; Qt platform: {os.environ['QT_QPA_PLATFORM']}")
    print("| first overlay (s, median of 5; max) | build | set_volumes | paint | total | max |")
    print("|---|---|---|---|---|---|")
    for name in ("first_overlay_same_grid", "first_overlay_reoriented_mask"):
        r = rows[name]
        print(f"| {name} | {r['build']:.3f} | {r['set_volumes']:.3f} | {r['paint']:.3f} | "
              f"{r['total']:.3f} | {r['total_max']:.3f} |")
    print("| slice change (ms per change incl. grab) | axial mean / p95 / max | coronal | "
          "sagittal | visibility change |")
    print("|---|---|---|---|---|")
    for name in ("slice_change_segmap", "slice_change_pyqtgraph_lut"):
        r = rows[name]
        cells = " | ".join(f"{r[f'{v}_mean_ms']:.1f} / {r[f'{v}_p95_ms']:.1f} / {r[f'{v}_max_ms']:.1f}"
                           for v in ("axial", "coronal", "sagittal"))
        print(f"| {name} | {cells} | {r['visibility_ms']:.1f} |")
    a, b = rows["largest_slices_runs"]["seconds"], rows["largest_slices_nonzero_reference"]["seconds"]
    print(f"largest_slices: by runs {a:.2f} s, nonzero reference {b:.2f} s ({b / a:.1f}x)")
    one, three = rows["first_overlay_same_grid"], rows["first_overlay_three_planes"]
    print(f"three planes, first overlay: {three['total']:.3f} s against one plane "
          f"{one['total']:.3f} s ({three['total'] / one['total']:.2f}x, target 1.3x); peak "
          f"{three['peak_mb']:.0f} MB against {one['peak_mb']:.0f} MB")
    c = rows["crosshair_move_three_planes"]
    print(f"crosshair move, three planes repainted: mean {c['mean_ms']:.1f} ms, p95 "
          f"{c['p95_ms']:.1f} ms, max {c['max_ms']:.1f} ms (target under 30 ms)")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        print(json.dumps(METHODS[sys.argv[2]]()))
    else:
        main()
