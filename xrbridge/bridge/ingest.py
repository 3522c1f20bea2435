"""Pushed frames: decode off the event loop and hand to the stream (both transports).

Failures become :class:`~xrbridge.bridge.protocol.ProtocolError` with the
session's codes (``too_large``, ``bad_image``, ``wrong_size``, ...), so the
WebSocket and gRPC servers report them the same way.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from xrbridge.bridge import protocol as P
from xrbridge.bridge.session import Push
from xrbridge.bridge.sources import decode_image
from xrbridge.core.types import Frame
from xrbridge.errors import ImageError, InputError, LimitError, UnknownNameError, WireError


async def ingest_push(
    hub: Any, push: Push, *, max_pixels: int, t_arrival: float, pixels: np.ndarray | None = None
) -> None:
    """Decode ``push.data`` (JPEG/PNG) unless ``pixels`` are given, then ingest the frame."""
    if pixels is None:
        try:
            pixels = await asyncio.to_thread(decode_image, push.data, max_pixels=max_pixels)
        except LimitError as exc:
            raise P.ProtocolError("too_large", str(exc)) from exc
        except (ImageError, WireError) as exc:
            raise P.ProtocolError("bad_image", str(exc)) from exc
    hub.metrics.stage.observe(time.perf_counter() - t_arrival, "decode")
    try:
        stream = hub.stream(push.stream_id)
        seq = stream.stats.frames_in if push.seq is None else push.seq
        await hub.push(
            push.stream_id, Frame(push.stream_id, seq, push.t_capture, pixels), t_arrival
        )
    except UnknownNameError as exc:
        raise P.ProtocolError("unknown_stream", str(exc)) from exc
    except InputError as exc:
        raise P.ProtocolError("wrong_size", str(exc)) from exc
    except WireError as exc:
        raise P.ProtocolError("not_push_stream", str(exc)) from exc


async def proto_pixels(msg: Any, max_pixels: int) -> np.ndarray:
    """The pixels of a protobuf ``Frame``; its size is read from the image's own header first."""
    from xrbridge.bridge.sources import image_size
    from xrbridge.wire.codec import frame_from_proto
    from xrbridge.wire.gen import frame_pb2

    try:
        w, h = msg.width, msg.height
        if msg.encoding != frame_pb2.IMAGE_ENCODING_RAW_BGR:
            _, w, h = image_size(msg.data[:65536])  # not the message's claim
        if w * h > max_pixels:
            raise P.ProtocolError(
                "too_large", f"frame {msg.seq}: {w}x{h} above {max_pixels} pixels"
            )
        return (await asyncio.to_thread(frame_from_proto, msg)).pixels
    except (ImageError, WireError) as exc:
        if isinstance(exc, P.ProtocolError):
            raise
        raise P.ProtocolError("bad_image", str(exc)) from exc
