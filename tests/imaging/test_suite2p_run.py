import os
from functools import partial

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from napari_cebra.imaging import ExtractParams, block_size_for, drain, run_suite2p_steps
from napari_cebra.imaging.output_folders import (
    fresh_output_dir,
    has_suite2p_output,
    prepare_output_dir,
)
from napari_cebra.imaging.suite2p_read import roi_centroids
from napari_cebra.imaging.suite2p_run import suite2p_settings
from napari_cebra.synthetic.calcium_movie import match_centroids, simulate_calcium_movie


def test_suite2p_finds_the_neurons_and_their_traces(movie, extracted):
    session, _ = extracted
    out = session.suite2p
    i_true, i_found = match_centroids(movie.centroids, roi_centroids(out.stat),
                                      max_dist=movie.diameter / 2)
    found = len(i_true) / movie.n_neurons
    F = session.trace_sets["F"] - 0.7 * session.trace_sets["Fneu"]
    r = [np.corrcoef(movie.traces[:, a], F[:, b])[0, 1]
         for a, b in zip(i_true, i_found, strict=True)]
    print(f"found {found:.0%} of neurons, median trace r = {np.median(r):.3f}")
    assert found >= 0.9
    assert np.median(r) >= 0.9
    # deconvolved spikes line up with the true spikes (within a few frames)
    smooth = partial(gaussian_filter1d, sigma=2.0, axis=0)
    spk, true = smooth(session.trace_sets["spks"][:, i_found]), smooth(movie.spikes[:, i_true])
    best = max(
        np.median([np.corrcoef(true[:, k], np.roll(spk[:, k], lag))[0, 1]
                   for k in range(len(i_true))])
        for lag in range(-3, 4)
    )
    assert best > 0.7


def test_run_reports_progress_through_every_stage(extracted):
    _, events = extracted
    stages = [e.stage for e in events]
    for stage in ("binary", "registration", "detection", "extraction", "deconvolution",
                  "classification", "done"):
        assert stage in stages
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_session_traces_follow_the_contract(extracted, movie):
    session, _ = extracted
    n = session.suite2p.n_rois
    meta = session.layer_metadata()
    assert meta["traces"].shape == (1000, n) and meta["traces"].dtype == np.float32
    assert set(meta["trace_sets"]) == {"F", "Fneu", "spks", "dff"}
    assert meta["fs"] == movie.fs and meta["time_axis"] == 0
    assert meta["labels"] == {} and meta["label_kinds"] == {}
    plane = session.suite2p.plane_dir
    np.testing.assert_allclose(meta["trace_sets"]["F"], np.load(plane / "F.npy").T)
    # the registered movie is kept, lazily
    reg = session.suite2p.registered
    assert isinstance(reg, np.memmap) and reg.shape == movie.movie.shape


def test_block_size_fits_small_frames():
    assert block_size_for((512, 512)) == (128, 128)
    assert block_size_for((128, 128)) == (32, 32)
    assert block_size_for((40, 200)) == (16, 64)
    for shape in [(32, 32), (64, 96), (128, 128)]:
        by, bx = block_size_for(shape)
        assert by <= shape[0] // 2 and bx <= shape[1] // 2


