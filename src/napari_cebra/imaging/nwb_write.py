"""Write NWB files: one imaging session (for samples and tests) and a CEBRA embedding.

Both go through :func:`napari_cebra.files.atomic_path`: the file appears whole or not at all
and never replaces an existing file unless ``overwrite``. The embedding is always written into
a *new* file, never into the recording it came from (:func:`write_embedding_nwb` refuses).
pynwb is imported inside the functions.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from napari_cebra.contracts import LABEL_KINDS
from napari_cebra.files import atomic_path

PathLike = str | os.PathLike

KIND_PREFIX = "napari-cebra label kind: "
"""Start of a behaviour TimeSeries' ``comments`` that declares its label kind."""
EMBEDDING_MODULE = "cebra"
STIMULUS_TABLE = "stimulus_presentation"


def _compressed(data: np.ndarray, frame_chunks: bool = False):
    from hdmf.backends.hdf5 import H5DataIO

    chunks = (min(len(data), 32), *data.shape[1:]) if frame_chunks else True
    return H5DataIO(data, compression="gzip", compression_opts=4, shuffle=True, chunks=chunks)


def _stack_data(stack: Any, batch: int = 64):
    """The stack as NWB stores it, (frame, x, y), written batch by batch (a memmap or dask
    stack is never loaded whole)."""
    from hdmf.backends.hdf5 import H5DataIO
    from hdmf.data_utils import DataChunkIterator

    from napari_cebra.limits import frames_per_batch

    from .stacks import iter_frames, validate_stack

    validate_stack(stack, "write_session_nwb: stack")
    t, y, x = (int(n) for n in stack.shape)
    # batches and HDF5 chunks by bytes: a few huge frames at a time, not 64 of them
    batch = min(t, frames_per_batch((y, x), stack.dtype, most=batch))
    chunk_frames = min(t, frames_per_batch((y, x), stack.dtype, most=32,
                                           batch_bytes=8 * 2**20))

    def frames():
        for _, block in iter_frames(stack, batch):
            yield from np.ascontiguousarray(block.transpose(0, 2, 1))

    chunks = DataChunkIterator(data=frames(), maxshape=(t, x, y), dtype=np.dtype(stack.dtype),
                               buffer_size=batch)
    return H5DataIO(chunks, compression="gzip", compression_opts=4, shuffle=True,
                    chunks=(chunk_frames, x, y))


def _new_file(session_description: str, identifier: str | None,
              session_start_time: datetime | None):
    from pynwb import NWBFile

    return NWBFile(session_description=session_description,
                   identifier=identifier or str(uuid.uuid4()),
                   session_start_time=session_start_time or datetime.now(timezone.utc))


def _write(nwbfile, path: PathLike, overwrite: bool, what: str) -> Path:
    from pynwb import NWBHDF5IO

    with atomic_path(path, overwrite=overwrite, what=what) as tmp, \
            NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwbfile)
    return Path(path)


def _timing(n: int, fs: float, what: str) -> dict[str, Any]:
    if fs is None or not np.isfinite(fs) or fs <= 0:
        raise ValueError(f"{what}: fs must be a positive frame rate in Hz, got {fs}")
    return {"rate": float(fs), "starting_time": 0.0}


def _external_series(stack_file: str, folder: Path, n: int, plane, timing: dict):
    """A TwoPhotonSeries whose frames live in a TIFF beside the NWB file."""
    from pynwb.ophys import TwoPhotonSeries

    from .stacks import open_stack

    if Path(stack_file).is_absolute() or ".." in Path(stack_file).parts:
        raise ValueError(f"write_session_nwb: stack_file {stack_file!r} must be a file name "
                         "relative to the NWB file's folder")
    frames = open_stack(folder / stack_file)
    if len(frames) != n:
        raise ValueError(f"write_session_nwb: {stack_file} has {len(frames)} frames, the "
                         f"session {n}")
    return TwoPhotonSeries(
        name="TwoPhotonSeries", imaging_plane=plane, external_file=[str(stack_file)],
        starting_frame=[0], format="external", unit="a.u.", num_samples=n,
        dimension=[int(frames.shape[2]), int(frames.shape[1])], **timing)


