"""What a packager or a hub visitor relies on: one manifest, metadata, version, versions in
every JSON we write."""

import json
from importlib import metadata
from pathlib import Path

import numpy as np
import tomllib

import napari_cebra

ROOT = Path(__file__).parents[1]


def test_the_manifest_is_a_real_file_in_the_package_and_the_top_level_one_matches():
    packaged = Path(napari_cebra.__file__).parent / "napari.yaml"
    assert packaged.is_file() and not packaged.is_symlink()  # survives a Windows checkout
    assert (ROOT / "napari.yaml").read_text() == packaged.read_text()


def test_the_manifest_names_the_plugin_and_puts_widgets_in_layer_menus():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("napari-cebra")
    assert manifest.display_name == "CEBRA for calcium imaging"
    menus = manifest.contributions.menus
    commands = {item.command for items in menus.values() for item in items}
    widgets = {w.command for w in manifest.contributions.widgets}
    assert widgets <= commands
    assert any("*.zarr" in r.filename_patterns for r in manifest.contributions.readers)


def test_metadata_has_an_spdx_license_a_license_file_urls_and_one_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "BSD-3-Clause" and (ROOT / "LICENSE").is_file()
    assert project["dynamic"] == ["version"] and "version" not in project
    assert {"Homepage", "Bug Tracker", "Source Code"} <= set(project["urls"])
    assert any(c.startswith("Programming Language :: Python :: 3.1")
               for c in project["classifiers"])
    assert metadata.version("napari-cebra") == napari_cebra.__version__


def test_every_json_we_write_carries_a_format_version(tmp_path):
    from napari_cebra.analysis.frame_decoding import decode_frames

    frames = np.tile(np.arange(40), 4)
    neural = np.c_[np.sin(frames / 6.0), np.cos(frames / 6.0)].astype(np.float32)
    report = decode_frames(neural, frames, np.repeat(np.arange(4), 40), 5.0, model=False,
                           baselines=("raw",), controls=())
    record = json.loads(report.to_json(tmp_path / "r.json").read_text())
    assert record["format"] == "napari-cebra/frame-decoding-report"
    assert record["format_version"] == 1


def test_embedding_files_carry_a_format_version(tmp_path):
    import h5py

    from napari_cebra.embedding_files import load_embedding, save_embedding

    path = save_embedding(tmp_path / "e.h5", np.zeros((5, 2), np.float32))
    with h5py.File(path, "r") as fh:
        assert fh.attrs["format"] == "napari-cebra/embedding" and fh.attrs["format_version"] == 1
    with h5py.File(path, "a") as fh:
        fh.attrs["format_version"] = 7
    try:
        load_embedding(path)
    except ValueError as err:
        assert "newer napari-cebra" in str(err)
    else:
        raise AssertionError("a newer embedding file must be refused")
