"""A two-photon calcium-imaging movie with known ground truth.

Neurons are soma-shaped footprints (soft ellipses, most with a dim nucleus) on a textured
background contaminated by neuropil. Each neuron fires Poisson spikes (with occasional bursts);
spikes pass through indicator kinetics (fast rise, exponential decay) to give its fluorescence.
The expected photon count per pixel is then bleached slowly, moved by a small rigid random walk
and sampled with shot noise (Poisson, in its normal approximation: counts are tens or more).

``traces`` are each neuron's noise-free somatic fluorescence before bleaching and motion: what a
perfect ROI extraction with perfect neuropil subtraction would recover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass
class CalciumMovie:
    """A simulated recording and its ground truth."""

    movie: np.ndarray  # (T, Y, X) float32 photon counts
    footprints: np.ndarray  # (n, Y, X) float32, peak 1, in the unmoved frame
    centroids: np.ndarray  # (n, 2) float (y, x) of each footprint
    traces: np.ndarray  # (T, n) float32 true somatic fluorescence
    spikes: np.ndarray  # (T, n) spike counts per frame
    shifts: np.ndarray  # (T, 2) float (dy, dx) rigid shift applied to frame t
    fs: float  # frame rate, Hz
    tau: float  # indicator decay time constant, s
    diameter: float  # typical soma diameter, px

    @property
    def n_neurons(self) -> int:
        return int(self.footprints.shape[0])


def _place_centroids(
    rng: np.random.Generator, n: int, shape: tuple[int, int], margin: float, min_dist: float
) -> np.ndarray:
    """Random centroids at least ``min_dist`` apart, ``margin`` from the border."""
    points: list[np.ndarray] = []
    dist = min_dist
    while len(points) < n:
        for _ in range(200 * n):
            p = rng.uniform([margin, margin], [shape[0] - margin, shape[1] - margin])
            if all(np.hypot(*(p - q)) >= dist for q in points):
                points.append(p)
                if len(points) == n:
                    break
        else:  # too crowded for this spacing: relax it and keep going
            dist *= 0.9
    return np.asarray(points)


def _soma(
    rng: np.random.Generator, centre: np.ndarray, radius: float, shape: tuple[int, int]
) -> np.ndarray:
    """One soft elliptical soma, peak 1, possibly with a darker nucleus."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    ry, rx = radius * rng.uniform(0.8, 1.2, size=2)
    dy, dx = yy - centre[0], xx - centre[1]
    u = dy * np.cos(angle) + dx * np.sin(angle)
    v = -dy * np.sin(angle) + dx * np.cos(angle)
    r = np.sqrt((u / ry) ** 2 + (v / rx) ** 2)
    fp = 1.0 / (1.0 + np.exp((r - 1.0) * 8.0))  # soft edge
    if rng.random() < 0.7:  # nucleus: dimmer centre
        fp *= 1.0 - 0.5 * np.exp(-((r / 0.45) ** 2))
    fp[fp < 0.02] = 0.0
    return (fp / fp.max()).astype(np.float32)


def _indicator_kernel(fs: float, tau: float, rise: float = 0.05) -> np.ndarray:
    t = np.arange(int(np.ceil(8 * tau * fs)) + 1) / fs
    k = np.exp(-t / tau) - np.exp(-t / rise)
    return k / k.max()


def _spike_trains(rng: np.random.Generator, n_frames: int, n: int, fs: float) -> np.ndarray:
    rates = rng.uniform(0.3, 0.8, size=n)  # Hz
    spikes = rng.poisson(rates / fs, size=(n_frames, n)).astype(np.float32)
    bursts = rng.random((n_frames, n)) < 0.02 / fs
    spikes[bursts] += rng.integers(2, 6, size=int(bursts.sum()))
    return spikes


def _smooth_random(rng: np.random.Generator, shape: tuple[int, ...], sigma) -> np.ndarray:
    x = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return (x - x.mean()) / (x.std() + 1e-12)


def _motion(rng: np.random.Generator, n_frames: int, amplitude: float) -> np.ndarray:
    """A smooth random walk with occasional jumps, within ``±amplitude`` px."""
    walk = np.cumsum(rng.standard_normal((n_frames, 2)) * 0.3, axis=0)
    walk = ndimage.gaussian_filter1d(walk, 2.0, axis=0)
    walk -= walk.mean(axis=0)
    walk = amplitude * np.tanh(walk / max(amplitude, 1e-6))
    jitter = rng.standard_normal((n_frames, 2)) * 0.3
    return (walk + jitter).clip(-amplitude, amplitude)