def write_session_nwb(
    path: PathLike,
    *,
    stack: Any | None = None,
    fs: float,
    masks: np.ndarray | None = None,
    traces: np.ndarray | None = None,
    labels: Mapping[str, np.ndarray] | None = None,
    label_kinds: Mapping[str, str] | None = None,
    stimulus_frame_id: np.ndarray | None = None,
    overwrite: bool = False,
    session_description: str = "napari-cebra imaging session",
    identifier: str | None = None,
    session_start_time: datetime | None = None,
    iscell: np.ndarray | None = None,
    stimulus_movie: np.ndarray | None = None,
    mask_format: str = "pixel",
    stack_file: str | None = None,
) -> Path:
    """Write one imaging session as an NWB file.

    - ``stack`` (T, Y, X) → ``acquisition["TwoPhotonSeries"]`` (gzip, chunked by frames) with
      its imaging plane, device and optical channel;
      NWB orders image axes (frame, x, y), so the stack and the masks are stored transposed
      (:mod:`napari_cebra.imaging.nwb` reads them back as (T, Y, X));
    - ``masks`` (N, Y, X) weighted masks → ``processing["ophys"]["ImageSegmentation"]
      ["PlaneSegmentation"]`` as ``pixel_mask`` (x, y, weight of the non-zero pixels; small)
      or, with ``mask_format="image"``, ``image_mask`` (with an ``iscell`` column when
      given) and ``traces`` (T, N)
      → ``processing["ophys"]["Fluorescence"]["RoiResponseSeries"]``;
    - ``labels`` (each (T,), one per imaging frame) → TimeSeries in
      ``processing["behavior"]["BehavioralTimeSeries"]``, their kind ("continuous" /
      "discrete", default by dtype) in the series' ``comments``;
    - ``stimulus_frame_id`` (T,) → ``intervals["stimulus_presentation"]``: one row per imaging
      frame (``start_time``, ``stop_time``, ``frame`` = the movie frame on screen);
    - ``stimulus_movie`` (F, H, W) → ``stimulus_template["stimulus_movie"]`` (an ImageSeries
      whose frames the ``frame`` column indexes).

    - ``stack_file`` instead of ``stack``: the TwoPhotonSeries refers to that TIFF
      (``external_file``, relative to the NWB file's folder) instead of holding the frames —
      how labs keep raw data they already store as TIFF; the frames must match the traces.

    Everything is on the imaging clock (frame ``i`` at ``i / fs`` s).
    """
    from pynwb.behavior import BehavioralTimeSeries
    from pynwb.epoch import TimeIntervals
    from pynwb.ophys import (
        Fluorescence,
        ImageSegmentation,
        OpticalChannel,
        TwoPhotonSeries,
    )

    lengths = {name: len(v) for name, v in (("stack", stack), ("traces", traces),
                                            ("stimulus_frame_id", stimulus_frame_id))
               if v is not None}
    lengths.update({f"label {k!r}": len(v) for k, v in (labels or {}).items()})
    if not lengths:
        raise ValueError("write_session_nwb: nothing to write; give a stack, traces or labels")
    if len(set(lengths.values())) > 1:
        raise ValueError(f"write_session_nwb: the time series differ in length {lengths}; "
                         "give every one on the imaging frames")
    n = next(iter(lengths.values()))
    timing = _timing(n, fs, "write_session_nwb")
    nwbfile = _new_file(session_description, identifier, session_start_time)

    plane = None
    if stack is not None or stack_file is not None or masks is not None:
        device = nwbfile.create_device(name="Microscope", description="two-photon microscope")
        channel = OpticalChannel(name="OpticalChannel", description="green channel",
                                 emission_lambda=510.0)
        plane = nwbfile.create_imaging_plane(
            name="ImagingPlane", optical_channel=channel, device=device,
            description="imaging plane", excitation_lambda=920.0, indicator="GCaMP",
            location="V1", imaging_rate=float(fs))
    series = None
    if stack is not None and stack_file is not None:
        raise ValueError("write_session_nwb: give the stack or stack_file, not both")
    if stack is not None:
        series = TwoPhotonSeries(name="TwoPhotonSeries", imaging_plane=plane,
                                 data=_stack_data(stack), unit="a.u.", **timing)
        nwbfile.add_acquisition(series)
    elif stack_file is not None:
        series = _external_series(stack_file, Path(path).parent, n, plane, timing)
        nwbfile.add_acquisition(series)
    if masks is not None or traces is not None:
        if masks is None or traces is None:
            raise ValueError("write_session_nwb: give masks and traces together (the traces "
                             "are the masks' responses)")
        masks = np.asarray(masks, dtype=np.float32)
        if mask_format not in ("pixel", "image"):
            raise ValueError(f"mask_format must be 'pixel' or 'image', got {mask_format!r}")
        traces = np.asarray(traces, dtype=np.float32)
        if masks.ndim != 3 or traces.ndim != 2 or len(masks) != traces.shape[1]:
            raise ValueError(f"write_session_nwb: masks (N, Y, X) {masks.shape} and traces "
                             f"(T, N) {traces.shape} must agree on N")
        ophys = nwbfile.create_processing_module("ophys", "optical physiology")
        segmentation = ImageSegmentation(name="ImageSegmentation")
        ophys.add(segmentation)
        ps = segmentation.create_plane_segmentation(
            name="PlaneSegmentation", description="segmented ROIs", imaging_plane=plane,
            reference_images=series)
        if iscell is not None:
            ps.add_column("iscell", "whether the ROI is a cell")
        for i, mask in enumerate(masks):
            extra = {} if iscell is None else {"iscell": bool(iscell[i])}
            if mask_format == "image":
                extra["image_mask"] = mask.T  # (x, y), as NWB orders image axes
            else:
                ys, xs = np.nonzero(mask)
                extra["pixel_mask"] = [(int(x), int(y), float(mask[y, x]))
                                       for y, x in zip(ys, xs, strict=True)]
            ps.add_roi(**extra)
        region = ps.create_roi_table_region(region=list(range(len(masks))),
                                            description="all ROIs")
        fluorescence = Fluorescence(name="Fluorescence")
        ophys.add(fluorescence)  # in the file before its series links the ROI table
        fluorescence.create_roi_response_series(name="RoiResponseSeries",
                                                data=_compressed(traces), rois=region,
                                                unit="a.u.", **timing)
    if labels:
        behavior = nwbfile.create_processing_module("behavior", "behaviour and labels")
        bts = BehavioralTimeSeries(name="BehavioralTimeSeries")
        for name, values in labels.items():
            values = np.asarray(values)
            kind = (label_kinds or {}).get(name) or (
                "discrete" if values.dtype.kind in "biu" else "continuous")
            if kind not in LABEL_KINDS:
                raise ValueError(f"label {name!r}: kind {kind!r} is not one of {LABEL_KINDS}")
            bts.create_timeseries(name=name, data=values, unit="a.u.",
                                  comments=KIND_PREFIX + kind,
                                  description=f"{name} on the imaging frames", **timing)
        behavior.add(bts)
    if stimulus_frame_id is not None:
        frames = np.asarray(stimulus_frame_id).astype(np.int64)
        table = TimeIntervals(name=STIMULUS_TABLE,
                              description="the stimulus movie frame shown at each imaging frame")
        table.add_column("frame", "movie frame on screen (0-based)")
        starts = np.arange(n) / float(fs)
        for i, frame in enumerate(frames):
            table.add_interval(start_time=float(starts[i]), stop_time=float(starts[i] + 1 / fs),
                               frame=int(frame))
        nwbfile.add_time_intervals(table)
    if stimulus_movie is not None:
        from pynwb.image import ImageSeries

        movie = np.asarray(stimulus_movie)
        if movie.ndim != 3:
            raise ValueError(f"write_session_nwb: stimulus_movie must be (F, H, W), got "
                             f"{movie.shape}")
        nwbfile.add_stimulus_template(ImageSeries(
            name="stimulus_movie", data=_compressed(np.ascontiguousarray(
                movie.transpose(0, 2, 1)), frame_chunks=True),
            unit="a.u.", rate=float(fs), description="the stimulus movie (frame, x, y)"))
    return _write(nwbfile, path, overwrite, "NWB file")


