"""Curation of a suite2p plane with known footprints: draw, merge, mark, save, reopen, undo."""

import os
import shutil

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from napari_cebra.imaging.curation import Curation, FolderChangedError, backup_path
from napari_cebra.imaging.roi_stats import SOMA_SIZE, soma_sized
from napari_cebra.imaging.suite2p_read import read_suite2p
from napari_cebra.synthetic.calcium_movie import simulate_calcium_movie
from napari_cebra.synthetic.suite2p_plane import true_masks, write_suite2p_plane

FILES = ("stat.npy", "F.npy", "Fneu.npy", "spks.npy", "iscell.npy")


@pytest.fixture(scope="module")
def truth():
    return simulate_calcium_movie(n_frames=600, shape=(64, 64), n_neurons=6, motion=False,
                                  seed=1, diameter=8)


@pytest.fixture(scope="module")
def base(truth, tmp_path_factory):
    """A plane where suite2p 'missed' neuron 5 and split neuron 0 into two halves."""
    masks = true_masks(truth)
    whole = masks[0]
    cx = int(round(truth.centroids[0, 1]))
    left, right = whole.copy(), whole.copy()
    left[:, cx:] = False
    right[:, :cx] = False
    rois = [left, right, *masks[1:5]]
    probability = [0.8, 0.7, 0.95, 0.3, 0.9, 0.6]
    return write_suite2p_plane(tmp_path_factory.mktemp("s2p") / "plane0", truth, rois,
                               probability), masks


@pytest.fixture
def plane(base, tmp_path):
    folder, _ = base
    return shutil.copytree(folder, tmp_path / "plane0")


def corrected(c, i):
    return c.traces("F")[i] - 0.7 * c.traces("Fneu")[i]


def contents(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_painted_missed_neuron_gets_its_true_trace(plane, base, truth):
    c = Curation.open(plane)
    assert c.n_rois == 6
    (new,) = c.add(base[1][5])
    assert new == 6 and c.n_rois == 7 and c.iscell[new, 0] == 1
    r = np.corrcoef(corrected(c, new), truth.traces[:, 5])[0, 1]
    assert r >= 0.9
    # suite2p's deconvolution: spikes where the true spikes are
    spks = gaussian_filter1d(c.traces("spks")[new], 2.0)
    true = gaussian_filter1d(truth.spikes[:, 5], 2.0)
    assert max(np.corrcoef(np.roll(spks, lag), true)[0, 1] for lag in range(-3, 4)) > 0.7
    # a label image adds one ROI per label
    labels = np.zeros((64, 64), np.int32)
    labels[base[1][5]] = 3
    labels[base[1][1]] = 7
    assert c.add(labels) == [7, 8]


def test_merging_the_halves_of_a_split_neuron(plane, base, truth):
    c = Curation.open(plane)
    half = [np.corrcoef(corrected(c, i), truth.traces[:, 0])[0, 1] for i in (0, 1)]
    merged = c.merge([0, 1])
    assert merged == 6
    whole = base[1][0]
    got = np.zeros_like(whole)
    got[c.stat[merged]["ypix"], c.stat[merged]["xpix"]] = True
    assert (got == whole).all()
    r = np.corrcoef(corrected(c, merged), truth.traces[:, 0])[0, 1]
    assert r >= 0.9 and r >= min(half)
    # re-extracted from the movie: the mean over the joined pixels is the halves' F weighted
    # by their sizes (uniform weights, no overlap)
    n = np.array([len(c.stat[i]["ypix"]) for i in (0, 1)], float)
    np.testing.assert_allclose(c.traces("F")[merged], n @ c.traces("F")[:2] / n.sum(),
                               rtol=1e-4)
    assert list(c.cells) == [2, 3, 4, 5, 6]  # the halves stay, as not cells
    assert c.stat[merged]["imerge"] == [0, 1]


def test_edits_survive_save_and_reopen(plane, base):
    c = Curation.open(plane)
    probs = c.iscell[:, 1].copy()
    before = c.hash
    c.set_cell(3, False)
    c.remove(4)  # ROI 4 (neuron 4) leaves every file
    c.merge([0, 1])
    (drawn,) = c.add(base[1][5])
    assert c.hash != before and c.changed
    c.save()
    assert not c.changed
    # by the plugin
    again = Curation.open(plane)
    assert again.n_rois == 7 and again.hash == c.hash
    assert list(again.cells) == [2, 4, 5, 6]
    np.testing.assert_allclose(again.traces("F"), c.traces("F"))
    # by plain numpy, as suite2p and scripts read the folder
    iscell = np.load(plane / "iscell.npy")
    stat = np.load(plane / "stat.npy", allow_pickle=True)
    assert iscell.shape == (7, 2) and len(stat) == 7
    for name in ("F", "Fneu", "spks"):
        assert np.load(plane / f"{name}.npy").shape == (7, 600)
    np.testing.assert_array_equal(iscell[:, 0], [0, 0, 1, 0, 1, 1, 1])
    # probabilities untouched; the removed ROI's went with it; suite2p gives drawn ROIs 1
    np.testing.assert_allclose(iscell[:4, 1], probs[:4])
    assert iscell[4, 1] == probs[5] and iscell[6, 1] == 1.0
    assert stat[drawn]["manual"] == 1 and iscell[5, 1] == pytest.approx(probs[:2].mean())
    # our own reader agrees (safe unpickler)
    out = read_suite2p(plane)
    assert out.n_rois == 7 and out.F.shape == (7, 600)


def test_backups_stay_the_originals(plane, base):
    original = {name: (plane / name).read_bytes() for name in FILES}
    c = Curation.open(plane)
    c.set_cell(0, False)
    c.save()  # flags only: iscell backed up, the rest untouched
    assert backup_path(plane / "iscell.npy").read_bytes() == original["iscell.npy"]
    assert not backup_path(plane / "stat.npy").exists()
    c.add(base[1][5])
    c.save()
    c.set_cell(1, False)
    c.remove(2)
    c.save()
    for name in FILES:
        assert backup_path(plane / name).read_bytes() == original[name], name
    c.discard()
    assert c.n_rois == 6 and c.hash == Curation.open(plane).hash
    for name in FILES:
        assert (plane / name).read_bytes() == original[name], name


def test_a_folder_changed_since_opening_is_refused(plane):
    c = Curation.open(plane)
    c.set_cell(0, False)
    iscell = np.load(plane / "iscell.npy")
    iscell[2, 0] = 0
    np.save(plane / "iscell.npy", iscell)  # e.g. suite2p's GUI saved meanwhile
    before = contents(plane)
    with pytest.raises(FolderChangedError, match="iscell.npy changed on disk"):
        c.save()
    assert contents(plane) == before


def test_a_failed_save_leaves_every_file_as_it_was(plane, base, monkeypatch):
    c = Curation.open(plane)
    c.add(base[1][5])
    c.set_cell(2, False)
    c.save()  # backups exist: the failing save must leave them too
    c.merge([0, 1])
    c.remove(3)
    before = contents(plane)
    real, calls = os.replace, []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="No space"):
        c.save()
    monkeypatch.setattr(os, "replace", real)
    assert len(calls) > 3  # two files were in place, then rolled back
    assert contents(plane) == before
    c.save()  # nothing on disk changed, so a retry goes through
    assert Curation.open(plane).hash == c.hash


