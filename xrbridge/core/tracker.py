"""Conveyor tracking of car underbodies with a Kalman filter (filterpy), no I/O.

State per car: ``[x, y, vx, vy]``: the underbody origin in frame px and its
velocity in px/s, constant-velocity model. Measurements are underbody origins
computed from template matches (``match - (u0, v0)``). ``dt`` comes from the
frames' timestamps, never from a frame count: conveyors and encoders drop
frames, and a gap of two frames must move the car twice as far.

Noise parameters (:class:`TrackerConfig`) are trade-offs:

- ``q`` (process noise, white-acceleration spectral density, px²/s³). Raising
  it lets the filter follow speed changes (belt accelerating, a car slipping)
  quickly, at the price of noisier filtered positions and a wider gate
  (more risk of accepting a wrong match). Lowering it smooths positions and
  velocities (better 200 ms predictions at constant speed) but lags when the
  speed changes, and the lag shows as a bias in the predicted overlay.
- ``r`` (measurement noise std, px). Raising it trusts the matches less:
  smoother, slower to react, wider gate. Lowering it follows each match
  closely, so match jitter (sub-pixel noise, vibration) passes into the
  positions. About the std of a template match's position error (~0.3-1 px).

Gating: a match is accepted only if its Mahalanobis innovation distance
``d² = yᵀ S⁻¹ y`` is below ``gate`` (chi² with 2 dof; 13.8 = 99.9 %).
Lower gates reject more wrong matches but lose real ones after a surprise.
Innovations under ``min_gate_px`` always pass, and the caller may accept a
far innovation from a wide re-acquisition search as a *maneuver* (velocity
variance re-opened): a belt braking into a stop is outside any sensible
constant-velocity gate.

Defaults (q = 2000, r = 0.5) were chosen on simulator runs by replaying the
measured matches through filters with q in 300..500000 and r in 0.1..1.5:
lower q lagged the speed changes (worse 200 ms predictions under
acceleration), higher q passed the camera shake into the velocity (worse at
constant speed); see docs/extract.md for the numbers at the default.

Life cycle: a track is born from a whole-frame match that no existing track
explains, becomes confirmed (and gets its stable public id) after
``min_hits`` accepted measurements, coasts (predicts only) through frames
without an accepted match, and dies after ``max_coast_s`` without one or
when its views have left the frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from filterpy.kalman import KalmanFilter

from xrbridge.core.types import TrackState


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Kalman tracker settings (see the module docstring for the trade-offs).

    q: process noise, px²/s³.  r: measurement std, px.
    init_speed_std: std of the unknown initial velocity, px/s.
    init_velocity: prior velocity of a new car (vx, vy), px/s (conveyor speed if known).
    gate: chi² gate on the innovation (2 dof).
    min_gate_px: innovations shorter than this (px) always pass the gate. A
        constant-velocity filter lags a belt that brakes or speeds up; without
        this floor a confident (small-P) track would reject every true match
        during a stop and die. Matches come from a small window around the
        prediction, so a short innovation is rarely a wrong match.
    min_hits: accepted measurements before a track is confirmed.
    max_coast_s: a track without accepted measurement for longer dies.
    """

    q: float = 2000.0
    r: float = 0.5
    init_speed_std: float = 300.0
    init_velocity: tuple[float, float] = (0.0, 0.0)
    gate: float = 13.8
    min_gate_px: float = 15.0
    min_hits: int = 2
    max_coast_s: float = 1.0


def _transition(dt: float) -> np.ndarray:
    f = np.eye(4)
    f[0, 2] = f[1, 3] = dt
    return f


def _process_noise(dt: float, q: float) -> np.ndarray:
    """Discrete white-noise-acceleration Q for [x, y, vx, vy]."""
    a, b, c = dt**3 / 3.0, dt**2 / 2.0, dt
    qm = np.zeros((4, 4))
    for p, v in ((0, 2), (1, 3)):
        qm[p, p], qm[p, v], qm[v, p], qm[v, v] = a, b, b, c
    return qm * q


class Track:
    """One car: a filterpy KalmanFilter plus its life-cycle counters."""

    def __init__(self, key: int, x: float, y: float, t: float, cfg: TrackerConfig) -> None:
        self.key = key  # internal, unique over tentative tracks too
        self.car_id: int | None = None  # public id, set on confirmation
        self.cfg = cfg
        kf = KalmanFilter(dim_x=4, dim_z=2)
        kf.x = np.array([x, y, *cfg.init_velocity], dtype=float)
        kf.P = np.diag([cfg.r**2, cfg.r**2, cfg.init_speed_std**2, cfg.init_speed_std**2])
        kf.H = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
        kf.R = np.eye(2) * cfg.r**2
        self.kf = kf
        self.t = t
        self.t_last_hit = t
        self.hits = 1

    @property
    def confirmed(self) -> bool:
        return self.car_id is not None

    def predict_to(self, t: float) -> None:
        """Advance the filter to time t (no-op for t <= current time)."""
        dt = t - self.t
        if dt > 0:
            self.kf.predict(F=_transition(dt), Q=_process_noise(dt, self.cfg.q))
            self.t = t

    def innovation_d2(self, z: Sequence[float]) -> float:
        """Mahalanobis distance² of measurement z = (x, y) from the current prediction."""
        y = np.asarray(z, dtype=float) - self.kf.x[:2]
        s = self.kf.P[:2, :2] + self.kf.R
        return float(y @ np.linalg.solve(s, y))

    def position_std(self) -> float:
        """Largest 1-sigma position uncertainty of the current state, px."""
        return float(np.sqrt(max(self.kf.P[0, 0], self.kf.P[1, 1])))

    def update(self, z: Sequence[float], t: float, maneuver: bool = False) -> None:
        """Correct with measurement z = (x, y) at time t.

        ``maneuver``: the innovation was far outside the gate (belt braking into
        a stop, or starting again): the velocity is re-opened (its variance
        inflated) so that this measurement moves it instead of being averaged
        away, the fading-memory answer to a model that no longer holds.
        """
        if maneuver:
            y = np.asarray(z, dtype=float) - self.kf.x[:2]
            self.kf.P = self.kf.P + np.diag(
                [y[0] ** 2, y[1] ** 2, *(2 * [self.cfg.init_speed_std**2])]
            )
        self.kf.update(np.asarray(z, dtype=float))
        self.t_last_hit = t
        self.hits += 1

    def state(self, t: float | None = None) -> TrackState:
        """Filtered state now, or predicted to a later ``t`` without changing the filter."""
        x = self.kf.x
        tt = self.t
        if t is not None and t > self.t:
            x = _transition(t - self.t) @ x
            tt = t
        return TrackState(
            car_id=-1 if self.car_id is None else self.car_id,
            x=float(x[0]),
            y=float(x[1]),
            vx=float(x[2]),
            vy=float(x[3]),
            t=float(tt),
        )


