"""The sample session as lab files: a V1 recording in the formats labs bring.

The repository ships them in ``sample_data/`` (regenerate with
``python sample_data/make_sample_data.py``); an installed package without that folder
generates the same files once into a cache folder. Every file is written whole or not at all,
and a folder appears only when all its files are in place.

Files (one session: a mouse watching a 10 s movie six times, imaged at 10 Hz):

- ``v1_stack.tif``: the raw two-photon stack (T, Y, X) uint16, ImageJ hyperstack whose
  ``finterval`` gives the frame rate;
- ``stimulus_movie.tif``: the movie shown (F, H, W) uint8, at the same rate;
- ``frame_labels.csv``: ``frame_id``, ``repeat``, one row per imaging frame;
- ``behaviour.csv``: ``time_s``, ``running_speed`` sampled at 50 Hz (its own clock);
- ``v1_session.nwb``: the same session in NWB: ROIs + traces, behaviour, the stimulus
  movie and its presentation table; its TwoPhotonSeries refers to ``v1_stack.tif``
  (``external_file``, as labs keep raw TIFFs) rather than holding the frames twice;
- ``ground_truth.npz``: what only a simulation knows (footprints, centroids, true traces,
  spikes), to score ROI detection and decoding;
- ``MANIFEST.json``: the generation settings and each file's size and sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from napari_cebra.files import atomic_path, atomic_write, write_json

SAMPLE_VERSION = 1
# One V1 session, small enough to ship (a few MB) and for suite2p to finish in seconds.
SESSION = dict(n_repeats=6, movie_seconds=10.0, fs=10.0, n_neurons=50, shape=(96, 96), seed=0)
BEHAVIOUR_FS = 50.0
ENV_FOLDER = "NAPARI_CEBRA_SAMPLE_DATA"
NAMES = dict(stack="v1_stack.tif", movie="stimulus_movie.tif",
             frame_labels="frame_labels.csv", behaviour="behaviour.csv",
             nwb="v1_session.nwb", truth="ground_truth.npz")
MANIFEST = "MANIFEST.json"


@dataclass(frozen=True)
class SampleFiles:
    """Paths of the sample session's files."""

    folder: Path
    stack: Path
    movie: Path
    frame_labels: Path
    behaviour: Path
    nwb: Path
    truth: Path
    fs: float


def repository_folder() -> Path:
    """``sample_data/`` at the top of a source checkout (may not exist in an installed wheel)."""
    return Path(__file__).resolve().parents[2] / "sample_data"


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/napari-cebra`` (``~/.cache/napari-cebra`` when it is not set)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "napari-cebra"


def cache_folder() -> Path:
    return cache_root() / f"sample_data-v{SAMPLE_VERSION}"


def _complete(folder: Path, version: int = SAMPLE_VERSION,
              names: tuple[str, ...] = tuple(NAMES.values())) -> bool:
    """The folder holds a manifest of this version and every file it lists, at its size."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if manifest.get("version") != version:
        return False
    files = manifest.get("files", {})
    return all(name in files for name in names) and all(
        (folder / name).is_file() and (folder / name).stat().st_size == entry.get("size")
        for name, entry in files.items())


def sample_folder(generate: bool = True) -> Path:
    """The folder of the sample files: ``$NAPARI_CEBRA_SAMPLE_DATA``, the repository's
    ``sample_data/``, or a cache folder (generated there on first use when ``generate``)."""
    if os.environ.get(ENV_FOLDER):
        folder = Path(os.environ[ENV_FOLDER])
        if not _complete(folder):
            raise FileNotFoundError(
                f"{ENV_FOLDER}={folder} does not hold the sample files (or they are damaged); "
                f"run `python sample_data/make_sample_data.py {folder}` or unset {ENV_FOLDER}.")
        return folder
    for folder in (repository_folder(), cache_folder()):
        if _complete(folder):
            return folder
    if not generate:
        raise FileNotFoundError("the sample files are not there yet; call sample_folder().")
    return _generate_into_cache(cache_folder())


def sample_files(generate: bool = True) -> SampleFiles:
    folder = sample_folder(generate)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return SampleFiles(folder=folder, fs=float(manifest["session"]["fs"]),
                       **{key: folder / name for key, name in NAMES.items()})


def _generate_into_cache(target: Path, make=None, complete=_complete) -> Path:
    """Generate (``make(folder)``, default :func:`generate`) in a fresh sibling folder, then
    rename it into place (a racing process that got there first wins; its files are the
    same)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        (make or generate)(staging)
        if target.exists() and not complete(target):
            shutil.rmtree(target)  # an older or damaged cache of ours, never a user's folder
        try:
            os.rename(staging, target)
        except OSError:
            if not complete(target):
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_tiff(path: Path, data: np.ndarray, fs: float, overwrite: bool) -> None:
    import tifffile

    with atomic_path(path, overwrite=overwrite, what="sample TIFF") as tmp:
        tifffile.imwrite(tmp, data, imagej=True, compression="zlib",
                         metadata={"axes": "TYX", "finterval": 1.0 / fs, "fps": fs})


