""""Behaviour" dock widget: a pose file (and its video) onto a traces layer's time axis.

Pick the traces layer, the pose file, the video and how the two clocks are matched; the pose
is cleaned (p-cutoff, short gaps interpolated), the chosen variables are derived and put on
the imaging frames and attached to the traces layer as continuous labels (NaN where the
animal was not tracked: those frames are left out of training). The video, keypoints and
skeleton are added on the imaging time axis. Once an embedding is trained, *Show decoded
position* draws the position decoded from it (k-NN) beside the tracked one on the video.
"""

from __future__ import annotations

import napari
import numpy as np
from napari.layers import Image
from napari.utils.notifications import show_error
from qtpy.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from napari_cebra.behaviour.settings import BehaviourSettings, behaviour_steps
from napari_cebra.contracts import embedding_of, has_traces, traces_of
from napari_cebra.gui import registry, session_flow
from napari_cebra.gui.forms import SettingsForm, layer_picker
from napari_cebra.gui.jobs import JobRunner

DECODED_NAME = "decoded position"


class BehaviourWidget(QWidget):
    """Attach pose-derived labels, the video and the keypoints to a traces layer."""

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer
        registry.register(napari_viewer, "behaviour", self)
        self.labels = None  # the last BehaviourLabels attached
        self.traces = layer_picker(napari_viewer, Image, filter=has_traces,
                                   label="Traces layer")
        self.form = SettingsForm(BehaviourSettings)
        self.run_button = QPushButton("Load behaviour")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.decode_button = QPushButton("Show decoded position")
        self.decode_button.setToolTip("k-NN decoding of x, y from the traces layer's embedding "
                                      "(trained frames with behaviour), drawn on the video")
        self.status = QLabel("Choose a pose file and how the clocks are matched.")
        self.status.setWordWrap(True)
        self.jobs = JobRunner(on_busy=self._set_busy, status=self.status.setText)

        layout = QVBoxLayout(self)
        layout.addWidget(self.traces.native)
        layout.addWidget(self.form.native)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        layout.addWidget(self.decode_button)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.jobs.cancel)
        self.decode_button.clicked.connect(self.show_decoded)

    def _set_busy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _record(self):
        layer = self.traces.value
        return layer, (traces_of(layer.metadata) if layer is not None else None)

    def run(self) -> None:
        layer, record = self._record()
        if record is None:
            show_error("No traces layer: extract traces or open a traces file first.")
            return
        try:
            settings = self.form.settings
        except ValueError as err:
            show_error(str(err))
            return
        gen = behaviour_steps(settings, n_frames=int(record["traces"].shape[0]),
                              fs=record.get("fs"))
        self.jobs.start(gen, desc="Loading behaviour",
                        on_result=lambda result: self._attach(layer, record, *result),
                        error=lambda err: f"Behaviour not loaded: {err}")

    def _attach(self, layer, record, labels, video) -> None:
        from napari_cebra.behaviour.layers import pose_points, pose_skeleton, video_layer

        record.setdefault("labels", {}).update(
            {k: v.astype(np.float32) for k, v in labels.table.items()})
        record.setdefault("label_kinds", {}).update(labels.kinds)
        record["behaviour_report"] = labels.report
        self.labels = labels
        new = []
        if video is not None:
            new.append(video_layer(video))
        new.append(pose_points(labels.pose, labels.alignment))
        skeleton = pose_skeleton(labels.pose, labels.pose.skeleton, labels.alignment)
        new += [skeleton] if skeleton else []
        for data, kwargs, kind in new:
            getattr(self.viewer, f"add_{kind}")(data, **kwargs)
        self.viewer.layers.selection.active = layer
        session_flow.hand_on(self.viewer, "traces", layer)  # Train picks the labels up
        a = labels.report["alignment"]
        self.status.setText(
            f"Attached {', '.join(labels.table)} to {layer.name!r}: "
            f"{labels.report['n_imaging_frames_missing']} of {len(labels.valid)} frames without "
            f"behaviour (left out of training); offset {a['offset_s']:+.3f} s, drift "
            f"{a['drift_ppm']:+.0f} ppm, coverage {a['coverage_percent']:.1f} %, "
            f"{a['n_dropped_camera_frames']} dropped camera frames; "
            f"{labels.report['n_interpolated_points']} points interpolated.")

    def show_decoded(self) -> None:
        """Decode x, y from the layer's embedding (k-NN fitted on trained frames that have
        behaviour) and draw it as a Points layer on the imaging time axis."""
        from napari_cebra.analysis.decoders import KNNDecoder
        from napari_cebra.behaviour.layers import decoded_points

        layer, record = self._record()
        emb = embedding_of(layer.metadata) if layer is not None else None
        labels = (record or {}).get("labels", {})
        if emb is None or "x" not in labels or "y" not in labels:
            show_error("Train an embedding on this traces layer after loading behaviour "
                       "(labels x and y) first.")
            return
        xy = np.stack([labels["x"], labels["y"]], axis=1).astype(np.float64)
        fit = np.asarray(emb["train_mask"], bool) & np.isfinite(xy).all(axis=1)
        if fit.sum() < 10:
            show_error("Too few trained frames with behaviour to fit a decoder.")
            return
        embedding = np.asarray(emb["embedding"])
        decoder = KNNDecoder(n_neighbors=min(12, int(fit.sum()))).fit(embedding[fit], xy[fit])
        decoded = decoder.predict(embedding)
        scale = (self.labels.report.get("px_per_cm") if self.labels is not None else None)
        if scale:  # labels in cm: back to the video's pixels
            decoded = decoded * scale
        held = ~np.asarray(emb["train_mask"], bool) & np.isfinite(xy).all(axis=1)
        data, kwargs, _ = decoded_points(decoded, name=DECODED_NAME)
        if DECODED_NAME in self.viewer.layers:
            self.viewer.layers.remove(DECODED_NAME)
        self.viewer.add_points(data, **kwargs)
        if held.any():
            err = np.hypot(*(decoder.predict(embedding[held]) - xy[held]).T).mean()
            self.status.setText(f"Decoded position drawn; mean error on held-out frames "
                                f"{err:.2f} (label units).")
        else:
            self.status.setText("Decoded position drawn (no held-out frames to score).")
