"""A simulated mouse V1 session: the same natural movie shown ``n_repeats`` times.

The movie pans and zooms across the natural photographs that ship with scikit-image (nothing is
downloaded). Each neuron has a localized Gabor receptive field (simple or complex cell, plus a
response to local change); its drive is turned into a firing rate, modulated by a per-repeat gain
and by the animal's running speed, and sampled as Poisson spikes per imaging frame. Calcium traces
are spikes convolved with an exponential indicator kernel plus noise. The ground truth is the movie
frame on screen (``frame_id``) and the repeat (``repeat``) at every imaging frame.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

_PHOTOS = ("astronaut", "coffee", "chelsea", "camera", "rocket", "immunohistochemistry", "coins")


@dataclass
class V1Session:
    """Arrays of one simulated session; ``T = n_repeats * n_movie_frames``."""

    movie: np.ndarray  # (F, H, W) float32 in [0, 1]
    neural: np.ndarray  # (T, N) float32, calcium dF/F
    spikes: np.ndarray  # (T, N) float32 spike counts per imaging frame
    frame_id: np.ndarray  # (T,) int64, movie frame on screen
    repeat: np.ndarray  # (T,) int64, 0-based repeat index
    running_speed: np.ndarray  # (T,) float32, cm/s
    fs: float
    receptive_fields: np.ndarray  # (N, h, w) float32, on the downsampled movie
    params: dict = field(default_factory=dict)

    @property
    def n_repeats(self) -> int:
        return int(self.repeat.max()) + 1

    @property
    def n_frames(self) -> int:
        return int(self.movie.shape[0])

    def stimulus(self) -> np.ndarray:
        """The movie frame on screen at every imaging frame, (T, H, W)."""
        return self.movie[self.frame_id]


@functools.cache
def _photo(name: str) -> np.ndarray:
    from skimage import data
    from skimage.color import rgb2gray

    img = getattr(data, name)()
    img = rgb2gray(img) if img.ndim == 3 else img.astype(np.float64) / 255.0
    lo, hi = np.percentile(img, (1, 99))
    return np.clip((img - lo) / max(hi - lo, 1e-6), 0.0, 1.0)


def _smooth(t: np.ndarray) -> np.ndarray:
    return t * t * (3.0 - 2.0 * t)  # ease in/out, like a camera move


def natural_movie(n_frames: int, shape: tuple[int, int] = (64, 64), fs: float = 30.0,
                  shot_seconds: tuple[float, float] = (2.5, 5.0),
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """Shots of slow pans and zooms across scikit-image's photographs, (F, H, W) float32."""
    from scipy.ndimage import map_coordinates

    rng = np.random.default_rng(0) if rng is None else rng
    photos = [_photo(n) for n in _PHOTOS]
    h, w = shape
    gy, gx = np.meshgrid(np.linspace(-0.5, 0.5, h), np.linspace(-0.5, 0.5, w), indexing="ij")
    movie = np.empty((n_frames, h, w), np.float32)
    start, shot = 0, 0
    order = rng.permutation(len(photos))
    while start < n_frames:
        length = min(int(rng.uniform(*shot_seconds) * fs), n_frames - start)
        img = photos[order[shot % len(photos)]]
        shot += 1
        side = min(img.shape)
        # window size (pixels of the photo) and centre at the start and end of the shot
        sizes = rng.uniform(0.3, 0.8, 2) * side
        centres = [
            [rng.uniform(s / 2, img.shape[0] - s / 2), rng.uniform(s / 2, img.shape[1] - s / 2)]
            for s in sizes
        ]
        u = _smooth(np.linspace(0.0, 1.0, max(length, 1)))[:, None, None]
        size = sizes[0] + (sizes[1] - sizes[0]) * u
        cy = centres[0][0] + (centres[1][0] - centres[0][0]) * u
        cx = centres[0][1] + (centres[1][1] - centres[0][1]) * u
        coords = np.stack([cy + size * gy, cx + size * gx])
        movie[start:start + length] = map_coordinates(img, coords, order=1, mode="reflect")
        start += length
    return movie


