"""A 2-worker LocalCluster shared by the batch tests, and small synthetic studies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_cebra.synthetic.hippocampus import hippocampus_session

#: few, small steps: the tests check the machinery, not the embedding quality
SETTINGS = dict(max_iterations=15, batch_size=32, num_hidden_units=8, output_dimension=3,
                device="cpu", time_offsets=5)


def write_study(folder: Path, n: int = 4, *, bad: bool = False, n_samples: int = 600) -> Path:
    """``n`` place-cell sessions as (time, neurons) .npy with their positions; ``bad`` adds a
    session whose labels have the wrong length (it fails in its task)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["session,path,fs,labels,test_fraction"]
    for i in range(n):
        s = hippocampus_session(n_neurons=20, n_samples=n_samples, seed=i)
        np.save(folder / f"s{i}.npy", s.neural.astype(np.float32))
        np.save(folder / f"s{i}_position.npy", s.position.astype(np.float32))
        rows.append(f"s{i},s{i}.npy,{s.fs},s{i}_position.npy,0.2")
    if bad:
        np.save(folder / "short_labels.npy", np.zeros(100, np.float32))
        rows.append("broken,s0.npy,40,short_labels.npy,0.2")
    path = folder / "study.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="session")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None,
                      env={"NAPARI_CEBRA_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}) as c:
        yield c


@pytest.fixture
def client(cluster):
    from distributed import Client

    with Client(cluster) as c:
        yield c


@pytest.fixture
def make_study():
    return write_study


@pytest.fixture
def settings():
    return dict(SETTINGS)
