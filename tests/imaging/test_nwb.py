"""NWB in and out: a session written with write_session_nwb or plain pynwb reads back the same
stack, ROIs, traces and labels (put on the imaging frames by their timestamps)."""

from __future__ import annotations

import pickle
from datetime import datetime, timezone

import h5py
import numpy as np
import pytest

from napari_cebra.embedding_files import load_embedding, save_embedding
from napari_cebra.imaging import nwb
from napari_cebra.imaging.nwb_write import write_embedding_nwb, write_session_nwb
from napari_cebra.imaging.stacks import frame_rate_of, open_stack
from napari_cebra.synthetic.v1_imaging import v1_imaging_session

pynwb = pytest.importorskip("pynwb")


def _masks(footprints: np.ndarray) -> np.ndarray:
    peak = footprints.reshape(len(footprints), -1).max(axis=1)[:, None, None]
    return np.where(footprints > 0.3 * peak, footprints / peak, 0).astype(np.float32)


@pytest.fixture(scope="module")
def session():
    return v1_imaging_session(n_repeats=2, movie_seconds=4.0, n_neurons=10, shape=(40, 48),
                              motion=False, seed=1)


@pytest.fixture(scope="module")
def written(session, tmp_path_factory):
    s = session
    path = tmp_path_factory.mktemp("nwb") / "session.nwb"
    iscell = np.arange(10) % 4 != 0
    import dask.array as da

    lazy = da.from_array(np.round(s.stack).astype(np.uint16), chunks=(50, 40, 48))
    write_session_nwb(  # a lazy stack is written batch by batch
        path, stack=lazy, fs=s.fs, masks=_masks(s.footprints),
        traces=s.true_traces, iscell=iscell,
        labels={"repeat": s.repeat, "running_speed": s.running_speed},
        label_kinds={"repeat": "discrete", "running_speed": "continuous"},
        stimulus_frame_id=s.frame_id, stimulus_movie=s.movie)
    return path, iscell


def test_session_round_trip(session, written):
    s, (path, iscell) = session, written
    stack = nwb.open_two_photon(path)
    assert type(stack.data).__name__ == "Array"  # dask: lazy, nothing loaded yet
    assert stack.data.shape == s.stack.shape and stack.fs == s.fs
    np.testing.assert_allclose(stack.timestamps, np.arange(len(s.stack)) / s.fs)
    np.testing.assert_array_equal(np.asarray(stack.data[7]), np.round(s.stack[7]))
    np.testing.assert_array_equal(np.asarray(open_stack(path)[3]), np.round(s.stack[3]))
    assert frame_rate_of(path) == s.fs

    rois = nwb.read_rois(path)
    np.testing.assert_array_equal(rois.traces, s.true_traces.astype(np.float32))
    assert rois.labels.shape == s.stack.shape[1:] and rois.fs == s.fs
    masks = _masks(s.footprints)
    for i in range(10):  # ROI i is painted as i + 1 exactly where its mask is strongest
        mine = rois.labels == i + 1
        assert mine.any() and masks[i][mine].min() > 0
        assert (masks[i][mine] >= masks.max(axis=0)[mine]).all()
    np.testing.assert_array_equal(rois.features["iscell"], iscell)
    np.testing.assert_array_equal(rois.features["roi"], np.arange(1, 11))
    as_images = path.with_name("image_masks.nwb")  # the other mask layout, same label image
    write_session_nwb(as_images, fs=s.fs, masks=masks, traces=s.true_traces,
                      mask_format="image")
    np.testing.assert_array_equal(nwb.read_rois(as_images).labels, rois.labels)
    assert nwb.nwb_traces(path)[1] == s.fs
    np.testing.assert_array_equal(nwb.nwb_traces(path)[0], rois.traces)

    found = nwb.read_behaviour(path)
    labels = found.labels
    assert labels.kinds == {"repeat": "discrete", "running_speed": "continuous",
                            "frame": "discrete"}
    np.testing.assert_array_equal(labels.columns["frame"], s.frame_id)
    np.testing.assert_array_equal(labels.columns["repeat"], s.repeat)
    np.testing.assert_allclose(labels.columns["running_speed"], s.running_speed, rtol=1e-6)
    assert found.sources["frame"] == "intervals/stimulus_presentation"
    movie = nwb.read_stimulus_movies(path)["stimulus_movie"]
    np.testing.assert_array_equal(movie, s.movie)
    assert set(nwb.describe_nwb(path)["imaging"]) == {
        "acquisition/TwoPhotonSeries (shape (240, 48, 40), 30 Hz)"}


