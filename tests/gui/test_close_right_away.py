"""Closing napari right after opening every sample and widget ends the process cleanly."""

import subprocess
import sys

SCRIPT = """
import napari
viewer = napari.Viewer(show=False)
for key in ("hippocampus", "calcium", "v1", "v1-stack"):
    viewer.open_sample("napari-cebra", key)
for name in ("Train CEBRA", "CEBRA embedding", "Extract traces (suite2p)", "Trace view",
             "Attach labels", "Decode movie frames"):
    viewer.window.add_plugin_dock_widget("napari-cebra", name)
viewer.close()
print("closed")
"""


def test_closing_right_after_opening_everything_exits_cleanly(qapp):
    # qapp: pytest-qt/pytest-xvfb give this process (and so the child) a display
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "closed" in done.stdout and "Traceback" not in done.stderr
