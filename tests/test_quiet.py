"""Third-party chatter goes to our log at DEBUG, not to the terminal; real errors still show."""

import logging
import sys
import threading

import pytest

from napari_cebra import quiet


@pytest.fixture(autouse=True)
def not_verbose(monkeypatch):
    monkeypatch.delenv(quiet.VERBOSE_ENV, raising=False)
    monkeypatch.setattr(quiet, "_verbose", None)


def test_prints_and_library_logs_are_captured_and_logged_at_debug(capsys, caplog,
                                                                  monkeypatch):
    caplog.set_level(logging.DEBUG, logger="napari_cebra.third_party")
    monkeypatch.setattr(logging.getLogger("suite2p"), "level", logging.INFO)  # as our run sets
    with quiet.quietly("suite2p") as buffer:
        print("binary output path: /tmp/x/data.bin")
        sys.stderr.write("100%|##########| 1/1\n")
        logging.getLogger("cellpose.models").warning("Could not import CPDINO, run pip install")
        logging.getLogger("suite2p").info("----------- REGISTRATION")
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    text = buffer.getvalue()
    for line in ("binary output path", "100%|", "CPDINO", "REGISTRATION"):
        assert line in text
    debug = [r.getMessage() for r in caplog.records if r.name == "napari_cebra.third_party"]
    assert any("binary output path" in m for m in debug)
    assert all(r.levelno == logging.DEBUG for r in caplog.records
               if r.name == "napari_cebra.third_party")
    # everything is as it was afterwards
    assert not isinstance(sys.stdout, quiet._ThreadRouter)
    assert logging.getLogger("cellpose").propagate and logging.getLogger("suite2p").propagate
    print("ours again")
    assert capsys.readouterr().out == "ours again\n"


def test_a_real_error_is_raised_with_what_the_library_said(capsys, caplog):
    caplog.set_level(logging.DEBUG, logger="napari_cebra.third_party")
    with pytest.raises(ValueError, match="no ROIs were found"), quiet.quietly("suite2p"):
        print("Found 0 ROIs")
        raise ValueError("no ROIs were found")
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warned and "Found 0 ROIs" in warned[0].getMessage()
    assert not isinstance(sys.stderr, quiet._ThreadRouter)


def test_an_expected_exception_passes_without_the_lines(caplog):
    class Cancelled(Exception):
        pass

    caplog.set_level(logging.DEBUG, logger="napari_cebra.third_party")
    with pytest.raises(Cancelled), quiet.quietly("suite2p", expected=(Cancelled,)):
        print("registering")
        raise Cancelled()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_library_errors_and_other_threads_still_reach_the_terminal(capsys, caplog):
    caplog.set_level(logging.DEBUG)
    seen = []

    def ours():
        print("our progress line")
        seen.append(True)

    with quiet.quietly("suite2p"):
        thread = threading.Thread(target=ours)
        thread.start()
        thread.join()
        logging.getLogger("suite2p").error("disk full")
    assert seen and capsys.readouterr().out == "our progress line\n"
    assert any(r.getMessage() == "disk full" and r.levelno == logging.ERROR
               for r in caplog.records)


def test_verbose_shows_everything(capsys, monkeypatch):
    monkeypatch.setenv(quiet.VERBOSE_ENV, "1")
    with quiet.quietly("suite2p"):
        print("binary output path")
    assert capsys.readouterr().out == "binary output path\n"
    quiet.set_verbose(False)
    with quiet.quietly("suite2p"):
        print("binary output path")
    assert capsys.readouterr().out == ""


def test_import_quietly_keeps_import_time_notices_off_the_terminal(tmp_path, monkeypatch,
                                                                   capsys):
    (tmp_path / "noisy_lib.py").write_text(
        "import logging\nprint('Could not import CPDINO, run pip install git+...')\n"
        "logging.getLogger('cellpose.models').warning('Could not import CPDINO')\nVALUE = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = quiet.import_quietly("noisy_lib")
    assert module.VALUE == 3
    out, err = capsys.readouterr()
    assert "CPDINO" not in out + err
    assert quiet.import_quietly("noisy_lib") is module  # imported once
    with pytest.raises(ModuleNotFoundError):
        quiet.import_quietly("no_such_lib_here")
    monkeypatch.delitem(sys.modules, "noisy_lib")