def test_stack_file_stays_usable_and_pickles(written):
    path, _ = written
    stack = nwb.open_two_photon(path)
    first = np.asarray(stack.data[0])
    data = stack.data
    stack.close()  # closed now: reading again reopens the file read-only
    np.testing.assert_array_equal(np.asarray(data[0]), first)
    del stack
    copy = pickle.loads(pickle.dumps(data))  # carries the file name, not the open handle
    np.testing.assert_array_equal(np.asarray(copy[0]), first)


def _plain_file(path, *, behaviour_shift: float = 0.0, extra_series: bool = False):
    """Written with pynwb as a lab would: timestamps, pixel masks, DfOverF + Fluorescence,
    a 100 Hz Position, a stimulus table with one movie frame per two imaging frames."""
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.behavior import Position
    from pynwb.epoch import TimeIntervals
    from pynwb.ophys import (
        DfOverF,
        Fluorescence,
        ImageSegmentation,
        OpticalChannel,
        TwoPhotonSeries,
    )

    rng = np.random.default_rng(0)
    t0, fs, n, x, y = 5.0, 20.0, 100, 12, 10
    frame_times = t0 + np.arange(n) / fs + rng.uniform(0, 0.002, n)
    f = NWBFile(session_description="lab", identifier="x",
                session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    device = f.create_device(name="scope")
    plane = f.create_imaging_plane(name="plane", optical_channel=OpticalChannel(
        name="ch", description="g", emission_lambda=510.0), device=device,
        description="p", excitation_lambda=920.0, indicator="GCaMP6", location="V1")
    movie = rng.integers(0, 1000, (n, x, y)).astype(np.uint16)  # NWB order (frame, x, y)
    f.add_acquisition(TwoPhotonSeries(name="raw", data=movie, imaging_plane=plane,
                                      unit="a.u.", timestamps=frame_times))
    if extra_series:
        f.add_acquisition(TwoPhotonSeries(name="red", data=movie, imaging_plane=plane,
                                          unit="a.u.", timestamps=frame_times))
    ophys = f.create_processing_module("ophys", "o")
    seg = ImageSegmentation()
    ophys.add(seg)
    ps = seg.create_plane_segmentation(name="cells", description="d", imaging_plane=plane)
    ps.add_column("iscell", "suite2p's (iscell, probability)")
    pixels = [[(1, 2, 1.0), (2, 2, 0.5)], [(7, 8, 1.0)], [(4, 5, 1.0), (4, 6, 1.0)]]
    for i, pm in enumerate(pixels):
        ps.add_roi(pixel_mask=pm, iscell=[float(i != 1), 0.9])
    region = ps.create_roi_table_region(region=[0, 1, 2], description="all")
    dff = rng.normal(size=(n, 3)).astype(np.float32)
    raw = dff + 100
    for container, name, data in ((DfOverF(), "dff", dff), (Fluorescence(), "F", raw)):
        ophys.add(container)
        container.create_roi_response_series(name=name, data=data, rois=region, unit="1",
                                             timestamps=frame_times)
    behaviour = f.create_processing_module("behavior", "b")
    position = Position()
    bt = t0 - 1 + behaviour_shift + np.arange(int(8 * 100)) / 100.0  # 100 Hz, longer
    position.create_spatial_series(name="pos", data=np.stack([2 * bt, 3 - bt], axis=1),
                                   reference_frame="arena", timestamps=bt)
    behaviour.add(position)
    stim = TimeIntervals(name="movie_presentation", description="frames on screen")
    stim.add_column("frame", "movie frame")
    for k in range(n // 2 + 2):
        start = t0 - 0.05 + k * 2 / fs
        stim.add_interval(start_time=start, stop_time=start + 2 / fs, frame=k % 7)
    f.add_time_intervals(stim)
    f.add_acquisition(TimeSeries(name="notes", data=np.array(["a", "b"], dtype=object),
                                 unit="n/a", timestamps=[t0, t0 + 1]))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(f)
    return dict(frame_times=frame_times, movie=movie, dff=dff, raw=raw, t0=t0, fs=fs)


def test_plain_pynwb_file_reads_by_timestamps(tmp_path):
    path = tmp_path / "lab.nwb"
    truth = _plain_file(path)
    stack = nwb.open_two_photon(path)
    np.testing.assert_array_equal(np.asarray(stack.data), truth["movie"].transpose(0, 2, 1))
    np.testing.assert_allclose(stack.timestamps, truth["frame_times"])
    assert stack.fs == pytest.approx(20.0, rel=0.02)  # from the timestamps

    rois = nwb.read_rois(path)
    assert rois.traces_name == "DfOverF"
    np.testing.assert_array_equal(rois.traces, truth["dff"])
    np.testing.assert_array_equal(rois.trace_sets["Fluorescence"], truth["raw"])
    expected = np.zeros((10, 12), np.int32)  # pixel_mask (x, y) → label[y, x]
    expected[2, 1] = expected[2, 2] = 1
    expected[8, 7] = 2
    expected[5, 4] = expected[6, 4] = 3
    np.testing.assert_array_equal(rois.labels, expected)
    np.testing.assert_array_equal(rois.features["iscell"], [True, False, True])

    found = nwb.read_behaviour(path, strict=False)
    t = truth["frame_times"]
    cols = found.labels.columns
    np.testing.assert_allclose(cols["pos_x"], 2 * t, rtol=1e-6)  # interpolated at 100 Hz
    np.testing.assert_allclose(cols["pos_y"], 3 - t, rtol=1e-5, atol=1e-5)
    assert found.labels.kinds["pos_x"] == "continuous"
    k = np.floor((t - (truth["t0"] - 0.05)) / (2 / truth["fs"])).astype(int)
    np.testing.assert_array_equal(cols["frame"], k % 7)  # the interval on screen at each frame
    assert found.labels.kinds["frame"] == "discrete"
    assert "not numbers" in found.skipped["acquisition/notes"]  # text is never loaded
    assert set(nwb.read_behaviour(path).labels.columns) == set(cols)


def test_labels_outside_the_imaging_time_are_refused(tmp_path):
    path = tmp_path / "shifted.nwb"
    _plain_file(path, behaviour_shift=1000.0)
    found = nwb.read_behaviour(path, strict=False)
    assert "pos_x" not in found.labels.columns
    assert "time bases do not match" in found.skipped["processing/behavior/Position/pos"]
    with pytest.raises(ValueError, match=r"Position/pos: labels cover 1e\+03.*imaging spans 5"):
        nwb.read_behaviour(path)


def test_several_series_need_a_name(tmp_path):
    path = tmp_path / "two.nwb"
    _plain_file(path, extra_series=True)
    with pytest.raises(ValueError, match=r"several imaging series.*acquisition/raw.*"
                                         r"acquisition/red"):
        nwb.open_two_photon(path)
    assert nwb.open_two_photon(path, "red").location == "acquisition/red"
    with pytest.raises(ValueError, match="no imaging series named 'blue'"):
        nwb.open_two_photon(path, "blue")


def test_not_nwb_files(tmp_path):
    text = tmp_path / "a.nwb"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not an NWB file"):
        nwb.describe_nwb(text)
    plain = tmp_path / "b.nwb"
    with h5py.File(plain, "w") as fh:
        fh["x"] = np.arange(3)
    with pytest.raises(ValueError, match="not an NWB file"):
        nwb.read_rois(plain)
    with pytest.raises(FileNotFoundError):
        nwb.open_two_photon(tmp_path / "missing.nwb")
    only_behaviour = tmp_path / "c.nwb"
    write_session_nwb(only_behaviour, fs=10.0, labels={"speed": np.linspace(0, 1, 30)})
    with pytest.raises(ValueError, match="holds no imaging series"):
        nwb.open_two_photon(only_behaviour)
    with pytest.raises(ValueError, match="holds no ROI segmentation"):
        nwb.read_rois(only_behaviour)


def test_session_writer_never_overwrites_and_checks_lengths(tmp_path, written):
    path, _ = written
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        write_session_nwb(path, fs=10.0, labels={"a": np.arange(5)})
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match="differ in length"):
        write_session_nwb(tmp_path / "x.nwb", fs=10.0, labels={"a": np.arange(5)},
                          stimulus_frame_id=np.arange(6))
    assert not (tmp_path / "x.nwb").exists() and not list(tmp_path.glob(".x*"))


def test_embedding_goes_into_a_new_nwb_file(tmp_path, written):
    source, _ = written
    emb = np.random.default_rng(3).normal(size=(240, 3)).astype(np.float32)
    out = tmp_path / "embedding.nwb"
    settings = {"model_architecture": "offset10-model", "max_iterations": 50}
    write_embedding_nwb(out, emb, 30.0, source=source, settings=settings,
                        labels={"frame_id": np.arange(240) % 120})
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(out), "r") as io:
        module = io.read().processing["cebra"]
        np.testing.assert_array_equal(module["embedding"].data[:], emb)
        assert module["embedding"].rate == 30.0
        np.testing.assert_array_equal(module["frame_id"].data[:], np.arange(240) % 120)
    assert nwb.settings_of_embedding(out) == settings
    with pytest.raises(FileExistsError):  # never replaced without asking
        write_embedding_nwb(out, emb, 30.0, settings=settings)
    write_embedding_nwb(out, emb[:10], 30.0, settings=settings, overwrite=True)  # ours: ok
    assert nwb.read_embedding_nwb(out)[0].shape == (10, 3)
    before = source.read_bytes()
    with pytest.raises(ValueError, match="recording the embedding came from"):
        write_embedding_nwb(source, emb, 30.0, source=source, overwrite=True)
    link = tmp_path / "link.nwb"
    link.symlink_to(source)
    with pytest.raises(ValueError, match="recording the embedding came from"):
        write_embedding_nwb(link, emb, 30.0, source=source, overwrite=True)
    with pytest.raises(FileExistsError, match="more than a napari-cebra embedding"):
        write_embedding_nwb(source, emb, 30.0, overwrite=True)  # any recording: refused
    assert source.read_bytes() == before


