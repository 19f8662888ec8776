"""A V1 imaging session rendered straight to a TIFF, a chunk of frames at a time.

:func:`write_v1_session` images the simulated V1 population (``synthetic.v1``) through the same
microscope model as :func:`~napari_cebra.synthetic.calcium_movie.simulate_calcium_movie`
(soma footprints, neuropil, indicator kinetics, bleaching, rigid motion, shot noise), but never
holds the movie: footprints are sparse and frames are rendered and written ``chunk`` at a time,
so a lab-size session (27,000 × 512 × 512 uint16, 14 GB) is made in a few hundred MB.
With ``nplanes`` > 1 the neurons are split over planes, each imaged with its own field of view,
and the planes are interleaved frame by frame in the file (what ScanImage writes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import calcium_movie as cm


@dataclass
class DiskSession:
    """What was written and the truth behind it."""

    path: Path
    n_frames: int  # per plane
    nplanes: int
    shape: tuple[int, int]
    fs: float  # per plane (volume rate)
    tau: float
    diameter: float
    movie: np.ndarray  # (F, H, W) stimulus, float32 in [0, 1]
    frame_id: np.ndarray  # (n_frames,)
    repeat: np.ndarray  # (n_frames,)
    centroids: list[np.ndarray]  # per plane, (n, 2) (y, x)
    neurons: list[np.ndarray]  # per plane, indices into the simulated population
    true_traces: list[np.ndarray]  # per plane, (n_frames, n) float32


def _place(rng: np.random.Generator, n: int, shape: tuple[int, int], margin: float,
           min_dist: float) -> np.ndarray:
    """``n`` random centroids on a jittered grid: ``min_dist`` apart where the frame has room,
    as evenly spread as it allows where it has not (a thousand cells in a second)."""
    lo, hi = np.array([margin, margin]), np.array(shape, float) - margin
    g = min(min_dist, float(np.sqrt(np.prod(hi - lo) / max(n, 1))))
    while True:
        ys, xs = np.arange(lo[0], hi[0], g), np.arange(lo[1], hi[1], g)
        if len(ys) * len(xs) >= n:
            break
        g *= 0.95
    grid = np.stack(np.meshgrid(ys, xs, indexing="ij"), -1).reshape(-1, 2)
    points = grid[rng.choice(len(grid), n, replace=False)]
    points += rng.uniform(-0.15 * g, 0.15 * g, size=points.shape)
    return np.clip(points, lo, hi)


class _PlaneRenderer:
    """One plane's microscope: sparse footprints and backgrounds, frames rendered on demand."""

    def __init__(self, spikes: np.ndarray, shape: tuple[int, int], fs: float, tau: float,
                 diameter: float, seed: int) -> None:
        from scipy import sparse

        rng = np.random.default_rng(seed)
        n_frames, n = spikes.shape
        self.shape, self.amplitude = shape, 3.0
        self.pad = int(np.ceil(self.amplitude)) + 2
        big = (shape[0] + 2 * self.pad, shape[1] + 2 * self.pad)
        self.big = big
        radius = diameter / 2
        margin = radius + self.amplitude + 4
        centres = _place(rng, n, shape, margin, 1.6 * diameter) + self.pad
        half = int(np.ceil(2 * radius)) + 2  # the soft edge ends within 1.8 radii
        rows, cols, vals = [], [], []
        self.centroids = np.zeros((n, 2))
        for i, c in enumerate(centres):
            origin = np.floor(c).astype(int) - half
            fp = cm._soma(rng, c - origin, radius, (2 * half + 1, 2 * half + 1))
            y, x = np.nonzero(fp)
            yy, xx = y + origin[0], x + origin[1]
            ok = (yy >= 0) & (yy < big[0]) & (xx >= 0) & (xx < big[1])
            w = fp[y[ok], x[ok]]
            rows.append(np.full(ok.sum(), i))
            cols.append(yy[ok] * big[1] + xx[ok])
            vals.append(w)
            self.centroids[i] = (np.average(yy[ok] - self.pad, weights=w),
                                 np.average(xx[ok] - self.pad, weights=w))
        self.footprints = sparse.csr_matrix(
            (np.concatenate(vals) if vals else np.zeros(0, np.float32),
             (np.concatenate(rows) if rows else np.zeros(0, int),
              np.concatenate(cols) if cols else np.zeros(0, int))),
            shape=(n, big[0] * big[1]), dtype=np.float32)
        kernel = cm._indicator_kernel(fs, tau)
        calcium = np.stack([np.convolve(spikes[:, i], kernel)[:n_frames] for i in range(n)],
                           axis=1).reshape(n_frames, n)
        baseline = rng.uniform(60.0, 120.0, size=n)
        dff_per_spike = rng.uniform(0.6, 1.2, size=n)
        self.traces = (baseline * (1.0 + dff_per_spike * calcium)).astype(np.float32)
        texture = np.clip(80.0 + 25.0 * cm._smooth_random(rng, big, 3.0), 20.0, None)
        self.texture = texture.ravel().astype(np.float32)
        n_np = 4
        maps = np.clip(1.0 + 0.5 * cm._smooth_random(rng, (n_np, *big), (0, 12.0, 12.0)), 0.1,
                       None)
        self.np_maps = maps.reshape(n_np, -1).astype(np.float32)
        np_spikes = cm._spike_trains(rng, n_frames, n_np, fs) * 0.3 + rng.poisson(
            1.0 / fs, size=(n_frames, n_np))
        act = np.stack([np.convolve(np_spikes[:, i], kernel)[:n_frames] for i in range(n_np)],
                       axis=1)
        self.np_act = (15.0 * act / max(act.max(), 1e-6)).astype(np.float32)
        self.bleach = np.exp(-np.arange(n_frames) / (n_frames / 0.15))
        self.shifts = cm._motion(rng, n_frames, self.amplitude)
        self.noise = np.random.default_rng(seed + 1)

    def frames(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start:stop`` as uint16 photon counts."""
        expected = (self.texture + self.np_act[start:stop] @ self.np_maps
                    + (self.footprints.T @ self.traces[start:stop].T).T)
        expected *= self.bleach[start:stop, None].astype(np.float32)
        big = np.asarray(expected, np.float32).reshape(stop - start, *self.big)
        out = np.empty((stop - start, *self.shape), np.float32)
        for j in range(stop - start):
            out[j] = cm._shifted_crop(big[j], self.shifts[start + j], self.pad, self.shape)
        np.clip(out, 0, None, out=out)
        out += np.sqrt(out) * self.noise.standard_normal(out.shape, dtype=np.float32)
        return np.clip(np.rint(out), 0, 65535).astype(np.uint16)


def write_v1_session(path: str | Path, *, n_frames: int, size: int = 512,
                     n_neurons: int = 1000, fs: float = 30.0, diameter: float = 12.0,
                     nplanes: int = 1, seed: int = 0, chunk: int = 100,
                     on_progress=None) -> DiskSession:
    """Render ``n_frames`` (per plane) of ``size`` × ``size`` px with ``n_neurons`` neurons
    (split over ``nplanes``) watching a movie, into a (Big)TIFF at ``path``, chunk by chunk.

    The movie is shown ``n_frames // 900`` times (4–30 repeats, 30 s each at full size).
    ``on_progress(frames_done, n_frames)`` is called after each chunk.
    """
    import tifffile

    from .v1 import v1_session

    if n_frames < 50 or size < 32 or n_neurons < nplanes or nplanes < 1:
        raise ValueError("write_v1_session: need n_frames ≥ 50, size ≥ 32 and at least one "
                         f"neuron per plane; got {n_frames}, {size}, {n_neurons}, {nplanes}")
    n_repeats = int(np.clip(n_frames // 900, 4, 30))
    movie_seconds = n_frames / (fs * n_repeats)
    pop = v1_session(n_repeats=n_repeats, movie_seconds=movie_seconds, fs=fs,
                     n_neurons=n_neurons, seed=seed)
    t = len(pop.frame_id)  # rounding may lose a frame or two
    tau = float(pop.params.get("tau", 0.7))
    groups = np.array_split(np.arange(n_neurons), nplanes)
    planes = [_PlaneRenderer(pop.spikes[:, g], (size, size), fs, tau, diameter,
                             seed + 1000 + 17 * p) for p, g in enumerate(groups)]

    def pages() -> Iterator[np.ndarray]:
        for start in range(0, t, chunk):
            stop = min(start + chunk, t)
            blocks = [plane.frames(start, stop) for plane in planes]
            for j in range(stop - start):
                for block in blocks:
                    yield block[j]
            if on_progress is not None:
                on_progress(stop, t)

    path = Path(path)
    nbytes = t * nplanes * size * size * 2
    tifffile.imwrite(path, pages(), shape=(t * nplanes, size, size), dtype=np.uint16,
                     bigtiff=nbytes > 2**31, photometric="minisblack")
    return DiskSession(
        path=path, n_frames=t, nplanes=nplanes, shape=(size, size), fs=float(fs), tau=tau,
        diameter=float(diameter), movie=pop.movie, frame_id=pop.frame_id, repeat=pop.repeat,
        centroids=[p.centroids for p in planes], neurons=list(groups),
        true_traces=[p.traces for p in planes])


def write_two_plane_sample(folder: str | Path, *, n_frames: int = 400, size: int = 80,
                           n_neurons: int = 24, seed: int = 3) -> DiskSession:
    """The whole-path sample's two-plane variant, generated (a few MB, seconds):
    ``v1_two_planes.tif`` (planes interleaved frame by frame, 15 volumes/s per plane as at
    30 Hz), ``frame_labels.csv`` (``frame_id``, ``repeat`` per volume), ``stimulus_movie.npy``
    and ``ground_truth.npz`` (per plane: centroids and true traces)."""
    from napari_cebra.files import atomic_path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "v1_two_planes.tif") as tmp:
        truth = write_v1_session(Path(tmp), n_frames=n_frames, size=size, n_neurons=n_neurons,
                                 fs=15.0, diameter=10.0, nplanes=2, seed=seed)
    truth.path = folder / "v1_two_planes.tif"
    rows = "".join(f"{f},{r}\n" for f, r in zip(truth.frame_id, truth.repeat, strict=True))
    with atomic_path(folder / "frame_labels.csv") as tmp:
        Path(tmp).write_text("frame_id,repeat\n" + rows)
    with atomic_path(folder / "stimulus_movie.npy") as tmp, open(tmp, "wb") as fh:
        np.save(fh, truth.movie)
    with atomic_path(folder / "ground_truth.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **{f"centroids_plane{p}": c for p, c in enumerate(truth.centroids)},
                 **{f"true_traces_plane{p}": t for p, t in enumerate(truth.true_traces)})
    return truth
