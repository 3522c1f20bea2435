"""MQTT events against a real Mosquitto broker on loopback: restart, spool, last will."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from xrbridge.plant.events import Topics, decode
from xrbridge.plant.mqtt import MqttPublisher
from xrbridge.plant.services import LocalMosquitto, mosquitto_binary

pytestmark = pytest.mark.skipif(
    mosquitto_binary() is None, reason="mosquitto binary not installed (apt-get install mosquitto)"
)

SLOW = float(os.environ.get("XRBRIDGE_TEST_TIMEOUT_FACTOR", "1"))
TOPICS = Topics("plant1", "line1", "b1")


class Collector:
    """A persistent QoS 1 subscriber (its session survives a broker restart)."""

    def __init__(self, port: int, client_id: str = "collector", tls: dict | None = None) -> None:
        """``tls``: ``tls_set`` arguments (CA, client certificate) for a TLS listener."""
        self.messages: list[tuple[str, dict]] = []
        self.retained: dict[str, dict] = {}
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        self.c.reconnect_delay_set(0.2, 1)
        if tls is not None:
            self.c.tls_set(**tls)
        self.c.on_connect = lambda c, u, f, rc, p=None: c.subscribe(TOPICS.subscription(), qos=1)
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port, keepalive=5)
        self.c.loop_start()
        assert self.subscribed.wait(10 * SLOW)

    def _on_message(self, c, u, msg) -> None:
        d = decode(msg.payload)
        with self._lock:
            if msg.retain:
                self.retained[msg.topic] = d
            self.messages.append((msg.topic, d))

    def events(self) -> list[dict]:
        with self._lock:
            return [d for _t, d in self.messages if d["type"] == "verdict"]

    def wait_for(self, pred, timeout: float) -> bool:
        end = time.monotonic() + timeout * SLOW
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(0.05)
        return pred()

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _publish(pub: MqttPublisher, n: int, start: int, seqs: list[int]) -> None:
    for i in range(start, start + n):
        seqs.append(pub.publish("verdict", "cam1", {"car_id": i, "verdict": "OK"}))
        time.sleep(0.002)


def test_broker_restart_mid_run_loses_nothing_and_keeps_order(tmp_path: Path) -> None:
    broker = LocalMosquitto(tmp_path / "broker")
    broker.start()
    col = Collector(broker.port)
    pub = MqttPublisher(broker.url, TOPICS, str(tmp_path / "spool.db"), keepalive=5)
    pub.start()
    seqs: list[int] = []
    most_spooled = 0
    try:
        assert pub.connected.wait(10 * SLOW)
        # the bridge keeps publishing at its own pace while the broker goes away and returns
        producer = threading.Thread(target=_publish, args=(pub, 600, 0, seqs))
        producer.start()
        assert col.wait_for(lambda: len(col.events()) >= 100, 10)
        broker.stop()
        t_down = time.monotonic()
        while time.monotonic() - t_down < 1.0:
            most_spooled = max(most_spooled, pub.stats()["spooled"])
            time.sleep(0.05)
        assert not pub.connected.is_set()
        broker.start()
        producer.join(60 * SLOW)
        assert pub.flush(60 * SLOW), pub.stats()
        published = set(seqs)
        assert col.wait_for(lambda: {e["seq"] for e in col.events()} >= published, 30)
    finally:
        pub.stop(flush_s=0)
        col.close()
        broker.stop()
    got = [e["seq"] for e in col.events()]
    received = set(got)
    duplicated = len(got) - len(received)
    lost = len(set(seqs) - received)
    first_seen = list(dict.fromkeys(got))
    print(
        f"\nbroker restart: published={len(seqs)} received={len(received)} lost={lost} "
        f"duplicated={duplicated} spooled_while_down={most_spooled} connects={pub.connects}"
    )
    assert len(seqs) == 600 and lost == 0
    assert most_spooled > 0, "nothing was published while the broker was down"
    assert first_seen == sorted(first_seen), "events arrived out of order"
    assert duplicated <= pub.max_inflight  # only unacknowledged ones may come twice (QoS 1)
    assert {e["event_id"] for e in col.events()} == {f"b1:{s}" for s in seqs}
    assert all(e["stream"] == "cam1" and e["schema"] == 1 for e in col.events())
    assert pub.connects >= 2


def test_spool_survives_the_publisher_process_and_seq_continues(tmp_path: Path) -> None:
    broker = LocalMosquitto(tmp_path / "broker")
    spool = str(tmp_path / "spool.db")
    first = MqttPublisher(broker.url, TOPICS, spool)  # the broker is not running yet
    first.start()
    seqs = [first.publish("verdict", "cam1", {"car_id": i}) for i in range(40)]
    first.stop(flush_s=0)
    assert seqs == list(range(1, 41))
    broker.start()
    col = Collector(broker.port, "collector2")
    second = MqttPublisher(broker.url, TOPICS, spool)
    second.start()
    try:
        seqs.append(second.publish("verdict", "cam1", {"car_id": 40}))
        assert second.flush(30 * SLOW), second.stats()
        assert col.wait_for(lambda: len({e["seq"] for e in col.events()}) == 41, 20)
    finally:
        second.stop(flush_s=0)
        col.close()
        broker.stop()
    assert seqs[-1] == 41
    got = list(dict.fromkeys(e["seq"] for e in col.events()))
    assert got == list(range(1, 42))


_CHILD = """
import sys, time
from xrbridge.plant.events import Topics
from xrbridge.plant.mqtt import MqttPublisher
pub = MqttPublisher(sys.argv[1], Topics("plant1", "line1", "victim"), sys.argv[2], keepalive=2)
pub.start()
assert pub.connected.wait(20)
pub.publish("health", "cam1", {"state": "running"}, retain=True)
pub.flush(10)
print("ready", flush=True)
time.sleep(60)
"""


def test_last_will_says_offline_when_the_bridge_is_killed(tmp_path: Path) -> None:
    with LocalMosquitto(tmp_path / "broker") as broker:
        col = Collector(broker.port, "collector3")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, broker.url, str(tmp_path / "victim.db")],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
            status = "xrbridge/plant1/line1/_bridge/victim/status"
            assert col.wait_for(
                lambda: any(t == status and d["state"] == "online" for t, d in col.messages), 10
            )
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            assert col.wait_for(
                lambda: any(t == status and d["state"] == "offline" for t, d in col.messages), 15
            )
            health = [d for t, d in col.messages if t == "xrbridge/plant1/line1/cam1/health"]
            assert health and health[0]["state"] == "running" and health[0]["type"] == "health"
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(5)
            if child.stdout is not None:
                child.stdout.close()
            col.close()