def _gabors(n: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Even and odd Gabor filters with random position, size, orientation and frequency."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    cy, cx = rng.uniform(0.15, 0.85, (2, n)) * size
    sigma = rng.uniform(0.06, 0.14, n) * size
    theta = rng.uniform(0, np.pi, n)
    freq = rng.uniform(0.6, 1.2, n) / (2 * sigma)  # about one cycle per receptive field
    phase = rng.uniform(0, 2 * np.pi, n)
    dy = yy[None] - cy[:, None, None]
    dx = xx[None] - cx[:, None, None]
    u = dx * np.cos(theta)[:, None, None] + dy * np.sin(theta)[:, None, None]
    env = np.exp(-(dx**2 + dy**2) / (2 * sigma[:, None, None] ** 2))
    arg = 2 * np.pi * freq[:, None, None] * u + phase[:, None, None]
    even, odd = env * np.cos(arg), env * np.sin(arg)
    even -= even.mean(axis=(1, 2), keepdims=True) * env / env.mean(axis=(1, 2), keepdims=True)
    odd -= odd.mean(axis=(1, 2), keepdims=True) * env / env.mean(axis=(1, 2), keepdims=True)
    return even.astype(np.float32), odd.astype(np.float32)


def _running_speed(n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Bouts of running (cm/s): a smoothed random process, rectified."""
    from scipy.ndimage import gaussian_filter1d

    walk = gaussian_filter1d(rng.standard_normal(n), sigma=fs)
    walk /= walk.std() + 1e-9
    return (np.maximum(walk + 0.2, 0.0) * 15.0).astype(np.float32)


def v1_session(n_repeats: int = 10, movie_seconds: float = 30.0, fs: float = 30.0,
               n_neurons: int = 200, movie_shape: tuple[int, int] = (64, 64),
               rf_size: int = 16, mean_rate: float = 2.0, repeat_gain_sd: float = 0.5,
               variability: float = 1.5, noise: float = 2.0, tau: float = 0.7,
               seed: int = 0, movie_seed: int = 0) -> V1Session:
    """Simulate a V1 imaging session of a mouse watching one movie ``n_repeats`` times.

    ``fs`` is both the movie and the imaging frame rate (one imaging frame per movie frame).
    ``mean_rate`` is the mean firing rate (Hz); ``repeat_gain_sd`` the log-normal spread of each
    neuron's gain from one repeat to the next; ``variability`` the log-normal spread of a slow
    (~0.5 s) gain fluctuation of every neuron (unreliable responses); ``noise`` the calcium
    noise in units of one spike's peak dF/F; ``tau`` the indicator decay (s). ``seed`` draws
    the animal (neurons, noise, running); ``movie_seed`` the movie, so animals with different
    seeds see the same movie.
    """
    from scipy.signal import lfilter

    if n_repeats < 1 or movie_seconds <= 0 or fs <= 0 or n_neurons < 1:
        raise ValueError("v1_session needs n_repeats >= 1, movie_seconds > 0, fs > 0, "
                         "n_neurons >= 1.")
    rng = np.random.default_rng(seed)
    n_frames = int(round(movie_seconds * fs))
    movie = natural_movie(n_frames, movie_shape, fs, rng=np.random.default_rng(movie_seed))

    # drive of each neuron by each movie frame, on a downsampled copy of the movie
    from skimage.transform import resize

    small = resize(movie, (n_frames, rf_size, rf_size), anti_aliasing=True).astype(np.float32)
    small -= small.mean()
    even, odd = _gabors(n_neurons, rf_size, rng)
    flat = small.reshape(n_frames, -1)
    r_even = flat @ even.reshape(n_neurons, -1).T
    r_odd = flat @ odd.reshape(n_neurons, -1).T
    complex_cell = rng.random(n_neurons) < 0.5
    drive = np.where(complex_cell, np.sqrt(r_even**2 + r_odd**2), np.maximum(r_even, 0))
    change = np.abs(np.diff(r_even, axis=0, prepend=r_even[:1]))  # transient response to motion
    drive = drive + rng.uniform(0, 2, n_neurons) * change
    drive = (drive - drive.mean(0)) / (drive.std(0) + 1e-9)
    # sparse, rectified-exponential tuning: most frames weak, a few strong
    rate = np.exp(rng.uniform(0.8, 1.6, n_neurons) * drive)
    rate *= mean_rate / rate.mean(0)

    n_time = n_repeats * n_frames
    frame_id = np.tile(np.arange(n_frames), n_repeats)
    repeat = np.repeat(np.arange(n_repeats), n_frames)
    speed = _running_speed(n_time, fs, rng)
    # trial-to-trial variability: per-repeat gains, running modulation, a few speed-tuned cells
    gains = rng.lognormal(-repeat_gain_sd**2 / 2, repeat_gain_sd, (n_repeats, n_neurons))
    run_mod = rng.uniform(0.0, 0.03, n_neurons)
    lam = rate[frame_id] * gains[repeat] * (1.0 + run_mod * speed[:, None])
    if variability > 0:
        from scipy.ndimage import gaussian_filter1d

        slow = gaussian_filter1d(rng.standard_normal(lam.shape), 0.5 * fs, axis=0)
        slow *= variability / (slow.std() + 1e-9)
        lam *= np.exp(slow - variability**2 / 2)
    speed_cells = rng.random(n_neurons) < 0.15
    lam[:, speed_cells] += 0.5 * speed[:, None]
    spikes = rng.poisson(lam / fs).astype(np.float32)

    decay = np.exp(-1.0 / (tau * fs))
    calcium = lfilter([1.0], [1.0, -decay], spikes, axis=0)
    amplitude = rng.uniform(0.5, 1.5, n_neurons)
    neural = calcium * amplitude + noise * rng.standard_normal(calcium.shape)
    params = dict(n_repeats=n_repeats, movie_seconds=movie_seconds, fs=fs, n_neurons=n_neurons,
                  movie_shape=tuple(movie_shape), rf_size=rf_size, mean_rate=mean_rate,
                  variability=variability, repeat_gain_sd=repeat_gain_sd, noise=noise,
                  tau=tau, seed=seed, movie_seed=movie_seed)
    return V1Session(
        movie=movie, neural=neural.astype(np.float32), spikes=spikes,
        frame_id=frame_id.astype(np.int64), repeat=repeat.astype(np.int64),
        running_speed=speed, fs=float(fs), receptive_fields=even, params=params,
    )