def _shifted_crop(
    frame: np.ndarray, shift: np.ndarray, pad: int, shape: tuple[int, int]
) -> np.ndarray:
    """The (Y, X) window of a padded frame moved by ``shift`` (bilinear, like
    ``ndimage.shift(order=1)`` then cropping the padding)."""
    (ay, fy), (ax, fx) = [(int(np.floor(s)), s - np.floor(s)) for s in shift]
    y0, x0 = pad - ay, pad - ax
    h, w = shape

    def win(dy: int, dx: int) -> np.ndarray:
        return frame[y0 - dy : y0 - dy + h, x0 - dx : x0 - dx + w]

    return (
        (1 - fy) * (1 - fx) * win(0, 0)
        + (1 - fy) * fx * win(0, 1)
        + fy * (1 - fx) * win(1, 0)
        + fy * fx * win(1, 1)
    )


def simulate_calcium_movie(
    n_frames: int = 1000,
    shape: tuple[int, int] = (128, 128),
    n_neurons: int = 30,
    fs: float = 30.0,
    motion: bool = True,
    seed: int = 0,
    spikes: np.ndarray | None = None,
    tau: float = 1.0,
    diameter: float | None = None,
) -> CalciumMovie:
    """Simulate a two-photon calcium-imaging movie with ground truth.

    Returns a :class:`CalciumMovie` with ``.movie`` (T, Y, X) float32, ``.footprints``
    (n, Y, X), ``.centroids`` (n, 2) (y, x), ``.traces`` (T, n) true fluorescence, ``.spikes``
    (T, n), ``.shifts`` (T, 2) and ``.fs``. ``spikes`` (T, n) spike counts per frame, when
    given, are imaged instead of random spike trains (``n_frames`` and ``n_neurons`` then come
    from its shape): a simulated population seen through a microscope. ``diameter``: soma
    size in px (default a twelfth of the frame's side).
    """
    if spikes is not None:
        spikes = np.asarray(spikes, np.float32)
        if spikes.ndim != 2 or not np.isfinite(spikes).all() or (spikes < 0).any():
            raise ValueError("simulate_calcium_movie: spikes must be a (frames, neurons) array "
                             "of non-negative counts")
        n_frames, n_neurons = spikes.shape
    if n_frames < 1 or n_neurons < 0 or fs <= 0:
        raise ValueError(
            f"simulate_calcium_movie: need n_frames ≥ 1, n_neurons ≥ 0 and fs > 0; got "
            f"n_frames={n_frames}, n_neurons={n_neurons}, fs={fs}"
        )
    shape = (int(shape[0]), int(shape[1]))
    if min(shape) < 16:
        raise ValueError(f"simulate_calcium_movie: frames must be ≥ 16 px a side, got {shape}")
    rng = np.random.default_rng(seed)
    if diameter is None:
        diameter = max(6.0, round(min(shape) / 12))
    elif not 4 <= diameter <= min(shape) / 3:
        raise ValueError(f"simulate_calcium_movie: diameter {diameter} px must be between 4 "
                         f"and a third of the frame ({min(shape) / 3:g} px)")
    amplitude = 3.0 if motion else 0.0
    pad = int(np.ceil(amplitude)) + 2
    big = (shape[0] + 2 * pad, shape[1] + 2 * pad)

    # neurons, in the padded canvas
    radius = diameter / 2
    margin = radius + amplitude + 4  # registration crops the border by the motion range
    centres = _place_centroids(rng, n_neurons, shape, margin, 1.6 * diameter) + pad
    footprints_big = np.stack([_soma(rng, c, radius, big) for c in centres]) if n_neurons else (
        np.zeros((0, *big), np.float32)
    )
    if spikes is None:
        spikes = _spike_trains(rng, n_frames, n_neurons, fs)
    kernel = _indicator_kernel(fs, tau)
    calcium = np.stack(
        [np.convolve(spikes[:, i], kernel)[:n_frames] for i in range(n_neurons)], axis=1
    ).reshape(n_frames, n_neurons)
    baseline = rng.uniform(60.0, 120.0, size=n_neurons)  # soma brightness above background
    dff_per_spike = rng.uniform(0.6, 1.2, size=n_neurons)
    traces = (baseline * (1.0 + dff_per_spike * calcium)).astype(np.float32)

    # background: static texture plus neuropil, a few smooth maps with slow shared activity
    texture = 80.0 + 25.0 * _smooth_random(rng, big, 3.0)
    texture = np.clip(texture, 20.0, None)
    n_np = 4
    np_maps = np.clip(1.0 + 0.5 * _smooth_random(rng, (n_np, *big), (0, 12.0, 12.0)), 0.1, None)
    np_spikes = _spike_trains(rng, n_frames, n_np, fs) * 0.3 + rng.poisson(
        1.0 / fs, size=(n_frames, n_np)
    )
    np_act = np.stack(
        [np.convolve(np_spikes[:, i], kernel)[:n_frames] for i in range(n_np)], axis=1
    )
    np_act = 15.0 * np_act / max(np_act.max(), 1e-6)

    bleach = np.exp(-np.arange(n_frames) / (n_frames / 0.15))  # ~14% loss over the movie
    shifts = _motion(rng, n_frames, amplitude) if motion else np.zeros((n_frames, 2))

    fp_flat = footprints_big.reshape(n_neurons, -1)
    np_flat = np_maps.reshape(n_np, -1)
    tex_flat = texture.ravel()
    movie = np.empty((n_frames, *shape), np.float32)
    chunk = 256
    for start in range(0, n_frames, chunk):
        stop = min(start + chunk, n_frames)
        expected = tex_flat + np_act[start:stop] @ np_flat + traces[start:stop] @ fp_flat
        expected *= bleach[start:stop, None]
        frames = expected.reshape(stop - start, *big)
        for j, t in enumerate(range(start, stop)):
            movie[t] = _shifted_crop(frames[j], shifts[t], pad, shape)
    # shot noise: Poisson, drawn as its normal approximation (counts here are ≫ 10 photons)
    for start in range(0, n_frames, chunk):
        block = np.clip(movie[start : start + chunk], 0, None)
        noise = rng.standard_normal(block.shape, dtype=np.float32)
        movie[start : start + chunk] = np.clip(np.rint(block + np.sqrt(block) * noise), 0, None)

    footprints = np.ascontiguousarray(footprints_big[:, pad : pad + shape[0], pad : pad + shape[1]])
    if n_neurons:
        yy, xx = np.mgrid[: shape[0], : shape[1]]
        mass = footprints.sum(axis=(1, 2))
        centroids = np.stack(
            [(footprints * yy).sum(axis=(1, 2)) / mass, (footprints * xx).sum(axis=(1, 2)) / mass],
            axis=1,
        )
    else:
        centroids = np.zeros((0, 2))
    return CalciumMovie(
        movie=movie,
        footprints=footprints,
        centroids=centroids,
        traces=traces,
        spikes=spikes,
        shifts=shifts.astype(np.float32),
        fs=float(fs),
        tau=tau,
        diameter=float(diameter),
    )


