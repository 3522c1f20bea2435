"""Synthetic sealant defects on a user's own good images, with exact masks.

``synthesize(SynthConfig(data=CAT, out=DIR))`` writes an MVTec-layout data set
whose test split holds the five defect types (missing, misalignment,
bifurcation, narrowing, hole) drawn along the sealant beads. Where the beads
are comes from a paths file, the category's ROI mask or bead detection.
Formats and method: docs/synth.md.
"""

from __future__ import annotations

from xrbridge.synth.defects import DefectParams, render_defect
from xrbridge.synth.detect import DetectConfig, detect_tracks, tracks_from_roi
from xrbridge.synth.generate import SynthConfig, synthesize
from xrbridge.synth.tracks import Track, load_paths, paths_doc, sample, tracks_from_scene

__all__ = [
    "DefectParams",
    "DetectConfig",
    "SynthConfig",
    "Track",
    "detect_tracks",
    "load_paths",
    "paths_doc",
    "render_defect",
    "sample",
    "synthesize",
    "tracks_from_roi",
    "tracks_from_scene",
]
