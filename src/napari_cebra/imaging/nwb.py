"""Read NWB files (pynwb): the imaging stack, the ROIs with their traces, behaviour and stimuli.

Files are opened read-only. Only numeric datasets are read (a dataset of objects, strings or
opaque bytes is never loaded, so nothing in the file can run code; pynwb and hdmf do not
unpickle). NWB orders image axes (frame, x, y): stacks and masks are returned as
(T, Y, X) / (Y, X) like every other stack in napari-cebra. Behaviour and stimulus series are
put on the imaging frame times with :func:`napari_cebra.imaging.labels.align_labels`
(continuous: linear interpolation; discrete: the most recent value).
pynwb is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import json
import os
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_cebra.contracts import LABEL_KINDS
from napari_cebra.limits import MAX_RATE_HZ

from .labels import LabelSet, align_labels, make_label_set
from .stacks import register_format

PathLike = str | os.PathLike
KIND_PREFIX = "napari-cebra label kind: "  # same as nwb_write.KIND_PREFIX (no pynwb import)
TRACE_PREFERENCE = ("DfOverF", "Fluorescence")  # which RoiResponseSeries trains by default
MAX_LABEL_COLUMNS = 3  # wider TimeSeries (videos, many channels) are not labels


# ------------------------------------------------------------------------- opening a file

def _check_file(path: PathLike) -> Path:
    import h5py

    from napari_cebra.files import unreadable

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such NWB file")
    try:
        if not h5py.is_hdf5(path):
            raise ValueError(f"{path}: not an NWB file (not HDF5); NWB files are HDF5 files "
                             "written by pynwb, MatNWB or NeuroConv")
        with h5py.File(path, "r") as fh:
            if "nwb_version" not in fh.attrs:
                raise ValueError(f"{path}: an HDF5 file but not an NWB file (no nwb_version); "
                                 "open NWB files written by pynwb, MatNWB or NeuroConv")
    except OSError as err:  # h5py: truncated, damaged, no permission
        raise unreadable(path, err, "NWB file") from err
    return path


@contextlib.contextmanager
def _nwb(path: PathLike) -> Iterator[Any]:
    """The NWBFile of ``path``, opened read-only for the block."""
    from pynwb import NWBHDF5IO

    path = _check_file(path)
    try:
        io = NWBHDF5IO(str(path), "r")
        nwbfile = io.read()
    except Exception as err:  # hdmf raises many types for damaged files
        raise ValueError(f"{path}: pynwb cannot read this NWB file ({type(err).__name__}: "
                         f"{err}); check that it opens with pynwb") from err
    try:
        yield nwbfile
    finally:
        io.close()


def _dtype(data: Any) -> np.dtype:
    """A dataset's type, read from its header (never from its values)."""
    if hasattr(data, "dtype"):
        return np.dtype(data.dtype)
    return np.asarray(data).dtype  # in-memory data (lists) only


def _check_size(data: Any, where: str) -> None:
    """A stored dataset must hold what its shape declares, and fit in memory to be read."""
    from napari_cebra.limits import check_hdf5_dataset, check_memory, nbytes_of

    if not (hasattr(data, "id") and hasattr(data, "file")):
        return  # in-memory data (lists, arrays): already allocated
    filename = getattr(data.file, "filename", "NWB file")
    check_hdf5_dataset(data, filename, where)
    check_memory(nbytes_of(data.shape, data.dtype), filename, where, shape=data.shape,
                 dtype=data.dtype)


def _numeric(data: Any, where: str) -> np.ndarray:
    """Read a dataset only when it holds numbers (never objects, strings or opaque bytes),
    and only when it stores what it declares and fits in memory."""
    dtype = _dtype(data)
    if dtype.kind not in "biuf":
        raise ValueError(f"{where}: holds {dtype} values, not numbers; napari-cebra reads "
                         "only numeric datasets")
    _check_size(data, where)
    return np.asarray(data[()] if hasattr(data, "shape") and not isinstance(data, np.ndarray)
                      else data)


# ------------------------------------------------------------------------- what is inside