def test_undo_and_redo(plane, base):
    c = Curation.open(plane)
    start = c.hash
    c.set_cell([0, 1], False)
    after_flags = c.hash
    c.add(base[1][5])
    assert c.n_rois == 7
    assert c.undo() and c.hash == after_flags and c.n_rois == 6
    assert c.undo() and c.hash == start
    assert not c.undo()
    assert c.redo() and c.hash == after_flags
    assert c.redo() and c.n_rois == 7
    assert not c.redo()
    c.undo()
    c.remove(0)  # a new step forgets the redo history
    assert not c.redo() and c.n_rois == 5
    c.save()  # the undone drawn ROI is not written
    assert len(np.load(plane / "stat.npy", allow_pickle=True)) == 5


def test_filters_and_statistics(plane):
    c = Curation.open(plane)
    table = c.statistics()
    for column in ("probability", "npix", "size", "skew", "compact", "aspect_ratio", "snr",
                   "mean_dff"):
        assert np.isfinite(table[column]).all(), column
    # the split halves are about half a cell: the soma rule drops them
    npix = table["npix"].to_numpy()
    expected = np.arange(6)[soma_sized(npix, np.arange(6))]
    assert c.filter(soma=True) == len(expected)
    assert list(c.cells) == list(expected)
    assert SOMA_SIZE == (0.5, 2.5)
    c.undo()
    assert c.filter(probability=(0.5, None), snr=0.0) == 5  # ROI 3 has p = 0.3
    assert 3 not in c.cells
    with pytest.raises(ValueError, match="no ROI statistic 'colour'"):
        c.filter(colour=1)


def test_bad_input_is_named(plane):
    c = Curation.open(plane)
    with pytest.raises(IndexError, match="ROI 9 does not exist"):
        c.set_cell(9)
    with pytest.raises(ValueError, match="empty"):
        c.add(np.zeros((64, 64), bool))
    with pytest.raises(ValueError, match="plane is"):
        c.add(np.ones((10, 10), bool))
    os.unlink(plane / "data.bin")
    with pytest.raises(FileNotFoundError, match="data.bin"):
        c.merge([0, 1])
    assert c.n_rois == 6 and not c.changed