@dataclass(frozen=True, slots=True)
class Measurement:
    """An underbody-origin measurement (frame px) with the match it came from."""

    x: float
    y: float
    score: float
    view: str


class ConveyorTracker:
    """Multi-car Kalman tracker driven by timestamps.

    Per frame: :meth:`predict` all tracks to the frame's time, measure (the
    caller searches around :meth:`Track.state`), :meth:`correct` each track with
    its measurements, :meth:`spawn` tracks for unexplained matches, then
    :meth:`prune`.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.tracks: list[Track] = []
        self._next_key = 0
        self._next_id = 0
        self.t: float | None = None

    def predict(self, t: float) -> None:
        """Advance every track to the frame time ``t`` (seconds)."""
        if self.t is not None and t < self.t:
            # Time going backwards is a stream fault, not a reason to corrupt
            # the filters: treat it as no time passing.
            t = self.t
        self.t = t
        for tr in self.tracks:
            tr.predict_to(t)

    def correct(
        self, track: Track, measurements: Sequence[Measurement], reacquire_px: float | None = None
    ) -> list[Measurement]:
        """Update ``track`` with the gated subset of its measurements; return those accepted.

        ``reacquire_px``: also accept (as a maneuver, see :meth:`Track.update`)
        measurements outside the gate but within this distance, px. The caller
        passes it for a wide re-acquisition search after a miss.
        """
        accepted = []
        t = self.t if self.t is not None else track.t
        for m in sorted(measurements, key=lambda mm: -mm.score):
            dist = float(np.hypot(m.x - track.kf.x[0], m.y - track.kf.x[1]))
            if (
                dist <= self.config.min_gate_px
                or track.innovation_d2((m.x, m.y)) <= self.config.gate
            ):
                track.update((m.x, m.y), t)
                accepted.append(m)
            elif reacquire_px is not None and dist <= reacquire_px:
                track.update((m.x, m.y), t, maneuver=True)
                accepted.append(m)
        if accepted and track.car_id is None and track.hits >= self.config.min_hits:
            track.car_id = self._next_id
            self._next_id += 1
        return accepted

    def spawn(self, m: Measurement) -> Track:
        """Start a tentative track at a measurement (caller checked it is unexplained)."""
        t = self.t if self.t is not None else 0.0
        tr = Track(self._next_key, m.x, m.y, t, self.config)
        self._next_key += 1
        self.tracks.append(tr)
        if self.config.min_hits <= 1:
            tr.car_id = self._next_id
            self._next_id += 1
        return tr

    def prune(self, gone: Sequence[Track] = ()) -> list[Track]:
        """Remove tracks that coasted too long or are in ``gone``; return the removed."""
        t = self.t if self.t is not None else 0.0
        dead = [
            tr for tr in self.tracks if tr in gone or t - tr.t_last_hit > self.config.max_coast_s
        ]
        self.tracks = [tr for tr in self.tracks if tr not in dead]
        return dead

    def confirmed(self) -> list[Track]:
        return [tr for tr in self.tracks if tr.confirmed]

    def predict_state(self, car_id: int, t: float) -> TrackState | None:
        """Where car ``car_id`` is at time ``t`` (latency compensation); None if unknown."""
        for tr in self.tracks:
            if tr.car_id == car_id:
                return tr.state(t)
        return None


def frame_to_underbody(state: TrackState, points_xy: np.ndarray) -> np.ndarray:
    """Frame px (N, 2) -> underbody px (N, 2) for the car in ``state``."""
    out: np.ndarray = np.asarray(points_xy, dtype=np.float64) - np.array([state.x, state.y])
    return out


def underbody_to_frame(state: TrackState, points_uv: np.ndarray) -> np.ndarray:
    """Underbody px (N, 2) -> frame px (N, 2) for the car in ``state``.

    With ``state = tracker.predict_state(car_id, t_display)`` this draws a
    defect found in an earlier frame where the car is at display time.
    """
    out: np.ndarray = np.asarray(points_uv, dtype=np.float64) + np.array([state.x, state.y])
    return out