def test_settings_come_from_user_choices():
    s = suite2p_settings(ExtractParams(fs=15, tau=0.7, diameter=9, registration="nonrigid",
                                       torch_device="cpu",
                                       overrides={"detection": {"threshold_scaling": 2.0}}),
                         (96, 96))
    assert s["fs"] == 15 and s["tau"] == 0.7 and s["diameter"] == [9, 9]
    assert s["registration"]["nonrigid"] and s["registration"]["block_size"] == (32, 32)
    assert s["run"]["do_registration"] == 1 and s["torch_device"] == "cpu"
    assert s["detection"]["algorithm"] == "sparsery"
    assert s["detection"]["threshold_scaling"] == 2.0 and "max_overlap" in s["detection"]
    none = suite2p_settings(ExtractParams(fs=15, registration="none"), (96, 96))
    assert none["run"]["do_registration"] == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fs": 0}, "frame rate"),
        ({"fs": 30, "tau": -1}, "tau"),
        ({"fs": 30, "registration": "affine"}, "registration"),
        ({"fs": 30, "detection": "cellpose"}, "nothing is downloaded"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExtractParams(**kwargs).validate()


def test_existing_results_are_never_overwritten(extracted, tmp_path):
    session, _ = extracted
    out = session.suite2p.plane_dir.parent.parent
    before = (session.suite2p.plane_dir / "F.npy").stat().st_mtime_ns
    assert has_suite2p_output(out)
    with pytest.raises(FileExistsError, match="already holds suite2p results"):
        next(run_suite2p_steps(np.zeros((60, 32, 32), np.float32), ExtractParams(fs=30), out))
    assert (session.suite2p.plane_dir / "F.npy").stat().st_mtime_ns == before
    (tmp_path / "x_suite2p").mkdir()
    assert fresh_output_dir(tmp_path, "x").name == "x_suite2p_2"


def test_unwritable_output_folder(tmp_path):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(PermissionError, match="not writable"):
        prepare_output_dir(tmp_path / "a_file" / "out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_output_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="not writable"):
            prepare_output_dir(locked / "out")
    finally:
        locked.chmod(0o700)


def test_bad_stacks_fail_before_any_output(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="single image"):
        next(run_suite2p_steps(np.zeros((32, 32)), ExtractParams(fs=30), out))
    with pytest.raises(ValueError, match="at least 50 frames"):
        next(run_suite2p_steps(np.zeros((5, 32, 32)), ExtractParams(fs=30), out))
    with pytest.raises(TypeError, match="number type"):
        next(run_suite2p_steps(np.zeros((60, 32, 32), bool), ExtractParams(fs=30), out))
    assert not out.exists()


def test_nan_pixels_fail_and_leave_nothing(tmp_path):
    movie = np.ones((60, 32, 32), np.float32)
    movie[10, 3, 3] = np.nan
    out = tmp_path / "out"
    gen = run_suite2p_steps(movie, ExtractParams(fs=30), out)
    with pytest.raises(ValueError, match="NaN"):
        list(gen)
    assert not out.exists()


def test_cancel_removes_the_partial_output(tmp_path):
    sim = simulate_calcium_movie(n_frames=300, shape=(64, 64), n_neurons=5, seed=1)
    out = tmp_path / "cancelled"
    gen = run_suite2p_steps(sim.movie, ExtractParams(fs=30, registration="rigid"), out)
    for event in gen:
        if event.stage == "registration":
            break
    gen.close()
    assert not out.exists()


def test_nonrigid_registration_runs_on_small_frames(tmp_path):
    """suite2p's default 128 px blocks crash on 64 px frames; ours fit the frame."""
    sim = simulate_calcium_movie(n_frames=120, shape=(64, 64), n_neurons=4, seed=2)
    params = ExtractParams(fs=30, registration="nonrigid", torch_device="cpu",
                           overrides={"run": {"do_detection": False}})
    plane = drain(run_suite2p_steps(sim.movie, params, tmp_path / "nr"))
    ops = np.load(plane / "reg_outputs.npy", allow_pickle=True).item()
    assert "yoff1" in ops and np.asarray(ops["yoff1"]).shape[0] == 120  # per-block shifts
    # rigid offsets follow the simulated motion
    assert np.corrcoef(ops["yoff"], sim.shifts[:, 0])[0, 1] > 0.8


def test_default_output_folder_is_fresh_and_next_to_the_file(tmp_path):
    from napari_cebra.imaging.output_folders import default_output_dir

    src = tmp_path / "mouse1.tif"
    src.write_bytes(b"")
    assert default_output_dir(src) == tmp_path / "mouse1_suite2p"
    (tmp_path / "mouse1_suite2p").mkdir()
    assert default_output_dir([src]) == tmp_path / "mouse1_suite2p_2"
    in_memory = default_output_dir(np.zeros((3, 4, 4)))
    assert not in_memory.exists() and "napari-cebra" in in_memory.name


def test_conversion_to_suite2p_binary_matches_suite2p(tmp_path):
    """uint16 halves (as suite2p's own TIFF reader does); small-range floats are rescaled."""
    from napari_cebra.imaging.suite2p_run import write_binary

    u16 = np.array([[[0, 1, 65535]]], np.uint16).repeat(3, axis=0)
    info = drain(write_binary(u16, tmp_path))
    got = np.fromfile(tmp_path / "data.bin", np.int16).reshape(u16.shape)
    np.testing.assert_array_equal(got, (u16 // 2).astype(np.int16))
    assert info["intensity_scale"] == 1.0
    dff = np.linspace(0, 1.0, 12, dtype=np.float32).reshape(3, 1, 4)  # dF/F-like floats
    info = drain(write_binary(dff, tmp_path))
    got = np.fromfile(tmp_path / "data.bin", np.int16).reshape(dff.shape)
    assert info["intensity_scale"] == pytest.approx(16000.0)
    np.testing.assert_allclose(got / info["intensity_scale"], dff, atol=1e-4)
    np.testing.assert_allclose(info["meanImg"], got.mean(axis=0))


def test_a_movie_without_cells_fails_clearly_and_leaves_nothing(tmp_path):
    noise = np.random.default_rng(0).poisson(100, (300, 48, 48)).astype(np.float32)
    out = tmp_path / "empty"
    with pytest.raises(ValueError, match="suite2p failed"):
        drain(run_suite2p_steps(noise, ExtractParams(fs=30, registration="none",
                                                     torch_device="cpu"), out))
    assert not out.exists()
