"""The bridge: sources, per-stream pipelines off the event loop, WebSocket and gRPC servers.

The only asyncio code of xrbridge besides the sources; everything here is a
thin adapter around the synchronous core (``xrbridge.core.pipeline``). The
composition root is :mod:`xrbridge.bridge.app`.
"""