def _write_csv(path: Path, columns: dict[str, np.ndarray], formats: dict[str, str],
               overwrite: bool) -> None:
    names = list(columns)
    rows = zip(*(columns[n] for n in names), strict=True)
    with atomic_write(path, "w", overwrite=overwrite, what="sample CSV") as fh:
        fh.write(",".join(names) + "\n")
        for row in rows:
            fh.write(",".join(format(v, formats[n]) for n, v in zip(names, row, strict=True))
                     + "\n")


def behaviour_at(session, rate: float = BEHAVIOUR_FS) -> tuple[np.ndarray, np.ndarray]:
    """The running speed as a behaviour rig logs it: its own clock at ``rate`` Hz."""
    n = len(session.running_speed)
    frame_times = np.arange(n) / session.fs
    times = np.arange(0.0, frame_times[-1] + 1.0 / session.fs, 1.0 / rate)
    return times, np.interp(times, frame_times, session.running_speed).astype(np.float32)


def generate(folder: str | os.PathLike, overwrite: bool = False, *,
             session: dict | None = None, nwb: bool = True, version: int = SAMPLE_VERSION,
             manifest_extra: dict | None = None, say=None) -> Path:
    """Write the sample files into ``folder`` (created if needed); returns it.

    Existing files are kept unless ``overwrite`` (then each is replaced whole). ``session``:
    the simulation's settings (default :data:`SESSION`); ``nwb=False`` skips the NWB copy;
    ``manifest_extra`` is added to the manifest; ``say(text)`` hears each step.
    """
    from napari_cebra.synthetic.v1_imaging import v1_imaging_session

    say = say or (lambda text: None)
    session = dict(SESSION if session is None else session)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {key: folder / name for key, name in NAMES.items() if nwb or key != "nwb"}
    for path in files.values():
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to "
                                  "regenerate the sample files.")
    say(f"simulating {session['n_neurons']} V1 neurons watching a "
        f"{session['movie_seconds']:g} s movie {session['n_repeats']} times")
    s = v1_imaging_session(**session)
    say(f"writing the stack ({s.stack.shape[0]} frames of {s.stack.shape[1]} × "
        f"{s.stack.shape[2]} px)")
    stack = np.clip(np.round(s.stack), 0, np.iinfo(np.uint16).max).astype(np.uint16)
    movie = np.round(np.clip(s.movie, 0, 1) * 255).astype(np.uint8)
    for path in files.values():
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to "
                                  "regenerate the sample files.")
    _write_tiff(files["stack"], stack, s.fs, overwrite)
    _write_tiff(files["movie"], movie, s.fs, overwrite)
    _write_csv(files["frame_labels"], {"frame_id": s.frame_id, "repeat": s.repeat},
               {"frame_id": "d", "repeat": "d"}, overwrite)
    times, speed = behaviour_at(s)
    _write_csv(files["behaviour"], {"time_s": times, "running_speed": speed},
               {"time_s": ".3f", "running_speed": ".4f"}, overwrite)
    with atomic_path(files["truth"], overwrite=overwrite, what="ground truth") as tmp, \
            open(tmp, "wb") as fh:
        np.savez_compressed(
            fh, footprints=s.footprints.astype(np.float32), centroids=s.centroids,
            true_traces=s.true_traces.astype(np.float32), spikes=s.spikes.astype(np.int16),
            tau=s.tau, diameter=s.diameter, fs=s.fs)
    if nwb:
        _write_nwb(files["nwb"], s, movie, overwrite)
    manifest = dict(
        version=version, generator="napari_cebra.sample_files.generate",
        session={k: list(v) if isinstance(v, tuple) else v for k, v in session.items()},
        behaviour_fs=BEHAVIOUR_FS, tau=s.tau, diameter=s.diameter, **(manifest_extra or {}),
        files={p.name: {"size": p.stat().st_size, "sha256": _sha256(p)}
               for p in files.values()})
    write_json(folder / MANIFEST, manifest, overwrite=True, what="sample manifest")
    return folder


