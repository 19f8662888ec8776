"""Opening a suite2p folder never runs code stored in it."""

import numpy as np
import pytest
from faults import Payload, ShellPayload, fake_suite2p_plane

from napari_cebra.cli import main
from napari_cebra.gui.reader import read_suite2p_folder
from napari_cebra.imaging import load_session
from napari_cebra.imaging.output_folders import foreign_files
from napari_cebra.imaging.safe_npy import UnsafeFileError, load_npy

PAYLOADS = {"path_touch": Payload, "os_system": ShellPayload}


@pytest.fixture(params=sorted(PAYLOADS))
def crafted(request, tmp_path):
    """A suite2p folder whose stat.npy carries a payload, the marker it would create, and a
    proof that a plain ``np.load(allow_pickle=True)`` does run it."""
    marker = tmp_path / "PAYLOAD_RAN"
    payload = PAYLOADS[request.param](marker)
    plane = fake_suite2p_plane(tmp_path / "shared", stat_extra=payload)
    np.load(plane / "stat.npy", allow_pickle=True)  # what the plugin used to do
    assert marker.exists(), "the payload must be real for the test to mean anything"
    marker.unlink()
    return plane, marker


def test_crafted_stat_does_not_run_through_load_session(crafted, unchanged):
    plane, marker = crafted
    with unchanged(), pytest.raises(UnsafeFileError, match="stat.npy holds a Python object"):
        load_session(plane)
    assert not marker.exists()


def test_crafted_stat_does_not_run_through_the_command_line(crafted, unchanged, capsys):
    plane, marker = crafted
    with unchanged():  # no marker, no model file, nothing else either
        code = main(["train", str(plane), "--out", str(plane.parent / "m.pt")])
    assert code == 1 and "refuses to load because opening it could run code" in \
        capsys.readouterr().err
    assert not marker.exists()


def test_crafted_stat_does_not_run_through_the_napari_reader(crafted, unchanged):
    plane, marker = crafted
    with unchanged(), pytest.raises(UnsafeFileError, match="could run code"):
        read_suite2p_folder(str(plane.parent.parent))
    assert not marker.exists()


def test_crafted_ops_does_not_run(tmp_path, unchanged):
    marker = tmp_path / "PAYLOAD_RAN"
    plane = fake_suite2p_plane(tmp_path / "shared", ops_extra=Payload(marker))
    with unchanged(), pytest.raises(UnsafeFileError, match="ops.npy holds a Python object"):
        load_session(plane)
    assert not marker.exists()


def test_object_array_where_numbers_belong_is_refused(tmp_path, unchanged):
    marker = tmp_path / "PAYLOAD_RAN"
    plane = fake_suite2p_plane(tmp_path / "shared")
    np.save(plane / "F.npy", np.array([Payload(marker)] * 4, dtype=object), allow_pickle=True)
    with unchanged(), pytest.raises(UnsafeFileError, match="Python objects where numbers"):
        load_session(plane)
    assert not marker.exists()


