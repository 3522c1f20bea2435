"""Benchmark and truth check of the overlay stage; prints one JSON object.

    python bench/bench_overlay.py                          # synthetic scene (tests/overlay_synth.py)
    python bench/bench_overlay.py --line OUT_OF_SIMULATE   # a simulator run (line.mp4, truth.jsonl, templates/)
    python bench/bench_overlay.py --line DIR --models models   # with models/<view>/ (ONNX artifacts)

Without ``--models`` the model is the template-difference baseline of
tests/overlay_synth.py (|crop - defect-free template|): no training needed,
good enough to exercise the stage; with ``--models`` the trained artifacts run
through ONNX Runtime.

Timing (``timing_ms``): per processed frame, measured inside
``StreamPipeline.process``: ``overlay`` = this stage (evidence fusion on the
car, confirmation, severity, hints, OverlayFrame; ``--stabiliser``: regions +
the per-view stabiliser of earlier releases), ``match`` = template matching + tracking,
``model`` = the model call, ``encode_msgpack`` / ``encode_proto`` = the codec.

Accuracy (``accuracy``, when truth is known), per the simulator's truth:
every injected defect of a view that was fully in view at least once should
become exactly one confirmed overlay id: ``recall``, ``missed`` (which and
why-relevant facts), ``false_overlays`` (ids that match no defect) per car,
``id_changes`` (extra ids on one defect), ``iou`` of the final smoothed
contour vs the truth polygon in underbody px.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from xrbridge.core.matching import templates_from_arrays  # noqa: E402
from xrbridge.core.pipeline import PipelineConfig, StreamPipeline  # noqa: E402
from xrbridge.core.types import Frame, OverlayFrame  # noqa: E402
from xrbridge.io.models import onnx_models  # noqa: E402
from xrbridge.wire import codec  # noqa: E402


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms, dtype=np.float64)
    if a.size == 0:
        return {}
    return {
        "mean": round(float(a.mean()), 3),
        "p50": round(float(np.percentile(a, 50)), 3),
        "p90": round(float(np.percentile(a, 90)), 3),
        "p99": round(float(np.percentile(a, 99)), 3),
        "max": round(float(a.max()), 3),
    }


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    lo = np.floor(np.minimum(a.min(0), b.min(0))) - 2
    s = 4.0
    wh = np.ceil((np.maximum(a.max(0), b.max(0)) - lo + 2) * s).astype(int)
    ma = np.zeros((wh[1], wh[0]), np.uint8)
    mb = np.zeros_like(ma)
    cv2.fillPoly(ma, [np.round((a - lo) * s).astype(np.int32)], 1)
    cv2.fillPoly(mb, [np.round((b - lo) * s).astype(np.int32)], 1)
    union = np.logical_or(ma, mb).sum()
    return float(np.logical_and(ma, mb).sum() / union) if union else 0.0


def evaluate(
    outs: list[OverlayFrame],
    truth: list[dict[str, Any]],
    views: dict[str, dict[str, float]],
    gate_px: float = 15.0,
) -> dict[str, Any]:
    """Overlays vs the simulator's truth (contract format, one entry per frame)."""
    defects: dict[tuple[int, int], dict[str, Any]] = {}
    peak_views: set[tuple[int, str]] = set()
    last: dict[tuple[int, int], Any] = {}  # our (car, id) -> its last Defect
    ours: dict[tuple[int, int], list[tuple[int | None, str, np.ndarray, np.ndarray]]] = defaultdict(
        list
    )
    for o, tf in zip(outs, truth, strict=True):
        cars = tf["cars"]
        for c in cars:
            for d in c["defects"]:
                defects.setdefault((c["id"], d["id"]), d)
            for v, info in c.get("views", {}).items():
                if info.get("peak"):
                    peak_views.add((c["id"], v))
        tr = o.track
        if tr is None or not o.defects:
            continue
        tc = None
        if cars:
            px, py = tr.x, tr.y
            best = min(cars, key=lambda c: np.hypot(c["offset"][0] - px, c["offset"][1] - py))
            if np.hypot(best["offset"][0] - px, best["offset"][1] - py) < 25:
                tc = best["id"]
        for d in o.defects:
            m = views[d.view]
            sc = np.array([m["width"], m["height"]], float)
            off = np.array([m["u0"], m["v0"]], float)
            last[(tr.car_id, d.defect_id)] = d
            ours[(tr.car_id, d.defect_id)].append(
                (
                    tc,
                    d.view,
                    np.asarray(d.centroid_uv) * sc + off,
                    d.contour_uv.astype(float) * sc + off,
                )
            )
    expected = {k: d for k, d in defects.items() if (k[0], d["view"]) in peak_views}
    matched: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    false: dict[str, int] = defaultdict(int)  # truth car (or "unknown") -> false overlay ids
    ious: dict[tuple[int, int], float] = {}
    false_detail: list[dict[str, Any]] = []
    found_detail: list[dict[str, Any]] = []
    for key, obs in ours.items():
        tc = Counter(ob[0] for ob in obs).most_common(1)[0][0]
        view = obs[-1][1]
        cen = np.mean([ob[2] for ob in obs], axis=0)
        cands = []
        for (car, did), d in defects.items():
            if car != tc or d["view"] != view:
                continue
            poly = np.asarray(d["polygon_ub"], np.float32)
            inside = cv2.pointPolygonTest(poly, (float(cen[0]), float(cen[1])), True)
            cands.append((-inside, (car, did)))
        best = min(cands) if cands else None
        if best is not None and best[0] < gate_px:
            matched[best[1]].append(key)
            ious[key] = _iou(obs[-1][3], np.asarray(defects[best[1]]["polygon_ub"], float))
            ld = last[key]
            found_detail.append(
                {
                    "car": best[1][0],
                    "defect": best[1][1],
                    "type": defects[best[1]].get("type"),
                    "size": defects[best[1]].get("size"),
                    "overlay_id": key[1],
                    "severity": ld.severity,
                    "peak": round(ld.peak_score, 3),
                    "mean": round(ld.mean_score, 3),
                    "hits": ld.hits,
                    "iou": round(ious[key], 3),
                }
            )
        else:
            false["unknown" if tc is None else str(tc)] += 1
            ld = last[key]
            false_detail.append(
                {
                    "car": tc,
                    "view": view,
                    "severity": ld.severity,
                    "peak": round(ld.peak_score, 3),
                    "mean": round(ld.mean_score, 3),
                    "hits": ld.hits,
                    "area_px": round(ld.area_px),
                    "centroid_ub": [round(float(v)) for v in cen],
                }
            )
    missed = [
        {
            "car": k[0],
            "defect": k[1],
            "type": d.get("type"),
            "size": d.get("size"),
            "view": d["view"],
        }
        for k, d in sorted(expected.items())
        if k not in matched
    ]
    per_car: dict[str, dict[str, int]] = {}
    for car in sorted({k[0] for k in expected} | {c for (c, _v) in peak_views}):
        exp = [k for k in expected if k[0] == car]
        per_car[str(car)] = {
            "defects": len(exp),
            "found": sum(1 for k in exp if k in matched),
            "false_overlays": false.pop(str(car), 0),
        }
    for other, n in false.items():
        per_car[other] = {"defects": 0, "found": 0, "false_overlays": n}
    iou_vals = list(ious.values())
    return {
        "defects_expected": len(expected),
        "defects_found": sum(1 for k in expected if k in matched),
        "recall": round(sum(1 for k in expected if k in matched) / max(len(expected), 1), 4),
        "false_overlays": sum(v["false_overlays"] for v in per_car.values()),
        "id_changes": sum(len(v) - 1 for v in matched.values()),
        "iou": {
            "mean": round(float(np.mean(iou_vals)), 4),
            "min": round(float(np.min(iou_vals)), 4),
        }
        if iou_vals
        else {},
        "missed": missed,
        "found_detail": found_detail,
        "false_detail": false_detail,
        "false_by_severity": dict(Counter(f["severity"] for f in false_detail)),
        "per_car": per_car,
    }


