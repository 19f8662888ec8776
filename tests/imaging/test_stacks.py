import os

import dask.array as da
import numpy as np
import psutil
import pytest
import tifffile

from napari_cebra.imaging.stacks import iter_frames, natural_key, open_stack, validate_stack


def test_contiguous_tiff_is_memory_mapped(tmp_path):
    data = np.arange(20 * 16 * 24, dtype=np.uint16).reshape(20, 16, 24)
    tifffile.imwrite(tmp_path / "s.tif", data)
    stack = open_stack(tmp_path / "s.tif")
    assert isinstance(stack, np.memmap)
    np.testing.assert_array_equal(stack[7], data[7])


def test_compressed_tiff_opens_through_dask(tmp_path):
    data = np.random.default_rng(0).integers(0, 500, (12, 16, 16)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "c.tif", data, compression="zlib")
    stack = open_stack(tmp_path / "c.tif")
    assert isinstance(stack, da.Array) and stack.shape == data.shape
    np.testing.assert_array_equal(np.asarray(stack[3]), data[3])


def test_multi_file_series_in_natural_order(tmp_path):
    parts = [np.full((5, 8, 8), i, np.int16) for i in range(11)]
    for i, p in enumerate(parts):  # file_2 must come before file_10
        tifffile.imwrite(tmp_path / f"file_{i}.tif", p)
    stack = open_stack(tmp_path)
    assert isinstance(stack, da.Array) and stack.shape == (55, 8, 8)
    np.testing.assert_array_equal(np.asarray(stack[::5, 0, 0]), np.arange(11))
    listed = open_stack([tmp_path / "file_10.tif", tmp_path / "file_2.tif"])
    assert int(listed[0, 0, 0]) == 2
    assert sorted(["a10", "a2"], key=natural_key) == ["a2", "a10"]


def test_npy_is_memory_mapped(tmp_path):
    np.save(tmp_path / "m.npy", np.ones((4, 8, 8), np.float32))
    stack = open_stack(tmp_path / "m.npy")
    assert isinstance(stack, np.memmap) and stack.shape == (4, 8, 8)


def test_iter_frames_reads_in_batches(tmp_path):
    data = np.arange(10 * 4 * 4, dtype=np.float32).reshape(10, 4, 4)
    got = list(iter_frames(da.from_array(data, chunks=3), batch=4))
    assert [s for s, _ in got] == [0, 4, 8]
    np.testing.assert_array_equal(np.concatenate([b for _, b in got]), data)


def test_opening_a_large_stack_reads_almost_nothing(tmp_path):
    """A 2.5 GB TIFF (sparse on disk) opens and shows a frame reading < 8 MB, < 64 MB RSS."""
    path = tmp_path / "big.tif"
    shape = (20_000, 256, 256)
    tifffile.imwrite(path, shape=shape, dtype="uint16")  # header + a hole, no pixel writes
    size = os.path.getsize(path)
    assert size > 2.5e9
    proc = psutil.Process()
    read0, rss0 = proc.io_counters().read_chars, proc.memory_info().rss
    stack = open_stack(path)
    frame = np.asarray(stack[12_345])
    last = np.asarray(stack[-1])
    read = proc.io_counters().read_chars - read0
    rss = proc.memory_info().rss - rss0
    assert stack.shape == shape and frame.shape == shape[1:] and last.shape == shape[1:]
    assert read < 8e6, f"read {read / 1e6:.1f} MB of a {size / 1e9:.1f} GB file"
    assert rss < 64e6, f"resident grew by {rss / 1e6:.0f} MB"


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (np.zeros((16, 16), np.uint16), ValueError, "single image"),
        (np.zeros((0, 16, 16), np.uint16), ValueError, "empty"),
        (np.zeros((3, 4, 4), bool), TypeError, "not a number type"),
        (np.zeros((3, 4, 4), complex), TypeError, "not a number type"),
    ],
)
def test_bad_arrays_are_rejected(data, error, match):
    with pytest.raises(error, match=match):
        validate_stack(data, "movie.tif")


def test_two_d_tiff_is_rejected(tmp_path):
    tifffile.imwrite(tmp_path / "one.tif", np.zeros((16, 16), np.uint16))
    with pytest.raises(ValueError, match=r"one\.tif.*single image"):
        open_stack(tmp_path / "one.tif")
    # …but a series of single-frame files is a movie
    tifffile.imwrite(tmp_path / "one_2.tif", np.ones((16, 16), np.uint16))
    assert open_stack([tmp_path / "one.tif", tmp_path / "one_2.tif"]).shape == (2, 16, 16)


def test_truncated_tiff_names_the_file(tmp_path):
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, np.ones((50, 32, 32), np.uint16))
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) // 2)
    with pytest.raises(ValueError, match=r"cut\.tif.*(truncated|corrupt)"):
        open_stack(path)


def test_corrupt_tiff_names_the_file(tmp_path):
    path = tmp_path / "junk.tif"
    path.write_bytes(b"II*\x00" + os.urandom(200))
    with pytest.raises(ValueError, match=r"junk\.tif.*corrupt"):
        open_stack(path)


def test_missing_and_unsupported(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tif"):
        open_stack(tmp_path / "nope.tif")
    (tmp_path / "x.avi").write_bytes(b"0")
    with pytest.raises(ValueError, match="unsupported"):
        open_stack(tmp_path / "x.avi")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no TIFF"):
        open_stack(empty)


def test_series_must_agree(tmp_path):
    tifffile.imwrite(tmp_path / "a_1.tif", np.zeros((3, 8, 8), np.uint16))
    tifffile.imwrite(tmp_path / "a_2.tif", np.zeros((3, 8, 9), np.uint16))
    with pytest.raises(ValueError, match="differ"):
        open_stack(tmp_path)
