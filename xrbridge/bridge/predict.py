"""Move an overlay with its car between inferences (pure, no I/O).

When the model is slower than the camera, frames that are not inferred still
get an overlay: the last inferred one, shifted by the tracked velocity times
the time since it. Contours, boxes and centroids are in frame pixels and move
with the car; view-normalised coordinates (``*_uv``) stay, since the defect
does not move on the underbody. Hints keep their text; their time to station
shrinks with the elapsed time.
"""

from __future__ import annotations

import dataclasses

from xrbridge.core.types import Defect, Hint, OverlayFrame, TrackState


def _shift_hint(h: Hint | None, dt: float) -> Hint | None:
    if h is None or h.time_to_station_s is None:
        return h
    left = h.time_to_station_s - dt
    return dataclasses.replace(h, time_to_station_s=left if left > 0 else None)


def _shift_defect(d: Defect, dx: float, dy: float, dt: float) -> Defect:
    x, y, w, h = d.bbox_px
    contour = d.contour_px.copy()
    contour[:, 0] += dx
    contour[:, 1] += dy
    return dataclasses.replace(
        d,
        contour_px=contour,
        bbox_px=(x + dx, y + dy, w, h),
        centroid_px=(d.centroid_px[0] + dx, d.centroid_px[1] + dy),
        hint=_shift_hint(d.hint, dt),
    )


def predict_overlay(last: OverlayFrame, *, seq: int, t: float, t_emit: float) -> OverlayFrame:
    """``last`` moved to time ``t`` (seconds, capture clock) for frame ``seq``.

    Without a track (no car in view) the overlay is repeated unchanged except
    for ``seq``/``t_capture``/``t_emit``.
    """
    t_emit = max(t_emit, t)  # never emitted before the frame was captured
    track = last.track
    if track is None:
        return dataclasses.replace(last, seq=seq, t_capture=t, t_emit=t_emit)
    dt = t - track.t
    dx, dy = track.vx * dt, track.vy * dt
    new_track: TrackState = dataclasses.replace(track, x=track.x + dx, y=track.y + dy, t=t)
    defects = tuple(_shift_defect(d, dx, dy, dt) for d in last.defects)
    return dataclasses.replace(
        last, seq=seq, t_capture=t, t_emit=t_emit, track=new_track, defects=defects
    )