def test_the_curated_set_flows_on(plane, tmp_path):
    import json

    from napari_cebra.cli import main
    from napari_cebra.imaging.session import load_session

    c = Curation.open(plane)
    c.set_cell([0, 3], False)
    c.save()
    session = load_session(plane, cells_only=True)
    assert list(session.roi_indices) == [1, 2, 4, 5]
    assert session.traces.shape == (600, 4)
    np.testing.assert_allclose(session.trace_sets["F"], c.traces("F")[[1, 2, 4, 5]].T)
    meta = session.layer_metadata()
    assert list(meta["roi_indices"]) == [1, 2, 4, 5] and meta["curation_hash"] == c.hash
    assert list(load_session(plane).roi_indices) == list(range(6))  # all, when asked
    # decode --stack's report names the curation its cells came from
    from napari_cebra.whole_path.stack_decoding import cell_traces, extraction_summary

    every = load_session(plane)
    _, cells = cell_traces(every)
    assert set(cells) <= {1, 2, 4, 5}
    assert extraction_summary(every, cells)["curation_hash"] == c.hash
    # the shell trains on the curated cells and records which ones in the model's settings
    out = tmp_path / "model.pt"
    assert main(["train", str(plane), "--out", str(out), "--iterations", "5", "--batch-size",
                 "32", "--hidden-units", "8", "--model", "offset5-model", "--device",
                 "cpu"]) == 0
    record = json.loads((tmp_path / "model.pt.settings.json").read_text())
    assert record["rois"]["roi_indices"] == [1, 2, 4, 5]
    assert record["rois"]["curation_hash"] == c.hash


def test_the_shell_curates_with_the_same_rules(plane, tmp_path, capsys):
    from napari_cebra.cli import main

    assert main(["curate", str(plane), "--not-cell", "3", "--min-probability", "0.75",
                 "--stats", str(tmp_path / "stats.csv")]) == 0
    assert "dry run" in capsys.readouterr().err
    assert not backup_path(plane / "iscell.npy").exists()  # nothing written
    assert (tmp_path / "stats.csv").read_text().startswith("roi,cell,probability")
    assert main(["curate", str(plane), "--soma", "--save"]) == 0
    c = Curation.open(plane)
    npix = c.statistics()["npix"].to_numpy()
    assert list(c.cells) == list(np.arange(6)[soma_sized(npix, np.arange(6))])
    assert main(["curate", str(plane), "--discard"]) == 0
    assert len(Curation.open(plane).cells) == 6


def test_live_reads_the_curated_cells_from_raw_frames(plane):
    from napari_cebra.live import RawFrames, RoiMasks

    c = Curation.open(plane)
    c.set_cell([1, 4], False)
    c.save()
    masks, _ = RoiMasks.from_suite2p(plane, cells_only=True)
    assert masks.n_rois == 4
    movie = np.fromfile(plane / "data.bin", np.int16).reshape(600, 64, 64)
    F, Fneu = zip(*(masks.fluorescence(frame) for frame in movie[:50]), strict=True)
    np.testing.assert_allclose(np.stack(F, 1), c.traces("F")[[0, 2, 3, 5], :50], rtol=1e-4)
    np.testing.assert_allclose(np.stack(Fneu, 1), c.traces("Fneu")[[0, 2, 3, 5], :50],
                               rtol=1e-4)
    front = RawFrames.from_suite2p(plane, baseline="fixed", cells_only=True)
    assert front(movie[0]).shape == (4,)


def test_saved_cells_names_the_curation(plane):
    from napari_cebra.imaging.curation import saved_cells

    c = Curation.open(plane)
    c.set_cell(2, False)
    c.save()
    rois = saved_cells(plane)
    assert rois["roi_indices"] == [0, 1, 3, 4, 5] and rois["curation_hash"] == c.hash


def test_backups_of_an_earlier_run_are_never_restored(plane):
    c = Curation.open(plane)
    c.set_cell(0, False)
    c.save()
    assert backup_path(plane / "ops.npy").read_bytes() == (plane / "ops.npy").read_bytes()
    # suite2p re-runs in place: new ops.npy and iscell.npy, our old backups still there
    ops = np.load(plane / "ops.npy", allow_pickle=True).item()
    ops["rerun"] = True
    np.save(plane / "ops.npy", np.array(ops, dtype=object), allow_pickle=True)
    np.save(plane / "iscell.npy", np.stack([np.ones(6), np.full(6, 0.5)], 1))
    c = Curation.open(plane)
    before = contents(plane)
    with pytest.raises(FolderChangedError, match="earlier suite2p run"):
        c.discard()
    c.set_cell(1, False)
    with pytest.raises(FolderChangedError, match="earlier suite2p run"):
        c.save()
    assert contents(plane) == before
