"""Model files: written whole, their settings file checked first, damaged files named."""

import io
import json
import zipfile

import numpy as np
import pytest

from napari_cebra import CEBRA
from napari_cebra.model_files import load_model, save_model, settings_path
from napari_cebra.pipeline import TrainSettings


@pytest.fixture(scope="module")
def fitted():
    x = np.random.default_rng(0).standard_normal((200, 8)).astype(np.float32)
    return CEBRA(max_iterations=3, batch_size=32, num_hidden_units=8, device="cpu",
                 seed=0).fit(x)


def test_an_existing_settings_file_stops_the_save_before_the_model_is_written(
        fitted, tmp_path, unchanged):
    settings_path(tmp_path / "run.pt").write_text("{}")
    with unchanged(), pytest.raises(FileExistsError, match="settings file .* already exists"):
        save_model(fitted, tmp_path / "run.pt", TrainSettings())


def test_a_model_file_save_interrupted_leaves_nothing(fitted, tmp_path, monkeypatch,
                                                      unchanged):
    import torch

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", broken)
    with unchanged(), pytest.raises(KeyboardInterrupt):
        fitted.save(tmp_path / "run.pt")


def test_ctrl_c_while_the_settings_file_is_written_leaves_neither_file(
        fitted, tmp_path, monkeypatch, unchanged):
    from pathlib import Path

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # the model is already saved (to its temporary file)

    monkeypatch.setattr(Path, "write_text", interrupted)
    with unchanged(), pytest.raises(KeyboardInterrupt):
        save_model(fitted, tmp_path / "run.pt", TrainSettings())
    monkeypatch.undo()
    save_model(fitted, tmp_path / "run.pt", TrainSettings())  # the retry is not refused
    assert load_model(tmp_path / "run.pt", device="cpu")[1] == TrainSettings()


def test_a_model_save_failing_writes_no_settings_file(fitted, tmp_path, monkeypatch,
                                                     unchanged):
    import torch

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with unchanged(), pytest.raises(OSError, match="No space left"):
        save_model(fitted, tmp_path / "run.pt", TrainSettings())


def test_an_empty_model_file_is_named(tmp_path, unchanged):
    (tmp_path / "run.pt").write_bytes(b"")
    with unchanged(), pytest.raises(ValueError, match=r"run.pt is empty \(0 bytes\)"):
        CEBRA.load(tmp_path / "run.pt")


def _rewrite_metadata(src, dst, change):
    """Copy a model file, changing the JSON metadata string inside the torch archive."""
    import torch

    payload = torch.load(src, weights_only=True)
    payload["metadata"] = change(payload["metadata"])
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    dst.write_bytes(buffer.getvalue())


@pytest.mark.parametrize("change, what", [
    (lambda m: m[: len(m) // 2], "JSONDecodeError"),
    (lambda m: json.dumps({k: v for k, v in json.loads(m).items() if k != "params"}),
     "KeyError"),
    (lambda m: json.dumps({**json.loads(m), "n_features_in": "eight"}), "TypeError"),
    (lambda m: json.dumps({**json.loads(m), "n_features_in": [8, 8]}), "ValueError"),
])
def test_crafted_metadata_is_a_clear_error(fitted, tmp_path, change, what, unchanged):
    good = fitted.save(tmp_path / "good.pt")
    _rewrite_metadata(good, tmp_path / "bad.pt", change)
    with unchanged(), pytest.raises(ValueError, match=f"bad.pt is damaged .*{what}"):
        CEBRA.load(tmp_path / "bad.pt")


def test_a_truncated_model_file_is_a_clear_error(fitted, tmp_path):
    good = fitted.save(tmp_path / "good.pt")
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[:500])
    with pytest.raises(ValueError, match="cut.pt is not a napari-cebra model file"):
        CEBRA.load(tmp_path / "cut.pt")
    assert zipfile.is_zipfile(good)


def test_a_damaged_settings_file_is_named(fitted, tmp_path):
    save_model(fitted, tmp_path / "run.pt", TrainSettings(max_iterations=3))
    settings_path(tmp_path / "run.pt").write_text("{not json")
    with pytest.raises(ValueError, match=r"run.pt.settings.json is damaged"):
        load_model(tmp_path / "run.pt", device="cpu")


def test_settings_files_carry_a_format_version(fitted, tmp_path):
    save_model(fitted, tmp_path / "run.pt", TrainSettings(max_iterations=3))
    record = json.loads(settings_path(tmp_path / "run.pt").read_text())
    assert record["format"] == "napari-cebra/settings" and record["format_version"] == 1
    record["format_version"] = 99
    settings_path(tmp_path / "run.pt").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="upgrade napari-cebra"):
        load_model(tmp_path / "run.pt", device="cpu")
