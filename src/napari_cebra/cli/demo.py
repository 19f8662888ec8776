"""``napari-cebra demo``: napari with the plugin's widgets docked and a sample session loaded.

``--train-steps N --screenshot PATH`` trains N steps through the widget, moves the time
slider, saves a screenshot of the whole window and exits (for docs and smoke tests).
``--sample v1-stack`` does one recording the whole way: it docks Extract traces, Attach labels,
Train CEBRA and Decode movie frames and presses their buttons in order (suite2p on the raw
stack, its frame labels, CEBRA, decoded frames beside the true ones), each step's output being
the next one's input; the viewer stays open (``--exit-after-run`` closes it, for tests).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SAMPLES = ("hippocampus", "calcium", "v1-stack")
WHOLE_PATH = "v1-stack"  # the sample run the whole way: extract, attach, train, decode
DEMO_LABELS = {"hippocampus": ("position", "direction"), "calcium": ()}
DEMO_COLOR = {"hippocampus": "position", "calcium": "time"}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="open napari with the CEBRA widgets and a sample session, ready to train",
        description="Open napari with 'Train CEBRA' and the embedding view docked and a "
        "synthetic session loaded (generated offline in seconds). Press Train.",
    )
    p.add_argument("--sample", choices=SAMPLES, default="hippocampus",
                   help="hippocampus: place cells + position/direction; calcium: a movie; "
                   "v1-stack: a raw V1 stack run the whole way to decoded movie frames")
    p.add_argument("--train-steps", type=int, default=None, metavar="N",
                   help="train N steps right away; with --screenshot, exit when done "
                   "(v1-stack: Train's and Decode's iterations)")
    p.add_argument("--exit-after-run", action="store_true",
                   help="v1-stack: close napari once the four steps are done (exit 0) or one "
                   "failed (exit 1)")
    p.add_argument("--screenshot", default=None, metavar="PATH",
                   help="save a PNG of the window (after training, if asked) and exit")
    p.add_argument("--frame", type=int, default=None, help="time frame to show")
    p.add_argument("--color-by", default=None, help="embedding colour: time or a label")
    p.add_argument("--widget-shots", default=None, metavar="DIR",
                   help="with --screenshot: also save each docked widget as DIR/<name>.png")
    p.add_argument("--size", default="1500x950", help="window size WxH (1500x950)")
    p.set_defaults(func=handler)


def setup(viewer, sample: str = "hippocampus"):
    """Load ``sample`` into ``viewer`` and dock the widgets; returns (train widget, view)."""
    from napari_cebra.runtime import hide_triton

    hide_triton()
    layers = viewer.open_sample("napari-cebra", sample)
    _, train = viewer.window.add_plugin_dock_widget("napari-cebra", "Train CEBRA")
    _, view = viewer.window.add_plugin_dock_widget("napari-cebra", "CEBRA embedding",
                                                   tabify=False)
    source = next(layer for layer in layers if layer in train.trace_layers())
    train.select_layer(source)
    train.set_label_columns(DEMO_LABELS[sample])
    return train, view


def train_and_wait(train, steps: int, timeout_s: float = 600.0) -> bool:
    """Train ``steps`` steps through the widget, pumping the event loop; True if it finished."""
    import time

    from qtpy.QtWidgets import QApplication

    train.form["max_iterations"].value = steps
    train.start()
    app = QApplication.instance()
    deadline = time.monotonic() + timeout_s
    while train.running and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    return not train.running and train.result is not None


def setup_whole_path(viewer, steps: int | None = None) -> dict:
    """Open the V1 stack sample and dock the four step widgets; returns step → widget.

    ``steps``: Train's and Decode's iterations (default: the widgets' own).
    """
    from napari_cebra.gui.walkthrough import dock_steps
    from napari_cebra.runtime import hide_triton

    hide_triton()
    viewer.open_sample("napari-cebra", WHOLE_PATH)
    widgets = dock_steps(viewer)
    if steps:
        widgets["train"].form["max_iterations"].value = steps
        widgets["decode"].form["max_iterations"].value = steps
    return widgets


def whole_path(viewer, args: argparse.Namespace) -> int:
    """Press Extract, Attach labels, Train and Decode; leave the decoded frames on screen."""
    import napari

    from napari_cebra.gui.walkthrough import pump, run_steps, save_screenshot

    widgets = setup_whole_path(viewer, args.train_steps)
    pump(0.5)  # show the window before suite2p starts
    status = 0
    try:
        run_steps(widgets)
    except RuntimeError as err:
        print(f"napari-cebra demo: {err}", file=sys.stderr)
        status = 1
    else:
        print(widgets["decode"].status.text(), file=sys.stderr)
        if args.screenshot:
            save_screenshot(viewer, args.screenshot)
            print(f"screenshot: {args.screenshot}", file=sys.stderr)
    if args.exit_after_run or args.screenshot:
        viewer.close()
    else:
        napari.run()
    return status


def check_display() -> None:
    """Fail with advice, not a Qt abort, when there is no screen to open napari on."""
    import os

    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return  # macOS/Windows always have a display; a chosen Qt platform is the user's call
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise RuntimeError(
            "no display to open napari on (DISPLAY is not set). On a headless machine run it "
            "under a virtual screen: xvfb-run -a napari-cebra demo --train-steps 300 "
            "--screenshot demo.png (apt-get install xvfb), or use 'napari-cebra train' and "
            "'napari-cebra decode', which need no screen."
        )


def handler(args: argparse.Namespace) -> int:
    from napari_cebra.runtime import hide_triton

    check_display()
    if args.screenshot:
        from napari_cebra.files import check_target

        check_target(args.screenshot, what="screenshot")
    hide_triton()  # before napari creates its OpenGL context (see napari_cebra.runtime)
    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(title="napari-cebra demo")
    width, height = (int(v) for v in args.size.lower().split("x"))
    viewer.window.resize(width, height)
    if args.sample == WHOLE_PATH:
        return whole_path(viewer, args)
    train, view = setup(viewer, args.sample)
    if args.train_steps:
        if not train_and_wait(train, args.train_steps):
            print("napari-cebra demo: training did not finish", file=sys.stderr)
            return 1
        view.color_box.setCurrentText(args.color_by or DEMO_COLOR[args.sample])
    if args.frame is not None:
        viewer.dims.set_current_step(0, args.frame)
    if args.screenshot:
        app = QApplication.instance()
        for _ in range(20):  # let docks lay out and canvases draw
            app.processEvents()
        viewer.reset_view()
        app.processEvents()
        path = Path(args.screenshot)
        viewer.screenshot(str(path), canvas_only=False)
        print(f"screenshot: {path}", file=sys.stderr)
        if args.widget_shots:
            folder = Path(args.widget_shots)
            folder.mkdir(parents=True, exist_ok=True)
            for name, widget in (("train_widget", train), ("embedding_view", view)):
                widget.grab().save(str(folder / f"{name}.png"))
                print(f"screenshot: {folder / name}.png", file=sys.stderr)
        viewer.close()
        return 0
    napari.run()
    return 0
