"""Readers and writers of the project's artefacts (one per artefact).

The core (:mod:`xrbridge.core`) never opens a file; these modules do, and
nothing else: the record store (:mod:`xrbridge.io.records`), ...
"""
