"""The bridge's settings: one frozen object read from TOML, environment and flags.

Precedence, lowest first: defaults < TOML file (``--config FILE``) <
``XRBRIDGE_<NAME>`` environment variables < command-line flags. Every field
below is all three: TOML key ``ws_port``, variable ``XRBRIDGE_WS_PORT``, flag
``--ws-port``. Lists are TOML arrays, comma-separated in the environment and
repeatable flags. Booleans accept 1/0, true/false, yes/no, on/off.

This is the only place configuration is read; everything else receives the
:class:`Settings` object (or a part of it).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xrbridge.errors import UsageError

ENV_PREFIX = "XRBRIDGE_"


def _f(default: Any, help: str, *, kind: type = str, **kw: Any) -> Any:
    meta = {"help": help, "kind": kind}
    return dataclasses.field(default=default, metadata=meta, **kw)


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything ``xrbridge serve`` can be told. Ports 0 pick a free port."""

    host: str = _f("127.0.0.1", "address to listen on (0.0.0.0 or a LAN address for a HoloLens)")
    ws_port: int = _f(
        8765, "WebSocket port; also serves the viewer page, /metrics and /status", kind=int
    )
    grpc_port: int = _f(50051, "gRPC port (-1 disables gRPC)", kind=int)
    sources: tuple[str, ...] = _f(
        ("push=push",), "streams as ID=URI: a video path, camera:N, rtsp://..., or push", kind=list
    )
    realtime: bool = _f(
        True, "replay video files at their frame rate (false: as fast as possible)", kind=bool
    )
    loop: bool = _f(False, "loop video files", kind=bool)
    models_dir: str = _f("models", "folder of trained models; clients choose among them by name")
    model: str = _f("", "model name at start (default: the first one found)")
    templates: str = _f("", "folder with templates/ and roi/ (default: the embedded line scene)")
    token: str = _f("", "bearer token required on both servers (empty: no token)")
    tls_cert: str = _f("", "PEM certificate: serve wss:// and TLS gRPC")
    tls_key: str = _f("", "PEM private key of the certificate")
    allowed_origins: tuple[str, ...] = _f(
        (), "WebSocket Origin headers allowed (empty: any)", kind=list
    )
    max_message_bytes: int = _f(
        8 * 1024 * 1024, "largest accepted message (frame) in bytes", kind=int
    )
    max_image_pixels: int = _f(4096 * 2160, "largest accepted pushed image, width*height", kind=int)
    queue_keys: int = _f(8, "pending messages per subscriber (newest per stream wins)", kind=int)
    heartbeat_s: float = _f(
        5.0, "seconds between heartbeat messages (and WebSocket pings)", kind=float
    )
    workers: int = _f(2, "inference threads", kind=int)
    threads: int = _f(1, "ONNX Runtime intra-op threads per model", kind=int)
    infer_every: tuple[str, ...] = _f(
        (),
        "run the model on every N-th frame, tracking in between: N for every stream, ID=N for one stream (default 1: every frame)",
        kind=list,
    )
    records_db: str = _f(
        "xrbridge.db",
        "SQLite file or postgresql://user@host:port/db for the inspection records, one per car (empty: none kept)",
    )
    video_quality: int = _f(70, "JPEG quality of the viewer's video preview", kind=int)
    max_connections: int = _f(
        512, "open connections per server (WebSocket; gRPC concurrent calls)", kind=int
    )
    max_connections_per_address: int = _f(
        64, "open WebSocket connections per remote address", kind=int
    )
    max_unauthenticated: int = _f(
        128, "WebSocket sessions without the token yet (more: HTTP 503)", kind=int
    )
    auth_deadline_s: float = _f(5.0, "seconds a connection may stay unauthenticated", kind=float)
    preauth_message_bytes: int = _f(
        4096, "largest message accepted before authentication", kind=int
    )
    send_timeout_s: float = _f(
        10.0, "a subscriber that takes nothing for this long is closed (1011)", kind=float
    )
    # plant side (docs/plant.md): central records, MQTT events, drift alerts per robot
    records_spill: str = _f(
        "xrbridge-records.spill",
        "local file keeping the records a postgresql:// records_db could not take yet (SQLite: records_db + .spill)",
    )
    mqtt_url: str = _f(
        "",
        "MQTT broker for plant events, mqtt://host:port or mqtts://host:port (TLS) (empty: no events)",
    )
    mqtt_ca: str = _f(
        "", "mqtts: CA certificate (PEM) that signed the broker's (empty: the system's trust store)"
    )
    mqtt_cert: str = _f(
        "", "mqtts: this bridge's client certificate (PEM), for brokers that require one"
    )
    mqtt_key: str = _f("", "mqtts: the private key (PEM) of mqtt_cert")
    mqtt_spool: str = _f(
        "xrbridge-events.db", "SQLite file keeping events until the broker acknowledges them"
    )
    plant: str = _f("plant", "plant name: the topic level after xrbridge/")
    line: str = _f("line", "line name: the topic level after the plant")
    bridge_id: str = _f(
        "", "this bridge's name in events and the central records (empty: the host name)"
    )
    health_s: float = _f(
        10.0, "seconds between per-stream health events on MQTT (0: none)", kind=float
    )
    robots: tuple[str, ...] = _f(
        (), "robot map ROBOT=REGION+REGION (empty: the scene's robots)", kind=list
    )
    drift_window: int = _f(25, "drift: cars per robot in the sliding window", kind=int)
    drift_raise_rate: float = _f(
        0.28,
        "drift: share of windowed cars with a defect on a robot's regions that raises its alert",
        kind=float,
    )
    drift_clear_rate: float = _f(
        0.08, "drift: share at or below which a raised alert clears (hysteresis)", kind=float
    )
    drift_min_cars: int = _f(
        10, "drift: cars in the window before a robot can be alerted", kind=int
    )
    drift_baseline_cars: int = _f(
        0, "drift: cars per robot to learn its normal defect share first (0: off)", kind=int
    )
    drift_baseline_margin: float = _f(
        0.2,
        "drift: with a baseline, the share must also exceed it by this much to raise",
        kind=float,
    )

    def __post_init__(self) -> None:
        for name in ("ws_port", "grpc_port"):
            v = getattr(self, name)
            if not -1 <= v <= 65535:
                raise UsageError(f"{name} must be in 0..65535 (or -1), got {v}")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise UsageError("tls_cert and tls_key must be given together")
        if self.max_message_bytes < 1024:
            raise UsageError(f"max_message_bytes must be >= 1024, got {self.max_message_bytes}")
        if self.queue_keys < 1 or self.workers < 1:
            raise UsageError("queue_keys and workers must be >= 1")
        if self.max_connections < 1 or self.max_connections_per_address < 1:
            raise UsageError("max_connections and max_connections_per_address must be >= 1")
        if self.preauth_message_bytes < 256:
            raise UsageError(
                f"preauth_message_bytes must be >= 256, got {self.preauth_message_bytes}"
            )
        for spec in self.sources:
            if "=" not in spec:
                raise UsageError(
                    f"source must be ID=URI (e.g. line=video.mp4, p=push), got {spec!r}"
                )
        self.infer_every_for("")  # refuse a bad infer_every now, naming it

    def bridge_name(self) -> str:
        """This bridge's name in events and records: ``bridge_id``, else the short host name."""
        import socket

        return self.bridge_id or socket.gethostname().split(".")[0] or "bridge"

    def infer_every_for(self, stream_id: str) -> int:
        """The ``infer_every`` of ``stream_id``: its ``ID=N`` entry, else a bare ``N``, else 1."""
        ids = {spec.partition("=")[0] for spec in self.sources}
        every, own = 1, None
        for spec in self.infer_every:
            sid, sep, n = spec.rpartition("=")
            try:
                val = int(n)
            except ValueError:
                val = 0
            if val < 1 or (sep and not sid):
                raise UsageError(
                    f"infer_every must be N or ID=N with N >= 1 (e.g. 3, cam2=6), got {spec!r}"
                )
            if not sep:
                every = val
            elif sid not in ids:
                raise UsageError(
                    f"infer_every names unknown stream {sid!r}; streams: {', '.join(sorted(ids))}"
                )
            elif sid == stream_id:
                own = val
        return own if own is not None else every

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)

    def limits(self) -> Any:
        """The door's limits (:class:`~xrbridge.bridge.limits.Limits`)."""
        from xrbridge.bridge.limits import Limits

        return Limits(
            max_connections=self.max_connections,
            per_address=self.max_connections_per_address,
            max_unauthenticated=self.max_unauthenticated,
            auth_deadline_s=self.auth_deadline_s,
            handshake_timeout_s=max(1.0, self.auth_deadline_s),
            preauth_bytes=self.preauth_message_bytes,
            send_timeout_s=self.send_timeout_s,
        )


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _convert(name: str, value: Any, origin: str) -> Any:
    kind = FIELDS[name].metadata["kind"]
    try:
        if kind is list:
            if isinstance(value, int) and not isinstance(value, bool):  # TOML infer_every = 3
                return (str(value),)
            if isinstance(value, list | tuple) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            ):
                value = [str(v) for v in value]
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
                return tuple(value)
            raise ValueError("expected a list of strings")
        if kind is bool:
            if isinstance(value, bool):
                return value
            s = str(value).strip().lower()
            if s in ("1", "true", "yes", "on"):
                return True
            if s in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true/false")
        if kind is int and isinstance(value, bool):
            raise ValueError("expected an integer")
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"{origin}: {name} must be {kind.__name__}, got {value!r} ({exc})"
        ) from exc


