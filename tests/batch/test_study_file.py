"""The study CSV: every bad row and column named, with what to do."""

import numpy as np
import pytest

from napari_cebra.batch import StudyError, read_study
from napari_cebra.batch.cluster import machine_shape


def test_reads_sessions_with_paths_relative_to_the_file(tmp_path, make_study):
    study = make_study(tmp_path, n=2)
    sessions = read_study(study)
    assert [s.session for s in sessions] == ["s0", "s1"]
    assert sessions[0].kind == "npy" and sessions[0].fs == 40.0
    assert sessions[0].path == str((tmp_path / "s0.npy").resolve())
    assert sessions[1].labels == str((tmp_path / "s1_position.npy").resolve())


def test_every_bad_row_is_named(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((50, 3), np.float32))
    (tmp_path / "folder").mkdir()
    (tmp_path / "study.csv").write_text(
        "session,path,fs,labels,test_fraction\n"
        "a,a.npy,30,,0.2\n"          # fine
        "b,missing.npy,30,,\n"       # path does not exist
        "c,a.npy,,,\n"               # .npy without fs
        "d,a.npy,-5,,\n"             # negative fs
        "e,a.npy,30,,0.7\n"          # test fraction too large
        "a,a.npy,30,,\n"             # duplicate name
        "f,a.npy,30,pos.txt,\n"      # labels not .npy/.csv
        "g h,a.npy,30,,\n")          # name with a space
    with pytest.raises(StudyError) as info:
        read_study(tmp_path / "study.csv")
    text = str(info.value)
    for expected in ("row 3 (session 'b'): path", "does not exist",
                     "row 4 (session 'c'): fs is empty",
                     "row 5 (session 'd'): fs -5 must be a positive",
                     "row 6 (session 'e'): test_fraction 0.7",
                     "row 7: session name 'a' is also on row 2",
                     "row 8 (session 'f'): labels pos.txt must be a .npy or .csv",
                     "row 9: session name 'g h'"):
        assert expected in text
    assert "row 2 " not in text.replace("also on row 2", "")


def test_missing_and_unknown_columns(tmp_path):
    (tmp_path / "s.csv").write_text("name,file,speed\nx,y,1\n")
    with pytest.raises(StudyError, match="session, path missing") as info:
        read_study(tmp_path / "s.csv")
    assert "'name', 'file', 'speed' unknown" in str(info.value)
    with pytest.raises(StudyError, match="does not exist"):
        read_study(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("session,path\n")
    with pytest.raises(StudyError, match="no sessions"):
        read_study(tmp_path / "empty.csv")


def test_machine_shape_never_oversubscribes():
    assert machine_shape(gpus=0, cores=16, memory=64 * 1024**3) == (16, 1)
    assert machine_shape(gpus=0, cores=16, memory=8 * 1024**3) == (4, 4)  # 2 GiB a worker
    assert machine_shape(gpus=2, cores=16) == (2, 8)  # one worker per GPU
    assert machine_shape(4, gpus=0, cores=16) == (4, 4)
    with pytest.raises(ValueError, match="at least 1 worker"):
        machine_shape(0, gpus=0, cores=4)


def test_one_gpu_per_worker_each_sees_only_its_own():
    """The CUDA layout of the local cluster (checked without a GPU: what each worker sees)."""
    import os

    from distributed import Client

    from napari_cebra.batch.cluster import has_gpu_workers, local_cluster

    with local_cluster(gpus=2, dashboard=False) as cluster, Client(cluster) as client:
        client.wait_for_workers(2, timeout=120)
        seen = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
        assert sorted(seen.values()) == ["0", "1"]
        assert has_gpu_workers(client)
        info = client.scheduler_info()["workers"].values()
        assert all(w["nthreads"] == 1 and w["resources"] == {"GPU": 1} for w in info)


def test_label_files_are_read_as_the_attach_labels_step_reads_them(tmp_path):
    import numpy as np
    import pytest

    from napari_cebra.batch.tasks import read_label_file

    named = tmp_path / "named.csv"
    named.write_text("\ufeffposition,speed\n1.5,2\n2.5,3\n", encoding="utf-8")  # Excel's BOM
    np.testing.assert_array_equal(read_label_file(str(named), False), [[1.5, 2], [2.5, 3]])
    classes = tmp_path / "classes.csv"
    classes.write_text("1\n0\n1\n")
    assert read_label_file(str(classes), True).tolist() == [1, 0, 1]
    words = tmp_path / "words.csv"
    words.write_text("state\nrun\nrest\n")
    with pytest.raises(ValueError, match="column 'state' is not numbers"):
        read_label_file(str(words), False)
    with pytest.raises(ValueError, match="must be one column of integers"):
        read_label_file(str(named), True)