# ---------------------------------------------------------------------------- the embedding

def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _is_our_embedding_file(path: Path) -> bool:
    """Whether ``path`` is an NWB file holding only a napari-cebra embedding (safe to replace)."""
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            acquisition = fh.get("acquisition")
            processing = fh.get("processing")
            return (processing is not None and set(processing) == {EMBEDDING_MODULE}
                    and (acquisition is None or len(acquisition) == 0))
    except OSError:
        return False


def write_embedding_nwb(
    path: PathLike,
    embedding: np.ndarray,
    fs: float | None = None,
    *,
    timestamps: np.ndarray | None = None,
    frames: np.ndarray | None = None,
    labels: Mapping[str, np.ndarray] | None = None,
    source: PathLike | Sequence[PathLike] | None = None,
    settings: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    session_description: str = "CEBRA embedding (napari-cebra)",
) -> Path:
    """Write an embedding (T, d) into a NEW NWB file as the processing module ``"cebra"``.

    The module holds the TimeSeries ``embedding`` (its ``description`` is the training
    ``settings`` as JSON), ``frame`` (the imaging frame of each row) and one TimeSeries per
    label. Give the time base as ``timestamps`` (s) or ``fs`` (Hz; row ``i`` is at
    ``frames[i] / fs``). ``source`` names the recording(s) the embedding came from: the
    target may never be one of them, and an existing NWB file that holds anything but a
    napari-cebra embedding is never replaced, even with ``overwrite``.
    """
    from pynwb import TimeSeries

    path = Path(path)
    emb = np.asarray(embedding, dtype=np.float32)
    if emb.ndim != 2 or len(emb) == 0:
        raise ValueError(f"embedding must be a non-empty (time, dims) array, got {emb.shape}")
    sources = [] if source is None else (
        [source] if isinstance(source, (str, os.PathLike)) else list(source))
    for src in sources:
        if _same_file(path, Path(src)):
            raise ValueError(f"{path}: this is the recording the embedding came from; write "
                             "the embedding into a new NWB file (napari-cebra never writes "
                             "into your data)")
    if path.exists() and overwrite and not _is_our_embedding_file(path):
        raise FileExistsError(f"{path} already exists and holds more than a napari-cebra "
                              "embedding; napari-cebra never replaces such a file — choose "
                              "a new file name")
    n = len(emb)
    rows = np.arange(n) if frames is None else np.asarray(frames).astype(np.int64)
    if len(rows) != n:
        raise ValueError(f"frames has {len(rows)} entries for {n} embedding rows")
    if timestamps is not None:
        times = np.asarray(timestamps, dtype=np.float64)
        if len(times) != n or not np.isfinite(times).all() or np.any(np.diff(times) < 0):
            raise ValueError(f"timestamps must be {n} finite, non-decreasing times in seconds")
        timing: dict[str, Any] = {"timestamps": times}
    else:
        if fs is None or not np.isfinite(fs) or fs <= 0:
            raise ValueError("write_embedding_nwb: give the frame rate fs (Hz) or timestamps")
        contiguous = n == 1 or bool(np.all(np.diff(rows) == 1))
        timing = ({"rate": float(fs), "starting_time": float(rows[0]) / fs} if contiguous
                  else {"timestamps": rows / float(fs)})
    settings_json = json.dumps(dict(settings or {}), sort_keys=True, default=str)
    nwbfile = _new_file(session_description, None, None)
    module = nwbfile.create_processing_module(
        EMBEDDING_MODULE, "CEBRA embedding written by napari-cebra; the settings are in the "
        "description of the 'embedding' TimeSeries (JSON)")
    series = TimeSeries(name="embedding", data=emb, unit="a.u.", description=settings_json,
                        comments="sources: " + json.dumps([str(s) for s in sources]), **timing)
    module.add(series)
    frame_timing = {"timestamps": series} if "timestamps" in timing else timing
    module.add(TimeSeries(name="frame", data=rows, unit="frame",
                          description="imaging frame index of each embedding row",
                          **frame_timing))
    for name, values in (labels or {}).items():
        values = np.asarray(values)
        if values.ndim != 1 or len(values) != n:
            raise ValueError(f"label {name!r} must be 1-D with {n} entries")
        if values.dtype.kind not in "biuf":
            raise ValueError(f"label {name!r} holds {values.dtype} values; an NWB TimeSeries "
                             "holds numbers — convert it or leave it out")
        if name in ("embedding", "frame") or "/" in name or not name.strip():
            raise ValueError(f"label name {name!r} cannot name a TimeSeries in the module")
        module.add(TimeSeries(name=name, data=values, unit="a.u.", description=f"label {name}",
                              **frame_timing))
    return _write(nwbfile, path, overwrite, "embedding NWB file")
