"""``napari-cebra demo``: napari with the plugin's widgets docked and a sample session loaded.

``--train-steps N --screenshot PATH`` trains N steps through the widget, moves the time
slider, saves a screenshot of the whole window and exits (for docs and smoke tests).
``--sample v1-stack`` does one recording the whole way: it docks Extract traces, Attach labels,
Train CEBRA and Decode movie frames and presses their buttons in order (suite2p on the raw
stack, its frame labels, CEBRA, decoded frames beside the true ones), each step's output being
the next one's input; the viewer stays open (``--exit-after-run`` closes it, for tests). It
runs on the demo session (``sample_files.demo_files``: ten repeats, 150 neurons, generated
once into the cache), with the CEBRA settings chosen on its validation repeat, and ends on the
result screen (``walkthrough.arrange_result``) and the result table in the terminal. Third-party
chatter (suite2p, cellpose) stays off the terminal unless ``--verbose``.
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
    p.add_argument("--seed", type=int, default=0,
                   help="v1-stack: which simulated animal (demo session) and training seed")
    p.add_argument("--verbose", action="store_true",
                   help="show suite2p's and cellpose's own output as well")
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


def setup_whole_path(viewer, steps: int | None = None, *, seed: int = 0,
                     session: dict | None = None, say=None) -> dict:
    """Open the demo's V1 session (generated into the cache on first use; ``session``
    overrides its size) and dock the four step widgets; returns step → widget.

    ``steps``: Train's and Decode's iterations (default: the settings chosen for the demo).
    """
    from napari_cebra.gui.sample_data import stack_layers
    from napari_cebra.gui.walkthrough import dock_steps
    from napari_cebra.runtime import hide_triton
    from napari_cebra.sample_files import demo_files, read_manifest

    hide_triton()
    files = demo_files(seed, session=session, say=say)
    for data, kwargs, kind in stack_layers(files):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    widgets = dock_steps(viewer)
    manifest = read_manifest(files.folder)  # the lab knows its indicator and cell size
    widgets["extract"].form["tau"].value = float(manifest["tau"])
    widgets["extract"].form["diameter"].value = float(manifest["diameter"])
    apply_settings(widgets, demo_settings(steps, seed))
    return widgets


def demo_settings(steps: int | None = None, seed: int = 0) -> dict:
    """The demo's CEBRA settings (chosen on validation, see ``sample_files.DEMO_CEBRA``)."""
    from napari_cebra.sample_files import DEMO_CEBRA

    return {**DEMO_CEBRA, "seed": seed} | ({"max_iterations": steps} if steps else {})


def apply_settings(widgets: dict, chosen: dict) -> None:
    """Set Train (and Decode's control) to the demo's settings (again after Attach labels,
    which ticks the labels and holds the last two repeats out)."""
    train, decode = widgets["train"], widgets["decode"]
    train.set_label_columns(["frame_id"] if chosen["labels"] == "frame_id" else [])
    train.form["output_dimension"].value = int(chosen["output_dimension"])
    train.form["max_iterations"].value = int(chosen["max_iterations"])
    train.form["temperature"].value = float(chosen["temperature"])
    train.form["seed"].value = int(chosen["seed"])
    decode.form["max_iterations"].value = int(chosen["max_iterations"])
    decode.form["output_dimension"].value = int(chosen["output_dimension"])


def run_whole_path(widgets: dict, chosen: dict, say=print) -> None:
    """Press the four buttons in order with the ``chosen`` CEBRA settings, saying what runs
    and how long each took."""
    import time

    from napari_cebra.gui.walkthrough import STEPS, press

    for i, key in enumerate(STEPS, 1):
        say(f"[{i}/4] {STEPS[key][0]} …")
        start = time.monotonic()
        press(widgets, key, timeout_s=4 * 3600)  # a slow machine is slow, not broken
        say(f"      done in {time.monotonic() - start:.0f} s: {widgets[key].status.text()}")
        if key == "labels":
            apply_settings(widgets, chosen)


def whole_path(viewer, args: argparse.Namespace) -> int:
    """Press Extract, Attach labels, Train and Decode; end on the result screen."""
    import time

    import napari

    from napari_cebra.gui.walkthrough import arrange_result, pump, save_screenshot
    from napari_cebra.whole_path.demo_protocol import result_lines

    def say(text: str) -> None:
        print(f"napari-cebra demo: {text}", file=sys.stderr, flush=True)

    start = time.monotonic()
    say("opening the demo session (made once into the cache on first use) …")
    widgets = setup_whole_path(viewer, args.train_steps, seed=args.seed, say=say)
    pump(0.5)  # show the window before suite2p starts
    status = 0
    try:
        run_whole_path(widgets, demo_settings(args.train_steps, args.seed), say)
    except RuntimeError as err:
        say(f"error: {err}")
        status = 1
    else:
        arrange_result(viewer, widgets)
        print("\n".join(result_lines(widgets["decode"].report)), flush=True)
        say(f"whole path done in {time.monotonic() - start:.0f} s")
        if args.screenshot:
            save_screenshot(viewer, args.screenshot)
            say(f"screenshot: {args.screenshot}")
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
    from napari_cebra.quiet import set_verbose
    from napari_cebra.runtime import hide_triton

    set_verbose(args.verbose)
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
