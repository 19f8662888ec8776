"""The screenshot of docs/behaviour.md: video, keypoints, traces and embedding on one axis.

    xvfb-run -a python docs/make_behaviour_screenshot.py [--steps 1500] [--overwrite]

Opens the behaviour sample (File ▸ Open Sample ▸ Synthetic behaviour), trains CEBRA-Behaviour
on the pose-derived x, y (held-out end of the session), shows the embedding coloured by x,
draws the position decoded from it on the video (Behaviour widget) and saves the window as
``docs/images/behaviour_view.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

IMAGE = Path(__file__).resolve().parent / "images" / "behaviour_view.png"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1500, help="training iterations")
    p.add_argument("--frame", type=int, default=520, help="imaging frame shown")
    p.add_argument("--out", type=Path, default=IMAGE)
    p.add_argument("--overwrite", action="store_true", help="replace an existing screenshot")
    args = p.parse_args(argv)

    from napari_cebra.files import check_target
    from napari_cebra.runtime import hide_triton

    check_target(args.out, overwrite=args.overwrite, what="screenshot")
    hide_triton()
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_cebra.contracts import traces_of
    from napari_cebra.gui.behaviour_reader import TRACES_NAME, behaviour_sample_layers
    from napari_cebra.gui.behaviour_widget import BehaviourWidget
    from napari_cebra.gui.embedding_view import EmbeddingView
    from napari_cebra.pipeline import TrainSettings, job_from_metadata, train
    from napari_cebra.progress import drain

    viewer = napari.Viewer(title="napari-cebra: behaviour")
    viewer.window.resize(1600, 950)
    for data, kwargs, kind in behaviour_sample_layers():
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    layer = viewer.layers[TRACES_NAME]
    record = traces_of(layer.metadata)
    settings = TrainSettings(model_architecture="offset10-model", output_dimension=3,
                             max_iterations=args.steps, batch_size=512, time_offsets=10,
                             test_fraction=0.2, device="cpu", seed=0)
    result = drain(train(job_from_metadata(record, settings, ["x", "y"], source=layer.name)))
    record["embedding"] = result.as_metadata()
    behaviour = BehaviourWidget(viewer)
    viewer.window.add_dock_widget(behaviour, name="Behaviour", area="right")
    view = EmbeddingView.for_viewer(viewer)
    view.show_source(layer)
    view.color_box.setCurrentText("x")
    behaviour.show_decoded()
    viewer.layers.selection.active = layer
    viewer.dims.set_current_step(0, args.frame)
    for _ in range(20):  # let the docks take their room before fitting the view
        QApplication.processEvents()
    viewer.reset_view()
    for _ in range(20):
        QApplication.processEvents()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(args.out), canvas_only=False)
    print(f"wrote {args.out}")
    viewer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