def _walk(nwbfile) -> Iterator[tuple[str, Any]]:
    """(location, object) for every time series, table and interface a reader cares about."""
    for name, obj in nwbfile.acquisition.items():
        yield f"acquisition/{name}", obj
    for name, obj in nwbfile.stimulus.items():
        yield f"stimulus/{name}", obj
    for mod_name, module in nwbfile.processing.items():
        for name, obj in module.data_interfaces.items():
            yield f"processing/{mod_name}/{name}", obj
    for name, obj in (nwbfile.intervals or {}).items():
        yield f"intervals/{name}", obj


def _children(location: str, obj) -> Iterator[tuple[str, Any]]:
    """The series inside a container interface (Fluorescence, BehavioralTimeSeries …)."""
    for attr in ("roi_response_series", "time_series", "spatial_series",
                 "plane_segmentations"):
        items = getattr(obj, attr, None)
        if isinstance(items, Mapping):
            for name, child in items.items():
                yield f"{location}/{name}", child


def _flat(nwbfile) -> list[tuple[str, Any, bool]]:
    """(location, object, whether it sits inside a container interface)."""
    out = []
    for location, obj in _walk(nwbfile):
        children = list(_children(location, obj))
        out += [(loc, child, True) for loc, child in children] if children else [
            (location, obj, False)]
    return out


BEHAVIOUR_CONTAINERS = ("BehavioralTimeSeries", "Position", "BehavioralEvents",
                        "CompassDirection", "PupilTracking", "EyeTracking")


def _kinds_of(nwbfile) -> dict[str, list[tuple[str, Any]]]:
    """Imaging series, segmentations, ROI responses, behaviour (series in behaviour
    containers of any module, other TimeSeries in ``acquisition`` and
    ``processing["behavior"]``), stimulus series and intervals tables."""
    from pynwb import TimeSeries
    from pynwb.epoch import TimeIntervals
    from pynwb.image import ImageSeries
    from pynwb.ophys import PlaneSegmentation, RoiResponseSeries

    groups: dict[str, list[tuple[str, Any]]] = {
        "imaging": [], "segmentations": [], "responses": [], "behaviour": [],
        "stimulus": [], "intervals": []}
    for location, obj, in_container in _flat(nwbfile):
        if isinstance(obj, ImageSeries):
            if type(obj).__name__ in ("TwoPhotonSeries", "OnePhotonSeries"):
                groups["imaging"].append((location, obj))
        elif isinstance(obj, PlaneSegmentation):
            groups["segmentations"].append((location, obj))
        elif isinstance(obj, RoiResponseSeries):
            groups["responses"].append((location, obj))
        elif isinstance(obj, TimeIntervals):
            groups["intervals"].append((location, obj))
        elif isinstance(obj, TimeSeries):
            if location.startswith("stimulus/"):
                groups["stimulus"].append((location, obj))
            elif in_container:
                if type(obj.parent).__name__ in BEHAVIOUR_CONTAINERS:
                    groups["behaviour"].append((location, obj))
            elif location.startswith(("acquisition/", "processing/behavior/")):
                groups["behaviour"].append((location, obj))
    return groups


def describe_nwb(path: PathLike) -> dict[str, list[str]]:
    """What ``path`` holds, by kind: ``imaging`` (TwoPhotonSeries), ``segmentations``
    (PlaneSegmentation), ``responses`` (RoiResponseSeries), ``behaviour``, ``stimulus`` and
    ``intervals`` — each a list of ``"location (details)"`` strings."""
    with _nwb(path) as nwbfile:
        return {kind: [f"{loc} ({_details(obj)})" for loc, obj in items]
                for kind, items in _kinds_of(nwbfile).items()}


def _details(obj) -> str:
    data = getattr(obj, "data", None)
    if data is not None and hasattr(data, "shape"):
        rate = getattr(obj, "rate", None)
        return f"shape {tuple(data.shape)}" + (f", {rate:g} Hz" if rate else "")
    if hasattr(obj, "colnames"):
        return f"{len(obj)} rows, columns {', '.join(obj.colnames)}"
    return type(obj).__name__


