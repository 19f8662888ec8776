"""Frame-decoding reports (JSON, CSV) appear whole or not at all and never replace a file."""

import csv
import json

import numpy as np
import pytest

from napari_cebra import files
from napari_cebra.analysis import report as report_module
from napari_cebra.analysis.report import FrameDecodingReport, FrameResult


def small_report() -> FrameDecodingReport:
    true = np.arange(20)
    rep = FrameDecodingReport(fs=5.0, tolerance=5.0, n_frames=20, chance=0.45,
                              train_repeats=[0, 1], validation_repeat=1, test_repeat=2,
                              test_index=np.arange(40, 60), true_frames=true)
    rep.results.append(FrameResult("raw", "baseline", 0.9, 1.0, 3, {1: 0.8, 3: 0.9}, true))
    return rep


@pytest.mark.parametrize("write", ["to_json", "to_csv"])
def test_an_existing_report_is_kept_byte_for_byte(tmp_path, unchanged, write):
    target = tmp_path / "earlier"
    target.write_text("a colleague's results")
    with unchanged(), pytest.raises(FileExistsError,
                                    match=r"earlier already exists; choose another file name"):
        getattr(small_report(), write)(target)


@pytest.mark.parametrize("write", ["to_json", "to_csv"])
def test_overwrite_replaces_the_whole_file(tmp_path, write):
    target = tmp_path / "r.out"
    target.write_text("x" * 100_000)
    getattr(small_report(), write)(target, overwrite=True)
    text = target.read_text()
    assert "x" not in text and "raw" in text
    assert [p.name for p in tmp_path.iterdir()] == ["r.out"]  # no temporary file left


def test_a_report_into_a_missing_folder_says_so_and_creates_nothing(tmp_path, unchanged):
    with unchanged(), pytest.raises(FileNotFoundError,
                                    match="the folder of report file .* does not exist"):
        small_report().to_json(tmp_path / "missing" / "r.json")


def test_a_json_write_failing_at_the_disk_leaves_no_file(tmp_path, monkeypatch, unchanged):
    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", disk_full)
    with unchanged(), pytest.raises(OSError, match="No space left on device"):
        small_report().to_json(tmp_path / "r.json", predictions=True)


def test_a_csv_interrupted_half_way_leaves_no_file(tmp_path, monkeypatch, unchanged):
    real = csv.DictWriter

    class HalfWay(real):
        def writerows(self, rows):
            self.writerow(rows[0])
            raise KeyboardInterrupt

    monkeypatch.setattr(report_module.csv, "DictWriter", HalfWay)
    with unchanged(), pytest.raises(KeyboardInterrupt):
        small_report().to_csv(tmp_path / "r.csv")
    monkeypatch.setattr(report_module.csv, "DictWriter", real)
    small_report().to_csv(tmp_path / "r.csv")  # the retry is not refused as "exists"
    assert (tmp_path / "r.csv").read_text().splitlines()[1].startswith("frame_id,raw,")


def test_a_report_that_cannot_be_serialised_leaves_no_file(tmp_path, unchanged):
    rep = small_report()
    rep.settings["callback"] = print  # not JSON
    with unchanged(), pytest.raises(TypeError, match="not JSON serializable"):
        rep.to_json(tmp_path / "r.json")


def test_a_written_report_reads_back(tmp_path):
    path = small_report().to_json(tmp_path / "r.json", predictions=True)
    data = json.loads(path.read_text())
    assert data["results"][0]["name"] == "raw" and data["true_frames"] == list(range(20))
