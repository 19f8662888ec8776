"""Open imaging stacks lazily: nothing is read until a frame is asked for.

A single contiguous TIFF (what most writers and ``tifffile`` produce) is memory-mapped; other
TIFFs (compressed, tiled, ScanImage pages with gaps) go through tifffile's zarr store wrapped in
dask; a multi-file series (``file_00001.tif``, ``file_00002.tif`` …) is the concatenation of the
lazily opened files; ``.npy`` files are memory-mapped; ``.zarr`` stores are opened with dask;
an NWB file's TwoPhotonSeries is read through h5py by dask. :func:`frame_rate_of` reads the
frame rate a file declares (ScanImage, ImageJ, OME-TIFF, NWB).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from napari_cebra.limits import (
    BATCH_BYTES,
    check_memory,
    check_stored,
    frames_per_batch,
    nbytes_of,
)

TIFF_SUFFIXES = (".tif", ".tiff")
STACK_SUFFIXES = (*TIFF_SUFFIXES, ".npy", ".zarr", ".nwb")
PathLike = str | os.PathLike
#: file formats other modules read, by suffix: ``(open → lazy (T, Y, X), frame rate or None)``;
#: ``imaging.nwb`` registers ``.nwb`` (stacks imports no format module: no import circle)
FORMATS: dict[str, tuple] = {}


def register_format(suffix: str, open_stack, frame_rate) -> None:
    """Let :func:`open_stack` and :func:`frame_rate_of` read files ending in ``suffix``."""
    FORMATS[suffix.lower()] = (open_stack, frame_rate)


def natural_key(path: PathLike) -> list:
    """Sort key that puts ``f_2.tif`` before ``f_10.tif``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(path))]


def validate_stack(stack, name: str = "stack") -> None:
    """Raise a clear error unless ``stack`` is a non-empty (T, Y, X) numeric movie."""
    shape = tuple(getattr(stack, "shape", ()))
    dtype = np.dtype(getattr(stack, "dtype", object))
    if len(shape) != 3:
        hint = " (a single image, not a movie)" if len(shape) == 2 else ""
        raise ValueError(
            f"{name}: expected a movie of shape (frames, height, width), got shape {shape}{hint}; "
            "pass a time series of 2-D frames (a multi-page TIFF or a 3-D array)"
        )
    if min(shape) == 0:
        raise ValueError(f"{name}: the stack is empty (shape {shape}); it needs frames to analyse")
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise TypeError(
            f"{name}: pixel type {dtype} is not a number type; convert it to an integer or "
            "float image (e.g. uint16 or float32)"
        )


def _tiff_error(path: Path, err: Exception) -> Exception:
    if isinstance(err, OSError):  # no permission, a device error: the system's reason
        from napari_cebra.files import unreadable

        return unreadable(path, err, "TIFF")
    return ValueError(
        f"{path}: cannot read this TIFF ({type(err).__name__}: {err}); the file may be "
        "truncated or corrupt — re-export or re-copy it"
    )


def _declared_frames(tif) -> int | None:
    """How many frames the TIFF says it holds (ImageJ or tifffile metadata), if it says."""
    shaped = tif.shaped_metadata
    if shaped and shaped[0].get("shape"):
        shape = tuple(shaped[0]["shape"])
        return int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    images = (tif.imagej_metadata or {}).get("images")
    return int(images) if images is not None else None