_COLOURS = {"low": (0, 215, 255), "medium": (0, 128, 255), "high": (0, 0, 255)}  # BGR


def draw(frame: Frame, o: OverlayFrame) -> np.ndarray:
    """The frame with the overlay drawn: contours coloured by severity, id and hint."""
    img = frame.pixels.copy()
    for d in o.defects:
        pts = np.round(d.contour_px).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [pts], True, _COLOURS[d.severity], 2, cv2.LINE_AA)
        x, y = (int(v) for v in d.bbox_px[:2])
        label = f"#{d.defect_id} {d.severity}"
        if d.hint is not None:
            label += f" {d.hint.location}"
        cv2.putText(
            img,
            label,
            (x, max(10, y - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    if o.track is not None:
        cv2.putText(
            img,
            f"car {o.track.car_id} {o.view} score {o.image_score or 0:.2f}",
            (8, 16),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return img


def _load_line(
    line: Path, limit: int | None
) -> tuple[list[Frame], list[dict[str, Any]], Any, dict]:
    from xrbridge.extract import load_templates

    truth = [json.loads(s) for s in (line / "truth.jsonl").read_text().splitlines() if s.strip()]
    cap = cv2.VideoCapture(str(line / "line.mp4"))
    frames = []
    for tf in truth[:limit]:
        ok, px = cap.read()
        if not ok:
            break
        frames.append(Frame("line", int(tf["index"]), float(tf["t"]), px))
    cap.release()
    images, meta = load_templates(line / "templates")
    return frames, truth[: len(frames)], templates_from_arrays(images, meta), meta


def _synthetic() -> tuple[list[Frame], list[dict[str, Any]], Any, dict]:
    from overlay_synth import render_defect_scene
    from track_synth import VIEWS_LAYOUT

    sc = render_defect_scene(cars=3, defects_per_car=3, seed=2)
    meta = {
        v: {"u0": u0, "v0": v0, "width": w, "height": h}
        for v, (u0, v0, w, h) in VIEWS_LAYOUT.items()
    }
    y0 = (sc.frames[0].pixels.shape[0] - 180) / 2
    truth = []
    for f, tx in zip(sc.frames, sc.truth_x, strict=True):
        fw = f.pixels.shape[1]
        cars = []
        for car, x in tx.items():
            vis = {}
            for v, m in meta.items():
                x0 = x + m["u0"]
                if x0 >= 0 and x0 + m["width"] <= fw:
                    vis[v] = {"peak": True}
            ds = [
                {"id": d.defect_id, "view": d.view, "polygon_ub": d.polygon_ub.tolist()}
                for d in sc.defects
                if d.car == car
            ]
            cars.append({"id": car, "offset": [x, y0], "views": vis, "defects": ds})
        truth.append({"t": f.t_capture, "cars": cars})
    return sc.frames, truth, sc.templates, meta


class MapsCache:
    """The models' outputs of one line, in call order, at the fusion grid's size.

    The fusion resizes each map to its grid (cell 4 px) with INTER_AREA; a map
    stored at that size comes back unchanged, so a replay from the cache gives the
    fusion the same numbers as the models did (for the default ``cell_px``).
    """

    def __init__(self, path: Path, view_shapes: dict[str, tuple[int, int]]) -> None:
        self.path = path
        self.grid = {
            v: (max(1, round(h / 4)), max(1, round(w / 4))) for v, (h, w) in view_shapes.items()
        }
        self.replay = path.is_file()
        self.views: list[str] = []
        self.maps: list[np.ndarray] = []
        self.scores: list[float] = []
        if self.replay:
            z = np.load(path, allow_pickle=False)
            self.views = [str(v) for v in z["views"]]
            self.scores = [float(x) for x in z["scores"]]
            self.maps = list(z["maps"])
        self.i = 0

    def wrap(self, models: Any) -> dict[str, Any]:
        def make(view: str) -> Any:
            def fn(crop: np.ndarray) -> tuple[np.ndarray, float]:
                gh, gw = self.grid[view]
                if self.replay:
                    if self.i >= len(self.views) or self.views[self.i] != view:
                        raise RuntimeError(f"maps cache {self.path} out of step at call {self.i}")
                    m, sc = self.maps[self.i], self.scores[self.i]
                    self.i += 1
                    return m[:gh, :gw].astype(np.float32), sc
                amap, score = models[view](crop)
                m = cv2.resize(np.asarray(amap, np.float32), (gw, gh), interpolation=cv2.INTER_AREA)
                big = np.zeros(
                    (max(g[0] for g in self.grid.values()), max(g[1] for g in self.grid.values())),
                    np.float16,
                )
                big[:gh, :gw] = m
                self.views.append(view)
                self.maps.append(big)
                self.scores.append(float(score))
                return m, score

            return fn

        return {v: make(v) for v in models}

    def save(self) -> None:
        if not self.replay:
            np.savez_compressed(
                self.path,
                views=np.asarray(self.views),
                scores=np.asarray(self.scores, np.float64),
                maps=np.stack(self.maps) if self.maps else np.zeros((0, 1, 1), np.float16),
            )


def _fusion_config(overrides: list[str]) -> Any:
    import dataclasses

    from xrbridge.core.fusion import FusionConfig

    kw: dict[str, Any] = {}
    types = {f.name: f.type for f in dataclasses.fields(FusionConfig)}
    for o in overrides:
        k, _, v = o.partition("=")
        if k not in types:
            raise SystemExit(f"--fusion: no FusionConfig field {k!r}; have {sorted(types)}")
        t = str(types[k])
        kw[k] = (
            int(v)
            if t == "int"
            else (v.lower() in ("1", "true", "yes") if t == "bool" else float(v))
        )
    return FusionConfig(**kw)


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    sc = result.get("score", {})
    keep = (
        "recall",
        "defects_found",
        "defects_expected",
        "false_ids",
        "false_per_car",
        "iou_mean",
        "ttfc_median_frames",
    )
    out = {k: sc[k] for k in keep if k in sc}
    out["overlay_ms"] = result["timing_ms"].get("overlay", {})
    out["missed"] = result["accuracy"]["missed"]
    out["false"] = result["accuracy"]["false_detail"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--line", type=Path, help="a `xrbridge simulate` output folder")
    ap.add_argument("--models", type=Path, help="folder with <view>/model.onnx + manifest.json")
    ap.add_argument("--frames", type=int, default=None, help="at most this many frames")
    ap.add_argument("--infer-every", type=int, default=1)
    ap.add_argument(
        "--max-centre-offset", type=float, default=None, help="PipelineConfig.max_centre_offset_px"
    )
    ap.add_argument("--threads", type=int, default=2, help="OpenCV threads")
    ap.add_argument(
        "--stabiliser",
        action="store_true",
        help="the per-view stabiliser of earlier releases instead of the fusion (comparison)",
    )
    ap.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="stage timing clock: wall (perf_counter) or cpu (this thread's CPU time: immune to "
        "other processes preempting the benchmark on a shared machine)",
    )
    ap.add_argument(
        "--picture", type=Path, help="write the frame with the most defects, drawn, as PNG"
    )
    ap.add_argument(
        "--maps-cache",
        type=Path,
        help="npz of the models' maps (at the fusion grid's size) and scores: written when "
        "missing, replayed instead of the models when present (fusion sweeps without the "
        "models; the model calls come in the same order whatever the fusion settings)",
    )
    ap.add_argument(
        "--fusion",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a FusionConfig field (repeatable), e.g. --fusion hot_margin=0.04",
    )
    ap.add_argument("--brief", action="store_true", help="print only the score summary")
    args = ap.parse_args()
    cv2.setNumThreads(args.threads)
    if args.line:
        frames, truth, templates, meta = _load_line(args.line, args.frames)
        source = str(args.line)
    else:
        frames, truth, templates, meta = _synthetic()
        source = "synthetic (tests/overlay_synth.py)"
    thresholds: dict[str, float] = {}
    if args.models:
        dirs = {
            t.view: args.models / t.view
            for t in templates
            if (args.models / t.view / "model.onnx").is_file()
        }
        models, thresholds, name = onnx_models(dirs)
    else:
        from overlay_synth import TemplateDiffModel

        models, name = TemplateDiffModel(templates).models(), "template-diff"
    cache = None
    if args.maps_cache is not None:
        cache = MapsCache(args.maps_cache, {t.view: t.image.shape[:2] for t in templates})
        models = cache.wrap(models)
    fusion_cfg = _fusion_config(args.fusion)
    cfg = PipelineConfig(
        stream_id="bench",
        model_name=name,
        infer_every=args.infer_every,
        max_centre_offset_px=args.max_centre_offset,
        thresholds=thresholds,
        **({"fusion": None} if args.stabiliser else {"fusion": fusion_cfg}),
    )
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    pipe = StreamPipeline(templates, models, cfg, clock=clock)
    outs: list[OverlayFrame] = []
    timing: dict[str, list[float]] = defaultdict(list)
    for f in frames:
        o = pipe.process(f)
        outs.append(o)
        for k, v in pipe.last_timing.items():
            if k != "model" or v > 0:
                timing[k].append(v * 1e3)
        t0 = clock()
        codec.overlay_to_msgpack(o)
        t1 = clock()
        codec.overlay_to_proto_bytes(o)
        timing["encode_msgpack"].append((t1 - t0) * 1e3)
        timing["encode_proto"].append((clock() - t1) * 1e3)
    records = pipe.close()
    if cache is not None:
        cache.save()
    if args.picture:
        i = max(range(len(outs)), key=lambda k: (len(outs[k].defects), -k))
        cv2.imwrite(str(args.picture), draw(frames[i], outs[i]))
    result = {
        "source": source,
        "model": name,
        "clock": args.clock,
        "frames": len(frames),
        "inferences": pipe.inferences,
        "frames_with_defects": sum(1 for o in outs if o.defects),
        "timing_ms": {k: _stats(v) for k, v in timing.items()},
        "records": [{"car_id": r.car_id, "n_defects": r.n_defects} for r in records],
        "accuracy": evaluate(outs, truth, meta),
    }
    if args.line:  # the project's scorer (xrbridge score), on the same overlays
        from xrbridge.eval.score import score

        result["score"] = score([codec.overlay_to_dict(o) for o in outs], truth, details=True)
    if args.brief:
        print(json.dumps(_brief(result), indent=1))
    else:
        print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
