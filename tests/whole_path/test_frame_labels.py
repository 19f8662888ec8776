"""Frame labels (frame_id, repeat per imaging frame) read from a lab's CSV, or refused clearly."""

import numpy as np
import pytest

from napari_cebra.whole_path import read_frame_labels


def _csv(tmp_path, text, name="labels.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_frame_ids_and_repeats_one_row_per_frame(tmp_path):
    rows = [(f % 5, f // 5) for f in range(15)]
    path = _csv(tmp_path, "\ufeffrepeat,frame_id,speed\n"  # Excel's BOM, any column order
                + "".join(f"{r},{f},0.5\n" for f, r in rows))
    labels = read_frame_labels(path, n_frames=15)
    np.testing.assert_array_equal(labels.frame_id, [f for f, _ in rows])
    np.testing.assert_array_equal(labels.repeat, [r for _, r in rows])
    assert labels.frame_id.dtype == np.int64
    with pytest.raises(ValueError, match="has 15 rows but the stack has 16 frames"):
        read_frame_labels(path, n_frames=16)


@pytest.mark.parametrize("text, message", [
    ("frame,repeat\n0,0\n", r"no column 'frame_id'; .* \(it has 'frame', 'repeat'\)"),
    ("frame_id,repeat\n0,0\n1.5,1\n2,2\n", r"'frame_id' row 3 is 1.5"),
    ("frame_id,repeat\n0,0\n1,-1\n2,2\n", r"'repeat' row 3 is -1"),
    ("frame_id,repeat\n0,0\nten,1\n2,2\n", r"'frame_id' row 3 is 'ten'"),
    ("frame_id,repeat\n0,0\n1,\n2,2\n", r"'repeat' row 3 is nan"),
    ("frame_id,repeat\n0,0\n1,1\n0,0\n", r"2 repeat\(s\); decoding needs at least 3"),
])
def test_flawed_files_are_refused_naming_the_row(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_frame_labels(_csv(tmp_path, text))