def _open_tiff(path: Path):
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, dtype = tuple(series.shape), series.dtype
            offset = series.dataoffset  # None unless the data are contiguous and uncompressed
            n_pages = len(tif.pages)
            declared = _declared_frames(tif)
            first = tif.pages.first if n_pages else None
            page_shape = tuple(getattr(first, "shape", ()))
            compressed = getattr(first, "compression", 1) != 1
            page_stored = sum(getattr(first, "databytecounts", ()) or ())
            last = tif.pages[-1] if n_pages else None
            end = max((o + c for o, c in zip(getattr(last, "dataoffsets", ()),
                                              getattr(last, "databytecounts", ()),
                                              strict=False)), default=0)
    except Exception as err:  # tifffile raises many types for damaged files
        raise _tiff_error(path, err) from err
    size = path.stat().st_size
    if declared == 0 or 0 in shape:
        raise ValueError(f"{path}: the TIFF holds no frames (0 images); export the recording "
                         "again, or pick the file that holds the frames")
    # contiguous data (offset known) are checked by size below; tifffile then reads 1 page
    if offset is None and ((declared is not None and declared > n_pages) or end > size):
        found = f"only {n_pages} pages could be read" if declared else "its last page is cut"
        raise ValueError(
            f"{path}: the TIFF is truncated ({found}"
            + (f" of the {declared} frames it declares" if declared else "")
            + f"; the file has {size} bytes); re-export or re-copy it"
        )
    page_bytes = nbytes_of(page_shape, dtype)
    if not compressed and offset is None:  # page tags: each page stores its pixels
        check_stored(page_bytes, page_stored, path, "the TIFF's first page",
                     shape=page_shape, dtype=dtype)
    # one page is decoded whole (compressed pages too): it must fit in memory
    check_memory(page_bytes, path, "one TIFF page", shape=page_shape, dtype=dtype)
    nbytes = nbytes_of(shape, dtype)
    if offset is not None and offset + nbytes > size:
        raise ValueError(
            f"{path}: the TIFF is truncated (it declares {nbytes} bytes of pixels from byte "
            f"{offset}, the file has {size}); re-export or re-copy it"
        )
    if offset is not None:
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    import dask.array as da
    import zarr

    try:
        store = tifffile.imread(path, aszarr=True)
        arr = da.from_zarr(zarr.open(store, mode="r"))
    except Exception as err:
        raise _tiff_error(path, err) from err
    if arr.ndim == 3 and arr.shape[0] > n_pages:
        raise _tiff_error(path, ValueError("fewer pages than declared"))
    return arr


def _open_one(path: Path):
    suffix = path.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        return _open_tiff(path)
    if suffix == ".npy":
        from .safe_npy import check_npy_size

        check_npy_size(path)  # the header's shape against the file's bytes
        try:
            return np.load(path, mmap_mode="r")
        except ValueError as err:
            raise ValueError(f"{path}: cannot read this .npy file ({err}); re-save it") from err
        except OSError as err:
            from napari_cebra.files import unreadable

            raise unreadable(path, err, ".npy file") from err
    if suffix == ".zarr":
        return _open_zarr(path)
    if suffix in FORMATS:  # registered by its module, e.g. .nwb by napari_cebra.imaging.nwb
        return FORMATS[suffix][0](path)
    raise ValueError(
        f"{path}: unsupported stack format {suffix!r}; use a TIFF, .npy, .zarr or .nwb movie"
    )


def _open_zarr(path: Path):
    """One zarr array, lazily; a group, or damaged metadata, is named with what to do."""
    import dask.array as da
    import zarr

    try:
        node = zarr.open(str(path), mode="r")
    except PermissionError as err:
        from napari_cebra.files import unreadable

        raise unreadable(path, err, "zarr store") from err
    except Exception as err:  # noqa: BLE001 - zarr raises many types for bad metadata
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(
            f"{path}: cannot read this zarr store: its metadata (zarr.json or .zarray) is "
            f"missing or damaged ({type(err).__name__}: {detail}); re-export the movie, or "
            "point at the zarr array inside the folder") from err
    if isinstance(node, zarr.Group):
        arrays = sorted(name for name, _ in node.arrays())
        hint = (f"open one of its arrays, e.g. {path / arrays[0]}" if arrays
                else "it holds no arrays")
        raise ValueError(f"{path}: a zarr group, not one movie array (it holds "
                         f"{', '.join(arrays) or 'nothing'}); {hint}")
    _check_zarr_chunks(node, path)
    frames = frames_per_batch(node.shape[1:], node.dtype) if node.ndim == 3 else None
    chunks = (min(frames, node.shape[0]), *node.shape[1:]) if frames and node.shape[0] else None
    return da.from_zarr(node, chunks=chunks) if chunks else da.from_zarr(node)