def _pick(items: list[tuple[str, Any]], name: str | None, what: str, path: Path):
    if name is not None:
        hits = [(loc, o) for loc, o in items if name in (loc, o.name)]
        if not hits:
            raise ValueError(f"{path}: no {what} named {name!r}; it holds "
                             f"{[loc for loc, _ in items] or 'none'}")
        if len(hits) > 1:
            raise ValueError(f"{path}: several {what}s are named {name!r}: "
                             f"{[loc for loc, _ in hits]}; give the full location")
        return hits[0]
    if not items:
        raise ValueError(f"{path}: holds no {what}")
    if len(items) > 1:
        raise ValueError(f"{path}: holds several {what}s {[loc for loc, _ in items]}; "
                         "choose one with name=")
    return items[0]


# ------------------------------------------------------------------------- time bases

def series_times(series, n: int | None = None) -> np.ndarray:
    """Seconds of each sample of a TimeSeries (its timestamps, or starting_time + i / rate)."""
    if series.timestamps is not None:
        stamps = series.timestamps
        if hasattr(stamps, "timestamps"):  # timestamps linked from another series
            stamps = stamps.timestamps
        return _numeric(stamps, f"{series.name} timestamps").astype(np.float64)
    from napari_cebra.limits import check_memory

    n = len(series.data) if n is None else n
    source = getattr(series, "container_source", None)
    rate = checked_rate(series.rate, f"{source}: {series.name}" if source else series.name)
    check_memory(8 * int(n), series.name, "the frame times", shape=(n,))
    start = float(series.starting_time or 0.0)
    return start + np.arange(n) / rate


def rate_of(times: np.ndarray) -> float | None:
    """Frames per second from timestamps (median interval), ``None`` if it cannot tell."""
    if len(times) < 2:
        return None
    step = float(np.median(np.diff(times)))
    return 1.0 / step if step > 0 and np.isfinite(step) else None


def checked_rate(rate, where: str) -> float:
    """``rate`` (Hz) if it is possible: finite, positive, at most :data:`MAX_RATE_HZ`."""
    try:
        value = float(rate)
    except (TypeError, ValueError):
        value = float("nan")
    if not (np.isfinite(value) and 0 < value <= MAX_RATE_HZ):
        shown = f"{value:g}" if not isinstance(rate, str) and value == value else repr(rate)
        shown = "NaN" if value != value else shown
        raise ValueError(f"{where}: frame rate {shown} Hz is impossible (it must be a positive "
                         f"number of Hz, at most {MAX_RATE_HZ:g}); the file's rate or "
                         "timestamps are wrong — fix them, or give the frame rate (fs) yourself")
    return value


def series_rate(series, times: np.ndarray, where: str) -> float | None:
    """A series' frame rate: its declared rate, else from its timestamps; checked."""
    if series.rate is not None:
        return checked_rate(series.rate, where)
    rate = rate_of(times)
    return None if rate is None else checked_rate(rate, where)


# ------------------------------------------------------------------------- the stack

class _LazyDataset:
    """An HDF5 dataset of one file, opened on first read and closed when no longer used.

    dask keeps this object while any array made from it lives; the file is closed when it is
    garbage-collected (or :meth:`close` is called). Pickled, it carries only the file name and
    dataset path and reopens (read-only) where it is unpickled.
    """

    def __init__(self, path: Path, dataset: str, shape: tuple, dtype: np.dtype) -> None:
        self.path, self.dataset = Path(path), dataset
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype(dtype), len(shape)
        self._file = None
        self._finalizer = None

    def _open(self):
        if self._file is None:
            import h5py

            self._file = h5py.File(self.path, "r")
            self._finalizer = weakref.finalize(self, self._file.close)
        return self._file[self.dataset]

    def __getitem__(self, key):
        return self._open()[key]

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._file = self._finalizer = None

    def __getstate__(self) -> dict:
        return {"path": self.path, "dataset": self.dataset, "shape": self.shape,
                "dtype": self.dtype.str}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], state["dataset"], state["shape"], np.dtype(state["dtype"]))


