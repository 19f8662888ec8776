"""The consistency job: one multi-session model, the matrix and each session's embedding."""

import numpy as np
import pytest

from napari_cebra.analysis.consistency import consistency_steps, measure_consistency
from napari_cebra.synthetic.v1 import v1_session

TINY = dict(max_iterations=30, batch_size=64, num_hidden_units=16, output_dimension=4,
            device="cpu", seed=0)


@pytest.fixture(scope="module")
def sessions():
    s = v1_session(n_repeats=3, movie_seconds=10, fs=10, n_neurons=40, movie_shape=(16, 16),
                   seed=3)
    return s, [s.neural, s.spikes], [s.frame_id, s.frame_id]


def test_trains_one_model_and_returns_names_matrix_and_embeddings(sessions):
    s, neural, frames = sessions
    gen = consistency_steps(neural, frames, ["calcium", "spikes"], labels="phase",
                            cebra_params=TINY, progress_every=10)
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            result = stop.value
            break
    assert [e.step for e in events if e.stage == "train multi-session CEBRA"] == [10, 20, 30]
    assert events[-1].stage == "consistency"
    assert result.names == ["calcium", "spikes"] and result.matrix.shape == (2, 2)
    np.testing.assert_allclose(np.diag(result.matrix), 1.0)
    assert np.all(np.isfinite(result.matrix)) and np.isfinite(result.goodness_of_fit_bits)
    assert [e.shape for e in result.embeddings] == [(len(s.frame_id), 4)] * 2
    assert result.to_dict()["names"] == ["calcium", "spikes"]


def test_a_given_multi_session_model_is_used_as_it_is(sessions):
    from napari_cebra import CEBRA

    s, neural, frames = sessions
    phase = 2 * np.pi * s.frame_id / s.n_frames
    y = np.c_[np.cos(phase), np.sin(phase)].astype(np.float32)
    model = CEBRA(**TINY).fit(neural, continuous=[y, y])
    result = measure_consistency(neural, frames, ["a", "b"], model=model, labels="time")
    np.testing.assert_allclose(result.embeddings[1], model.transform(neural[1], session_id=1))
    with pytest.raises(ValueError, match="2 session encoders but 3 sessions"):
        measure_consistency([*neural, neural[0]], [*frames, frames[0]], ["a", "b", "c"],
                            model=model)
    with pytest.raises(ValueError, match="use labels 'movie' or 'phase'"):
        measure_consistency(neural, frames, ["a", "b"], labels="time")
