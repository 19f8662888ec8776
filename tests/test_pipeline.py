"""The pure training job: building it from the layer contract, running, cancelling, views, IO."""

from __future__ import annotations

import numpy as np
import pytest

from napari_cebra import embedding_files, model_files, pipeline, views
from napari_cebra.pipeline import TrainingError, TrainSettings
from napari_cebra.synthetic.hippocampus import hippocampus_session

TINY = TrainSettings(model_architecture="offset5-model", max_iterations=25, batch_size=64,
                     num_hidden_units=16, seed=3)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only contend on a shared machine
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def meta():
    s = hippocampus_session(n_neurons=25, n_samples=800, seed=1)
    return {
        "traces": s.neural,
        "trace_sets": {"spikes": s.spikes.astype(np.float32)},
        "fs": s.fs,
        "labels": {"position": s.position, "direction": s.direction,
                   "lap": (np.arange(800) // 200).astype(np.int64), "raw": s.position},
        "label_kinds": {"position": "continuous", "direction": "discrete", "lap": "discrete"},
    }


def test_split_mask_holds_out_the_end():
    mask = pipeline.split_mask(10, 0.3)
    np.testing.assert_array_equal(mask, [True] * 7 + [False] * 3)
    assert pipeline.split_mask(10, 0.0).all()


def test_job_without_labels_is_cebra_time(meta):
    job = pipeline.job_from_metadata(meta, TINY, source="cells")
    assert job.mode == "CEBRA-Time"
    assert job.continuous is None and job.discrete is None
    assert job.neural.shape == (800, 25) and job.source == "cells"
    params = TINY.estimator_params(has_labels=False)
    assert params["conditional"] == "time" and "test_fraction" not in params


def test_job_with_declared_labels(meta):
    settings = TrainSettings(hybrid=True)
    job = pipeline.job_from_metadata(meta, settings, ["position", "direction"])
    assert job.mode == "CEBRA-Hybrid"
    assert job.continuous.shape == (800, 1) and job.continuous.dtype == np.float32
    np.testing.assert_array_equal(job.discrete, meta["labels"]["direction"])
    assert settings.estimator_params(True)["conditional"] == "time_delta"
    assert settings.estimator_params(False)["hybrid"] is False


def test_several_discrete_columns_become_one_class_per_combination(meta):
    job = pipeline.job_from_metadata(meta, TINY, ["direction", "lap"])
    pairs = set(zip(meta["labels"]["direction"], meta["labels"]["lap"], strict=True))
    assert len(np.unique(job.discrete)) == len(pairs)


def test_job_errors_name_the_problem(meta):
    with pytest.raises(ValueError, match="no declared kind"):
        pipeline.job_from_metadata(meta, TINY, ["raw"])
    with pytest.raises(ValueError, match="'speed' is not in"):
        pipeline.job_from_metadata(meta, TINY, ["speed"])
    with pytest.raises(ValueError, match="no trace set 'dff'"):
        pipeline.job_from_metadata(meta, TINY, trace_set="dff")
    with pytest.raises(ValueError, match="carries no traces"):
        pipeline.job_from_metadata({"labels": {}}, TINY)
    short = {**meta, "labels": {"position": meta["labels"]["position"][:10]},
             "label_kinds": {"position": "continuous"}}
    with pytest.raises(ValueError, match="10 time points"):
        pipeline.job_from_metadata(short, TINY, ["position"])
    with pytest.raises(ValueError, match="temperature_mode"):
        TrainSettings(temperature_mode="warm")
    with pytest.raises(ValueError, match="test_fraction"):
        TrainSettings(test_fraction=1.0)


def test_train_yields_each_step_then_embeds_every_frame(meta):
    settings = TrainSettings(**{**TINY.to_dict(), "test_fraction": 0.25})
    job = pipeline.job_from_metadata(meta, settings, ["position"], trace_set="spikes")
    events = []
    result = pipeline.run(pipeline.train(job), events.append)
    fit = [e for e in events if e.stage == "fit"]
    assert [e.step for e in fit] == list(range(1, 26))
    assert events[-1].stage == "embed"
    assert result.embedding.shape == (800, 3) and result.embedding.dtype == np.float32
    assert result.train_mask.sum() == 600
    assert result.loss == [e.loss for e in fit]
    assert result.model.is_fitted_
    record = result.as_metadata()
    assert record["label_columns"] == ["position"] and record["settings"]["test_fraction"] == 0.25


def test_closing_the_generator_discards_the_run(meta):
    job = pipeline.job_from_metadata(meta, TINY)
    model = pipeline.make_estimator(TINY, has_labels=False)
    gen = pipeline.train(job, model)
    for _ in range(3):
        next(gen)
    gen.close()
    assert not model.is_fitted_ and model.loss_history_ == []


def test_out_of_memory_becomes_a_clear_training_error(meta):
    class Exhausted:
        def fit_steps(self, *args, **kwargs):
            raise RuntimeError("CUDA out of memory. Tried to allocate 8.00 GiB")
            yield

    job = pipeline.job_from_metadata(meta, TINY)
    with pytest.raises(TrainingError, match="smaller batch size \\(now 64\\) or train on the CPU"):
        pipeline.run(pipeline.train(job, Exhausted()))


def test_model_files_keep_settings_and_labels(meta, tmp_path):
    job = pipeline.job_from_metadata(meta, TINY, ["direction"])
    result = pipeline.run(pipeline.train(job))
    path = model_files.save_model(result.model, tmp_path / "m.pt", TINY, ["direction"])
    with pytest.raises(FileExistsError):
        model_files.save_model(result.model, path, TINY, ["direction"])
    model, settings, columns = model_files.load_model(path, device="cpu")
    assert settings == TINY and columns == ("direction",)
    again = pipeline.embed(job, model)
    np.testing.assert_allclose(again.embedding, result.embedding, atol=1e-5)
    with pytest.raises(FileNotFoundError):
        model_files.load_model(tmp_path / "missing.pt")


def test_project_chosen_dims_pca_and_flat():
    rng = np.random.default_rng(0)
    emb = (rng.normal(size=(500, 5)) * [5, 1, 3, 0.1, 2]).astype(np.float32)
    np.testing.assert_array_equal(views.project(emb, (4, 0, 2)), emb[:, [4, 0, 2]])
    scores = views.project(emb, "pca")
    assert scores.shape == (500, 3)
    variances = scores.var(axis=0)
    assert variances[0] > variances[1] > variances[2]
    np.testing.assert_allclose(np.corrcoef(scores.T), np.eye(3), atol=1e-6)
    flat = emb[:, :2]
    assert views.project(flat, "pca") is not None and views.project(flat).shape == (500, 2)
    with pytest.raises(ValueError):
        views.project(emb, (0, 0, 1))
    with pytest.raises(ValueError):
        views.project(emb, (0, 1, 5))


def test_pca_scores_keep_their_sign_and_shape():
    rng = np.random.default_rng(1)
    emb = (rng.normal(size=(400, 6)) * [4, 3, 2, 1, 0.5, 0.1]).astype(np.float32)
    scores = views.pca(emb)
    # the same points in another order (another run, another subsample) do not flip the view
    np.testing.assert_allclose(views.pca(emb[::-1])[::-1], scores, atol=1e-4)
    # each component's largest loading is positive: regressing back on the data says so
    loadings, *_ = np.linalg.lstsq(emb - emb.mean(0), scores, rcond=None)
    assert np.all(loadings[np.abs(loadings).argmax(axis=0), range(3)] > 0)
    # fewer points than components: the missing ones are 0, the shape stays (T, 3)
    assert views.pca(emb[:1]).shape == (1, 3) and not views.pca(emb[:1]).any()
    two = views.pca(emb[:2])
    assert two.shape == (2, 3) and not two[:, 1:].any() and two[:, 0].any()
    assert not views.pca(np.ones((10, 4))).any()


def test_display_indices_subsample_evenly():
    idx = views.display_indices(100_000, 20_000)
    assert len(idx) <= 20_000 and idx[0] == 0 and idx[-1] == 99_999
    assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(views.display_indices(50, 100), np.arange(50))


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".h5"])
def test_embedding_files_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(4)
    emb = rng.normal(size=(30, 3)).astype(np.float32)
    time = np.arange(100, 130)
    labels = {"position": rng.uniform(size=30), "direction": rng.integers(0, 2, 30)}
    path = embedding_files.save_embedding(tmp_path / f"e{suffix}", emb, time, labels)
    got, got_time, got_labels = embedding_files.load_embedding(path)
    np.testing.assert_allclose(got, emb, rtol=1e-6)
    np.testing.assert_array_equal(got_time, time)
    np.testing.assert_allclose(got_labels["position"], labels["position"])
    np.testing.assert_array_equal(got_labels["direction"], labels["direction"])
    with pytest.raises(FileExistsError):
        embedding_files.save_embedding(path, emb)


def test_embedding_writer_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="save embeddings as"):
        embedding_files.save_embedding(tmp_path / "e.txt", np.zeros((3, 2)))
    with pytest.raises(ValueError, match="time has 2 entries"):
        embedding_files.save_embedding(tmp_path / "e.csv", np.zeros((3, 2)), time=[0, 1])