@dataclass
class NwbStack:
    """A TwoPhotonSeries: ``data`` lazy (T, Y, X) dask array, its rate and frame times."""

    data: Any
    fs: float | None
    timestamps: np.ndarray
    location: str
    path: Path
    source: _LazyDataset = field(repr=False)

    def close(self) -> None:
        """Close the file now (reading ``data`` afterwards reopens it)."""
        self.source.close()


def open_two_photon(path: PathLike, name: str | None = None, *,
                    chunk_frames: int = 64) -> NwbStack:
    """Open a TwoPhotonSeries lazily: no frame is read until asked for.

    ``name`` picks one series (its name or location) when the file holds several. Returns an
    :class:`NwbStack` whose ``data`` is a (T, Y, X) dask array over the file (kept open while
    the array lives), ``fs`` (Hz, the series' rate or from its timestamps) and ``timestamps``.
    """
    import dask.array as da

    path = _check_file(path)
    with _nwb(path) as nwbfile:
        location, series = _pick(_kinds_of(nwbfile)["imaging"], name, "imaging series", path)
        if getattr(series, "external_file", None) is not None:
            return _external_stack(path, location, series)
        data = series.data
        if not hasattr(data, "name") or not hasattr(data, "file"):
            raise ValueError(f"{path}: {location} has no frames in the file; open the "
                             "acquisition's own files as a stack instead")
        if data.ndim not in (3, 4):
            raise ValueError(f"{path}: {location} has shape {data.shape}; expected frames of "
                             "2-D images (frame, x, y)")
        if data.ndim == 4:
            raise ValueError(f"{path}: {location} is a volume {data.shape} (frame, x, y, z); "
                             "napari-cebra analyses one plane — export a plane first")
        if np.dtype(data.dtype).kind not in "biuf":
            raise ValueError(f"{path}: {location} holds {data.dtype} values, not pixels")
        shape, dtype, dataset = tuple(data.shape), data.dtype, data.name
        from napari_cebra.limits import check_hdf5_dataset

        check_hdf5_dataset(data, path, f"imaging series {location}")  # before any allocation
        times = series_times(series, shape[0])
        fs = series_rate(series, times, f"{path}: {location}")
    from napari_cebra.limits import frames_per_batch

    source = _LazyDataset(path, dataset, shape, dtype)
    frames = frames_per_batch(shape[1:], dtype, most=chunk_frames)  # by bytes, not frames
    chunks = (min(frames, shape[0]), *shape[1:])
    from dask.base import tokenize

    stat = os.stat(path)  # the same file, unchanged, gives the same dask keys
    token = tokenize(str(path.resolve()), dataset, stat.st_mtime_ns, stat.st_size)
    lazy = da.from_array(source, chunks=chunks, lock=True, asarray=True, name=f"nwb-{token}")
    return NwbStack(lazy.transpose(0, 2, 1), fs, times, location, path, source)


class _NoFile:
    def close(self) -> None:  # the external TIFFs are opened lazily by open_stack
        pass


def _external_stack(path: Path, location: str, series) -> NwbStack:
    """A TwoPhotonSeries whose frames are in image files beside the NWB file
    (``external_file``, paths relative to its folder): opened lazily as one stack."""
    from .stacks import open_stack

    names = [str(f) for f in series.external_file[:]]
    files = [Path(n) if Path(n).is_absolute() else path.parent / n for n in names]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(f"{path}: {location} keeps its frames in {', '.join(missing)}, "
                                "which is not there; put it beside the NWB file")
    stack = open_stack(files[0] if len(files) == 1 else files)
    starts = getattr(series, "starting_frame", None)
    if starts is not None and len(files) > 1:
        counts = [len(open_stack(f)) for f in files]
        if list(np.cumsum([0, *counts[:-1]])) != [int(v) for v in starts]:
            raise ValueError(f"{path}: {location} starting_frame {list(starts)} does not match "
                             f"the frame counts {counts} of its files")
    times = series_times(series, len(stack))
    fs = series_rate(series, times, f"{path}: {location}")
    return NwbStack(stack, fs, times, location, path, _NoFile())


