"""npe2 readers: suite2p output folders, T × N trace matrices (.npy/.csv), lazy stacks, NWB.

Each ``get_*_reader(path)`` returns a function that makes layer data, or ``None`` when the path
is not its kind (napari then tries other readers).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from napari_cebra.imaging.planes import TILE_GAP
from napari_cebra.imaging.stacks import TIFF_SUFFIXES, frame_rate_of, open_stack
from napari_cebra.imaging.suite2p_read import is_suite2p_folder, plane_dirs

from .layers import LayerData, record_metadata, roi_colormap, session_layers, stack_layer

Reader = Callable[[str | list[str]], list[LayerData]]


def _single(path) -> Path | None:
    if isinstance(path, (list, tuple)):
        return Path(path[0]) if len(path) == 1 else None
    return Path(path)


def _folder_name(folder: Path) -> str:
    parts = [p for p in folder.resolve().parts if p != "suite2p" and not p.startswith("plane")]
    return parts[-1] if parts else "suite2p"


# ---------------------------------------------------------------- suite2p folders


def get_suite2p_reader(path: str | list[str]) -> Reader | None:
    p = _single(path)
    if p is None or not p.is_dir() or not is_suite2p_folder(p):
        return None
    return read_suite2p_folder


def read_suite2p_folder(path: str | list[str]) -> list[LayerData]:
    """Per plane: mean image, registered movie (if kept) and the ROI layer with the traces."""
    from napari_cebra.imaging.session import load_session

    folder = _single(path)
    planes = plane_dirs(folder) or [folder]  # no plane: load_session says what is missing
    name = _folder_name(folder)
    if len(planes) > 1:
        return plane_set_layers(folder, name)
    return session_layers(load_session(planes[0]), name)


def plane_set_layers(folder: Path, name: str) -> list[LayerData]:
    """Several planes side by side: each plane's mean image, registered movie and ROI layer
    on its own tile (translated), the plane in each ROI layer's features and traces record,
    and one traces layer of every plane's ROIs together (to train on all planes at once)."""
    from napari_cebra.imaging.planes import combine_planes
    from napari_cebra.imaging.session import load_session

    from .layers import traces_layer

    sessions = [load_session(plane) for plane in plane_dirs(folder)]
    try:
        pset = combine_planes(sessions)
    except ValueError:  # planes of different lengths: each on its own, nothing combined
        pset = None
    x, layers = 0.0, []
    for p, session in enumerate(sessions):
        plane_layers = session_layers(session, f"{name} plane{p}",
                                      geometry={"translate": (0.0, x)})
        x += session.suite2p.shape[1] + TILE_GAP
        _, kwargs, _ = plane_layers[-1]
        kwargs["features"]["plane"] = np.full(session.suite2p.n_rois, p)
        kwargs["metadata"]["napari_cebra"].update(
            plane=np.full(session.suite2p.n_rois, p), nplanes=len(sessions))
        layers += plane_layers
    if pset is not None:
        layers.append(traces_layer(
            pset.traces, name=f"{name} all planes traces", fs=pset.fs,
            trace_sets=pset.trace_sets, plane=pset.plane, nplanes=pset.nplanes,
            suite2p_dir=str(Path(sessions[0].suite2p.plane_dir).parent)))
    return layers


# ---------------------------------------------------------------- trace matrices


