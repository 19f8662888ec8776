"""A failed, cancelled or replacing extraction deletes nothing it did not make."""

import tempfile

import numpy as np
import pytest
from faults import fake_suite2p_plane, snapshot

from napari_cebra.cli import main
from napari_cebra.imaging import extract, load_session, suite2p_run
from napari_cebra.imaging.suite2p_run import ExtractParams, run_suite2p_steps

NOISE = np.random.default_rng(0).normal(100, 1, (100, 32, 32)).astype(np.float32)


@pytest.fixture
def old_results(tmp_path):
    """An output folder holding earlier results plus files of the user's own beside them."""
    out = tmp_path / "out"
    fake_suite2p_plane(out)
    (out / "lab_book.md").write_text("keep me too")
    (out / "figures").mkdir()
    (out / "figures" / "fig1.svg").write_text("<svg/>")
    return out


def _fake_suite2p(fail_after_files: BaseException | None):
    """Stands in for suite2p: writes outputs into the run's plane folder, then fails or ends."""

    def run(db, settings):
        plane = suite2p_run.Path(db["save_path"])
        (plane / "F.npy").write_bytes(b"half-written")
        yield suite2p_run.Progress("detection", 500, 1000, "fake suite2p")
        if fail_after_files is not None:
            raise fail_after_files
        tmp = suite2p_run.Path(tempfile.mkdtemp())
        fake_suite2p_plane(tmp, n_rois=7)
        for f in (tmp / "suite2p" / "plane0").iterdir():
            f.replace(plane / f.name)
        ops = np.load(plane / "ops.npy", allow_pickle=True).item()  # made by this test
        np.save(plane / "ops.npy", np.array({**ops, "save_path": str(plane)}, dtype=object))

    return run


def test_a_replacing_run_that_fails_keeps_the_old_results(old_results, unchanged):
    """Real suite2p on pure noise finds no ROIs; the replaced results must survive it."""
    with unchanged(old_results), pytest.raises(ValueError, match="no ROIs were found"):
        extract(NOISE, fs=30, registration="none", diameter=6, torch_device="cpu",
                out_dir=old_results, overwrite=True)
    assert load_session(old_results / "suite2p" / "plane0").traces.shape == (200, 4)


def test_a_failed_run_in_a_new_folder_leaves_no_folder(tmp_path, unchanged):
    out = tmp_path / "new" / "deeper"
    with unchanged(), pytest.raises(ValueError, match="no ROIs were found"):
        extract(NOISE, fs=30, registration="none", diameter=6, torch_device="cpu", out_dir=out)
    assert not (tmp_path / "new").exists()


def test_a_crash_mid_run_keeps_every_file_it_did_not_make(old_results, unchanged, monkeypatch):
    monkeypatch.setattr(suite2p_run, "_run_plane_in_thread",
                        _fake_suite2p(RuntimeError("segfault-like crash")))
    with unchanged(old_results), pytest.raises(RuntimeError, match="crash"):
        list(run_suite2p_steps(NOISE, ExtractParams(fs=30), old_results, overwrite=True))


def test_a_cancelled_run_keeps_every_file_it_did_not_make(old_results, unchanged, monkeypatch):
    monkeypatch.setattr(suite2p_run, "_run_plane_in_thread", _fake_suite2p(None))
    with unchanged(old_results):
        steps = run_suite2p_steps(NOISE, ExtractParams(fs=30), old_results, overwrite=True)
        for event in steps:
            if event.stage == "detection":
                steps.close()  # what the GUI's Cancel does
                break


def test_ctrl_c_in_the_command_line_keeps_the_old_results(old_results, tmp_path, unchanged,
                                                          monkeypatch, capsys):
    import tifffile

    stack = tmp_path / "movie.tif"
    tifffile.imwrite(stack, NOISE.astype(np.uint16))
    monkeypatch.setattr(suite2p_run, "_run_plane_in_thread", _fake_suite2p(KeyboardInterrupt()))
    with unchanged(old_results):
        code = main(["extract", str(stack), "--fs", "30", "--out", str(old_results),
                     "--overwrite"])
    assert code == 130
    err = capsys.readouterr().err
    assert "stopped (Ctrl-C)" in err and "Traceback" not in err