def _write_nwb(path: Path, s, movie: np.ndarray, overwrite: bool) -> None:
    from napari_cebra.imaging.nwb_write import write_session_nwb

    masks = _footprint_masks(s.footprints)
    write_session_nwb(
        path, stack_file=NAMES["stack"], stimulus_movie=movie, fs=s.fs, masks=masks,
        traces=s.true_traces,
        labels={"frame_id": s.frame_id, "repeat": s.repeat, "running_speed": s.running_speed},
        label_kinds={"frame_id": "discrete", "repeat": "discrete",
                     "running_speed": "continuous"},
        stimulus_frame_id=s.frame_id, overwrite=overwrite,
        identifier=f"napari-cebra-sample-v{SAMPLE_VERSION}",
        session_start_time=datetime(2026, 1, 1, tzinfo=timezone.utc),
        session_description="napari-cebra sample: synthetic V1 neurons, a mouse watching a "
        "10 s movie six times (ground truth in ground_truth.npz)")


def _footprint_masks(footprints: np.ndarray) -> np.ndarray:
    """Each neuron's soma as a weighted image mask (N, Y, X): its footprint above 20 % of
    its peak (what a segmentation would keep)."""
    fp = np.asarray(footprints, dtype=np.float32)
    peak = fp.reshape(len(fp), -1).max(axis=1)[:, None, None]
    return np.where(fp > 0.2 * peak, fp / np.maximum(peak, 1e-12), 0).astype(np.float32)


# -- the whole-path demo's session: larger than the shipped one, generated once into the cache
#: Bump when the demo session's files change: an older cache is made again (a new choice of
#: CEBRA settings only rewrites the manifest).
DEMO_VERSION = 1
#: Large enough for CEBRA's point to show (ten repeats of a 20 s movie, 150 neurons), small
#: enough for suite2p + training + decoding to stay within minutes on two CPU cores.
DEMO_SESSION = dict(n_repeats=10, movie_seconds=20.0, fs=10.0, n_neurons=150,
                    shape=(192, 192), diameter=10.0)
DEMO_NAMES = tuple(name for key, name in NAMES.items() if key != "nwb")
#: The demo's CEBRA settings, chosen on the validation repeat (the test repeat never seen) by
#: ``python benchmarks/bench_whole_path.py --choose`` (batch.sweep's grid and choice); see
#: docs/whole-path.md. Written into each demo session's manifest.
DEMO_CEBRA: dict = dict(labels="frame_id", output_dimension=32, max_iterations=500,
                        temperature=0.5)
