"""The sample session as lab files (``sample_data/``): shipped whole, regenerated the same,
generated into a cache when a wheel has no folder."""

import csv
import hashlib
import json

import numpy as np
import pytest
import tifffile

from napari_cebra import sample_files as sf


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The files as an installed package without ``sample_data/`` makes them: in the cache."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(cache))
        mp.delenv(sf.ENV_FOLDER, raising=False)
        mp.setattr(sf, "repository_folder", lambda: cache / "no-such-checkout" / "sample_data")
        files = sf.sample_files()
    return files, cache


def test_the_repository_ships_every_file_as_its_manifest_says():
    folder = sf.repository_folder()
    manifest = json.loads((folder / sf.MANIFEST).read_text())
    assert manifest["version"] == sf.SAMPLE_VERSION
    assert set(manifest["files"]) == set(sf.NAMES.values())
    total = 0
    for name, entry in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        total += len(data)
    assert total < 10e6  # a few MB, fit for a git repository
    assert sf.sample_folder() == folder


def test_a_wheel_without_the_folder_generates_the_same_session_into_the_cache(generated):
    files, cache = generated
    assert files.folder == cache / "napari-cebra" / f"sample_data-v{sf.SAMPLE_VERSION}"
    assert not [p for p in files.folder.parent.iterdir() if p.name.startswith(".")]  # no debris
    shipped = sf.repository_folder()
    for key in ("stack", "movie"):
        np.testing.assert_array_equal(tifffile.imread(getattr(files, key)),
                                      tifffile.imread(shipped / sf.NAMES[key]))
    for key in ("frame_labels", "behaviour"):
        assert getattr(files, key).read_text() == (shipped / sf.NAMES[key]).read_text()
    with np.load(files.truth) as a, np.load(shipped / sf.NAMES["truth"]) as b:
        assert set(a.files) == set(b.files)
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k])


def test_the_cache_is_reused_and_a_damaged_one_is_made_again(generated, monkeypatch):
    files, cache = generated
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setattr(sf, "repository_folder", lambda: cache / "none")
    before = files.stack.stat().st_mtime_ns
    assert sf.sample_files().stack.stat().st_mtime_ns == before  # not regenerated
    with open(files.frame_labels, "r+b") as fh:  # truncated by a full disk, say
        fh.truncate(100)
    again = sf.sample_files()
    assert again.frame_labels.stat().st_size == json.loads(
        (again.folder / sf.MANIFEST).read_text())["files"][sf.NAMES["frame_labels"]]["size"]


def test_a_folder_named_by_the_environment_must_hold_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv(sf.ENV_FOLDER, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=f"{sf.ENV_FOLDER}=.*make_sample_data.py"):
        sf.sample_files()