# ------------------------------------------------------------------------- ROIs and traces

@dataclass
class NwbRois:
    """A PlaneSegmentation with its traces, in napari-cebra's terms."""

    labels: np.ndarray  # (Y, X) int32: ROI i painted as i + 1
    traces: np.ndarray  # (T, N) float32, the default training matrix
    trace_sets: dict[str, np.ndarray]  # every RoiResponseSeries of these ROIs (T, N)
    timestamps: np.ndarray  # (T,) s
    fs: float | None
    features: dict[str, np.ndarray]  # one row per ROI: roi, id, iscell, centroid_y/x, npix
    location: str
    traces_name: str  # which RoiResponseSeries is ``traces``


def _masks(ps, where: str, shape: tuple[int, int] | None):
    """(ypix, xpix, weight) of each ROI, and the image shape (Y, X)."""
    cols = set(ps.colnames)
    if "image_mask" in cols:
        masks = _numeric(ps["image_mask"].data, f"{where} image_mask")
        if masks.ndim != 3:
            raise ValueError(f"{where}: image_mask has shape {masks.shape}; napari-cebra "
                             "reads 2-D masks (one plane)")
        rois = []
        for mask in masks:
            x, y = np.nonzero(mask)  # NWB: (x, y)
            rois.append((y, x, mask[x, y].astype(np.float32)))
        return rois, (masks.shape[2], masks.shape[1])
    if "pixel_mask" in cols:
        rois = []
        index = ps["pixel_mask"]
        for i in range(len(ps)):
            pix = np.asarray(index[i])
            if pix.dtype.names:
                x, y = pix["x"], pix["y"]
                w = pix["weight"] if "weight" in pix.dtype.names else np.ones(len(pix))
            else:
                pix = np.asarray(pix, dtype=np.float64).reshape(-1, 3)
                x, y, w = pix[:, 0], pix[:, 1], pix[:, 2]
            rois.append((np.asarray(y, int), np.asarray(x, int), np.asarray(w, np.float32)))
        if shape is None:
            ys = max((int(r[0].max()) for r in rois if len(r[0])), default=0)
            xs = max((int(r[1].max()) for r in rois if len(r[1])), default=0)
            shape = (ys + 1, xs + 1)
        return rois, shape
    raise ValueError(f"{where}: the segmentation has neither image_mask nor pixel_mask "
                     "(voxel masks of volumes are not read)")


def _iscell(ps, n: int) -> np.ndarray:
    for column in ("iscell", "is_cell", "accepted"):
        if column in ps.colnames:
            values = _numeric(ps[column].data, f"PlaneSegmentation {column}")
            values = values[:, 0] if values.ndim == 2 else values
            return np.asarray(values > 0.5 if values.dtype.kind == "f" else values, bool)
    return np.ones(n, bool)


