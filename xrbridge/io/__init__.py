"""Readers and writers of the project's artefacts, one per artefact; the core opens no file.

- :mod:`xrbridge.io.video`: video frames with their real timestamps (extract, replay, serve);
- :mod:`xrbridge.io.scene`: the embedded line scene and view templates;
- :mod:`xrbridge.io.models`: ONNX model folders as view -> predict callables;
- :mod:`xrbridge.io.records`: the SQLite :class:`~xrbridge.core.records.RecordStore`;
- :mod:`xrbridge.io.record_writer`: records written off the inference threads (spill file);
- :mod:`xrbridge.io.ratelog`: log lines that cannot flood.
"""