def test_the_files_describe_one_session_consistently():
    files = sf.sample_files()
    stack = tifffile.TiffFile(files.stack)
    assert stack.is_imagej and stack.imagej_metadata["finterval"] == pytest.approx(0.1)
    n_frames = len(stack.pages)
    with open(files.frame_labels, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n_frames and set(rows[0]) == {"frame_id", "repeat"}
    movie = tifffile.imread(files.movie)
    assert max(int(r["frame_id"]) for r in rows) == len(movie) - 1
    # the behaviour rig's clock (50 Hz) put on the frame times gives back the running speed
    from napari_cebra.imaging.labels import align_labels, load_labels
    from napari_cebra.synthetic.v1_imaging import v1_imaging_session

    speed = align_labels(load_labels(files.behaviour, {"running_speed": "continuous"},
                                     time_column="time_s"), n_frames, fs=files.fs)
    session = v1_imaging_session(**sf.SESSION)
    np.testing.assert_allclose(speed.columns["running_speed"], session.running_speed,
                               atol=1e-3)
    with np.load(files.truth) as truth:
        assert truth["true_traces"].shape == (n_frames, sf.SESSION["n_neurons"])
        np.testing.assert_allclose(truth["true_traces"], session.true_traces, rtol=1e-6)


def test_the_nwb_file_is_the_same_session_and_its_frames_are_the_tiff():
    from napari_cebra.imaging.nwb import open_two_photon, read_behaviour, read_rois
    from napari_cebra.imaging.stacks import frame_rate_of, open_stack

    files = sf.sample_files()
    stack = open_two_photon(files.nwb)  # external_file: the TIFF beside it, opened lazily
    assert stack.fs == files.fs == frame_rate_of(files.stack)
    np.testing.assert_array_equal(np.asarray(stack.data[::97]),
                                  np.asarray(open_stack(files.stack)[::97]))
    rois = read_rois(files.nwb)
    with np.load(files.truth) as truth:
        np.testing.assert_allclose(rois.traces, truth["true_traces"], rtol=1e-6)
        assert rois.labels.shape == truth["footprints"].shape[1:]
        assert rois.labels.max() == len(truth["footprints"])
    labels = read_behaviour(files.nwb).labels
    from napari_cebra.whole_path import read_frame_labels

    frames = read_frame_labels(files.frame_labels)
    np.testing.assert_array_equal(labels.columns["frame"], frames.frame_id)
    np.testing.assert_array_equal(labels.columns["repeat"], frames.repeat)


# -- the whole-path demo's session, generated once into the cache ------------------------------
TINY = dict(n_repeats=4, movie_seconds=6.0, fs=10.0, n_neurons=12, shape=(48, 48), diameter=8.0)


@pytest.fixture
def demo_cache(tmp_path, monkeypatch):
    """The user's cache, pointed at a temporary folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "napari-cebra"


def test_the_demo_session_is_generated_once_with_its_settings_in_the_manifest(demo_cache,
                                                                            monkeypatch):
    said = []
    files = sf.demo_files(3, session=TINY, say=said.append)
    assert files.folder.parent == demo_cache and files.folder.name.startswith(
        f"v1_demo-v{sf.DEMO_VERSION}-seed3-")
    assert said and "simulating 12 V1 neurons" in said[0]
    manifest = sf.read_manifest(files.folder)
    assert manifest["version"] == sf.DEMO_VERSION and manifest["session"]["seed"] == 3
    assert manifest["cebra"] == sf.DEMO_CEBRA and manifest["cebra_choice"] == sf.DEMO_CHOICE
    stack = tifffile.imread(files.stack)
    assert stack.shape == (4 * 60, 48, 48) and stack.dtype == np.uint16
    assert not files.nwb.exists()  # the demo needs no NWB copy
    assert [p.name for p in demo_cache.iterdir()] == [files.folder.name]  # no staging debris
    # reused: nothing is made again, nothing is said
    before = {p.name: p.stat().st_mtime_ns for p in files.folder.iterdir()}
    said.clear()
    again = sf.demo_files(3, session=TINY, say=said.append)
    assert again == files and not said
    assert {p.name: p.stat().st_mtime_ns for p in again.folder.iterdir()} == before
    # a new choice of settings is recorded in the manifest; the files are not made again
    monkeypatch.setattr(sf, "DEMO_CEBRA", {**sf.DEMO_CEBRA, "output_dimension": 99})
    monkeypatch.setattr(sf, "DEMO_CHOICE", {"validation": {"a": 0.5}})
    sf.demo_files(3, session=TINY)
    assert sf.read_manifest(files.folder)["cebra"]["output_dimension"] == 99
    assert sf.read_manifest(files.folder)["cebra_choice"] == {"validation": {"a": 0.5}}
    assert files.stack.stat().st_mtime_ns == before[files.stack.name]
    # another animal is another folder, the same movie
    other = sf.demo_files(4, session=TINY)
    assert other.folder != files.folder
    np.testing.assert_array_equal(tifffile.imread(other.movie), tifffile.imread(files.movie))
    assert not np.array_equal(tifffile.imread(other.stack), stack)


def test_a_partial_or_stale_demo_cache_is_made_again(demo_cache):
    files = sf.demo_files(0, session=TINY)
    first = tifffile.imread(files.stack)
    manifest = files.folder / sf.MANIFEST
    for damage in ("truncated", "missing", "no manifest", "older version"):
        if damage == "truncated":  # a full disk, say
            with open(files.stack, "r+b") as fh:
                fh.truncate(1000)
        elif damage == "missing":
            files.frame_labels.unlink()
        elif damage == "no manifest":  # the last file written: its absence means unfinished
            manifest.unlink()
        else:
            data = json.loads(manifest.read_text())
            manifest.write_text(json.dumps({**data, "version": sf.DEMO_VERSION - 1}))
        again = sf.demo_files(0, session=TINY)
        np.testing.assert_array_equal(tifffile.imread(again.stack), first, err_msg=damage)
        assert again.frame_labels.is_file(), damage
        assert sf.read_manifest(again.folder)["version"] == sf.DEMO_VERSION, damage