def _check_zarr_chunks(node, path: Path) -> None:
    """A zarr array must store the chunks its shape declares (counted on disk, never listed
    from the shape: a crafted header can declare billions of them)."""
    import math

    from napari_cebra.limits import DeclaredSizeError, human

    if not path.is_dir() or not node.size:
        return
    chunk_shape = getattr(node, "chunks", None) or node.shape
    expected = math.prod(-(-int(s) // int(c)) for s, c in zip(node.shape, chunk_shape,
                                                               strict=False))
    stored = 0
    for _, _, files in os.walk(path):
        stored += sum(1 for f in files if f not in (".zarray", ".zattrs", ".zgroup",
                                                  "zarr.json"))
        if stored * 2 >= expected:
            return
    # a writer skips chunks of fill values only; a movie that is mostly missing is not one
    raise DeclaredSizeError(
        f"{path}: the zarr array declares {human(nbytes_of(node.shape, node.dtype))} (shape "
        f"{tuple(node.shape)}, {node.dtype}) in {expected} chunks but the store holds only "
        f"{stored} chunk files; it is incomplete or its zarr.json is wrong — re-export it")


def series_files(path: PathLike) -> list[Path]:
    """The TIFF files of a folder (a multi-file series) in natural order."""
    folder = Path(path)
    files = [p for p in folder.iterdir() if p.suffix.lower() in TIFF_SUFFIXES]
    if not files:
        raise FileNotFoundError(f"{folder}: no TIFF files in this folder; point at a stack file")
    return sorted(files, key=natural_key)


