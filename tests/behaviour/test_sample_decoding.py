"""On the bundled behaviour sample: position decoded from an embedding trained on the
pose-derived labels (DeepLabCut file → cleaned → aligned onto imaging frames) is as good as
with the true positions (within 10 %)."""

import numpy as np
import pytest

from napari_cebra import CEBRA, KNNDecoder
from napari_cebra.behaviour import behaviour_labels, read_timestamps
from napari_cebra.synthetic.behaviour_session import OFFSET_S, behaviour_sample_files


@pytest.fixture(scope="module")
def sample():
    files = behaviour_sample_files()
    labels = behaviour_labels(
        files["pose"], imaging_times=read_timestamps(files["imaging_times"], "time_s"),
        camera_times=read_timestamps(files["camera_times"], "time_s"),
        variables=("position", "speed"))
    with np.load(files["truth"], allow_pickle=False) as truth:
        true_position = truth["true_position"]
    return np.load(files["traces"]), labels, true_position


def test_sample_labels_match_the_truth(sample):
    traces, labels, true_position = sample
    rep = labels.report
    assert len(traces) == len(labels.valid) == len(true_position)
    assert rep["alignment"]["offset_s"] == pytest.approx(OFFSET_S, abs=1e-3)
    assert rep["alignment"]["n_dropped_camera_frames"] == 2
    assert rep["n_low_confidence_points"] > 0 and rep["n_interpolated_points"] > 0
    # the 15-frame occlusion of the nose is left out: a few imaging frames have no behaviour
    assert 0 < rep["n_imaging_frames_missing"] < 20
    ok = labels.valid
    err = np.hypot(labels.table["x"][ok] - true_position[ok, 0],
                   labels.table["y"][ok] - true_position[ok, 1])
    assert np.median(err) < 1.0  # px: tracker noise only, the tracker's jumps are cut


def _decoding_error(traces, y, fit_rows, test_rows, truth):
    import torch

    torch.set_num_threads(1)
    model = CEBRA(model_architecture="offset1-model", max_iterations=300, batch_size=256,
                  output_dimension=8, time_offsets=1, device="cpu", seed=0)
    model.fit(traces[fit_rows], y[fit_rows].astype(np.float32))
    emb = model.transform(traces)
    decoder = KNNDecoder(n_neighbors=12).fit(emb[fit_rows], y[fit_rows])
    pred = decoder.predict(emb[test_rows])
    return float(np.mean(np.hypot(*(pred - truth[test_rows]).T)))


@pytest.mark.slow
def test_position_decoded_from_pose_labels_as_well_as_from_the_truth(sample):
    traces, labels, true_position = sample
    pose_xy = np.stack([labels.table["x"], labels.table["y"]], axis=1)
    n = len(traces)
    train = np.arange(n) < int(0.8 * n)
    fit_rows = train & labels.valid  # frames without behaviour are left out of training
    test_rows = ~train
    err_pose = _decoding_error(traces, pose_xy, fit_rows, test_rows, true_position)
    err_true = _decoding_error(traces, true_position, fit_rows, test_rows, true_position)
    chance = float(np.mean(np.hypot(*(true_position[test_rows]
                                      - true_position[train].mean(0)).T)))
    assert err_true < 0.6 * chance  # the embedding does carry position
    assert err_pose <= 1.10 * err_true
