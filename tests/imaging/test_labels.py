import numpy as np
import pytest

from napari_cebra.imaging.labels import align_labels, load_labels, make_label_set


def test_csv_with_declared_kinds_and_timestamps(tmp_path):
    path = tmp_path / "behaviour.csv"
    t = np.arange(0, 12, 0.1)  # 10 Hz behaviour, imaging at 30 Hz for 10 s
    rows = ["time,position,arm"] + [f"{x:.2f},{x * 0.1:.4f},{int(x) % 3}" for x in t]
    path.write_text("\n".join(rows))
    labels = load_labels(path, {"position": "continuous", "arm": "discrete"}, time_column="time")
    aligned = align_labels(labels, 300, fs=30.0)
    pos, arm = aligned.columns["position"], aligned.columns["arm"]
    assert pos.dtype == np.float32 and pos.shape == (300,)
    np.testing.assert_allclose(pos, np.arange(300) / 30 * 0.1, atol=1e-3)
    assert arm.dtype == np.int64
    np.testing.assert_array_equal(arm, (np.arange(300) // 30) % 3)  # held, not interpolated
    assert aligned.kinds == {"position": "continuous", "arm": "discrete"}


def test_npy_at_another_rate_is_resampled(tmp_path):
    np.save(tmp_path / "l.npy", np.stack([np.linspace(0, 1, 200), np.arange(200) % 2], 1))
    labels = load_labels(tmp_path / "l.npy", {"label0": "continuous", "label1": "discrete"},
                         fs=20.0)
    aligned = align_labels(labels, 100, fs=10.0)  # 10 s either way
    np.testing.assert_allclose(aligned.columns["label0"], np.linspace(0, 1, 200)[::2], atol=1e-6)
    np.testing.assert_array_equal(aligned.columns["label1"], np.zeros(100))


def test_same_length_needs_no_time_base():
    labels = make_label_set({"x": np.arange(5.0)}, {"x": "continuous"})
    assert align_labels(labels, 5) is labels


def test_text_classes_become_codes(tmp_path):
    (tmp_path / "s.csv").write_text("stim\ngrating\nblank\ngrating\n")
    labels = load_labels(tmp_path / "s.csv", {"stim": "discrete"})
    np.testing.assert_array_equal(labels.columns["stim"], [1, 0, 1])
    assert labels.categories["stim"] == ["blank", "grating"]
    with pytest.raises(TypeError, match="declared continuous"):
        load_labels(tmp_path / "s.csv", {"stim": "continuous"})


def test_length_mismatch_without_time_base():
    labels = make_label_set({"x": np.arange(5.0)}, {"x": "continuous"})
    with pytest.raises(ValueError, match="5 rows but the imaging has 7 frames"):
        align_labels(labels, 7)


def test_time_bases_that_do_not_overlap():
    labels = make_label_set({"x": np.arange(100.0)}, {"x": "continuous"}, fs=10.0)  # 10 s
    with pytest.raises(ValueError, match="time bases do not match"):
        align_labels(labels, 600, fs=30.0)  # 20 s of imaging
    with pytest.raises(ValueError, match="frame rate"):
        align_labels(labels, 100)


def test_nan_labels_name_column_and_row(tmp_path):
    (tmp_path / "n.csv").write_text("speed\n1.0\n2.0\nnan\n3.0\n")
    with pytest.raises(ValueError, match=r"'speed'.*NaN.*row 2"):
        load_labels(tmp_path / "n.csv", {"speed": "continuous"})


def test_kinds_must_be_declared(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(10))
    with pytest.raises(ValueError, match="declare the kind"):
        load_labels(tmp_path / "a.npy", {})
    with pytest.raises(ValueError, match="kind must be one of"):
        load_labels(tmp_path / "a.npy", {"label": "categorical"})
    with pytest.raises(ValueError, match="no column named"):
        load_labels(tmp_path / "a.npy", {"speed": "continuous"})
    np.save(tmp_path / "f.npy", np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="non-integer"):
        load_labels(tmp_path / "f.npy", {"label": "discrete"})


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_labels(tmp_path / "nope.csv", {"x": "continuous"})
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_labels(tmp_path / "e.csv", {"x": "continuous"})
    (tmp_path / "t.csv").write_text("time,x\n0,1\n0,2\n")
    with pytest.raises(ValueError, match="strictly increasing"):
        load_labels(tmp_path / "t.csv", {"x": "continuous"}, time_column="time")
