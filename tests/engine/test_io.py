import pickle

import numpy as np
import pytest
import torch

from napari_cebra import CEBRA


@pytest.fixture
def fitted(random_neural, tiny_model_kwargs):
    return CEBRA(**tiny_model_kwargs, temperature_mode="auto").fit(random_neural)


def test_save_load_round_trips_bit_for_bit(fitted, random_neural, tmp_path):
    path = fitted.save(tmp_path / "run.pt")
    loaded = CEBRA.load(path, device="cpu")
    assert loaded.get_params() == {**fitted.get_params(), "device": "cpu"}
    assert loaded.loss_history_ == fitted.loss_history_
    for a, b in zip(fitted.encoders_, loaded.encoders_, strict=True):
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            assert ka == kb and torch.equal(va, vb)
    np.testing.assert_array_equal(loaded.transform(random_neural), fitted.transform(random_neural))
    assert loaded.temperature_().item() == fitted.temperature_().item()


def test_never_overwrites_a_file(fitted, tmp_path):
    path = tmp_path / "run.pt"
    path.write_bytes(b"the user's precious file")
    with pytest.raises(FileExistsError, match="already exists"):
        fitted.save(path)
    assert path.read_bytes() == b"the user's precious file"
    fitted.save(path, overwrite=True)
    assert CEBRA.load(path).is_fitted_


def test_cuda_saved_model_loads_on_cpu(fitted, random_neural, tmp_path, monkeypatch):
    """Record every tensor's storage as living on cuda:0, as a GPU-trained model's file does."""
    import torch.serialization as ser

    monkeypatch.setattr(ser, "location_tag", lambda storage: "cuda:0")
    path = fitted.save(tmp_path / "gpu.pt")
    monkeypatch.undo()
    if not torch.cuda.is_available():  # proof that the file really points at a GPU
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, weights_only=True)
    loaded = CEBRA.load(path, device="cpu")
    np.testing.assert_array_equal(loaded.transform(random_neural), fitted.transform(random_neural))


def test_pickle_payloads_and_other_files_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"format": "napari-cebra/model", "x": Evil()}))
    with pytest.raises(ValueError, match="not a napari-cebra model"):
        CEBRA.load(evil)
    plain = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, plain)
    with pytest.raises(ValueError, match="marker"):
        CEBRA.load(plain)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a napari-cebra model"):
        CEBRA.load(text)
    with pytest.raises(FileNotFoundError):
        CEBRA.load(tmp_path / "missing.pt")
