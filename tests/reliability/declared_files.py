"""Files that declare far more data than they hold, and the reader each one goes to.

``make(case, folder)`` writes the file (a few KB); ``open_case(case, path)`` hands it to the
napari-cebra reader a user would reach. Run in a subprocess (``python declared_files.py CASE
PATH``) it prints one JSON line: the error's type and message, and the process's peak memory
(``VmHWM``).
"""

import json
import resource
import sys
from pathlib import Path

import numpy as np

HUGE_FRAMES = 10**9  # (10⁹, 4096, 4096) uint16: 32 PB declared


def _nwb(path: Path, *, huge: str = "stack") -> Path:
    import h5py

    from napari_cebra.imaging.nwb_write import write_session_nwb

    rng = np.random.default_rng(0)
    stack = rng.integers(0, 500, (60, 16, 12)).astype(np.uint16)
    masks = np.zeros((3, 16, 12), np.float32)
    for i in range(3):
        masks[i, 4 * i:4 * i + 3, 2:5] = 1
    traces = rng.random((60, 3)).astype(np.float32)
    write_session_nwb(path, stack=stack, fs=30.0, masks=masks, traces=traces)
    with h5py.File(path, "a") as fh:
        if huge == "stack":
            name = "acquisition/TwoPhotonSeries/data"
            shape, chunks = (HUGE_FRAMES, 4096, 4096), (1, 256, 256)
        else:  # the ROI traces
            name = next(f"processing/ophys/{k}/{s}/data"
                        for k in ("DfOverF", "Fluorescence") if k in fh["processing/ophys"]
                        for s in fh[f"processing/ophys/{k}"])
            shape, chunks = (HUGE_FRAMES, 3), (4096, 3)
        dtype = fh[name].dtype
        attrs = dict(fh[name].attrs)
        del fh[name]
        ds = fh.create_dataset(name, shape=shape, chunks=chunks, dtype=dtype)  # nothing written
        for k, v in attrs.items():
            ds.attrs[k] = v
    return path


def _tiff(path: Path, compressed: bool) -> Path:
    import tifffile

    tifffile.imwrite(path, np.ones((5, 8, 8), np.uint16),
                     compression="zlib" if compressed else None)
    side = 200_000  # 200 000 × 200 000 uint16 pages: 75 GB each
    with tifffile.TiffFile(path, mode="r+b") as tif:
        for page in tif.pages:
            page.tags["ImageWidth"].overwrite(side)
            page.tags["ImageLength"].overwrite(side)
            page.tags["RowsPerStrip"].overwrite(side)
    return path


def _npy(path: Path) -> Path:
    from numpy.lib import format as npy_format

    with open(path, "wb") as fh:  # the header of a (10⁶, 10⁶) float32 array, 100 bytes of data
        npy_format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False,
                                               "shape": (10**6, 10**6)})
        fh.write(b"\0" * 100)
    return path


def _suite2p(folder: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).parent))
    from faults import fake_suite2p_plane

    plane = fake_suite2p_plane(folder)
    ops = np.load(plane / "ops.npy", allow_pickle=True).item()
    ops.update(Ly=10**6, Lx=10**6)  # 8 TB of ROI image
    np.save(plane / "ops.npy", np.array(ops, dtype=object), allow_pickle=True)
    return plane


def _model(path: Path) -> Path:
    import torch

    from napari_cebra import CEBRA

    rng = np.random.default_rng(0)
    CEBRA(max_iterations=2, batch_size=16, num_hidden_units=8, output_dimension=3,
          device="cpu").fit(rng.random((200, 6)).astype(np.float32)).save(path)
    payload = torch.load(path, weights_only=True)
    meta = json.loads(payload["metadata"])
    meta["params"]["num_hidden_units"] = 10**9  # 6 × 10⁹ weights in the first layer alone
    payload["metadata"] = json.dumps(meta)
    torch.save(payload, path)
    return path


def _zarr(path: Path) -> Path:
    import zarr

    zarr.open_array(str(path), mode="w", shape=(HUGE_FRAMES, 4096, 4096), chunks=(1, 512, 512),
                    dtype="u2")
    return path


MAKERS = {
    "nwb-stack": lambda d: _nwb(d / "huge.nwb"),
    "nwb-extract": lambda d: _nwb(d / "huge.nwb"),
    "nwb-traces": lambda d: _nwb(d / "traces.nwb", huge="traces"),
    "tiff-pages": lambda d: _tiff(d / "pages.tif", compressed=False),
    "tiff-compressed": lambda d: _tiff(d / "zpages.tif", compressed=True),
    "npy-stack": lambda d: _npy(d / "movie.npy"),
    "npy-labels": lambda d: _npy(d / "labels.npy"),
    "suite2p-ops": lambda d: _suite2p(d / "s2p"),
    "model-metadata": lambda d: _model(d / "m.pt"),
    "zarr-extract": lambda d: _zarr(d / "movie.zarr"),
}
CASES = tuple(MAKERS)


def make(case: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return MAKERS[case](folder)


def open_case(case: str, path: Path) -> None:
    """Hand the file to the reader a user would reach (raises its error)."""
    if case in ("nwb-stack", "tiff-pages", "tiff-compressed", "npy-stack"):
        from napari_cebra.imaging.stacks import iter_frames, open_stack

        stack = open_stack(path)
        next(iter_frames(stack))
    elif case in ("nwb-extract", "zarr-extract"):
        from napari_cebra.imaging.suite2p_run import ExtractParams, run_suite2p_steps

        steps = run_suite2p_steps(path, ExtractParams(fs=30.0, registration="none"),
                                  path.parent / "out")
        for _ in steps:
            pass
    elif case == "nwb-traces":
        from napari_cebra.imaging.nwb import nwb_traces

        nwb_traces(path)
    elif case == "npy-labels":
        from napari_cebra.imaging.labels import read_label_table

        read_label_table(path)
    elif case == "suite2p-ops":
        from napari_cebra.imaging.session import load_session

        load_session(path)
    elif case == "model-metadata":
        from napari_cebra.model_files import load_model

        load_model(path, device="cpu")
    else:  # pragma: no cover
        raise KeyError(case)


def peak_mb() -> float:
    """This process's peak resident memory, MB: ``VmHWM`` (of this program only: unlike
    ``ru_maxrss`` it does not carry the memory of the process that forked it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # other systems


if __name__ == "__main__":
    case, path = sys.argv[1], Path(sys.argv[2])
    error = None
    try:
        open_case(case, path)
    except Exception as err:  # noqa: BLE001 - reported to the test
        error = {"type": type(err).__name__, "message": str(err)}
    print(json.dumps({"error": error, "peak_mb": peak_mb()}))

