"""Make docs/images/decode_widget.png: the Decode widget on the synthetic V1 sample.

    xvfb-run -a python docs/images/decode_screenshot.py --iterations 1000

Opens napari (needs a display: a real one or Xvfb), loads the V1 sample, trains CEBRA in the
Decode widget on repeats 1–9, decodes repeat 10 and saves the window: true vs decoded frames in
grid view, the neurons, the results table and the predicted-vs-true plot at the slider's time.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--frame", type=int, default=450, help="time within the test repeat")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "decode_widget.png")
    args = p.parse_args()

    import napari
    from qtpy.QtWidgets import QApplication

    from napari_cebra.gui.decode_widget import DecodeWidget
    from napari_cebra.gui.sample_data import v1_sample

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1500, 950)
    for data, kwargs, kind in v1_sample():
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    widget = DecodeWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Decode movie frames", area="right")
    widget.iter_spin.setValue(args.iterations)
    widget.shuffle_labels_check.setChecked(False)  # the benchmark runs the retrained control
    widget.start()
    app = QApplication.instance()
    while widget.running:
        app.processEvents()
    if widget.report is None:
        raise SystemExit(f"decoding failed: {widget.status.text()}")
    viewer.canvas.grid.shape = (1, 3)  # neurons | true frames | decoded frames
    t0 = int(widget.report.test_index[0])
    viewer.dims.set_current_step(0, t0 + args.frame)
    viewer.reset_view()
    for _ in range(20):
        app.processEvents()
    viewer.window.screenshot(str(args.out), canvas_only=False)
    print(f"wrote {args.out}")
    for r in widget.report.results:
        print(f"{r.name:<24} {r.accuracy:6.1%}  median error {r.median_frame_error:.0f}")
    viewer.close()


if __name__ == "__main__":
    main()