def test_a_clean_folder_reads_the_same_as_numpy_reads_it(tmp_path):
    plane = fake_suite2p_plane(tmp_path / "ok")
    ours = load_npy(plane / "stat.npy", allow_objects=True)
    plain = np.load(plane / "stat.npy", allow_pickle=True)
    assert len(ours) == len(plain)
    for a, b in zip(ours, plain, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    assert load_session(plane).traces.shape == (200, 4)


def _same(ours, theirs, where: str = "") -> None:
    """Deep equality of what our reader and a plain (trusted) ``np.load`` rebuilt."""
    assert type(ours) is type(theirs), where
    if isinstance(ours, dict):
        assert ours.keys() == theirs.keys(), where
        for key in ours:
            _same(ours[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(ours, (list, tuple)):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(ours, np.ndarray) and ours.dtype == object:
        assert ours.shape == theirs.shape, where
        for i, (a, b) in enumerate(zip(ours.ravel(), theirs.ravel(), strict=True)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(ours, np.ndarray):
        assert ours.dtype == theirs.dtype, where
        np.testing.assert_array_equal(ours, theirs, err_msg=where)
    else:
        assert ours == theirs or (ours != ours and theirs != theirs), where  # NaN == NaN


@pytest.fixture(scope="module")
def suite2p_registered_two_planes(tmp_path_factory):
    """``suite2p.run_s2p`` itself on an interleaved two-plane TIFF, rigid registration on."""
    import suite2p
    import tifffile

    from napari_cebra.synthetic.calcium_movie import simulate_calcium_movie

    sim = simulate_calcium_movie(n_frames=2 * 250, shape=(64, 64), n_neurons=8, seed=5)
    root = tmp_path_factory.mktemp("s2p_own_reg")
    (root / "data").mkdir()
    tifffile.imwrite(root / "data" / "movie.tif", sim.movie.astype(np.int16))
    db = suite2p.default_db()
    db.update(data_path=[str(root / "data")], save_path0=str(root / "out"), nplanes=2)
    settings = suite2p.default_settings()
    settings.update(fs=sim.fs, tau=sim.tau, diameter=[sim.diameter, sim.diameter],
                    torch_device="cpu")
    settings["registration"]["nonrigid"] = False
    suite2p.run_s2p(db=db, settings=settings)
    return root / "out"


@pytest.mark.parametrize("folder", ["suite2p_own_folder", "suite2p_registered_two_planes"])
def test_folder_written_by_suite2p_itself_still_opens(folder, request):
    """Every plane of a genuine suite2p folder (with and without registration outputs) opens
    with exactly what a plain, trusting ``np.load`` gives, and the reader shows every plane."""
    root = request.getfixturevalue(folder)
    planes = sorted((root / "suite2p").glob("plane*"))
    assert len(planes) == (2 if "two_planes" in folder else 1)
    for plane in planes:
        for name in ("stat.npy", "ops.npy", "db.npy", "settings.npy", "reg_outputs.npy"):
            if (plane / name).exists():  # our own test data: trusted
                _same(load_npy(plane / name, allow_objects=True),
                      np.load(plane / name, allow_pickle=True), f"{plane.name}/{name}")
        session = load_session(plane)
        np.testing.assert_array_equal(session.trace_sets["F"], np.load(plane / "F.npy").T)
        assert session.suite2p.n_rois == len(np.load(plane / "stat.npy", allow_pickle=True))
        _same(session.suite2p.ops, np.load(plane / "ops.npy", allow_pickle=True).item())
        assert (session.suite2p.registered is not None) == ("two_planes" in folder)
    layers = read_suite2p_folder(str(root))
    assert sum(kind == "labels" for _, _, kind in layers) == len(planes)
    assert foreign_files(root / "suite2p") == []  # so a replacing run may swap it out


def test_a_folder_pickled_by_numpy_1_still_opens(tmp_path):
    """numpy 1 names its array rebuilder ``numpy.core.multiarray``, numpy 2
    ``numpy._core.multiarray``: suite2p folders made with either open."""
    import pickle

    from numpy.lib import format as npy_format

    plane = fake_suite2p_plane(tmp_path / "old_lab")
    for name in ("stat.npy", "ops.npy"):
        arr = np.load(plane / name, allow_pickle=True)  # made by this test: trusted
        body = pickle.dumps(arr, protocol=3)  # numpy 1's np.save: text globals
        assert b"numpy._core.multiarray" in body
        with open(plane / name, "wb") as fh:
            npy_format.write_array_header_1_0(fh, npy_format.header_data_from_array_1_0(arr))
            fh.write(body.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    session = load_session(plane)
    _same(session.suite2p.stat, np.load(plane / "stat.npy", allow_pickle=True))
    assert session.suite2p.ops["fs"] == 30.0 and session.traces.shape == (200, 4)


def test_nan_in_F_is_refused_with_counts(tmp_path, unchanged):
    plane = fake_suite2p_plane(tmp_path / "nan")
    F = np.load(plane / "F.npy")
    F[2, 10:13] = np.nan
    np.save(plane / "F.npy", F)
    with unchanged(), pytest.raises(ValueError, match=r"3 NaN/infinite values in 1 of 4 ROIs"):
        load_session(plane)
