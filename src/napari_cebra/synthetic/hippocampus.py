"""A rat running laps on a 1.6 m linear track, recorded as calcium-like traces of place cells.

Ground truth: position (m), running direction, and each cell's place field. Seeded and
deterministic; 10,000 samples × 120 cells take well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRACK_LENGTH = 1.6


@dataclass(frozen=True)
class HippocampusSession:
    neural: np.ndarray  # (T, N) float32 calcium-like traces (ΔF/F)
    spikes: np.ndarray  # (T, N) int spike counts per sample
    position: np.ndarray  # (T,) metres along the track
    direction: np.ndarray  # (T,) int: 0 running right, 1 running left
    fs: float  # samples per second
    field_centers: np.ndarray  # (N,) metres
    field_widths: np.ndarray  # (N,) metres
    field_directions: np.ndarray  # (N,) 0 right only, 1 left only, 2 both

    @property
    def behaviour(self) -> np.ndarray:
        """(T, 3) float32: [position, running right, running left], as in the paper."""
        right = (self.direction == 0).astype(np.float32)
        return np.stack([self.position.astype(np.float32), right, 1.0 - right], axis=1)

    @property
    def n_samples(self) -> int:
        return self.neural.shape[0]


def _trajectory(n_samples: int, fs: float, rng: np.random.Generator):
    """Laps back and forth with variable speed and short pauses at the ends."""
    position = np.empty(n_samples)
    direction = np.empty(n_samples, dtype=np.int64)
    x, heading, t = 0.0, 0, 0
    while t < n_samples:
        speed = rng.uniform(0.25, 0.6)  # m/s for this lap
        wobble = rng.uniform(0.6, 1.4, size=4)
        while t < n_samples and 0.0 <= x <= TRACK_LENGTH:
            phase = x / TRACK_LENGTH
            local = speed * np.interp(phase, np.linspace(0, 1, 4), wobble)
            position[t], direction[t] = x, heading
            x += (local if heading == 0 else -local) / fs
            t += 1
        x = min(max(x, 0.0), TRACK_LENGTH)
        pause = int(rng.uniform(0.3, 1.5) * fs)
        end = min(t + pause, n_samples)
        position[t:end], direction[t:end] = x, heading
        t = end
        heading = 1 - heading
    return position, direction


def _calcium(spikes: np.ndarray, fs: float, tau: float, rng: np.random.Generator, noise: float):
    """Spikes → exponentially decaying indicator (ΔF/F) with additive noise."""
    decay = np.exp(-1.0 / (tau * fs))
    trace = np.zeros_like(spikes, dtype=np.float64)
    level = np.zeros(spikes.shape[1])
    for t in range(spikes.shape[0]):
        level = level * decay + spikes[t]
        trace[t] = level
    trace += noise * rng.standard_normal(trace.shape)
    return trace.astype(np.float32)


def hippocampus_session(
    n_neurons: int = 120,
    n_samples: int = 10_000,
    fs: float = 40.0,
    seed: int = 0,
    peak_rate: tuple[float, float] = (8.0, 25.0),
    tau: float = 0.25,
    noise: float = 0.15,
) -> HippocampusSession:
    """Simulate a place-cell session: ``n_samples`` at ``fs`` Hz, ``n_neurons`` cells.

    Each cell has a Gaussian place field (centre uniform on the track, width 5–15 cm) that fires
    when the rat runs right, left, or both ways; spikes are Poisson, traces are calcium-like.
    """
    if n_neurons < 1 or n_samples < 10:
        raise ValueError("hippocampus_session needs n_neurons ≥ 1 and n_samples ≥ 10.")
    rng = np.random.default_rng(seed)
    position, direction = _trajectory(n_samples, fs, rng)
    centers = rng.uniform(0.0, TRACK_LENGTH, n_neurons)
    widths = rng.uniform(0.05, 0.15, n_neurons)
    prefers = rng.choice(3, size=n_neurons, p=[0.4, 0.4, 0.2])
    peaks = rng.uniform(*peak_rate, n_neurons)
    tuning = np.exp(-0.5 * ((position[:, None] - centers[None]) / widths[None]) ** 2)
    gate = (prefers[None] == 2) | (prefers[None] == direction[:, None])
    rate = 0.2 + peaks[None] * tuning * gate  # Hz
    spikes = rng.poisson(rate / fs)
    neural = _calcium(spikes, fs, tau, rng, noise)
    return HippocampusSession(neural, spikes, position, direction, fs, centers, widths, prefers)
