"""The one video reader: frames with their real timestamps (used by extract and replay).

Times come from a timestamps file when given (the simulator's truth.jsonl, or
one number per line), else from the container: ``CAP_PROP_POS_MSEC`` after
each read (the frame's presentation time), or ``index / fps`` when the
backend reports none. :func:`frame_time` is that rule, for readers that
call ``cap.read`` themselves (the bridge's video source, in its own thread).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from xrbridge.errors import InputError, VideoError


def frame_time(cap: cv2.VideoCapture, index: int, fps: float) -> float:
    """Seconds of the frame just read: its presentation time, or ``index / fps``."""
    msec = cap.get(cv2.CAP_PROP_POS_MSEC)
    if msec and msec > 0 and msec == msec:  # after read(): the frame just read (FFmpeg backend)
        return float(msec) / 1000.0
    return index / fps


def load_timestamps(path: Path) -> list[float]:
    """Frame times (s) from a truth.jsonl-like file or one number per line.

    Lines: a JSON object with "t" (seconds), or text whose last
    comma-separated field is the time in seconds (a first header line is skipped).

    Raises:
        InputError: missing file or a line without a time.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"timestamps file {path} does not exist")
    out: list[float] = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        try:
            if s.startswith("{"):
                out.append(float(json.loads(s)["t"]))
            else:
                out.append(float(s.split(",")[-1]))
        except (ValueError, KeyError, TypeError) as exc:
            if not out and not s.startswith("{") and n == 1:
                continue  # a CSV header line
            raise InputError(
                f"{path}:{n}: expected a JSON object with 't' or a number, got {s[:60]!r}"
            ) from exc
    return out


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    fps: float
    width: int
    height: int


def open_video(path: Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a video file. Raises VideoError when missing, unreadable or empty."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"video {path} does not exist")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoError(f"video {path} cannot be opened (not a video OpenCV can decode)")
    info = VideoInfo(
        int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
        float(cap.get(cv2.CAP_PROP_FPS)) or 30.0,
        int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )
    if info.width <= 0 or info.height <= 0:
        cap.release()
        raise VideoError(f"video {path} has no frames")
    return cap, info


def iter_frames(
    cap: cv2.VideoCapture, info: VideoInfo, times: list[float] | None
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield (index, t, frame BGR uint8) with t from ``times`` or the container."""
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if times is not None:
            if i >= len(times):
                raise InputError(
                    f"timestamps file has {len(times)} times, the video has more frames"
                )
            t = times[i]
        else:
            t = frame_time(cap, i, info.fps)
        yield i, float(t), frame
        i += 1
