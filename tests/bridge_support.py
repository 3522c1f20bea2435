"""Helpers of the bridge tests: the embedded scene, the default models, short clips, running bridges."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cv2
import msgpack

from xrbridge.bridge.app import Bridge
from xrbridge.bridge.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
#: Timeouts scale on slow machines (XRBRIDGE_TEST_TIMEOUT_FACTOR=3 on a busy box).
FACTOR = float(os.environ.get("XRBRIDGE_TEST_TIMEOUT_FACTOR", "1"))


def scene_dir() -> Path:
    from xrbridge.sim import embedded_line_dir

    return Path(embedded_line_dir())


def models_dir() -> Path:
    """The default trained models (``models/<view>/``); see :func:`_fallback_models`."""
    if any((ROOT / "models").glob("*/manifest.json")):
        return ROOT / "models"
    return _fallback_models()


def _fallback_models() -> Path:
    """Only when ``models/`` is not in this checkout: a template-difference model per view.

    Exported through the real artifact path (ContractGraph, export_onnx, a
    validated manifest) and run by ONNX Runtime like any trained model: the
    map is the per-pixel deviation of the crop from the defect-free template.
    Built once per machine into the temp folder.
    """
    import tempfile

    out = Path(tempfile.gettempdir()) / "xrbridge-test-models-v1"
    if all(
        (out / v / "manifest.json").is_file() for v in ("lower_front", "lower_center", "lower_back")
    ):
        return out
    import torch
    from torch import nn

    from xrbridge.models import artifact
    from xrbridge.models.calibrate import Norm
    from xrbridge.models.exporting import ContractGraph, export_onnx
    from xrbridge.models.preprocess import normalise

    h, w = 96, 128

    class Diff(nn.Module):
        def __init__(self, ref: torch.Tensor) -> None:
            super().__init__()
            self.register_buffer("ref", ref)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            d = (x - self.get_buffer("ref")).abs().mean(1, keepdim=True)
            d = nn.functional.avg_pool2d(d, 5, 1, 2)
            return d, d.amax(dim=(1, 2, 3))

    tmp = out.with_name(out.name + f".{os.getpid()}")
    for view in ("lower_front", "lower_center", "lower_back"):
        tpl = cv2.imread(str(scene_dir() / "templates" / f"{view}.png"))
        assert tpl is not None, f"template {view} missing"
        ref = torch.from_numpy(normalise(tpl, h, w, None))[None]
        norm = Norm(0.35, 0.0, 1.0)
        manifest = {
            "schema": 1,
            "model": "templatediff",
            "backbone": "none",
            "category": view,
            "input": {
                "height": h,
                "width": w,
                "color": "rgb",
                "mean": [0.5] * 3,
                "std": [0.5] * 3,
                "resize": "cv2.INTER_AREA",
                "masked_value": -1.0,
            },
            "outputs": {"anomaly_map": [1, 1, h, w], "pred_score": [1]},
            "graph_contains": {
                "gaussian_blur": True,
                "score_normalization": True,
                "roi_mask": False,
            },
            "score_normalization": {
                "method": "fixed",
                "image": norm.as_dict(),
                "pixel": norm.as_dict(),
            },
            "thresholds": {"image": 0.5, "pixel": 0.5},
            "roi": {"applied": False, "file": None},
            "training": {
                "images": 0,
                "fingerprint": "template",
                "steps": 0,
                "seed": 0,
                "seconds": 0,
            },
            "versions": artifact.versions(),
        }
        d = tmp / view
        d.mkdir(parents=True, exist_ok=True)
        export_onnx(ContractGraph(Diff(ref), norm, norm, None), d / "model.onnx", h, w, manifest)
        artifact.write_manifest(d, manifest)
    if out.exists():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(out)
    return out


def clip(path: Path, start: int, count: int) -> Path:
    """Frames [start, start + count) of the embedded line video as an mp4 (same size, 30 fps)."""
    if path.is_file():
        return path
    cap = cv2.VideoCapture(str(scene_dir() / "line.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    out = None
    for _ in range(count):
        ok, img = cap.read()
        if not ok:
            break
        if out is None:
            fourcc = cv2.VideoWriter.fourcc(*"mp4v")
            out = cv2.VideoWriter(str(path), fourcc, 30.0, (img.shape[1], img.shape[0]))
        out.write(img)
    cap.release()
    assert out is not None, "embedded video unreadable"
    out.release()
    return path


def two_model_sets(tmp: Path) -> Path:
    """A models folder with the default set twice: as ``<view>/`` and as ``again/<view>/``."""
    dst = tmp / "models"
    if not dst.is_dir():
        src = models_dir()
        for d in sorted(p for p in src.iterdir() if (p / "manifest.json").is_file()):
            shutil.copytree(d, dst / d.name)
            shutil.copytree(d, dst / "again" / d.name)
    return dst


@contextlib.asynccontextmanager
async def running(**overrides: Any) -> AsyncIterator[Bridge]:
    """A started bridge on 127.0.0.1 with free ports (settings overridable)."""
    kw: dict[str, Any] = {
        "host": "127.0.0.1",
        "ws_port": 0,
        "grpc_port": 0,
        "models_dir": str(models_dir()),
        "templates": str(scene_dir()),
        "heartbeat_s": 1.0,
    }
    kw.update(overrides)
    bridge = Bridge(load_settings(env={}, **kw))
    await bridge.start()
    try:
        yield bridge
    finally:
        await bridge.stop()


def pack(msg: dict[str, Any]) -> bytes:
    return msgpack.packb(msg, use_bin_type=True)


async def recv_until(ws: Any, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next message of type ``kind`` (others skipped)."""
    async with asyncio.timeout(timeout * FACTOR):
        while True:
            m = msgpack.unpackb(await ws.recv(), raw=False)
            if m.get("type") == kind:
                return m