def read_rois(path: PathLike, name: str | None = None) -> NwbRois:
    """The ROIs of a PlaneSegmentation (``name`` picks one of several) as a label image and
    their RoiResponseSeries as (T, N) float32 traces.

    ``traces`` is the DfOverF series when there is one, else Fluorescence, else the first;
    every series of the same ROIs is in ``trace_sets`` (keyed by its container's name).
    ``features["iscell"]`` comes from an ``iscell`` column when the table has one.
    """
    from .suite2p_read import roi_label_image

    path = _check_file(path)
    with _nwb(path) as nwbfile:
        kinds = _kinds_of(nwbfile)
        location, ps = _pick(kinds["segmentations"], name, "ROI segmentation (PlaneSegmentation)",
                             path)
        responses = [(loc, s) for loc, s in kinds["responses"] if s.rois.table is ps]
        if not responses:
            raise ValueError(f"{path}: no RoiResponseSeries holds the traces of {location}; "
                             "the file has ROIs but no traces")
        responses.sort(key=lambda item: _preference(item[0]))
        shape = None
        if kinds["imaging"]:
            imaging = kinds["imaging"][0][1]
            stack_shape = imaging.data.shape
            shape = (stack_shape[2], stack_shape[1]) if len(stack_shape) == 3 else None
            dimension = getattr(imaging, "dimension", None)
            if not (shape and all(shape)) and dimension is not None and len(dimension) == 2:
                shape = (int(dimension[1]), int(dimension[0]))  # frames kept in external files
            if shape is not None and not all(shape):
                shape = None
        rois, shape = _masks(ps, f"{path}: {location}", shape)
        ids = _numeric(ps.id.data, f"{location} id").astype(np.int64)
        main_loc, main = responses[0]
        rows = _numeric(main.rois.data, f"{main_loc} rois").astype(np.int64)
        sets: dict[str, np.ndarray] = {}
        for loc, series in responses:
            if not np.array_equal(_numeric(series.rois.data, f"{loc} rois"), rows):
                continue  # a series of other ROIs: not one of these trace sets
            data = _numeric(series.data, loc).astype(np.float32)
            if data.ndim == 1:
                data = data[:, None]
            if data.shape[1] != len(rows) and data.shape[0] == len(rows):
                data = data.T  # some writers store (rois, time)
            if data.shape[1] != len(rows):
                raise ValueError(f"{path}: {loc} has shape {data.shape} for {len(rows)} ROIs")
            key = loc.split("/")[-2] if loc.count("/") >= 3 else series.name
            sets[key if key not in sets else loc] = data
        main_key = next(iter(sets))
        traces = sets[main_key]
        times = series_times(main, len(traces))
        fs = series_rate(main, times, f"{path}: {main_loc}")
        iscell = _iscell(ps, len(ps))[rows]
    if not np.isfinite(traces).all():
        bad = int((~np.isfinite(traces)).any(axis=0).sum())
        raise ValueError(f"{path}: {main_loc} has NaN/inf values in {bad} ROIs; fill or drop "
                         "them before training")
    chosen = [rois[r] for r in rows]
    stat = [{"ypix": y, "xpix": x, "lam": w} for y, x, w in chosen]
    labels = roi_label_image(stat, tuple(shape))
    centroids = np.array([(np.average(y, weights=w) if w.sum() > 0 else np.mean(y),
                           np.average(x, weights=w) if w.sum() > 0 else np.mean(x))
                          if len(y) else (np.nan, np.nan) for y, x, w in chosen]).reshape(-1, 2)
    features = {
        "roi": np.arange(1, len(rows) + 1), "id": ids[rows], "iscell": iscell,
        "centroid_y": centroids[:, 0], "centroid_x": centroids[:, 1],
        "npix": np.array([len(y) for y, _, _ in chosen], int),
    }
    return NwbRois(labels, traces, sets, times, fs, features, location, main_key)


def _preference(location: str) -> int:
    for i, container in enumerate(TRACE_PREFERENCE):
        if f"/{container}/" in location:
            return i
    return len(TRACE_PREFERENCE)


def nwb_traces(path: PathLike) -> tuple[np.ndarray, float]:
    """(T, N) float32 traces of the file's ROIs and their frame rate (the batch runner's
    entry point; the file must hold one PlaneSegmentation with its traces)."""
    rois = read_rois(path)
    if rois.fs is None:
        raise ValueError(f"{path}: the traces have neither a rate nor timestamps")
    return rois.traces, float(rois.fs)


# ------------------------------------------------------------------------- behaviour, stimuli

@dataclass
class NwbLabels:
    """Labels read from NWB, on the imaging frames, with where each came from."""

    labels: LabelSet  # one row per imaging frame, kinds declared
    sources: dict[str, str] = field(default_factory=dict)  # column → NWB location
    skipped: dict[str, str] = field(default_factory=dict)  # location → why not used


def _declared_kind(series, values: np.ndarray) -> str:
    comments = str(getattr(series, "comments", "") or "")
    if comments.startswith(KIND_PREFIX) and comments[len(KIND_PREFIX):] in LABEL_KINDS:
        return comments[len(KIND_PREFIX):]
    if type(series).__name__ == "IndexSeries" or values.dtype.kind in "biu":
        return "discrete"
    return "continuous"


