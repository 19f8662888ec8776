"""The settings of each job but training (``pipeline.TrainSettings``), declared once.

Each class is what a user chooses for one run of a job — the dock widget's form, the
subcommand's options and the JSON saved beside its results all come from it (see
:mod:`napari_cebra.settings`). What a run reads from the data (layers, files, repeats) is not a
setting: the widget picks it and the CLI takes it as its own arguments. No Qt, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from napari_cebra.pipeline import _device_names
from napari_cebra.settings import Settings, setting

REGISTRATION_MODES = ("rigid", "nonrigid", "none")
DETECTION_ALGORITHMS = ("sparsery", "sourcery")
BASELINES = ("maximin", "percentile", "constant")
DECODE_LABELS = ("auto", "movie", "phase", "time")


@dataclass
class ExtractSettings(Settings):
    """suite2p's main settings and the dF/F baseline (``napari-cebra extract``, Extract)."""

    fs: float | None = setting(None, min=0.01, max=10_000.0, step=1.0, unit="Hz",
                               none="from the file", label="Frame rate",
                               help="frame rate; unset, the one the file's metadata declares "
                               "(ScanImage, ImageJ, OME-TIFF or NWB)")
    tau: float = setting(1.0, min=0.01, max=100.0, step=0.1, unit="s", label="Decay time τ",
                         help="indicator decay time")
    diameter: float = setting(12.0, min=2.0, max=500.0, unit="px", label="Cell diameter",
                              help="cell diameter")
    registration: str = setting("rigid", choices=REGISTRATION_MODES,
                                help="motion correction")
    detection: str = setting("sparsery", choices=DETECTION_ALGORITHMS,
                             help="ROI detection algorithm")
    neuropil_coefficient: float = setting(0.7, min=0.0, max=2.0, step=0.05,
                                          label="Neuropil coeff.",
                                          help="F − coeff × Fneu")
    baseline: str = setting("maximin", choices=BASELINES, label="dF/F baseline",
                            help="dF/F baseline method")
    baseline_window: float = setting(60.0, min=1.0, max=10_000.0, step=10.0, unit="s",
                                     help="baseline window")
    device: str = setting("auto", help="torch device for suite2p: auto, cpu, cuda", gui=False)

    def params(self, fs: float):
        """suite2p's run parameters (``imaging.suite2p_run.ExtractParams``) at frame rate fs."""
        from napari_cebra.imaging.suite2p_run import ExtractParams

        return ExtractParams(fs=fs, tau=self.tau, diameter=self.diameter,
                             registration=self.registration, detection=self.detection,
                             neuropil_coefficient=self.neuropil_coefficient,
                             torch_device=self.device)

    def baseline_params(self):
        from napari_cebra.imaging.session import BaselineParams

        return BaselineParams(neuropil_coefficient=self.neuropil_coefficient,
                              method=self.baseline, window_s=self.baseline_window)


@dataclass
class DecodeSettings(Settings):
    """The movie-frame decoding protocol (``napari-cebra decode``, Decode)."""

    labels: str = setting("auto", choices=DECODE_LABELS, label="CEBRA labels",
                          help="what CEBRA trains on: movie-frame features, frame phase, or "
                          "nothing (CEBRA-Time); auto: movie when the movie is known, else "
                          "phase")
    max_iterations: int = setting(2000, min=1, max=1_000_000, step=100, unit="steps",
                                  cli="--iterations", label="Iterations",
                                  help="CEBRA training steps")
    output_dimension: int = setting(32, min=1, max=128, label="Output dims",
                                    help="dimensions of the embedding")
    batch_size: int = setting(512, min=2, max=1_000_000, unit="samples", gui=False,
                              help="samples per training step (at most the training frames)")
    device: str = setting("auto", choices=_device_names, gui=False,
                          help="torch device: auto (CUDA when present), cpu, cuda:N")
    baselines: tuple[str, ...] = setting(("raw", "pca"), choices=("raw", "pca"),
                                         help="decoders to compare with: kNN on the raw "
                                         "traces, on their PCA")
    controls: tuple[str, ...] = setting(("labels", "neural"), choices=("labels", "neural"),
                                        help="shuffled controls: labels (retrains), neural")

    def cebra_params(self, n_train: int | None = None) -> dict:
        batch = self.batch_size if n_train is None else max(2, min(self.batch_size, n_train))
        return dict(max_iterations=self.max_iterations, output_dimension=self.output_dimension,
                    batch_size=batch)


@dataclass
class LiveSettings(Settings):
    """Decoding a stream frame by frame (``napari-cebra live``, Live)."""

    k: int = setting(24, min=1, max=10_000, label="k", help="neighbours of the kNN decoder")
    realtime: bool = setting(False, label="replay at its frame rate",
                             help="replay at the frame rate instead of as fast as possible")
    fs: float | None = setting(None, min=0.1, max=10_000.0, unit="Hz", none="from the data",
                               label="Frame rate",
                               help="frame rate; unset, the suite2p folder's or the layer's")
    idle_s: float = setting(5.0, min=0.1, max=86_400.0, unit="s", gui=False,
                            help="a followed source ends after this long without a frame")
    baseline: str = setting("maximin", choices=("maximin", "fixed"), gui=False,
                            help="raw frames: running (causal) maximin baseline, or a fixed F0 "
                            "per ROI from the suite2p folder's F")
    neuropil_coefficient: float = setting(0.7, min=0.0, max=2.0, gui=False,
                                          help="F − coeff × Fneu (raw frames)")
    window_s: float = setting(60.0, min=1.0, max=10_000.0, unit="s", gui=False,
                              help="baseline window")
    session_id: int = setting(0, min=0, max=10_000, gui=False,
                              help="multi-session model: which session's input layer")


@dataclass
class BatchSettings(Settings):
    """Where a study runs (``napari-cebra batch``); its CEBRA settings are TrainSettings'."""

    workers: int | None = setting(None, min=0, max=4096, none="auto",
                                  help="local worker processes (auto: sized to the machine; "
                                  "0: in this process, one task after another)")
    scheduler: str | None = setting(None, help="an existing Dask scheduler, e.g. "
                                    "tcp://head:8786 (default: a local cluster)")
    sweep: Path | None = setting(None, cli="--sweep", help="grid of settings (JSON), e.g. "
                                 '{"output_dimension": [3, 8]}')
