"""Live decoding: equal to the batch path, bad frames refused, streams that end or fail."""

import numpy as np
import pytest

from napari_cebra import CEBRA
from napari_cebra.analysis.decoders import KNNDecoder
from napari_cebra.live import FrameQueue, LiveDecoder, Replay, stream_batches
from napari_cebra.synthetic.hippocampus import hippocampus_session

TRAIN = 900


@pytest.fixture(scope="module")
def session():
    return hippocampus_session(n_neurons=30, n_samples=1200, seed=5)


@pytest.fixture(scope="module", params=["offset10-model", "offset10-model-causal"])
def trained(request, session):
    model = CEBRA(model_architecture=request.param, max_iterations=30, batch_size=128,
                  num_hidden_units=16, output_dimension=8, device="cpu", seed=0)
    model.fit(session.neural[:TRAIN], session.position[:TRAIN])
    return model, model.transform(session.neural[:TRAIN])


@pytest.mark.parametrize("discrete", [False, True])
def test_every_time_point_equals_transform_plus_knn(session, trained, discrete):
    model, emb_train = trained
    labels = session.direction[:TRAIN] if discrete else session.behaviour[:TRAIN]
    live = LiveDecoder(model, emb_train, labels, n_neighbors=10, discrete=discrete)
    test = session.neural[TRAIN:]
    results = [r for r in map(live.push, test) if r is not None] + live.finish()
    assert [r.frame for r in results] == list(range(len(test)))
    batch = model.transform(test)
    np.testing.assert_allclose(np.stack([r.embedding for r in results]), batch, atol=1e-5)
    knn = KNNDecoder(n_neighbors=10, discrete=discrete).fit(emb_train, labels)
    expected = knn.predict(batch).reshape(len(test), -1)
    decoded = np.stack([r.value for r in results])
    if discrete:
        np.testing.assert_array_equal(decoded, expected)
    else:
        np.testing.assert_allclose(decoded, expected, rtol=1e-6, atol=1e-9)
    lag = 0 if model.model_architecture.endswith("causal") else 4
    assert live.lag_frames == lag
    streamed = [r for r in results if r.latency_ms > 0 and r.arrived < len(test) - 1]
    assert all(r.arrived - r.frame == lag for r in streamed)
    with pytest.raises(RuntimeError, match="reset"):
        live.push(test[0])
    live.reset()  # a new stream starts at time point 0, as transform starts a recording
    again = [r for r in map(live.push, test[:30]) if r is not None]
    np.testing.assert_allclose(np.stack([r.embedding for r in again]),
                               model.transform(test[:30])[: len(again)], atol=1e-5)


def test_causal_model_decodes_each_frame_as_it_arrives(session, trained):
    model, emb_train = trained
    live = LiveDecoder(model, emb_train, session.position[:TRAIN])
    first = [live.push(x) for x in session.neural[TRAIN:TRAIN + 6]]
    if live.lag_frames == 0:
        assert [r.frame for r in first] == list(range(6))
    else:  # offset10-model: frame t is ready when frame t + 4 arrives
        assert first[:4] == [None] * 4 and [r.frame for r in first[4:]] == [0, 1]


def test_a_bad_frame_is_refused_and_changes_nothing(session, trained):
    model, emb_train = trained
    test = session.neural[TRAIN:TRAIN + 40]
    clean = LiveDecoder(model, emb_train, session.position[:TRAIN])
    expected = [r for r in map(clean.push, test) if r is not None]
    live = LiveDecoder(model, emb_train, session.position[:TRAIN])
    nan = test[5].copy()
    nan[3] = np.nan
    frames = [*test[:10], nan, test[10][:-1], *test[10:]]
    batches = list(stream_batches(live, frames, interval_s=0))
    got = [r for b in batches for r in b.results]
    errors = [e for b in batches for e in b.errors]
    assert len(errors) == 2 and "NaN" in errors[0] and "shape (29,)" in errors[1]
    for a, b in zip(got, expected, strict=False):
        np.testing.assert_array_equal(a.embedding, b.embedding)
    assert len(got) == len(test)  # the last lag frames come from the end of the stream
    assert batches[-1].done and "ended after 42 frames" in batches[-1].message


class _FailingSource:
    """Hands out some frames, then its file disappears."""

    def __init__(self, frames, fail_after):
        self.frames, self.fail_after = frames, fail_after

    def __iter__(self):
        for i, frame in enumerate(self.frames):
            if i == self.fail_after:
                raise OSError("the file was removed")
            yield frame


def test_a_source_that_fails_stops_cleanly_keeping_what_was_decoded(session, trained):
    model, emb_train = trained
    live = LiveDecoder(model, emb_train, session.position[:TRAIN])
    gen = stream_batches(live, _FailingSource(session.neural[TRAIN:], 25), interval_s=0)
    batches = []
    while True:
        try:
            batches.append(next(gen))
        except StopIteration as stop:
            summary = stop.value
            break
    decoded = [r.frame for b in batches for r in b.results]
    assert decoded == list(range(25))  # the lag frames too, from the padded end
    assert summary.frames_in == 25 and "failed after 25 frames" in summary.message
    assert "file was removed" in summary.message


def test_stop_ends_the_stream_and_keeps_results(session, trained):
    model, emb_train = trained
    live = LiveDecoder(model, emb_train, session.position[:TRAIN])
    pushed = []

    def stop():
        return len(pushed) >= 12

    source = Replay(session.neural[TRAIN:])
    batches = []
    for batch in stream_batches(live, source, interval_s=0, stop=stop):
        pushed.extend([None] * (batch.frames_in - len(pushed)))
        batches.append(batch)
    assert batches[-1].frames_in == 12 and "stopped after 12" in batches[-1].message
    assert [r.frame for b in batches for r in b.results] == list(range(12))


def test_frame_queue_drops_the_oldest_frame_when_full():
    q = FrameQueue(maxsize=3)
    for i in range(5):
        q.put(np.full(4, i, np.float32))
    q.close()
    assert [int(f[0]) for f in q] == [2, 3, 4] and q.dropped == 2
    with pytest.raises(RuntimeError, match="closed"):
        q.put(np.zeros(4))


def test_replay_at_frame_rate_drops_frames_a_slow_consumer_misses():
    import time

    stack = np.arange(40, dtype=np.float32)[:, None].repeat(3, 1)
    source = Replay(stack, fs=1000.0)
    seen = []
    for frame in source:
        seen.append(int(frame[0]))
        time.sleep(0.005)  # five frame periods per frame
    assert source.dropped > 0 and len(seen) + source.dropped == 40
    assert seen == sorted(seen) and seen[-1] == 39


def test_wrong_inputs_say_what_to_do(session, trained):
    model, emb_train = trained
    with pytest.raises(ValueError, match="dimensions"):
        LiveDecoder(model, emb_train[:, :3], session.position[:TRAIN])
    with pytest.raises(ValueError, match="rows"):
        LiveDecoder(model, emb_train, session.position[:10])
    with pytest.raises(ValueError, match="k=5000"):
        LiveDecoder(model, emb_train, session.position[:TRAIN], n_neighbors=5000)
