"""The control session without sockets: messages in, replies and actions out."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from xrbridge.bridge import protocol as P
from xrbridge.bridge.limits import Limits
from xrbridge.bridge.session import (
    Close,
    ControlSession,
    Push,
    Reply,
    SelectModel,
    Subscribe,
    replies,
    resolve_model,
    resolve_stream,
)


class FakeHub:
    def __init__(self) -> None:
        self.kinds = {"line": "video", "cam": "push"}

    def stream_names(self) -> list[str]:
        return list(self.kinds)

    def stream_kind(self, stream_id: str) -> str:
        return self.kinds[stream_id]

    def list_models(self) -> list[str]:
        return ["again", "patchcore"]

    def active_models(self) -> dict[str, str]:
        return {k: "patchcore" for k in self.kinds}

    def status(self) -> dict[str, Any]:
        return {"streams": []}


def pack(msg: dict[str, Any]) -> bytes:
    return msgpack.packb(msg, use_bin_type=True)


def session(token: str = "", **kw: Any) -> tuple[ControlSession, list[str]]:
    errors: list[str] = []
    s = ControlSession(
        FakeHub(),
        token=token,
        server="test",
        heartbeat_s=1.0,
        limits=Limits(**kw),
        now=100.0,
        on_error=lambda code, detail="": errors.append(code),
    )
    return s, errors


def codes(actions: list[Any]) -> list[str]:
    return [m["code"] for m in replies(actions) if m["type"] == "error"]


def test_without_token_everything_is_open() -> None:
    s, errors = session()
    hello = replies(s.opened())[0]
    assert hello["streams"] == ["cam", "line"] and hello["models"] == ["again", "patchcore"]
    acts = s.receive_bytes(pack({"type": "subscribe", "streams": ["line"], "video": True}), 1 << 20)
    assert acts[0] == Subscribe(frozenset({"line"}), True)
    assert replies(acts) == [{"type": "subscribed", "streams": ["line"], "video": True}]
    acts = s.receive_bytes(pack({"type": "unsubscribe", "streams": ["line"]}), 1 << 20)
    assert acts[0] == Subscribe(frozenset(), True)
    assert replies(s.receive_bytes(pack({"type": "ping", "id": 7}), 1 << 20, now=5.0)) == [
        {"type": "pong", "id": 7, "t": 5.0}
    ]
    assert replies(s.receive_bytes(pack({"type": "list_models"}), 1 << 20))[0]["active"] == {
        "line": "patchcore",
        "cam": "patchcore",
    }
    assert errors == []


def test_before_auth_only_a_small_hello_is_read() -> None:
    s, errors = session("s3cret", preauth_bytes=512)
    hello = replies(s.opened())[0]
    assert hello["auth_required"] and hello["streams"] == [] and hello["models"] == []
    # larger than the pre-auth limit: refused unread, and the connection closes (1008)
    acts = s.receive_bytes(pack({"type": "hello", "token": "x" * 1000}), 1 << 20)
    assert codes(acts) == ["too_large"] and acts[-1] == Close(P.CLOSE_POLICY, "too_large")
    assert s.closed and s.receive_bytes(pack({"type": "ping"}), 1 << 20) == []
    # anything but hello before auth: unauthenticated + close
    s, errors = session("s3cret")
    acts = s.receive_bytes(pack({"type": "subscribe", "streams": []}), 1 << 20)
    assert codes(acts) == ["unauthenticated"] and isinstance(acts[-1], Close)
    s, errors = session("s3cret")
    acts = s.receive_bytes(pack({"type": "hello", "token": "wrong"}), 1 << 20)
    assert codes(acts) == ["unauthenticated"] and acts[-1] == Close(
        P.CLOSE_POLICY, "unauthenticated", True
    )
    assert errors == ["unauthenticated"]


def test_hello_with_the_token_opens_the_session() -> None:
    s, _ = session("s3cret", preauth_bytes=512)
    assert s.max_message_bytes == 512
    hello = replies(s.receive_bytes(pack({"type": "hello", "token": "s3cret"}), 1 << 20))[0]
    assert s.authed and hello["streams"] == ["cam", "line"]
    assert s.max_message_bytes > 1 << 20
    acts = s.receive_bytes(
        pack({"type": "select_model", "stream_id": "", "name": "again"}), 1 << 20
    )
    assert acts == [SelectModel("line", "again")]  # empty stream id: the first stream


def test_auth_deadline_and_heartbeats() -> None:
    s, errors = session("s3cret", auth_deadline_s=5.0)
    assert s.tick(103.0) == []  # neither heartbeat nor close before the deadline
    assert s.tick(105.5) == [Close(P.CLOSE_POLICY, "authentication deadline passed")]
    assert errors == ["unauthenticated"]
    s, _ = session()
    (beat,) = s.tick(200.0, dropped=3)
    assert isinstance(beat, Reply) and beat.key == "heartbeat"
    assert beat.msg == {"type": "heartbeat", "t": 200.0, "dropped": 3}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x91" * 20 + b"\xc0", "too_large"),  # nested 20 deep
        (b"\xdd\x00\x80\x00\x00" + b"\x90" * 100, "too_large"),  # announces 8M empty arrays
        (b"\xdc\x10\x00" + b"\x90" * 4096, "too_large"),  # 4096 elements: above the limit of 1000
        (b"\xdb\xff\xff\xff\xff" + b"x" * 10, "bad_message"),  # str declaring 4 GiB
        (b"\xc1", "bad_message"),
        (
            pack({"type": "frame", "stream_id": "cam", "t_capture": float("nan"), "data": b"x"}),
            "bad_message",
        ),
        (
            pack(
                {"type": "frame", "stream_id": "cam", "t_capture": 1.0, "seq": 2**63, "data": b"x"}
            ),
            "bad_message",
        ),
        (
            pack({"type": "frame", "stream_id": "line", "t_capture": 1.0, "data": b"x"}),
            "not_push_stream",
        ),
        (
            pack({"type": "frame", "stream_id": "nope", "t_capture": 1.0, "data": b"x"}),
            "unknown_stream",
        ),
        (pack({"type": "select_model", "name": "/etc/passwd"}), "unknown_model"),
        (pack({"type": "subscribe", "streams": ["nope"]}), "unknown_stream"),
    ],
)
def test_bad_messages_get_a_code_and_keep_the_session(data: bytes, code: str) -> None:
    s, errors = session(max_elements=1000)
    acts = s.receive_bytes(data, 1 << 20)
    assert codes(acts) == [code] and errors == [code]
    assert not s.closed  # an authenticated client keeps its connection


def test_push_envelope() -> None:
    s, _ = session()
    frame = {"type": "frame", "stream_id": "cam", "t_capture": 1.5, "data": b"jpeg"}
    assert s.receive_bytes(pack(frame), 1 << 20) == [Push("cam", None, 1.5, b"jpeg")]
    assert s.receive_bytes(pack({**frame, "seq": 2**63 - 1}), 1 << 20) == [
        Push("cam", 2**63 - 1, 1.5, b"jpeg")
    ]


def test_model_names_from_list_models_are_selectable() -> None:
    hub = FakeHub()
    assert resolve_model(hub, "patchcore") == "patchcore"
    assert resolve_model(hub, "patchcore-lower_front") == "patchcore"  # a gRPC ListModels entry
    with pytest.raises(P.ProtocolError) as exc:
        resolve_model(hub, "../x")
    assert exc.value.code == "unknown_model"
    assert resolve_stream(hub, "") == "line"
    with pytest.raises(P.ProtocolError):
        resolve_stream(hub, "nope")


def test_failed_select_never_leaks_a_path() -> None:
    s, errors = session()
    acts = s.select_done("line", "again", OSError("/srv/secret/models/again/model.onnx: bad"))
    (err,) = replies(acts)
    assert err["code"] == "model_failed" and "/srv" not in err["message"]
    assert errors == ["model_failed"]
