"""The plant side of xrbridge: events on the factory's MQTT bus, drift alerts per robot.

- :mod:`xrbridge.plant.events`: topics and JSON payloads (schema version 1), pure.
- :mod:`xrbridge.plant.spool`: the on-disk spool of events the broker has not acknowledged.
- :mod:`xrbridge.plant.mqtt`: the publisher (paho-mqtt), spool first, in order, QoS 1, last will.
- :mod:`xrbridge.plant.robots`: scene regions -> robots, inspection records -> drift observations.
- :mod:`xrbridge.plant.services`: throw-away local Mosquitto / PostgreSQL for tests and benches.

The MQTT client is an optional dependency: ``pip install 'xrbridge[plant]'``.
"""
