"""Opening a suite2p folder never runs code stored in it."""

import numpy as np
import pytest
from faults import Payload, ShellPayload, fake_suite2p_plane

from napari_cebra.cli import main
from napari_cebra.gui.reader import read_suite2p_folder
from napari_cebra.imaging import load_session
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
    with unchanged(plane):
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


def test_folder_written_by_suite2p_itself_still_opens(suite2p_own_folder):
    for plane in sorted((suite2p_own_folder / "suite2p").glob("plane*")):
        session = load_session(plane)
        F = np.load(plane / "F.npy")
        np.testing.assert_array_equal(session.trace_sets["F"], F.T)
        stat = np.load(plane / "stat.npy", allow_pickle=True)  # our own test data: trusted
        assert session.suite2p.n_rois == len(stat)
        ops = np.load(plane / "ops.npy", allow_pickle=True).item()
        assert session.suite2p.ops.keys() == ops.keys()
    layers = read_suite2p_folder(str(suite2p_own_folder))
    assert any(kind == "labels" for _, _, kind in layers)


def test_nan_in_F_is_refused_with_counts(tmp_path, unchanged):
    plane = fake_suite2p_plane(tmp_path / "nan")
    F = np.load(plane / "F.npy")
    F[2, 10:13] = np.nan
    np.save(plane / "F.npy", F)
    with unchanged(), pytest.raises(ValueError, match=r"3 NaN/infinite values in 1 of 4 ROIs"):
        load_session(plane)