def open_stack(source: PathLike | Sequence[PathLike], name: str | None = None):
    """Open a movie lazily as a (T, Y, X) array-like (numpy memmap or dask array).

    ``source`` is a TIFF/.npy/.zarr file, a folder of TIFFs, or a list of files forming one
    series (concatenated along time in natural filename order). Only metadata is read here.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        is_series = path.is_dir() and path.suffix.lower() != ".zarr"
        paths = series_files(path) if is_series else [path]
    else:
        paths = sorted((Path(p) for p in source), key=natural_key)
        if not paths:
            raise ValueError("open_stack: the list of files is empty")
        for p in paths:
            if not p.exists():
                raise FileNotFoundError(f"{p}: no such file")
    parts = [_open_one(p) for p in paths]
    if len(parts) > 1:  # a series of single-frame files is a movie
        parts = [p[None] if p.ndim == 2 else p for p in parts]
    label = name or str(paths[0] if len(paths) == 1 else paths[0].parent)
    for part, p in zip(parts, paths, strict=True):
        validate_stack(part, str(p))
    if len(parts) == 1:
        return parts[0]
    shapes = {tuple(p.shape[1:]) for p in parts}
    dtypes = {np.dtype(p.dtype) for p in parts}
    if len(shapes) > 1 or len(dtypes) > 1:
        raise ValueError(
            f"{label}: the files of this series differ in frame size or pixel type "
            f"({sorted(shapes)}, {sorted(map(str, dtypes))}); a series must share both"
        )
    import dask.array as da

    chunks = [
        p if isinstance(p, da.Array) else da.from_array(p, chunks=(64, *p.shape[1:]))
        for p in parts
    ]
    return da.concatenate(chunks, axis=0)


def iter_frames(stack, batch: int | None = None, *, batch_bytes: int = BATCH_BYTES,
                source: str = "stack"):
    """Yield (start, frames as ndarray) batches of a lazy stack, reading only one batch at once.

    A batch is about ``batch_bytes`` (at least one frame, at most ``batch`` frames), so a
    stack of huge frames is read a few frames at a time, never 500 of them.
    """
    n = int(stack.shape[0])
    frame_bytes = nbytes_of(stack.shape[1:], stack.dtype)
    check_memory(frame_bytes, source, "one frame",
                 shape=stack.shape[1:], dtype=stack.dtype)
    batch = frames_per_batch(stack.shape[1:], stack.dtype, most=batch, batch_bytes=batch_bytes)
    # a read-only np.memmap: the pages read are dropped after each batch, so one pass over a
    # file larger than memory leaves no trace in this process's memory (they are re-read
    # from the file if the batch is touched again)
    mapping = getattr(stack, "_mmap", None) if getattr(stack, "mode", None) == "r" else None
    for start in range(0, n, batch):
        block = stack[start : start + batch]
        if hasattr(block, "compute"):
            block = block.compute()
        yield start, np.asarray(block)
        if mapping is not None and hasattr(mapping, "madvise"):
            import mmap

            mapping.madvise(mmap.MADV_DONTNEED)


# ---------------------------------------------------------------- frame rate from metadata

def _positive(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) and value > 0 else None


def _scanimage_rate(tif) -> float | None:
    """ScanImage: ``SI.hRoiManager.scanFrameRate`` (``scanVolumeRate`` for volumes), from the
    BigTIFF header (ScanImage 2016+) or the Software tag of the first page; ScanImage 3–5's
    ``state.acq.frameRate`` from the image description."""
    import tifffile

    page = tif.pages.first
    data = {}
    if tif.is_scanimage:
        data = dict((tif.scanimage_metadata or {}).get("FrameData") or {})
        if not data and page.software[:3] == "SI.":
            try:
                data = dict(tifffile.matlabstr2py(page.software))
            except Exception:  # noqa: BLE001 - unparsable metadata: no rate from it
                data = {}
    if data:
        slices = _positive(data.get("SI.hStackManager.numSlices")) or 1
        volume = _positive(data.get("SI.hRoiManager.scanVolumeRate"))
        if slices > 1 and volume:
            return volume
        return _positive(data.get("SI.hRoiManager.scanFrameRate")) or volume
    match = re.search(r"state\.acq\.frameRate\s*=\s*([0-9.eE+-]+)", page.description or "")
    return _positive(match.group(1)) if match else None


def _imagej_rate(tif) -> float | None:
    meta = tif.imagej_metadata or {}
    interval = _positive(meta.get("finterval"))
    if interval:
        unit = str(meta.get("tunit", "sec")).lower()
        scale = {"ms": 1e-3, "msec": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3,
                 "min": 60.0, "minute": 60.0, "minutes": 60.0}.get(unit, 1.0)
        return 1.0 / (interval * scale)
    return _positive(meta.get("fps"))


_OME_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "min": 60.0, "h": 3600.0}


def _ome_rate(tif) -> float | None:
    xml = tif.ome_metadata
    if not xml:
        return None
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml)  # noqa: S314 - parses text, resolves no external entities
    except ET.ParseError:
        return None
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "Pixels":
            step = _positive(element.get("TimeIncrement"))
            scale = _OME_TIME_UNITS.get(element.get("TimeIncrementUnit", "s"))
            return 1.0 / (step * scale) if step and scale else None
    return None


def tiff_frame_rate(path: PathLike) -> float | None:
    """The frame rate (Hz) a TIFF declares: ScanImage, then ImageJ (``finterval`` /
    ``fps``), then OME-XML (``TimeIncrement``); ``None`` when it declares none."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            for reader in (_scanimage_rate, _imagej_rate, _ome_rate):
                rate = reader(tif)
                if rate:
                    return rate
    except Exception as err:  # tifffile raises many types for damaged files
        raise _tiff_error(Path(path), err) from err
    return None


def frame_rate_of(source: PathLike | Sequence[PathLike]) -> float | None:
    """The frame rate (Hz) a stack's metadata declares, or ``None``.

    TIFFs (ScanImage, ImageJ, OME; a series by its first file) and NWB files (the
    TwoPhotonSeries' rate or timestamps) know it; ``.npy`` and ``.zarr`` do not.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir() and path.suffix.lower() != ".zarr":
            path = series_files(path)[0]
    else:
        paths = sorted((Path(p) for p in source), key=natural_key)
        if not paths:
            return None
        path = paths[0]
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        return tiff_frame_rate(path)
    if suffix in FORMATS:
        return FORMATS[suffix][1](path)
    return None