def match_centroids(
    truth: np.ndarray, found: np.ndarray, max_dist: float, max_shift: float = 16.0
) -> tuple[np.ndarray, np.ndarray]:
    """Pair ground-truth centroids with found ones, one to one, within ``max_dist`` px.

    Registration aligns frames to a reference that may sit a few pixels off the unmoved frame,
    so a common offset (up to ``max_shift`` px) is removed first: the displacement between a
    true and a found centroid that brings the most true centroids within ``max_dist`` of a
    found one, refined by the median of those pairs. Returns index arrays
    ``(i_truth, i_found)`` of the matched pairs.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    truth, found = np.asarray(truth, float), np.asarray(found, float)
    if len(truth) == 0 or len(found) == 0:
        return np.zeros(0, int), np.zeros(0, int)

    def hits(offset):
        return (cdist(truth + offset, found).min(axis=1) <= max_dist).sum()

    votes = (found[None, :, :] - truth[:, None, :]).reshape(-1, 2)
    votes = np.vstack([np.zeros((1, 2)), votes[np.hypot(*votes.T) <= max_shift]])
    offset = max(votes, key=hits)
    dist = cdist(truth + offset, found)
    close = dist.min(axis=1) <= max_dist
    if close.any():
        offset = offset + np.median(found[dist.argmin(axis=1)[close]] - (truth + offset)[close],
                                    axis=0)
        dist = cdist(truth + offset, found)
    rows, cols = linear_sum_assignment(np.where(dist <= max_dist, dist, 1e6))
    keep = dist[rows, cols] <= max_dist
    return rows[keep], cols[keep]