def read_toml(path: Path) -> dict[str, Any]:
    """The settings table of a TOML file (top level or a ``[bridge]`` table)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from exc
    table = data.get("bridge", data)
    if not isinstance(table, dict):
        raise UsageError(f"config file {path}: [bridge] must be a table")
    unknown = sorted(set(table) - set(FIELDS))
    if unknown:
        raise UsageError(f"config file {path}: unknown keys {unknown}; valid: {', '.join(FIELDS)}")
    return table


def add_arguments(parser: argparse.ArgumentParser, *, skip: tuple[str, ...] = ()) -> None:
    """One flag per settings field (defaults None, so unset flags do not override)."""
    parser.add_argument("--config", type=Path, default=None, help="TOML settings file")
    for name, f in FIELDS.items():
        if name in skip:
            continue
        flag = "--" + name.replace("_", "-")
        kind = f.metadata["kind"]
        env = ENV_PREFIX + name.upper()
        help = f"{f.metadata['help']} [env {env}]"
        if kind is bool:
            parser.add_argument(
                flag, dest=name, default=None, action=argparse.BooleanOptionalAction, help=help
            )
        elif kind is list:
            parser.add_argument(
                flag, dest=name, default=None, action="append", help=help + " (repeatable)"
            )
        else:
            parser.add_argument(flag, dest=name, default=None, help=help)


def load_settings(
    args: argparse.Namespace | None = None,
    env: Mapping[str, str] | None = None,
    config: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Merge defaults, TOML, environment, flags and keyword overrides into one Settings."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    cfg = config if config is not None else getattr(args, "config", None)
    if cfg is None and env.get(ENV_PREFIX + "CONFIG"):
        cfg = Path(env[ENV_PREFIX + "CONFIG"])
    if cfg is not None:
        for k, v in read_toml(Path(cfg)).items():
            values[k] = _convert(k, v, f"config {cfg}")
    for name in FIELDS:
        key = ENV_PREFIX + name.upper()
        if key in env:
            values[name] = _convert(name, env[key], f"environment {key}")
    if args is not None:
        for name in FIELDS:
            v = getattr(args, name, None)
            if v is not None:
                values[name] = _convert(name, v, f"flag --{name.replace('_', '-')}")
    for name, v in overrides.items():
        if name not in FIELDS:
            raise UsageError(f"unknown setting {name!r}; valid: {', '.join(FIELDS)}")
        values[name] = v
    return Settings(**values)