def test_save_embedding_nwb_round_trip(tmp_path):
    emb = np.random.default_rng(4).normal(size=(50, 4)).astype(np.float32)
    frames = np.arange(10, 60)
    path = save_embedding(tmp_path / "e.nwb", emb, frames, {"speed": np.linspace(0, 1, 50)},
                          fs=10.0, settings={"seed": 1})
    got, time, labels = load_embedding(path)
    np.testing.assert_array_equal(got, emb)
    np.testing.assert_array_equal(time, frames)
    np.testing.assert_allclose(labels["speed"], np.linspace(0, 1, 50))


def test_extract_runs_suite2p_on_an_nwb_stack_at_its_rate(tmp_path, capsys):
    from napari_cebra.cli import main
    from napari_cebra.synthetic.calcium_movie import simulate_calcium_movie

    sim = simulate_calcium_movie(n_frames=300, shape=(48, 48), n_neurons=5, motion=False,
                                 fs=15.0, seed=7)
    path = tmp_path / "m.nwb"
    write_session_nwb(path, stack=sim.movie.astype(np.int16), fs=sim.fs)
    out = tmp_path / "out"
    assert main(["extract", str(path), "--out", str(out), "--registration", "none",
                 "--diameter", "6", "--device", "cpu"]) == 0  # no --fs: the file knows it
    assert "frame rate 15 Hz (from the file's metadata)" in capsys.readouterr().out
    traces = np.load(out / "suite2p" / "plane0" / "traces.npz")
    assert float(traces["fs"]) == 15.0 and traces["dff"].shape[0] == 300
