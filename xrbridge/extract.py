"""I/O shell of ``xrbridge extract``: read a video and templates, run the core, write results.

Outputs in OUT:
- ``<view>/car<id:04d>.png``: per car and view, the peak-visibility crop,
  aligned to the template (same size), ready to train on;
- ``peaks.json``: per crop: car, view, frame index, t, score, x, y;
- ``tracks.jsonl``: one line per frame: {"index", "t", "tracks": [{"id",
  "view", "score", "measured": [x, y] | null, "filtered": [x, y],
  "velocity": [vx, vy], "matches": [{"view", "score", "x", "y"}]}]}
  (positions are underbody origins in frame px; velocity px/s).

Timestamps: the frames' real capture times, from ``timestamps`` when given
(the simulator's truth.jsonl, or any file with one JSON object holding "t" per
line, or one number per line), else from the video: CAP_PROP_POS_MSEC, or
index / fps when the container has none. An mp4 stores a fixed frame rate,
so dropped frames are invisible in it: without a timestamps file the tracker
sees a too-slow, jerky conveyor (it still tracks, the velocities are then in
"video seconds").
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2

from xrbridge.core.extraction import ExtractConfig, Extractor, FrameRecord
from xrbridge.core.matching import MatchConfig, TemplateMatcher, ViewTemplate, templates_from_arrays
from xrbridge.core.tracker import TrackerConfig
from xrbridge.errors import VideoError
from xrbridge.io.scene import load_templates
from xrbridge.io.video import VideoInfo, iter_frames, load_timestamps, open_video

__all__ = ["VideoInfo", "extract", "iter_frames", "load_templates", "load_timestamps", "open_video"]


def load_matcher(folder: Path, config: MatchConfig | None = None) -> TemplateMatcher:
    images, meta = load_templates(folder)
    templates: list[ViewTemplate] = templates_from_arrays(images, meta)
    return TemplateMatcher(templates, config)


def record_to_json(rec: FrameRecord) -> dict[str, object]:
    def r3(v: float) -> float:
        return round(float(v), 3)

    return {
        "index": rec.index,
        "t": round(rec.t, 6),
        "tracks": [
            {
                "id": tr.car_id,
                "view": tr.view,
                "score": r3(tr.score),
                "measured": None
                if tr.measured is None
                else [r3(tr.measured[0]), r3(tr.measured[1])],
                "filtered": [r3(tr.filtered[0]), r3(tr.filtered[1])],
                "velocity": [r3(tr.velocity[0]), r3(tr.velocity[1])],
                "matches": [
                    {"view": m.view, "score": r3(m.score), "x": r3(m.x), "y": r3(m.y)}
                    for m in tr.matches
                ],
            }
            for tr in rec.tracks
        ],
    }


def extract(
    video: Path,
    templates: Path,
    out: Path,
    *,
    match: MatchConfig | None = None,
    tracker: TrackerConfig | None = None,
    search: ExtractConfig | None = None,
    timestamps: Path | None = None,
    progress: bool = True,
) -> dict[str, object]:
    """Run extraction over a video and write crops, peaks.json and tracks.jsonl.

    Returns:
        A summary dict (frames, cars, crops, seconds, frames_per_s, ...).
    Raises:
        VideoError, TemplateError, InputError: bad input (exit code 2 on the CLI).
    """
    import time

    from tqdm import tqdm

    matcher = load_matcher(templates, match)
    times = load_timestamps(timestamps) if timestamps is not None else None
    cap, info = open_video(video)
    try:
        matcher.check_frame_size(info.width, info.height)
        ex = Extractor(matcher, tracker, search)
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        n = 0
        t0 = time.perf_counter()
        ids: set[int] = set()
        with (out / "tracks.jsonl").open("w") as fh:
            bar = tqdm(
                total=info.frames or None, unit="frame", disable=not progress, desc="extract"
            )
            for i, t, frame in iter_frames(cap, info, times):
                rec = ex.process(frame, t, i)
                ids.update(tr.car_id for tr in rec.tracks)
                fh.write(json.dumps(record_to_json(rec)) + "\n")
                n += 1
                bar.update(1)
            bar.close()
        seconds = time.perf_counter() - t0
    finally:
        cap.release()
    if n == 0:
        raise VideoError(f"video {video} has no readable frames")
    peaks = ex.peaks()
    meta = []
    for p in peaks:
        d = out / p.view
        d.mkdir(exist_ok=True)
        name = f"car{p.car_id:04d}.png"
        cv2.imwrite(str(d / name), p.crop)
        meta.append(
            {
                "car": p.car_id,
                "view": p.view,
                "file": f"{p.view}/{name}",
                "index": p.index,
                "t": round(p.t, 6),
                "score": round(p.score, 4),
                "x": round(p.x, 3),
                "y": round(p.y, 3),
            }
        )
    (out / "peaks.json").write_text(json.dumps(meta, indent=1))
    return {
        "frames": n,
        "cars": len(ids),
        "crops": len(meta),
        "seconds": round(seconds, 3),
        "frames_per_s": round(n / seconds, 1) if seconds > 0 else None,
        "timestamps": "file" if times is not None else "video",
        "out": str(out),
    }
