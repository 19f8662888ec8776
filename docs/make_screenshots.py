"""Screenshots of the README walk-through: the V1 stack sample, the four steps pressed in order.

    xvfb-run -a python docs/make_screenshots.py [--steps 1000] [--overwrite]

Opens napari with the "Synthetic V1 imaging (raw stack)" sample, docks Extract traces, Attach
labels, Train CEBRA and Decode movie frames, presses their buttons in order (each step picks
the previous one's output) and saves the window after each step as
``docs/images/whole_path_{1_extract,2_labels,3_train,4_decode}.png``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

IMAGES = Path(__file__).resolve().parent / "images"
NAMES = {"extract": "whole_path_1_extract.png", "labels": "whole_path_2_labels.png",
         "train": "whole_path_3_train.png", "decode": "whole_path_4_decode.png"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1000, help="Train's and Decode's iterations")
    p.add_argument("--out", type=Path, default=IMAGES, help="folder for the PNGs")
    p.add_argument("--size", default="1600x1000", help="window size WxH")
    p.add_argument("--overwrite", action="store_true", help="replace existing screenshots")
    args = p.parse_args(argv)

    from napari_cebra.cli.demo import check_display, setup_whole_path
    from napari_cebra.files import check_target
    from napari_cebra.runtime import hide_triton

    check_display()
    for name in NAMES.values():  # refuse before running anything
        check_target(args.out / name, overwrite=args.overwrite, what="screenshot")
    hide_triton()
    import napari

    from napari_cebra.gui.sample_data import V1_STACK_NAME
    from napari_cebra.gui.walkthrough import run_steps, save_screenshot, show_step

    viewer = napari.Viewer(title="napari-cebra: one recording the whole way")
    width, height = (int(v) for v in args.size.lower().split("x"))
    viewer.window.resize(width, height)
    widgets = setup_whole_path(viewer, args.steps)
    for layer in viewer.layers:  # the truth is for comparing; the pictures show the steps
        if layer.name.endswith("ground-truth ROIs"):
            layer.visible = False
    args.out.mkdir(parents=True, exist_ok=True)

    def shoot(key: str) -> None:
        if key == "train":  # the embedding view is docked by training: the Train tab in front
            show_step(widgets, "train")
        if key == "decode":  # the grid: raw stack | true frames | decoded frames
            keep = {V1_STACK_NAME, *(layer.name for layer in widgets["decode"].result_layers
                                     .values())}
            for layer in viewer.layers:
                layer.visible = layer.name in keep
            canvas = getattr(viewer, "canvas", None)  # napari ≥ 0.9
            (canvas.grid if canvas is not None else viewer.grid).shape = (1, 3)
            report = widgets["decode"].report  # a test frame in the middle, decoded right
            errors = np.abs(report.result("cebra").prediction - report.true_frames)
            right = np.flatnonzero(errors < report.tolerance)
            middle = len(errors) // 2
            pick = right[np.argmin(np.abs(right - middle))] if len(right) else middle
            viewer.dims.set_current_step(0, int(report.test_index[pick]))
        viewer.reset_view()
        path = args.out / NAMES[key]
        save_screenshot(viewer, path, overwrite=args.overwrite)
        print(f"{key}: {widgets[key].status.text()}\n  → {path}", file=sys.stderr)

    try:
        run_steps(widgets, after=shoot)
    finally:
        viewer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