class NotALabel(ValueError):
    """A series or table that cannot be a label (text, objects, too many columns): skipped."""


def _series_columns(location: str, series) -> tuple[dict[str, np.ndarray], np.ndarray]:
    data = series.data
    shape = tuple(getattr(data, "shape", np.shape(data)))
    if _dtype(data).kind not in "biuf":
        raise NotALabel(f"holds {_dtype(data)} values, not numbers (never loaded)")
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] <= MAX_LABEL_COLUMNS)):
        raise NotALabel(f"shape {shape} is not one label per time point (at most "
                        f"{MAX_LABEL_COLUMNS} columns)")
    values = _numeric(data, location)
    if values.ndim == 1:
        columns = {series.name: values}
    else:
        axes = "xyz" if type(series).__name__ == "SpatialSeries" else "012"
        columns = {f"{series.name}_{axes[i]}": values[:, i] for i in range(values.shape[1])}
    return columns, series_times(series, len(values))


def _table_columns(table) -> tuple[dict[str, np.ndarray], np.ndarray]:
    starts = _numeric(table["start_time"].data, f"{table.name} start_time").astype(np.float64)
    columns = {}
    for column in table.colnames:
        if column in ("start_time", "stop_time", "timeseries", "tags"):
            continue
        data = table[column].data
        if _dtype(data).kind in "biuf" and len(getattr(data, "shape", ())) == 1:
            columns[column] = _numeric(data, f"{table.name} {column}")
    if not columns:
        raise NotALabel("no numeric column besides start/stop times")
    order = np.argsort(starts, kind="stable")
    if np.any(np.diff(starts[order]) <= 0):
        raise ValueError("intervals start at the same time (overlapping rows); such tables "
                         "are not one label per moment")
    return {k: v[order] for k, v in columns.items()}, starts[order]


def _imaging_times(nwbfile, path: Path) -> np.ndarray:
    kinds = _kinds_of(nwbfile)
    for group in ("imaging", "responses"):
        if kinds[group]:
            series = kinds[group][0][1]
            data = series.data
            if group == "imaging" and getattr(series, "external_file", None) is not None:
                n = series.num_samples  # frames kept in external files
            else:
                n = data.shape[0] if group == "imaging" or \
                    data.shape[0] != len(series.rois.data) else data.shape[1]
            return series_times(series, n)
    raise ValueError(f"{path}: no imaging series or ROI traces to align the labels to; give "
                     "frame_times")


