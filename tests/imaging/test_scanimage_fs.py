"""The frame rate a stack file declares: ScanImage, ImageJ and OME-TIFF metadata, and where it
goes (the stack layer, ``extract``'s ``--fs`` default)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_cebra.cli import UsageError
from napari_cebra.cli.extract import _frame_rate
from napari_cebra.imaging.stacks import frame_rate_of, open_stack

MOVIE = np.arange(6 * 8 * 9, dtype=np.uint16).reshape(6, 8, 9)


def scanimage_tiff(path, frame_rate=15.21, volume_rate=15.21, slices=1):
    """Like ScanImage 2016+: the static metadata as MATLAB assignments in the Software tag."""
    software = (f"SI.hRoiManager.scanFrameRate = {frame_rate}\n"
                f"SI.hRoiManager.scanVolumeRate = {volume_rate}\n"
                f"SI.hStackManager.numSlices = {slices}\n"
                "SI.VERSION_MAJOR = '2020'\n")
    tifffile.imwrite(path, MOVIE, software=software)
    return path


def test_scanimage_frame_rate(tmp_path):
    path = scanimage_tiff(tmp_path / "si.tif")
    with tifffile.TiffFile(path) as tif:
        assert tif.is_scanimage  # tifffile sees it as ScanImage
    assert frame_rate_of(path) == pytest.approx(15.21)
    np.testing.assert_array_equal(np.asarray(open_stack(path)), MOVIE)  # pixels unchanged
    volume = scanimage_tiff(tmp_path / "vol.tif", frame_rate=30.0, volume_rate=7.5, slices=4)
    assert frame_rate_of(volume) == pytest.approx(7.5)  # a volume: each plane at this rate


def test_scanimage_3_description(tmp_path):
    path = tmp_path / "si3.tif"
    tifffile.imwrite(path, MOVIE, description="state.configPath='c:'\r"
                     "state.acq.frameRate=4.2\rstate.acq.numberOfZSlices=1")
    assert frame_rate_of(path) == pytest.approx(4.2)


@pytest.mark.parametrize(("metadata", "rate"), [
    ({"finterval": 1 / 30}, 30.0),
    ({"finterval": 50.0, "tunit": "ms"}, 20.0),
    ({"fps": 12.5}, 12.5),
])
def test_imagej_frame_rate(tmp_path, metadata, rate):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, MOVIE, imagej=True, metadata={"axes": "TYX", **metadata})
    assert frame_rate_of(path) == pytest.approx(rate)


def test_ome_frame_rate(tmp_path):
    path = tmp_path / "m.ome.tif"
    tifffile.imwrite(path, MOVIE, ome=True,
                     metadata={"axes": "TYX", "TimeIncrement": 250.0, "TimeIncrementUnit": "ms"})
    assert frame_rate_of(path) == pytest.approx(4.0)


def test_series_folder_and_unknown_rate(tmp_path):
    folder = tmp_path / "series"
    folder.mkdir()
    for i in (1, 2):
        tifffile.imwrite(folder / f"f_{i}.tif", MOVIE, imagej=True,
                         metadata={"axes": "TYX", "finterval": 0.1})
    assert frame_rate_of(folder) == pytest.approx(10.0)
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, MOVIE)
    assert frame_rate_of(plain) is None
    np.save(tmp_path / "m.npy", MOVIE)
    assert frame_rate_of(tmp_path / "m.npy") is None
    with pytest.raises(FileNotFoundError):
        frame_rate_of(tmp_path / "missing.tif")


def test_extract_fs_defaults_to_the_metadata(tmp_path, capsys):
    path = scanimage_tiff(tmp_path / "si.tif")
    assert _frame_rate(None, str(path)) == pytest.approx(15.21)
    assert "15.21 Hz (from the file's metadata)" in capsys.readouterr().out
    assert _frame_rate(30.0, str(path)) == 30.0  # --fs wins
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, MOVIE)
    with pytest.raises(UsageError, match="not in its metadata.*--fs 30"):
        _frame_rate(None, str(plain))


def test_extract_without_fs_says_what_to_give(tmp_path, capsys):
    from napari_cebra.cli import main

    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, MOVIE)
    assert main(["extract", str(plain), "--out", str(tmp_path / "o")]) == 2
    assert "--fs" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_stack_layer_carries_the_rate(tmp_path):
    from napari_cebra.gui.reader import read_stack

    path = scanimage_tiff(tmp_path / "si.tif")
    ((data, kwargs, kind),) = read_stack(str(path))
    assert kind == "image" and kwargs["metadata"]["fs"] == pytest.approx(15.21)
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, MOVIE)
    assert "fs" not in read_stack(str(plain))[0][1]["metadata"]
