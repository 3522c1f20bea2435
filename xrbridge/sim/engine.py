"""The simulator run: plan the scene, write truth, render the video and the data sets.

``simulate(SimConfig(...), out_dir)`` writes, in ``out_dir``: ``line.mp4``,
``truth.jsonl``, ``scene.json``, ``templates/<view>.png`` + ``templates/views.json``,
``roi/<view>.png`` and (unless ``config.dataset`` is false) ``dataset/<view>/``
in the MVTec layout. Formats: docs/simulate.md and docs/contracts.md.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from xrbridge import __version__
from xrbridge.errors import UsageError, XrbridgeError
from xrbridge.names import VIEWS
from xrbridge.sim.camera import Camera
from xrbridge.sim.config import SimConfig
from xrbridge.sim.dataset import DatasetWriter, Shot, split_for, spread
from xrbridge.sim.layout import ROI_MARGIN, Layout, build_layout, robot_map
from xrbridge.sim.motion import plan, view_bbox
from xrbridge.sim.render import CarImage, compose, render_car, render_reference
from xrbridge.sim.sealant import DefectSpec, bead_mask, choose_defects, defect_polygon
from xrbridge.sim.texture import VARIANT_NAMES
from xrbridge.sim.truth import Geo, defect_json, measure, polys_px, r3, write_truth

HANGER_AT = (0.18, 0.82)


def _prepare_out(out_dir: Path | str) -> Path:
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".xrbridge-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"--out must be a writable directory, got {str(out)!r} ({exc.strerror})"
        ) from exc
    return out


def assign_defects(
    layout: Layout,
    rng: np.random.Generator,
    n_cars: int,
    rate: float,
    first_car: int,
    first_defect: int,
) -> dict[int, list[DefectSpec]]:
    """Which cars are defective (round(rate*n), at least one when rate > 0) and their defects."""
    n_def = min(n_cars, max(1 if rate > 0 else 0, round(rate * n_cars)))
    chosen = sorted(int(i) for i in rng.choice(n_cars, n_def, replace=False)) if n_def else []
    out: dict[int, list[DefectSpec]] = {first_car + i: [] for i in range(n_cars)}
    next_id = first_defect
    for i in chosen:
        count = 1 + int(rng.binomial(2, 0.35))
        ds = choose_defects(layout, rng, count, next_id)
        next_id += len(ds)
        out[first_car + i] = ds
    return out


def add_drift(
    layout: Layout,
    rng: np.random.Generator,
    defects: dict[int, list[DefectSpec]],
    robot: str,
    rate: float,
    first_car: int,
) -> int:
    """One robot drifts: from car ``first_car`` on, each car gets with probability
    ``rate`` one more defect on one of the robot's regions (in place; returns
    how many were added). Raises UsageError for a robot the line does not have.
    """
    robots = robot_map(layout)
    if robot not in robots:
        raise UsageError(f"--drift-robot must be one of {', '.join(sorted(robots))}, got {robot!r}")
    regs = [r for r in layout.all_regions() if r.name in robots[robot]]
    next_id = 1 + max((d.id for ds in defects.values() for d in ds), default=-1)
    added = 0
    for cid in sorted(defects):
        if cid < first_car or rng.random() >= rate:
            continue
        ds = choose_defects(layout, rng, 1, next_id, regions=regs, existing=defects[cid])
        defects[cid] = defects[cid] + ds
        next_id += len(ds)
        added += len(ds)
    return added


def plan_defects(cfg: SimConfig, layout: Layout | None = None) -> dict[int, list[DefectSpec]]:
    """The defects of the video's cars {car id: [DefectSpec]}, exactly as :func:`simulate`
    draws them (baseline rate, then the drifting robot), without rendering anything."""
    layout = layout or build_layout(cfg.scale)
    defects = assign_defects(
        layout, np.random.default_rng([cfg.seed, 2]), cfg.cars, cfg.defect_rate, 0, 0
    )
    if cfg.drift_robot:
        add_drift(
            layout,
            np.random.default_rng([cfg.seed, 8]),
            defects,
            cfg.drift_robot,
            cfg.drift_rate,
            cfg.drift_from,
        )
    return defects


def _labels(ds: list[DefectSpec], view: str) -> tuple[dict[str, object], ...]:
    return tuple(
        {"id": d.id, "type": d.type, "size": d.size, "region": d.region}
        for d in ds
        if d.view == view
    )


def simulate(
    cfg: SimConfig, out_dir: Path | str, progress: bool = False, workers: int | None = None
) -> dict[str, Any]:
    """Render a sealant-line run into ``out_dir``; returns a JSON-able summary.

    ``workers``: threads composing frames (default: up to 4, one per CPU);
    the output does not depend on it. Raises UsageError when ``out_dir``
    cannot be written, XrbridgeError when the video cannot be encoded.
    """
    from tqdm import tqdm

    t_start = time.perf_counter()
    out = _prepare_out(out_dir)
    layout = build_layout(cfg.scale)
    W, H = cfg.size
    L, Wd = layout.size
    rects = {v: (r.u0, r.v0, r.width, r.height) for v, r in layout.views.items()}
    cars, tl, conv = plan(cfg, layout, VARIANT_NAMES, np.random.default_rng([cfg.seed, 1]))
    regions = {r.name: r for r in layout.all_regions()}
    defects = plan_defects(cfg, layout)
    n_video_defects = 1 + max((d.id for ds in defects.values() for d in ds), default=-1)
    extra_cars = list(range(cfg.cars, cfg.cars + cfg.dataset_cars))
    defects.update(
        assign_defects(
            layout,
            np.random.default_rng([cfg.seed, 5]),
            cfg.dataset_cars,
            cfg.defect_rate,
            cfg.cars,
            n_video_defects,
        )
    )
    pad = 3.0 * cfg.scale
    polys_ub = {
        d.id: defect_polygon(d, regions[d.region], pad) for ds in defects.values() for d in ds
    }

    geo, peak_at, full = measure(cars, tl, rects, (W, H), L)

    # ---- data-set shots taken from the video ---------------------------------
    shots: dict[int, list[tuple[Shot, int]]] = {}
    good_index = 0
    for car in cars:
        ds = defects[car.id]
        is_good = not ds
        split = split_for(good_index) if is_good else "test"
        good_index += int(is_good)
        for v in VIEWS:
            if (car.id, v) not in peak_at:
                continue
            vds = [d for d in ds if d.view == v]
            cat = vds[0].type if vds else "good"
            frames = [peak_at[(car.id, v)]]
            if split == "train":
                idx = full[(car.id, v)]
                frames = [
                    idx[j]
                    for j in spread(len(idx), cfg.train_frames, idx.index(peak_at[(car.id, v)]))
                ]
            for i in frames:
                stem = f"car{car.id:03d}_f{int(tl.kept[i]):05d}"
                shots.setdefault(i, []).append((Shot(car.id, v, split, cat, stem, ()), car.id))

    # ---- fixed outputs: templates, ROI, scene ---------------------------------
    (out / "templates").mkdir(exist_ok=True)
    (out / "roi").mkdir(exist_ok=True)
    ref = render_reference(layout)
    rois: dict[str, np.ndarray] = {}
    for v in VIEWS:
        r = layout.views[v]
        cv2.imwrite(
            str(out / "templates" / f"{v}.png"), ref[r.v0 : r.v0 + r.height, r.u0 : r.u0 + r.width]
        )
        rois[v] = bead_mask(layout, v, ROI_MARGIN * cfg.scale)
        cv2.imwrite(str(out / "roi" / f"{v}.png"), rois[v])
    (out / "templates" / "views.json").write_text(
        json.dumps({v: layout.views[v].to_dict() for v in VIEWS}, indent=1) + "\n"
    )
    if cfg.dataset and (out / "dataset").is_dir():
        shutil.rmtree(out / "dataset")  # a previous run's images would mix with this one's
    writer_ds = DatasetWriter(out / "dataset", rois) if cfg.dataset else None

    write_truth(out / "truth.jsonl", geo, tl, peak_at, defects, polys_ub, W)

    # ---- the video ------------------------------------------------------------
    camera = Camera(cfg.camera, cfg.size, cfg.scale, np.random.default_rng([cfg.seed, 3]))
    n_extra_frames = (
        sum(
            (cfg.train_frames if not defects[c] and split_for(j) == "train" else 1) * len(VIEWS)
            for j, c in enumerate(c for c in extra_cars)
        )
        if cfg.dataset
        else 0
    )
    bar = tqdm(
        total=len(tl.kept) + n_extra_frames,
        desc="simulate",
        unit="frame",
        disable=not progress,
        file=sys.stderr,
        leave=False,
    )
    vw = cv2.VideoWriter(str(out / "line.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), cfg.fps, (W, H))
    if not vw.isOpened():
        raise XrbridgeError(f"cannot open an mp4v video writer for {out / 'line.mp4'}")
    images: dict[int, CarImage] = {}
    t_video = time.perf_counter()
    cpu0 = time.process_time()
    n_workers = max(1, workers if workers else min(4, os.cpu_count() or 1))
    pending: deque[tuple[Future[np.ndarray], Any]] = deque()
    ex = ThreadPoolExecutor(n_workers, thread_name_prefix="sim")

    def drain(limit: int) -> None:
        while len(pending) > limit:
            fut, done = pending.popleft()
            done(fut.result())
            bar.update(1)

    def video_sink(i: int, row: list[Geo]) -> Any:
        def done(frame: np.ndarray) -> None:
            vw.write(frame)
            if writer_ds is None:
                return
            for shot, cid in shots.get(i, []):
                g = next(x for x in row if x.car.id == cid)
                polys = tuple(p for _, p in polys_px(defects[cid], polys_ub, g.ox, g.oy, shot.view))
                writer_ds.write(
                    Shot(
                        shot.car_id,
                        shot.view,
                        shot.split,
                        shot.category,
                        shot.stem,
                        polys,
                        _labels(defects[cid], shot.view),
                    ),
                    frame,
                    g.views[shot.view][0],
                )

        return done

    try:
        for i, row in enumerate(geo):
            k = int(tl.kept[i])
            present = {g.car.id for g in row}
            for cid in list(images):
                if cid not in present:
                    del images[cid]  # frames in flight keep their own reference
            for g in row:
                if g.car.id not in images:
                    images[g.car.id] = render_car(
                        layout, g.car.id, g.car.variant, defects[g.car.id], cfg.seed
                    )
            fut = ex.submit(
                compose,
                camera,
                [(images[g.car.id], g.ox, g.oy) for g in row],
                float(tl.v[k]),
                float(tl.t[k]),
                np.random.default_rng([cfg.seed, 4, k]),
            )
            pending.append((fut, video_sink(i, row)))
            drain(3 * n_workers)
        drain(0)
    finally:
        vw.release()
    video_s = time.perf_counter() - t_video
    video_cpu = time.process_time() - cpu0
    images.clear()

    # ---- extra data-set cars, rendered directly at peak ------------------------
    extra_json = []
    if writer_ds is not None:
        good_j = 0
        for cid in extra_cars:
            rng = np.random.default_rng([cfg.seed, 6, cid])
            var = VARIANT_NAMES[int(rng.integers(len(VARIANT_NAMES)))]
            ds = defects[cid]
            split = "test"
            if not ds:
                split = split_for(good_j)
                good_j += 1
            img = render_car(layout, cid, var, ds, cfg.seed)
            extra_json.append(
                {
                    "id": cid,
                    "variant": var,
                    "split": split,
                    "defects": [defect_json(d, polys_ub[d.id], polys_ub[d.id]) for d in ds],
                }
            )
            for vi, v in enumerate(VIEWS):
                u0, _v0, w, _h = rects[v]
                vds = [d for d in ds if d.view == v]
                cat = vds[0].type if vds else "good"
                n = cfg.train_frames if split == "train" else 1
                centre = (W - w) / 2 - u0
                span = 0.4 * (W - w)
                for j in range(n):
                    dx = 0.0 if n == 1 else span * (j / (n - 1) - 0.5)
                    ox = centre + dx + float(rng.uniform(-2, 2))
                    oy = (H - Wd) / 2 + float(rng.uniform(-3, 3)) * cfg.scale
                    t = float(rng.uniform(0, tl.t[-1]))
                    fut = ex.submit(
                        compose,
                        camera,
                        [(img, ox, oy)],
                        float(conv.speed(t)),
                        t,
                        np.random.default_rng([cfg.seed, 7, cid, vi, j]),
                    )
                    shot = Shot(
                        cid,
                        v,
                        split,
                        cat,
                        f"car{cid:03d}_{j:02d}",
                        tuple(p for _, p in polys_px(ds, polys_ub, ox, oy, v)),
                        _labels(ds, v),
                    )
                    bb = view_bbox(ox, oy, rects[v])

                    def done(fr: np.ndarray, shot: Shot = shot, bb: tuple[float, ...] = bb) -> None:
                        assert writer_ds is not None
                        writer_ds.write(shot, fr, bb)

                    pending.append((fut, done))
                    drain(3 * n_workers)
        drain(0)
    ex.shutdown()
    bar.close()
    if writer_ds is not None:
        writer_ds.close()

    # ---- scene.json -----------------------------------------------------------
    scene: dict[str, Any] = {
        "schema": 1,
        "xrbridge": __version__,
        "seed": cfg.seed,
        "fps": cfg.fps,
        "frame_size": [W, H],
        "underbody_size": [L, Wd],
        "views": {v: layout.views[v].to_dict() for v in VIEWS},
        "regions": {v: [r.to_dict() for r in layout.regions[v]] for v in VIEWS},
        "variants": list(VARIANT_NAMES),
        "robots": {k: list(v) for k, v in robot_map(layout).items()},
        "cars": [
            {
                "id": c.id,
                "variant": c.variant,
                "t_enter": r3(c.t_enter, 4),
                "sway": {
                    "amplitude_px": r3(c.sway[0]),
                    "hz": r3(c.sway[1]),
                    "phase": r3(c.sway[2]),
                },
                "defects": [
                    defect_json(d, polys_ub[d.id], polys_ub[d.id]) | d.to_dict()
                    for d in defects[c.id]
                ],
            }
            for c in cars
        ],
        "dataset_cars": extra_json,
        "occluders": {
            "hanger_u": [r3(a * L, 1) for a in HANGER_AT],
            "cables_px": [[[r3(x, 1), r3(y, 1)] for x, y in c] for c in camera.cables],
        },
        "frames": len(tl.kept),
        "source_frames": len(tl.t),
        "duration_s": r3(len(tl.t) / cfg.fps, 3),
        "config": cfg.to_dict(),
    }
    for c in scene["cars"]:
        for d in c["defects"]:
            d.pop("polygon_px", None)
    (out / "scene.json").write_text(json.dumps(scene, indent=1) + "\n")

    seconds = time.perf_counter() - t_start
    n_frames = len(tl.kept)
    return {
        "out": str(out),
        "frames": n_frames,
        "source_frames": len(tl.t),
        "duration_s": scene["duration_s"],
        "cars": cfg.cars,
        "defective_cars": sum(1 for c in cars if defects[c.id]),
        "defects": n_video_defects,
        "dataset_cars": cfg.dataset_cars,
        "dataset": writer_ds.summary() if writer_ds is not None else {},
        "seconds": round(seconds, 2),
        "video_seconds": round(video_s, 2),
        "video_cpu_seconds": round(video_cpu, 2),
        "workers": n_workers,
        "frames_per_s": round(n_frames / max(video_s, 1e-9), 1),
        "realtime_factor": round(len(tl.t) / cfg.fps / max(video_s, 1e-9), 2),
    }
