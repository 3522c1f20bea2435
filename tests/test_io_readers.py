"""The readers of xrbridge/io: video with its timestamps, scene and templates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from xrbridge.errors import InputError, TemplateError, VideoError
from xrbridge.io.scene import embedded_line_dir, load_templates, load_view_templates
from xrbridge.io.video import frame_time, iter_frames, load_timestamps, open_video


def _video(path: Path, n: int = 12, fps: float = 25.0) -> Path:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (64, 48))
    for i in range(n):
        out.write(np.full((48, 64, 3), i * 10, np.uint8))
    out.release()
    return path


def test_video_times_come_from_the_container(tmp_path: Path) -> None:
    cap, info = open_video(_video(tmp_path / "v.mp4"))
    got = [(i, t) for i, t, _ in iter_frames(cap, info, None)]
    cap.release()
    assert (info.width, info.height, info.fps) == (64, 48, 25.0)
    assert [i for i, _ in got] == list(range(12))
    assert [t for _, t in got] == pytest.approx([i / 25.0 for i in range(12)], abs=1e-3)


def test_timestamps_file_wins_and_must_cover_the_video(tmp_path: Path) -> None:
    video = _video(tmp_path / "v.mp4", n=4)
    (tmp_path / "t.jsonl").write_text("".join(json.dumps({"t": 0.5 * i}) + "\n" for i in range(4)))
    cap, info = open_video(video)
    assert [t for _, t, _ in iter_frames(cap, info, load_timestamps(tmp_path / "t.jsonl"))] == [
        0.0,
        0.5,
        1.0,
        1.5,
    ]
    cap.release()
    cap, info = open_video(video)
    with pytest.raises(InputError, match="2 times, the video has more"):
        list(iter_frames(cap, info, [0.0, 0.1]))
    cap.release()


def test_frame_time_falls_back_to_index_over_fps() -> None:
    class NoTimes:  # a backend that reports no presentation time
        def get(self, prop: int) -> float:
            return 0.0

    class Nan:
        def get(self, prop: int) -> float:
            return float("nan")

    assert frame_time(NoTimes(), 30, 30.0) == 1.0  # type: ignore[arg-type]
    assert frame_time(Nan(), 15, 30.0) == 0.5  # type: ignore[arg-type]


def test_missing_or_broken_video_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="does not exist"):
        open_video(tmp_path / "none.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video" * 100)
    with pytest.raises(VideoError):
        open_video(tmp_path / "junk.mp4")


def test_scene_templates_embedded_and_bad_folders(tmp_path: Path) -> None:
    tpls = load_view_templates(None)  # the embedded line, no simulator import needed
    assert {t.view for t in tpls} == {"lower_front", "lower_center", "lower_back"}
    assert (embedded_line_dir() / "line.mp4").is_file()
    with pytest.raises(TemplateError, match="does not exist"):
        load_templates(tmp_path / "nope")
    folder = tmp_path / "templates"
    shutil.copytree(embedded_line_dir() / "templates", folder)
    (folder / "views.json").unlink()
    with pytest.raises(TemplateError, match=r"no views\.json"):
        load_templates(folder)
    with pytest.raises(TemplateError, match="no templates in"):
        load_view_templates(tmp_path)  # neither templates/ nor views.json
    (folder / "views.json").write_text("{")
    with pytest.raises(TemplateError, match="not valid JSON"):
        load_templates(folder)
    (folder / "lower_front.png").write_bytes(b"not a png")
    with pytest.raises(TemplateError, match="not a readable image"):
        load_templates(folder)
