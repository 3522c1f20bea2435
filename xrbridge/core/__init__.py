"""The core without I/O: pure, synchronous, time as data.

Imports numpy, OpenCV and filterpy only; never asyncio, grpc, websockets or
onnxruntime (docs/style.md).
"""
