"""The public Python API (xrbridge.api, xrbridge.client, the lazy exports of xrbridge): the
docstring examples run as doctests (only these modules, not the whole package), the client
against a real bridge replaying the demo video; ``xrbridge client`` with a wrong token ends in
one line, not a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import doctest
import subprocess
import sys
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

import xrbridge
from tests.bridge_support import FACTOR, ROOT, running, scene_dir
from xrbridge.errors import AuthError, ImageError

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _doctest(module: ModuleType, **globs: Any) -> None:
    result = doctest.testmod(module, extraglobs=globs, optionflags=OPTIONS, verbose=False)
    assert result.attempted > 0, f"{module.__name__} has no doctest"
    assert result.failed == 0, (
        f"{result.failed} doctest example(s) of {module.__name__} failed (see stdout)"
    )


@contextlib.contextmanager
def bridge_in_thread(**overrides: Any) -> Iterator[Any]:
    """A real bridge on free ports in its own thread and event loop (the client under test
    runs its own ``asyncio.run``)."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    def main() -> None:
        async def go() -> None:
            try:
                async with running(**overrides) as bridge:
                    box["bridge"], box["loop"], box["stop"] = (
                        bridge,
                        asyncio.get_running_loop(),
                        asyncio.Event(),
                    )
                    ready.set()
                    await box["stop"].wait()
            except BaseException as exc:  # surfaced to the test below
                box["error"] = exc
                ready.set()

        asyncio.run(go())

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert ready.wait(60 * FACTOR), "bridge did not start"
    if "error" in box:
        raise box["error"]
    try:
        yield box["bridge"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(60 * FACTOR)


def test_package_exports_lazily() -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, xrbridge; "
            "print(sorted(m for m in ('cv2', 'onnxruntime', 'websockets', 'grpc') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr
    _doctest(xrbridge)
    assert set(xrbridge.__all__) == {"__version__", *xrbridge._EXPORTS}
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = xrbridge.Nope  # type: ignore[attr-defined]


def test_api_examples() -> None:
    import xrbridge.api

    _doctest(xrbridge.api)


def test_inspector_refuses_bad_images(tmp_path: Any) -> None:
    import numpy as np

    inspector = xrbridge.Inspector(xrbridge.default_models_dir() / "lower_front", threads=1)
    with pytest.raises(ImageError, match=r"HxWx3 uint8 BGR array or a file, got \(8, 8\) float64"):
        inspector.inspect(np.zeros((8, 8)))
    (tmp_path / "x.png").write_bytes(b"not a png")
    with pytest.raises(ImageError, match="cannot read image"):
        inspector.inspect(tmp_path / "x.png")


def test_client_examples_against_a_real_bridge() -> None:
    import xrbridge.client

    video = scene_dir() / "line.mp4"
    with bridge_in_thread(sources=(f"line={video}",), loop=True, grpc_port=-1) as bridge:
        _doctest(xrbridge.client, bridge_url=bridge.urls["websocket"])


def test_client_wrong_token_is_one_line() -> None:
    video = scene_dir() / "line.mp4"
    with bridge_in_thread(sources=(f"line={video}",), loop=True, token="right") as bridge:
        url = bridge.urls["websocket"]
        with pytest.raises(AuthError, match="refused the token: HTTP 401"):
            xrbridge.BridgeClient(url, token="wrong").collect(count=1)
        assert len(xrbridge.BridgeClient(url, token="right").collect(count=2)) == 2
        for args in (("--token", "wrong"), ()):
            r = subprocess.run(
                [sys.executable, "-m", "xrbridge.cli", "client", url, "--count", "1", *args],
                capture_output=True,
                text=True,
                timeout=60 * FACTOR,
                cwd=ROOT,
                env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
            )
            lines = r.stderr.strip().splitlines()
            assert r.returncode == 2, r.stderr
            assert len(lines) == 1 and lines[0].startswith("xrbridge client: error: "), r.stderr
            assert "token" in lines[0], lines[0]
        grpc = "grpc://" + bridge.urls["grpc"]
        with pytest.raises(AuthError, match="refused the token"):
            xrbridge.BridgeClient(grpc, token="wrong").collect(count=1)
