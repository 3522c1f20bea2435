"""The scene's readers: the embedded line run and view templates (used by serve, replay, extract).

A scene folder holds ``line.mp4``, ``templates/<view>.png`` + ``templates/views.json``
(the views' offsets on the underbody) and ``roi/``. The embedded default run
ships in the package (``xrbridge/data/line``); reading it needs nothing of the
simulator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from xrbridge.errors import TemplateError
from xrbridge.names import VIEWS


def embedded_line_dir() -> Path:
    """The embedded line scene (video, templates, ROI masks) inside the package."""
    return Path(__file__).resolve().parents[1] / "data" / "line"


def load_templates(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, dict[str, float]]]:
    """Read ``<view>.png`` images and ``views.json`` from a templates folder.

    Raises:
        TemplateError: folder missing, no view image, unreadable image, no views.json.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise TemplateError(f"templates folder {folder} does not exist")
    images = {}
    for view in VIEWS:
        p = folder / f"{view}.png"
        if p.is_file():
            im = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if im is None:
                raise TemplateError(f"template {p} is not a readable image")
            images[view] = im
    if not images:
        raise TemplateError(
            f"templates folder {folder} holds no view template; expected {', '.join(v + '.png' for v in VIEWS)}"
        )
    vj = folder / "views.json"
    if not vj.is_file():
        raise TemplateError(f"templates folder {folder} has no views.json (u0, v0 of each view)")
    try:
        meta = json.loads(vj.read_text())
    except (OSError, ValueError) as exc:
        raise TemplateError(f"{vj} is not valid JSON: {exc}") from exc
    return images, meta


def load_view_templates(scene_dir: Path | None) -> list[Any]:
    """ViewTemplate values from ``scene_dir/templates`` (or ``scene_dir`` itself; None: embedded)."""
    from xrbridge.core.matching import templates_from_arrays

    root = Path(scene_dir) if scene_dir is not None else embedded_line_dir()
    folder = root / "templates" if (root / "templates").is_dir() else root
    if not (folder / "views.json").is_file():
        raise TemplateError(f"no templates in {folder} (expected <view>.png files and views.json)")
    images, views = load_templates(folder)
    return templates_from_arrays(images, views)