def _load_matrix(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        arr = np.load(path, allow_pickle=False)
    else:  # UTF-8 with or without Excel's BOM; another encoding is named
        from napari_cebra.imaging.text_tables import read_matrix_csv as read_csv

        arr = read_csv(path)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(
            f"{path}: traces must be a non-empty 2-D matrix (frames × neurons), got shape "
            f"{arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{path}: traces have type {arr.dtype}; save them as numbers")
    if not np.isfinite(arr).all():
        raise ValueError(f"{path}: traces contain NaN or inf values; fill or drop them first")
    return arr.astype(np.float32)


def get_traces_reader(path: str | list[str]) -> Reader | None:
    p = _single(path)
    if p is None or not p.is_file():
        return None
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return read_traces
    if suffix == ".npy":
        try:
            shape = np.load(p, mmap_mode="r").shape
        except (ValueError, OSError):
            return None
        return read_traces if len(shape) == 2 else None
    return None


def read_traces(path: str | list[str]) -> list[LayerData]:
    """A T × N matrix as a traces layer (one pixel per neuron, a frame per time point)."""
    from .layers import traces_layer

    p = _single(path)
    traces = _load_matrix(p)
    return [traces_layer(traces, name=f"{p.stem} traces", source_file=str(p))]


# ---------------------------------------------------------------- stacks


def get_stack_reader(path: str | list[str]) -> Reader | None:
    paths = [Path(p) for p in (path if isinstance(path, (list, tuple)) else [path])]
    if len(paths) > 1:
        ok = all(p.suffix.lower() in TIFF_SUFFIXES for p in paths)
        return read_stack if ok else None
    p = paths[0]
    if p.suffix.lower() == ".zarr":
        return read_stack if _zarr_ndim(p) == 3 else None
    if p.is_dir():
        has_tiffs = any(c.suffix.lower() in TIFF_SUFFIXES for c in p.iterdir())
        return read_stack if has_tiffs and not is_suite2p_folder(p) else None
    if p.suffix.lower() in TIFF_SUFFIXES:
        return read_stack
    if p.suffix.lower() == ".npy":
        try:
            ndim = len(np.load(p, mmap_mode="r").shape)
        except (ValueError, OSError):
            return None
        return read_stack if ndim == 3 else None
    return None


def _zarr_ndim(path: Path) -> int | None:
    """Dimensions of the array in a ``.zarr`` store (``None`` for groups or non-zarr)."""
    try:
        import zarr

        node = zarr.open(str(path), mode="r")
    except Exception:  # noqa: BLE001 - not a readable zarr store: not ours to open
        return None
    return getattr(node, "ndim", None)


def read_stack(path: str | list[str]) -> list[LayerData]:
    """Open lazily (memmap / dask): only metadata and a few frames are read."""
    source = path if isinstance(path, (list, tuple)) and len(path) > 1 else _single(path)
    stack = open_stack(source)
    first = Path(source[0] if isinstance(source, (list, tuple)) else source)
    name = first.name if first.is_dir() else first.stem
    meta = {"source_path": os.fspath(first)}
    try:
        fs = frame_rate_of(source)  # ScanImage / ImageJ / OME metadata, when the file says
    except (ValueError, OSError):
        fs = None
    if fs is not None:
        meta["fs"] = fs
    return [stack_layer(stack, name, colormap="gray", metadata=meta)]


# ---------------------------------------------------------------- NWB files

def get_nwb_reader(path: str | list[str]) -> Reader | None:
    p = _single(path)
    if p is None or p.suffix.lower() != ".nwb" or not p.is_file():
        return None
    return read_nwb


def read_nwb(path: str | list[str]) -> list[LayerData]:
    """An NWB file as layers (nothing of the stack is loaded):

    - each TwoPhotonSeries → a lazy Image layer (metadata: ``fs``, ``timestamps``, and the
      behaviour/stimulus labels on its frames under ``napari_cebra_frame_labels``);
    - each stimulus-template movie → an Image layer;
    - each PlaneSegmentation → a ROI Labels layer carrying its RoiResponseSeries as a traces
      record (DfOverF if present, else Fluorescence; all of them as trace sets) with the
      behaviour and stimulus labels put on the traces' frame times as declared label columns.
    """
    import warnings

    from napari_cebra.contracts import traces_record
    from napari_cebra.imaging import nwb

    p = _single(path)
    contents = nwb.describe_nwb(p)
    locations = {kind: [item.split(" (")[0] for item in items]
                 for kind, items in contents.items()}
    if not locations["imaging"] and not locations["segmentations"]:
        held = ", ".join(item for items in contents.values() for item in items)
        raise ValueError(f"{p}: holds no TwoPhotonSeries and no ROI segmentation (it holds "
                         f"{held or 'nothing napari-cebra reads'}); open a file with imaging data")
    movies = nwb.read_stimulus_movies(p)
    movie_name = f"{p.stem} {next(iter(movies))}" if movies else None
    layers: list[LayerData] = []
    for location in locations["imaging"]:
        stack = nwb.open_two_photon(p, location)
        found = nwb.read_behaviour(p, stack.timestamps, strict=False)
        _warn_skipped(p, found.skipped, warnings)
        frame_labels = {"labels": found.labels.columns, "label_kinds": found.labels.kinds,
                        "fs": stack.fs, "movie_layer": movie_name, "sources": found.sources}
        meta = {"source_path": os.fspath(p), "nwb_location": location, "fs": stack.fs,
                "timestamps": stack.timestamps, "napari_cebra_frame_labels": frame_labels}
        layers.append(stack_layer(stack.data, f"{p.stem} {location.rsplit('/', 1)[-1]}",
                                  colormap="gray", metadata=meta))
    for name, movie in movies.items():
        layers.append((movie, {"name": f"{p.stem} {name}", "colormap": "gray",
                               "visible": False, "metadata": {"source_path": os.fspath(p)}},
                       "image"))
    several = len(locations["segmentations"]) > 1
    for location in locations["segmentations"]:
        rois = nwb.read_rois(p, location)
        found = nwb.read_behaviour(p, rois.timestamps, strict=False)
        _warn_skipped(p, found.skipped, warnings)
        extra = {"movie_layer": movie_name} if movie_name else {}
        record = traces_record(
            rois.traces, fs=rois.fs, labels=found.labels.columns,
            label_kinds=found.labels.kinds, trace_sets=rois.trace_sets, time_axis=0,
            source_file=os.fspath(p), nwb_location=location, traces_name=rois.traces_name,
            **extra)
        label = location.rsplit("/", 1)[-1] if several else ""
        layers.append((rois.labels, {
            "name": " ".join(filter(None, (p.stem, label, "ROIs"))),
            "features": rois.features, "metadata": record_metadata(record),
            "colormap": roi_colormap(rois.features["iscell"]), "opacity": 0.5}, "labels"))
    return layers


def _warn_skipped(path: Path, skipped: dict[str, str], warnings) -> None:
    for location, reason in skipped.items():
        warnings.warn(f"{path}: {location} is not used as a label ({reason})", stacklevel=3)
