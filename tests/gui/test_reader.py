"""The npe2 readers: suite2p folders, trace matrices and lazy stacks, through napari."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_cebra.contracts import META_KEY
from napari_cebra.gui import reader
from napari_cebra.synthetic.calcium_movie import simulate_calcium_movie


@pytest.fixture(scope="module")
def suite2p_folder(tmp_path_factory):
    """Written by suite2p itself (run_s2p on a TIFF), not by napari-cebra."""
    import suite2p

    sim = simulate_calcium_movie(n_frames=400, shape=(48, 48), n_neurons=5, motion=False, seed=7)
    root = tmp_path_factory.mktemp("s2p")
    (root / "data").mkdir()
    tifffile.imwrite(root / "data" / "m.tif", sim.movie.astype(np.int16))
    db = suite2p.default_db()
    db.update(data_path=[str(root / "data")], save_path0=str(root / "session"))
    settings = suite2p.default_settings()
    settings.update(fs=sim.fs, tau=sim.tau, diameter=[6.0, 6.0], torch_device="cpu")
    settings["run"]["do_registration"] = 0
    suite2p.run_s2p(db=db, settings=settings)
    return root / "session"


def test_suite2p_folder_opens_in_napari(make_napari_viewer, suite2p_folder):
    plane = suite2p_folder / "suite2p" / "plane0"
    F = np.load(plane / "F.npy")
    iscell = np.load(plane / "iscell.npy")
    assert reader.get_suite2p_reader(str(suite2p_folder / "data")) is None
    assert reader.get_suite2p_reader(str(suite2p_folder)) is not None
    viewer = make_napari_viewer()
    layers = viewer.open(str(suite2p_folder), plugin="napari-cebra")
    rois = [layer for layer in layers if layer.name.endswith("ROIs")][0]
    assert rois.__class__.__name__ == "Labels"
    assert rois.data.max() == len(F)  # same ROI count…
    meta = rois.metadata[META_KEY]
    np.testing.assert_array_equal(meta["trace_sets"]["F"], F.T)  # …and the same values
    np.testing.assert_array_equal(rois.features["iscell"], iscell[:, 0] > 0.5)
    assert meta["traces"].shape == (F.shape[1], F.shape[0]) and meta["time_axis"] == 0
    assert {"mean image"} <= {layer.name.split("session ")[-1] for layer in layers}
    # cells and non-cells have different colours
    colors = rois.colormap.color_dict
    cells = rois.features["roi"][rois.features["iscell"]].tolist()
    others = rois.features["roi"][~rois.features["iscell"]].tolist()
    if cells and others:
        assert not np.allclose(colors[cells[0]], colors[others[0]])


def test_missing_stat_is_not_taken_as_suite2p(tmp_path):
    (tmp_path / "suite2p" / "plane0").mkdir(parents=True)
    np.save(tmp_path / "suite2p" / "plane0" / "F.npy", np.zeros((2, 10)))
    assert reader.get_suite2p_reader(str(tmp_path)) is None
    with pytest.raises(FileNotFoundError, match="stat.npy"):
        reader.read_suite2p_folder(str(tmp_path))


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_trace_matrix_becomes_a_traces_layer(make_napari_viewer, tmp_path, suffix):
    traces = np.random.default_rng(0).random((50, 7)).astype(np.float32)
    path = tmp_path / f"t{suffix}"
    if suffix == ".npy":
        np.save(path, traces)
    else:
        np.savetxt(path, traces, delimiter=",", header=",".join(f"n{i}" for i in range(7)),
                   comments="")
    assert reader.get_traces_reader(str(path)) is not None
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="napari-cebra")
    np.testing.assert_allclose(layer.metadata[META_KEY]["traces"], traces, rtol=1e-6)
    assert layer.data.shape[0] == 50


def test_bad_trace_matrices(tmp_path):
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="NaN"):
        reader.read_traces(str(tmp_path / "nan.npy"))
    (tmp_path / "bad.csv").write_text("a,b\n1,x\n")
    with pytest.raises(ValueError, match="numeric"):
        reader.read_traces(str(tmp_path / "bad.csv"))
    np.save(tmp_path / "stack.npy", np.zeros((3, 4, 4)))
    assert reader.get_traces_reader(str(tmp_path / "stack.npy")) is None
    assert reader.get_stack_reader(str(tmp_path / "stack.npy")) is not None


def test_stack_opens_lazily(make_napari_viewer, tmp_path):
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, shape=(4000, 256, 256), dtype="uint16")  # 0.5 GB, sparse on disk
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="napari-cebra")
    assert isinstance(layer.data, np.memmap) and layer.data.shape == (4000, 256, 256)
    viewer.dims.set_current_step(0, 3000)


def test_tiff_series_folder(make_napari_viewer, tmp_path):
    for i in range(3):
        tifffile.imwrite(tmp_path / f"f_{i + 1}.tif", np.full((4, 8, 8), i, np.uint16))
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(tmp_path), plugin="napari-cebra")
    assert layer.data.shape == (12, 8, 8)
    assert int(layer.data[11, 0, 0]) == 2


def test_every_plane_of_a_multi_plane_folder_opens(suite2p_folder, tmp_path):
    import shutil

    plane0 = suite2p_folder / "suite2p" / "plane0"
    for k in (0, 1):
        shutil.copytree(plane0, tmp_path / "suite2p" / f"plane{k}",
                        ignore=shutil.ignore_patterns("*.bin"))
    layers = reader.read_suite2p_folder(str(tmp_path))
    names = [kwargs["name"] for _, kwargs, _ in layers]
    assert sum(n.endswith("ROIs") for n in names) == 2
    assert any("plane1 ROIs" in n for n in names)


def test_a_dropped_zarr_stack_reaches_our_reader(make_napari_viewer, tmp_path):
    import zarr

    path = tmp_path / "movie.zarr"
    store = zarr.open(str(path), mode="w", shape=(50, 16, 16), chunks=(10, 16, 16),
                      dtype="uint16")
    store[:] = np.arange(50, dtype=np.uint16)[:, None, None]
    assert reader.get_stack_reader(str(path)) is reader.read_stack
    import npe2

    offered = [r.plugin_name for r in npe2.PluginManager.instance().iter_compatible_readers(
        [str(path)])]
    assert "napari-cebra" in offered  # a drop offers our reader (napari asks which one)
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="napari-cebra")
    assert layer.data.shape == (50, 16, 16) and int(layer.data[42, 3, 3]) == 42
    assert layer.metadata["source_path"] == str(path)  # our reader's metadata
    zarr.open_group(str(tmp_path / "group.zarr"), mode="w")
    assert reader.get_stack_reader(str(tmp_path / "group.zarr")) is None  # not a 3-D array


@pytest.mark.parametrize("kind", ["tif", "npy", "zarr", "folder"])
def test_every_stack_format_the_readme_lists_opens(make_napari_viewer, tmp_path, kind):
    movie = np.arange(6 * 8 * 8, dtype=np.uint16).reshape(6, 8, 8)
    if kind == "tif":
        path = tmp_path / "m.tif"
        tifffile.imwrite(path, movie)
    elif kind == "npy":
        path = tmp_path / "m.npy"
        np.save(path, movie)
    elif kind == "zarr":
        import zarr

        path = tmp_path / "m.zarr"
        zarr.open(str(path), mode="w", shape=movie.shape, dtype=movie.dtype)[:] = movie
    else:
        path = tmp_path / "series"
        path.mkdir()
        for i in range(2):
            tifffile.imwrite(path / f"m_{i + 1}.tif", movie[3 * i:3 * i + 3])
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="napari-cebra")
    np.testing.assert_array_equal(np.asarray(layer.data), movie)
