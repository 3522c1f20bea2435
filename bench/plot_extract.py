"""Picture for the README: one frame with matches, tracks and 200 ms predictions,
and the peak crops of one car. Usage: python bench/plot_extract.py [--line DIR] [--out PNG]."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLORS = {
    "lower_front": (60, 200, 255),
    "lower_center": (80, 255, 80),
    "lower_back": (255, 120, 60),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--line", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "extract_frame.png")
    args = ap.parse_args()
    import cv2
    import numpy as np

    from xrbridge.core.extraction import Extractor
    from xrbridge.extract import iter_frames, load_matcher, load_timestamps, open_video

    line = args.line
    if line is None:
        from xrbridge.sim import embedded_line_dir

        line = embedded_line_dir()
    ex = Extractor(load_matcher(line / "templates"))
    cap, info = open_video(line / "line.mp4")
    best = None
    for i, t, f in iter_frames(cap, info, load_timestamps(line / "truth.jsonl")):
        rec = ex.process(f, t, i)
        n = sum(len(tr.matches) for tr in rec.tracks)
        if best is None or n + 10 * len(rec.tracks) > best[0]:
            best = (
                n + 10 * len(rec.tracks),
                f.copy(),
                rec,
                [ex.tracker.predict_state(tr.car_id, t + 0.2) for tr in rec.tracks],
            )
    cap.release()
    assert best is not None
    _, img, rec, preds = best
    for tr, pr in zip(rec.tracks, preds, strict=True):
        for m in tr.matches:
            x, y = round(m.x), round(m.y)
            cv2.rectangle(img, (x, y), (x + m.width, y + m.height), COLORS[m.view], 2)
            cv2.putText(
                img,
                f"{m.view} {m.score:.2f}",
                (x + 6, y + 22),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.6,
                COLORS[m.view],
                2,
            )
        fx, fy = tr.filtered
        for u0 in (30.0,):
            p0 = (round(fx + u0), round(fy + 240))
            if pr is not None:
                p1 = (round(pr.x + u0), round(pr.y + 240))
                cv2.arrowedLine(img, p0, p1, (255, 255, 255), 2, tipLength=0.3)
        cv2.putText(
            img,
            f"car {tr.car_id}  v={tr.velocity[0]:.0f} px/s  (arrow: +200 ms)",
            (max(5, round(fx) + 40), 470),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            (255, 255, 255),
            2,
        )
    peaks = [p for p in ex.peaks() if p.car_id == 0]
    strip = np.concatenate(
        [cv2.resize(p.crop, (p.crop.shape[1] * 160 // p.crop.shape[0], 160)) for p in peaks], axis=1
    )
    for k, p in enumerate(peaks):
        cv2.putText(
            strip,
            f"{p.view} peak #{p.index}",
            (k * (strip.shape[1] // len(peaks)) + 6, 20),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.55,
            (255, 255, 255),
            2,
        )
    w = img.shape[1]
    strip = cv2.resize(strip, (w, strip.shape[0] * w // strip.shape[1]))
    out = np.concatenate([img, strip], axis=0)
    out = cv2.resize(
        out, (out.shape[1] * 3 // 4, out.shape[0] * 3 // 4), interpolation=cv2.INTER_AREA
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), out, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(args.out, out.shape, args.out.stat().st_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