#: How: animal (seed) 0, the protocol one repeat earlier (test repeat 9 dropped; training on
#: repeats 0–6, n_neighbors on 7, scored on 8), ±1 s accuracy; the best of the grid, ties to
#: the first. kNN on the same validation repeat: raw dF/F 72.0 %, PCA 62.5 %.
DEMO_CHOICE: dict = dict(
    chosen_on="animal 0, validation repeat 8 (test repeat 9 never seen)",
    by="napari_cebra.whole_path.demo_protocol.choose_settings (batch.sweep.expand_grid, "
       "best_settings); python benchmarks/bench_whole_path.py --demo --choose",
    grid=dict(labels=["frame_id", "time"], output_dimension=[8, 32],
              max_iterations=[500, 1000], temperature=[0.5, 1.0]),
    validation_accuracy={
        "labels=frame_id dim=8 iterations=500 temperature=0.5": 0.85,
        "labels=frame_id dim=8 iterations=500 temperature=1.0": 0.815,
        "labels=frame_id dim=8 iterations=1000 temperature=0.5": 0.85,
        "labels=frame_id dim=8 iterations=1000 temperature=1.0": 0.855,
        "labels=frame_id dim=32 iterations=500 temperature=0.5": 0.925,
        "labels=frame_id dim=32 iterations=500 temperature=1.0": 0.91,
        "labels=frame_id dim=32 iterations=1000 temperature=0.5": 0.87,
        "labels=frame_id dim=32 iterations=1000 temperature=1.0": 0.895,
        "labels=time dim=8 iterations=500 temperature=0.5": 0.41,
        "labels=time dim=8 iterations=500 temperature=1.0": 0.365,
        "labels=time dim=8 iterations=1000 temperature=0.5": 0.345,
        "labels=time dim=8 iterations=1000 temperature=1.0": 0.31,
        "labels=time dim=32 iterations=500 temperature=0.5": 0.485,
        "labels=time dim=32 iterations=500 temperature=1.0": 0.305,
        "labels=time dim=32 iterations=1000 temperature=0.5": 0.535,
        "labels=time dim=32 iterations=1000 temperature=1.0": 0.355},
    validation_knn=dict(raw=0.72, pca=0.625))


def _jsonable(session: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in session.items()}


def demo_folder(seed: int = 0, session: dict | None = None) -> Path:
    """The cache folder of the demo session for animal ``seed`` (another ``session``: a folder
    of its own)."""
    name = f"v1_demo-v{DEMO_VERSION}-seed{int(seed)}"
    if session is not None:
        name += "-" + hashlib.sha256(json.dumps(_jsonable(session), sort_keys=True)
                                     .encode()).hexdigest()[:10]
    return cache_root() / name


def _demo_complete(folder: Path, session: dict) -> bool:
    if not _complete(folder, DEMO_VERSION, DEMO_NAMES):
        return False
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return manifest.get("session") == _jsonable(session)


def demo_files(seed: int = 0, *, session: dict | None = None, say=None) -> SampleFiles:
    """The whole-path demo's session for animal ``seed``: generated into the cache on first use
    (offline, ``say(text)`` hears each step), reused afterwards; a partial, damaged or older
    cache is made again. ``session`` overrides :data:`DEMO_SESSION` (tests use a tiny one)."""
    full = {**DEMO_SESSION, **(session or {}), "seed": int(seed)}
    folder = demo_folder(seed, None if session is None else full)
    if not _demo_complete(folder, full):
        extra = dict(purpose="napari-cebra demo --sample v1-stack (whole path)",
                     cebra=DEMO_CEBRA, cebra_choice=DEMO_CHOICE)

        def make(staging: Path) -> Path:
            return generate(staging, session=full, nwb=False, version=DEMO_VERSION,
                            manifest_extra=extra, say=say)

        _generate_into_cache(folder, make, lambda f: _demo_complete(f, full))
    _record_choice(folder)
    return SampleFiles(folder=folder, fs=float(full["fs"]), nwb=folder / NAMES["nwb"],
                       **{key: folder / name for key, name in NAMES.items() if key != "nwb"})


def _record_choice(folder: Path) -> None:
    """Bring the manifest's CEBRA settings up to date (the files stay: they do not depend on
    them); the manifest is rewritten whole."""
    manifest = read_manifest(folder)
    if manifest.get("cebra") != DEMO_CEBRA or manifest.get("cebra_choice") != DEMO_CHOICE:
        write_json(folder / MANIFEST, {**manifest, "cebra": DEMO_CEBRA,
                                       "cebra_choice": DEMO_CHOICE},
                   overwrite=True, what="sample manifest")


def read_manifest(folder: str | os.PathLike) -> dict:
    """A sample folder's manifest (settings, chosen CEBRA settings, files)."""
    return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
