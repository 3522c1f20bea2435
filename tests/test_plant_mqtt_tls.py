"""MQTT events over TLS to a real Mosquitto broker that authenticates clients by certificate.

The certificates are made by the openssl command: a CA, the broker's certificate for
127.0.0.1, a client certificate for the bridge, and a second CA that signed nothing of the
broker's (a bridge told to trust it must refuse the broker).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.test_plant_mqtt import Collector
from tests.test_plant_settings import _settings
from xrbridge.bridge.app import Bridge
from xrbridge.errors import UsageError
from xrbridge.plant.events import Topics
from xrbridge.plant.mqtt import MqttPublisher, MqttTls, parse_mqtt_url
from xrbridge.plant.services import LocalMosquitto, mosquitto_binary

pytestmark = [
    pytest.mark.skipif(
        mosquitto_binary() is None, reason="mosquitto not installed (apt-get install mosquitto)"
    ),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl (CI installs it)"),
]

SLOW = float(os.environ.get("XRBRIDGE_TEST_TIMEOUT_FACTOR", "1"))
TOPICS = Topics("plant1", "line1", "cell7")


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _ca(folder: Path, name: str) -> tuple[Path, Path]:
    key, pem = folder / f"{name}.key", folder / f"{name}.pem"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", pem,
        "-days", "1", "-subj", f"/CN={name}",
    )  # fmt: skip
    return pem, key


def _signed(folder: Path, name: str, ca: tuple[Path, Path], ext: str = "") -> tuple[Path, Path]:
    key, csr, pem = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.pem"
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={name}"
    )
    extra: list[str | Path] = []
    if ext:
        (folder / f"{name}.ext").write_text(ext + "\n")
        extra = ["-extfile", folder / f"{name}.ext"]
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
        "-out", pem, "-days", "1", *extra,
    )  # fmt: skip
    return pem, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pki")
    ca = _ca(d, "ca")
    rogue = _ca(d, "rogue")
    server = _signed(d, "broker", ca, "subjectAltName=IP:127.0.0.1,DNS:localhost")
    client = _signed(d, "cell7", ca)
    return {
        "ca": ca[0],
        "rogue": rogue[0],
        "server": server[0],
        "server_key": server[1],
        "cert": client[0],
        "key": client[1],
    }


@pytest.fixture()
def broker(tmp_path: Path, pki: dict[str, Path]):
    b = LocalMosquitto(
        tmp_path / "broker",
        tls=(pki["ca"], pki["server"], pki["server_key"]),
        require_certificate=True,
    )
    with b:
        yield b


class TlsCollector(Collector):
    """The plant tests' subscriber, with its own client certificate."""

    def __init__(self, port: int, pki: dict[str, Path]) -> None:
        tls = {"ca_certs": str(pki["ca"]), "certfile": str(pki["cert"]), "keyfile": str(pki["key"])}
        super().__init__(port, "collector", tls=tls)

    def verdicts(self) -> list[int]:
        return [d["car_id"] for d in self.events()]


def _wait(pred, timeout: float) -> bool:
    end = time.monotonic() + timeout * SLOW
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def _publish(pub: MqttPublisher, cars: range) -> None:
    for i in cars:
        pub.publish("verdict", "cam1", {"car_id": i, "verdict": "OK"})


def test_events_over_tls_with_a_client_certificate(broker, pki, tmp_path: Path) -> None:
    assert broker.url.startswith("mqtts://")
    col = TlsCollector(broker.port, pki)
    tls = MqttTls(str(pki["ca"]), str(pki["cert"]), str(pki["key"]))
    pub = MqttPublisher(broker.url, TOPICS, str(tmp_path / "spool.db"), tls=tls)
    try:
        pub.start()
        _publish(pub, range(20))
        assert pub.flush(15 * SLOW), pub.stats()
        assert _wait(lambda: len(col.verdicts()) >= 20, 10)
        assert col.verdicts() == list(range(20))  # all of them, in order
        assert pub.stats()["last_error"] == "" and pub.stats()["spooled"] == 0
    finally:
        pub.stop()
        col.close()


def test_a_broker_that_refuses_us_keeps_every_event_spooled(broker, pki, tmp_path: Path) -> None:
    """No client certificate: the broker refuses the bridge; nothing is lost, the reason shows."""
    spool = str(tmp_path / "spool.db")
    col = TlsCollector(broker.port, pki)
    refused = MqttPublisher(broker.url, TOPICS, spool, tls=MqttTls(ca=str(pki["ca"])))
    try:
        refused.start()
        _publish(refused, range(5))
        assert _wait(lambda: refused.stats()["last_error"] != "", 10), refused.stats()
        assert not refused.connected.is_set()
        assert refused.stats()["spooled"] == 5
    finally:
        refused.stop()
    assert col.verdicts() == []
    # the same spool, now with the certificate: the five arrive
    tls = MqttTls(str(pki["ca"]), str(pki["cert"]), str(pki["key"]))
    good = MqttPublisher(broker.url, TOPICS, spool, tls=tls)
    try:
        good.start()
        assert good.flush(15 * SLOW), good.stats()
        assert _wait(lambda: col.verdicts() == list(range(5)), 10), col.verdicts()
    finally:
        good.stop()
        col.close()


def test_a_broker_signed_by_another_ca_is_not_trusted(broker, pki, tmp_path: Path) -> None:
    tls = MqttTls(str(pki["rogue"]), str(pki["cert"]), str(pki["key"]))
    pub = MqttPublisher(broker.url, TOPICS, str(tmp_path / "spool.db"), tls=tls)
    try:
        pub.start()
        _publish(pub, range(3))
        assert _wait(lambda: "certificate verify failed" in pub.stats()["last_error"], 10), (
            pub.stats()
        )
        assert not pub.connected.is_set() and pub.stats()["spooled"] == 3
    finally:
        pub.stop()


def test_bad_tls_settings_are_refused_with_the_setting_named(pki, tmp_path: Path) -> None:
    assert parse_mqtt_url("mqtts://broker.plant").port == 8883
    assert parse_mqtt_url("mqtt://u:p@broker.plant").port == 1883
    with pytest.raises(UsageError, match="mqtts://"):
        parse_mqtt_url("tls://broker:8883")
    spool = str(tmp_path / "spool.db")
    with pytest.raises(UsageError, match="mqtt_ca given but the broker url is mqtt://"):
        MqttPublisher("mqtt://127.0.0.1:1", TOPICS, spool, tls=MqttTls(ca=str(pki["ca"])))
    with pytest.raises(UsageError, match=r"mqtt_cert .* and mqtt_key"):
        MqttPublisher("mqtts://127.0.0.1:1", TOPICS, spool, tls=MqttTls(cert=str(pki["cert"])))
    with pytest.raises(UsageError, match=r"mqtt_ca: expected a PEM file, got '/no/ca\.pem'"):
        MqttPublisher("mqtts://127.0.0.1:1", TOPICS, spool, tls=MqttTls(ca="/no/ca.pem"))
    with pytest.raises(UsageError, match="could not be loaded"):  # a key that is no key
        MqttPublisher(
            "mqtts://127.0.0.1:1",
            TOPICS,
            spool,
            tls=MqttTls(cert=str(pki["cert"]), key=str(pki["ca"])),
        )
    # the bridge refuses the same at construction, before it serves anything
    with pytest.raises(UsageError, match="mqtt_ca: expected a PEM file"):
        Bridge(_settings(tmp_path, mqtt_url="mqtts://127.0.0.1:1", mqtt_ca="/no/ca.pem"))
