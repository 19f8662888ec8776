"""Every file the plugin writes appears whole or not at all, and never replaces a user's file."""

import csv
import os

import numpy as np
import pytest

from napari_cebra import embedding_files
from napari_cebra.embedding_files import load_embedding, save_embedding
from napari_cebra.files import atomic_write, write_json

EMB = np.random.default_rng(0).standard_normal((50, 3)).astype(np.float32)


def test_an_h5_label_that_cannot_be_stored_leaves_no_file(tmp_path, unchanged):
    labels = {"odd": np.array([{"a": 1}] * 50, dtype=object)}
    with unchanged(), pytest.raises(ValueError, match="label 'odd' holds object values"):
        save_embedding(tmp_path / "e.h5", EMB, labels=labels)


def test_object_labels_in_a_structured_npy_leave_no_file(tmp_path, unchanged):
    labels = {"mixed": np.array([1, "two", 3.0] + [0] * 47, dtype=object)}
    with unchanged(), pytest.raises(ValueError, match="convert it to numbers or text"):
        save_embedding(tmp_path / "e.npy", EMB, labels=labels)


def test_text_labels_are_stored_in_every_format(tmp_path):
    words = np.array(["left", "right"] * 25, dtype=object)
    for suffix in (".npy", ".csv", ".h5"):
        _, _, labels = load_embedding(save_embedding(tmp_path / f"e{suffix}", EMB,
                                                     labels={"side": words}))
        assert list(labels["side"][:2]) == ["left", "right"]


def test_ctrl_c_in_the_middle_of_a_long_csv_leaves_no_file(tmp_path, monkeypatch, unchanged):
    big = np.zeros((3_000_000, 2), np.float32)
    real_writer = csv.writer

    class Interrupted:
        def __init__(self, fh):
            self.inner, self.rows = real_writer(fh), 0

        def writerow(self, row):
            self.inner.writerow(row)

        def writerows(self, rows):
            for row in rows:
                self.inner.writerow(row)
                self.rows += 1
                if self.rows == 100_000:
                    raise KeyboardInterrupt

    monkeypatch.setattr(embedding_files.csv, "writer", Interrupted)
    target = tmp_path / "e.csv"
    with unchanged(), pytest.raises(KeyboardInterrupt):
        save_embedding(target, big)
    monkeypatch.setattr(embedding_files.csv, "writer", real_writer)
    save_embedding(target, big[:10])  # the retry is not refused as "exists"
    assert load_embedding(target)[0].shape == (10, 2)


def test_an_existing_file_is_never_replaced(tmp_path, unchanged):
    (tmp_path / "e.csv").write_text("the user's own file")
    with unchanged(), pytest.raises(FileExistsError, match="already exists"):
        save_embedding(tmp_path / "e.csv", EMB)


def test_a_link_planted_at_the_target_is_not_followed(tmp_path, unchanged):
    victim = tmp_path / "precious.txt"
    victim.write_text("do not touch")
    os.symlink(victim, tmp_path / "e.npy")
    with unchanged(), pytest.raises(FileExistsError):
        save_embedding(tmp_path / "e.npy", EMB)
    save_embedding(tmp_path / "e.npy", EMB, overwrite=True)  # replaces the link, not its target
    assert victim.read_text() == "do not touch" and not (tmp_path / "e.npy").is_symlink()


def test_temporary_names_are_fresh_so_a_planted_temp_file_is_harmless(tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("do not touch")
    for i in range(20):  # names an attacker might guess
        os.symlink(victim, tmp_path / f".e.partial{i}.json")
    write_json(tmp_path / "e.json", {"ok": True})
    assert victim.read_text() == "do not touch"


def test_an_error_inside_any_write_leaves_nothing(tmp_path, unchanged):
    with unchanged(), pytest.raises(RuntimeError), atomic_write(tmp_path / "r.json") as fh:
        fh.write("{half")
        raise RuntimeError("disk full")


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; create"):
        save_embedding(tmp_path / "nope" / "e.csv", EMB)


def test_an_h5_write_failing_half_way_leaves_no_file(tmp_path, monkeypatch, unchanged):
    import h5py

    real = h5py.Group.create_dataset

    def disk_full(self, name, *args, **kwargs):
        if self.name == "/labels":  # the embedding and time are already in the file
            raise OSError("No space left on device")
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", disk_full)
    target = tmp_path / "e.h5"
    with unchanged(), pytest.raises(OSError, match="No space left"):
        save_embedding(target, EMB, labels={"speed": np.ones(50)})
    monkeypatch.setattr(h5py.Group, "create_dataset", real)
    save_embedding(target, EMB, labels={"speed": np.ones(50)})  # the retry is not refused
    assert load_embedding(target)[2]["speed"].shape == (50,)


def test_an_npy_write_failing_half_way_leaves_no_file(tmp_path, monkeypatch, unchanged):
    def half(fh, array, **kwargs):
        fh.write(b"\x93NUMPY" + b"\0" * 1000)
        raise OSError("No space left on device")

    monkeypatch.setattr(embedding_files.np, "save", half)
    with unchanged(), pytest.raises(OSError, match="No space left"):
        save_embedding(tmp_path / "e.npy", EMB)


@pytest.mark.parametrize("name", ["speed/cm", "", 3])
def test_a_label_name_no_file_can_hold_is_refused_before_writing(tmp_path, name, unchanged):
    with unchanged(), pytest.raises(ValueError, match=r"cannot name a column: use non-empty text"):
        save_embedding(tmp_path / "e.h5", EMB, labels={name: np.ones(50)})


def test_written_files_get_the_usual_permissions_not_private_ones(tmp_path):
    """A lab shares results: a new file is 0666 less the umask (as ``open`` makes it), and a
    file replaced with ``overwrite`` keeps its own mode."""
    import os
    import stat

    from napari_cebra.files import write_text

    old = os.umask(0o027)
    try:
        new = write_text(tmp_path / "report.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(new.stat().st_mode) == 0o640
    kept = tmp_path / "shared.json"
    kept.write_text("old")
    kept.chmod(0o664)
    write_text(kept, "new", overwrite=True)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o664 and kept.read_text() == "new"