def test_a_successful_replace_swaps_in_the_new_results_only(old_results, monkeypatch):
    monkeypatch.setattr(suite2p_run, "_run_plane_in_thread", _fake_suite2p(None))
    plane = extract(NOISE, fs=30, out_dir=old_results, overwrite=True).suite2p.plane_dir
    assert plane == old_results / "suite2p" / "plane0"
    assert load_session(plane).traces.shape == (200, 7)
    assert (old_results / "lab_book.md").read_text() == "keep me too"
    assert sorted(snapshot(old_results)) == sorted(  # nothing hidden is left behind
        ["lab_book.md", "figures", "figures/fig1.svg", "suite2p", "suite2p/plane0",
         *(f"suite2p/plane0/{f.name}" for f in plane.iterdir())])
    ops = load_session(plane).suite2p.ops
    assert ops["save_path"] == str(plane)  # suite2p's recorded paths point at the final place


def test_existing_results_are_refused_before_anything_runs(old_results, unchanged, monkeypatch):
    monkeypatch.setattr(suite2p_run, "_run_plane_in_thread",
                        lambda *a: pytest.fail("suite2p must not start"))
    with unchanged(old_results), pytest.raises(FileExistsError, match="already holds suite2p"):
        extract(NOISE, fs=30, out_dir=old_results)


def _suite2p_must_not_start(monkeypatch):
    monkeypatch.setattr(suite2p_run, "_run_plane_in_thread",
                        lambda *a: pytest.fail("suite2p must not start"))


def test_replacing_never_deletes_a_file_suite2p_did_not_write(old_results, unchanged,
                                                              monkeypatch):
    (old_results / "suite2p" / "plane0" / "my_notes.txt").write_text("curation notes")
    _suite2p_must_not_start(monkeypatch)
    with unchanged(), pytest.raises(FileExistsError,
                                    match="my_notes.txt, which suite2p did not write"):
        extract(NOISE, fs=30, out_dir=old_results, overwrite=True)


def test_a_file_named_suite2p_is_never_replaced(tmp_path, unchanged, monkeypatch):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "suite2p").write_text("not a folder")
    _suite2p_must_not_start(monkeypatch)
    with unchanged(), pytest.raises(FileExistsError, match="is not a suite2p results folder"):
        extract(NOISE, fs=30, out_dir=tmp_path / "out", overwrite=True)


def test_a_failed_swap_puts_the_old_results_back(old_results, unchanged, monkeypatch):
    """The new results are complete, the old ones are moved aside, and then moving the new
    ones in fails: the old ones must be back in place and nothing else left."""
    monkeypatch.setattr(suite2p_run, "_run_plane_in_thread", _fake_suite2p(None))
    rename = suite2p_run.Path.rename

    def failing_rename(self, target):
        if ".suite2p.partial-" in str(self) and suite2p_run.Path(target).name == "suite2p":
            raise OSError("disk full")
        return rename(self, target)

    monkeypatch.setattr(suite2p_run.Path, "rename", failing_rename)
    with unchanged(old_results), pytest.raises(OSError, match="disk full"):
        extract(NOISE, fs=30, out_dir=old_results, overwrite=True)


def test_the_command_line_checks_its_output_folder_before_reading_the_stack(
        tmp_path, unchanged, capsys):
    missing_stack = str(tmp_path / "not_read.tif")  # reading it would fail differently
    with unchanged():
        code = main(["extract", missing_stack, "--fs", "30",
                     "--out", str(tmp_path / "no_such_parent" / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "its parent folder" in err and "does not exist" in err


def test_the_command_line_refuses_existing_results_before_reading_the_stack(
        old_results, tmp_path, unchanged, capsys):
    with unchanged():
        code = main(["extract", str(tmp_path / "not_read.tif"), "--fs", "30",
                     "--out", str(old_results)])
    assert code == 1 and "already holds suite2p results" in capsys.readouterr().err


def test_the_command_line_writes_traces_whole_and_leaves_nothing_hidden(tmp_path, monkeypatch,
                                                                        capsys):
    import tifffile

    stack = tmp_path / "movie.tif"
    tifffile.imwrite(stack, NOISE.astype(np.uint16))
    monkeypatch.setattr(suite2p_run, "_run_plane_in_thread", _fake_suite2p(None))
    out = tmp_path / "out"
    assert main(["extract", str(stack), "--fs", "30", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    plane = out / "suite2p" / "plane0"
    with np.load(plane / "traces.npz") as traces:
        assert traces["dff"].shape == (200, 7) and float(traces["fs"]) == 30.0
    assert not [p for p in snapshot(out) if "/." in f"/{p}"]  # no staging or temporary file