def read_behaviour(path: PathLike, frame_times: np.ndarray | None = None, *,
                   kinds: Mapping[str, str] | None = None, strict: bool = True,
                   min_coverage: float | None = None) -> NwbLabels:
    """Behaviour and stimulus labels of ``path`` on the imaging frames.

    Read: TimeSeries in ``BehavioralTimeSeries`` / ``Position`` (spatial series → ``name_x``,
    ``name_y``…) of any processing module, other TimeSeries in ``acquisition`` and in
    ``processing["behavior"]``, stimulus TimeSeries / IndexSeries, and every intervals table
    with numeric columns (a stimulus-presentation table's ``frame``, trials' columns), each
    column named after itself (``table.column`` when the name is taken).

    Kinds: what the series declares (napari-cebra writes it in ``comments``), else integer /
    IndexSeries / table columns of integers → discrete, numbers → continuous; ``kinds``
    overrides any. Each label is put on ``frame_times`` (default: the imaging series' or the
    traces' times) — continuous ones linearly interpolated, discrete ones the most recent
    value. A label whose time range does not cover the imaging (or that has NaNs, or is
    declared discrete with fractions) raises (``strict``) or is listed in ``skipped``; series
    that cannot be labels (text, objects — never loaded —, more than
    :data:`MAX_LABEL_COLUMNS` columns) are always listed in ``skipped``.
    """
    path = _check_file(path)
    coverage = {} if min_coverage is None else {"min_coverage": min_coverage}
    result = NwbLabels(LabelSet(columns={}, kinds={}))
    with _nwb(path) as nwbfile:
        times = (np.asarray(frame_times, dtype=np.float64) if frame_times is not None
                 else _imaging_times(nwbfile, path))
        groups = _kinds_of(nwbfile)
        found = [(loc, obj, False) for loc, obj in groups["behaviour"] + groups["stimulus"]]
        found += [(loc, obj, True) for loc, obj in groups["intervals"]]
        for location, obj, is_table in found:
            try:
                if is_table:
                    columns, src = _table_columns(obj)
                    declared = {k: "discrete" if v.dtype.kind in "biu" else "continuous"
                                for k, v in columns.items()}
                else:
                    columns, src = _series_columns(location, obj)
                    declared = {k: _declared_kind(obj, v) for k, v in columns.items()}
                names = {}
                for column in columns:
                    label = column
                    if label in result.labels.columns or label in names.values():
                        label = f"{obj.name}.{column}"
                    names[column] = label
                declared = {k: (kinds or {}).get(names[k], v) for k, v in declared.items()}
                raw = make_label_set({names[k]: v for k, v in columns.items()},
                                     {names[k]: v for k, v in declared.items()})
                raw.times = _strict_times(src)
                aligned = align_labels(raw, len(times), frame_times=times, **coverage)
            except (ValueError, TypeError) as err:
                if strict and not isinstance(err, NotALabel):
                    raise type(err)(f"{path}: {location}: {err}") from err
                result.skipped[location] = str(err)
                continue
            result.labels.columns.update(aligned.columns)
            result.labels.kinds.update(aligned.kinds)
            result.labels.categories.update(aligned.categories)
            result.sources.update({label: location for label in aligned.columns})
    return result


def _strict_times(times: np.ndarray) -> np.ndarray:
    times = np.asarray(times, dtype=np.float64)
    if not np.isfinite(times).all() or np.any(np.diff(times) <= 0):
        raise ValueError("its timestamps are not finite and strictly increasing")
    return times


def read_stimulus_movies(path: PathLike) -> dict[str, np.ndarray]:
    """The stimulus movies of ``stimulus_template`` (ImageSeries of 2-D frames) as (F, Y, X)
    arrays, keyed by name (a movie is small next to the recording: read whole)."""
    from pynwb.image import ImageSeries

    movies = {}
    with _nwb(path) as nwbfile:
        for name, series in (nwbfile.stimulus_template or {}).items():
            data = getattr(series, "data", None)
            if (isinstance(series, ImageSeries) and data is not None
                    and len(getattr(data, "shape", ())) == 3):
                movies[name] = _numeric(data, f"stimulus_template/{name}").transpose(0, 2, 1)
    return movies


def _embedding_module(nwbfile, path: PathLike):
    module = nwbfile.processing.get("cebra")
    if module is None or "embedding" not in module.data_interfaces:
        raise ValueError(f"{path}: holds no napari-cebra embedding (processing/cebra)")
    return module


def read_embedding_nwb(path: PathLike) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """``(embedding, frame, labels)`` written by ``nwb_write.write_embedding_nwb``."""
    with _nwb(path) as nwbfile:
        module = _embedding_module(nwbfile, path)
        emb = _numeric(module["embedding"].data, "cebra/embedding").astype(np.float32)
        frames = (_numeric(module["frame"].data, "cebra/frame").astype(np.int64)
                  if "frame" in module.data_interfaces else np.arange(len(emb)))
        labels = {name: _numeric(series.data, f"cebra/{name}")
                  for name, series in module.data_interfaces.items()
                  if name not in ("embedding", "frame")}
    return emb, frames, labels


def settings_of_embedding(path: PathLike) -> dict:
    """The training settings stored with an embedding by ``nwb_write.write_embedding_nwb``."""
    with _nwb(path) as nwbfile:
        return json.loads(_embedding_module(nwbfile, path)["embedding"].description)


def _frame_rate(path: Path) -> float | None:
    stack = open_two_photon(path)
    stack.close()
    return stack.fs


register_format(".nwb", lambda path: open_two_photon(path).data, _frame_rate)
