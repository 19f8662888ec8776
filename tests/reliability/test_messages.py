"""Errors a user can cause name the file and say what to do: truncated HDF5/NWB, zarr groups
and broken zarr metadata, Latin-1 and BOM CSVs, permission refusals; a pickled model is
refused in our words, never with torch's advice to load it unsafely."""

import errno
import pickle
import sys

import numpy as np
import pytest
from faults import Payload, ShellPayload

RAW = ("Unable to", "synchronously", "Traceback", "weights_only", "NodeTypeValidationError",
       "UnicodeDecodeError")


def _clear(message: str, path) -> None:
    assert str(path) in message, message
    assert not any(raw in message for raw in RAW), message


@pytest.fixture(scope="module")
def nwb_file(tmp_path_factory):
    from napari_cebra.imaging.nwb_write import write_session_nwb

    path = tmp_path_factory.mktemp("nwb") / "session.nwb"
    rng = np.random.default_rng(0)
    write_session_nwb(path, stack=rng.integers(0, 99, (40, 16, 16)).astype(np.uint16), fs=30.0)
    return path


@pytest.mark.parametrize("keep", [0.05, 0.3, 0.6, 0.95])
def test_a_truncated_nwb_file_is_named_with_what_to_do(nwb_file, tmp_path, keep):
    from napari_cebra.imaging.nwb import describe_nwb, open_two_photon

    data = nwb_file.read_bytes()
    cut = tmp_path / "cut.nwb"
    cut.write_bytes(data[: int(len(data) * keep)])
    for reader in (describe_nwb, open_two_photon):
        with pytest.raises((ValueError, OSError)) as err:
            reader(cut).data[:].compute() if reader is open_two_photon else reader(cut)
        _clear(str(err.value), cut)
        assert "copy" in str(err.value) or "re-export" in str(err.value)


@pytest.mark.parametrize("damage", ["group", "garbage-json", "empty-json", "no-metadata",
                                    "wrong-node-type"])
def test_a_zarr_group_or_broken_metadata_is_named(tmp_path, damage):
    import zarr

    from napari_cebra.imaging.stacks import open_stack

    path = tmp_path / "movie.zarr"
    if damage == "group":
        zarr.open_group(str(path), mode="w").create_array("mov", shape=(5, 4, 4), dtype="u2")
    else:
        zarr.open_array(str(path), mode="w", shape=(5, 4, 4), dtype="u2")[:] = 1
        meta = path / "zarr.json"
        if damage == "garbage-json":
            meta.write_text("{broken")
        elif damage == "empty-json":
            meta.write_text("")
        elif damage == "no-metadata":
            meta.unlink()
        else:
            meta.write_text(meta.read_text().replace('"array"', '"pineapple"'))
    with pytest.raises(ValueError) as err:
        open_stack(path)
    _clear(str(err.value), path)
    expected = "zarr group" if damage == "group" else "metadata"
    assert expected in str(err.value)
    if damage == "group":
        assert str(path / "mov") in str(err.value)  # which array to open instead


LATIN1 = "vitesse,état\n1,2\n3,4\n".encode("latin-1")


@pytest.mark.parametrize("reader", ["labels", "study", "traces"])
def test_a_latin1_csv_is_named_with_how_to_save_it(tmp_path, reader):
    from napari_cebra.batch import StudyError, read_study
    from napari_cebra.imaging.labels import read_label_table
    from napari_cebra.imaging.text_tables import read_matrix_csv

    path = tmp_path / "table.csv"
    path.write_bytes(LATIN1 if reader != "study" else "session,path,fs\nsouris_é,a.npy,30\n"
                     .encode("latin-1"))
    call = {"labels": read_label_table, "study": read_study, "traces": read_matrix_csv}[reader]
    with pytest.raises((ValueError, StudyError)) as err:
        call(path)
    _clear(str(err.value), path)
    assert "not UTF-8" in str(err.value) and "UTF-8" in str(err.value)


@pytest.mark.parametrize("text", ["\ufeff1.5,2\n2.5,3\n", "\ufeffa,b\n1.5,2\n2.5,3\n",
                                  "\ufeff1.5,2\r\n2.5,3\r\n"])
def test_a_bom_traces_csv_reads_its_first_column(tmp_path, text):
    from napari_cebra.imaging.text_tables import read_matrix_csv

    path = tmp_path / "traces.csv"
    path.write_text(text, encoding="utf-8")
    np.testing.assert_array_equal(read_matrix_csv(path), [[1.5, 2], [2.5, 3]])


PERMISSION = [PermissionError(errno.EACCES, "Permission denied"),
              PermissionError(errno.EPERM, "Operation not permitted"),
              OSError(errno.EPERM, "Operation not permitted")]


@pytest.mark.parametrize("err", PERMISSION, ids=["EACCES", "EPERM", "OSError-EPERM"])
@pytest.mark.parametrize("reader", ["csv", "nwb", "tiff", "npy", "model"])
def test_a_permission_refusal_names_the_file_and_what_to_do(tmp_path, monkeypatch, err,
                                                            reader):
    from pathlib import Path

    path = tmp_path / {"csv": "l.csv", "nwb": "s.nwb", "tiff": "m.tif", "npy": "a.npy",
                       "model": "m.pt"}[reader]
    path.write_bytes(b"x" * 64)

    def refuse(*args, **kwargs):
        raise err

    if reader == "csv":
        from napari_cebra.imaging.labels import read_label_table as call

        monkeypatch.setattr(Path, "read_bytes", refuse)
    elif reader == "nwb":
        import h5py

        from napari_cebra.imaging.nwb import describe_nwb as call

        monkeypatch.setattr(h5py, "is_hdf5", refuse)
    elif reader == "tiff":
        import tifffile

        from napari_cebra.imaging.stacks import open_stack as call

        monkeypatch.setattr(tifffile, "TiffFile", refuse)
    elif reader == "npy":
        import builtins

        from napari_cebra.imaging.safe_npy import load_npy as call

        real_open = builtins.open
        monkeypatch.setattr(builtins, "open", lambda f, *a, **k: refuse() if str(f) == str(
            path) else real_open(f, *a, **k))
    else:
        import torch

        from napari_cebra.model_files import load_model

        def call(p):
            return load_model(p, device="cpu")
        monkeypatch.setattr(torch, "load", refuse)
    with pytest.raises(PermissionError) as caught:
        call(path)
    message = str(caught.value)
    _clear(message, path)
    assert "permission denied" in message and "read access" in message


@pytest.mark.parametrize("make", ["touch", "shell", "object", "plain-pickle"])
def test_a_pickled_model_is_refused_saying_what_it_holds(tmp_path, make):
    import torch

    from napari_cebra.model_files import load_model

    marker = tmp_path / "ran"
    path = tmp_path / "colleague.pt"
    payload = {"format": "napari-cebra/model", "format_version": 1,
               "metadata": Payload(marker) if make == "touch" else
               ShellPayload(marker) if make == "shell" else "{}"}
    if make == "object":
        payload["encoders"] = [sys.modules[__name__].__dict__.get("Unsafe", Payload)(marker)]
    if make == "plain-pickle":
        path.write_bytes(pickle.dumps(Payload(marker)))
    else:
        torch.save(payload, path)
    with pytest.raises(ValueError) as err:
        load_model(path, device="cpu")
    message = str(err.value)
    _clear(message, path)
    assert "holds a pickled Python object" in message and "could run code" in message
    assert "weights_only" not in message and "trust" not in message
    assert not marker.exists()
