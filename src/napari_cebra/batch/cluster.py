"""Where tasks run: a ``LocalCluster`` sized to the machine, or an existing Dask scheduler.

On the CPU each worker is a process with one task slot, and torch in it uses
``cores // workers`` threads, so workers × torch threads never exceed the cores. With CUDA, one
worker per GPU, each seeing only its own device (``CUDA_VISIBLE_DEVICES``) and declaring the
worker resource ``GPU=1``. ``--scheduler ADDRESS`` connects to a cluster started elsewhere (e.g.
with dask-jobqueue on SLURM, see the README); its workers may declare ``--resources GPU=1``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

#: bytes of memory a worker needs (torch, a session, a model)
WORKER_MEMORY = 2 * 1024**3


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def gpu_count() -> int:
    """CUDA devices visible here (0 without torch or CUDA)."""
    try:
        import torch

        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except ImportError:
        return 0


def machine_shape(workers: int | None = None, *, gpus: int | None = None,
                  cores: int | None = None, memory: int | None = None) -> tuple[int, int]:
    """(workers, torch threads per worker) for this machine; ``workers`` overrides the count."""
    cores = cores or cpu_count()
    gpus = gpu_count() if gpus is None else gpus
    if workers is None:
        if gpus:
            workers = gpus
        else:
            workers = cores
            if memory is None:
                with contextlib.suppress(ImportError):
                    import psutil

                    memory = psutil.virtual_memory().total
            if memory:
                workers = min(workers, max(1, memory // WORKER_MEMORY))
    if workers < 1:
        raise ValueError(f"--workers {workers}: give at least 1 worker.")
    return int(workers), max(1, cores // workers)


def local_cluster(workers: int | None = None, *, gpus: int | None = None,
                  dashboard: bool = True):
    """A cluster of local worker processes (one task slot each) sized by
    :func:`machine_shape`: a ``LocalCluster`` on the CPU; with CUDA one worker per GPU, each
    seeing only its own device and declaring the resource ``GPU=1``."""
    from distributed import LocalCluster, Nanny, Scheduler, SpecCluster

    gpus = gpu_count() if gpus is None else gpus
    n, threads = machine_shape(workers, gpus=gpus)
    env = {"NAPARI_CEBRA_TORCH_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    address = ":0" if dashboard else None
    if not gpus:
        return LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                            dashboard_address=address, env=env)
    specs = {f"gpu-{i}": {"cls": Nanny, "options": {
        "nthreads": 1, "resources": {"GPU": 1},
        "env": {**env, "CUDA_VISIBLE_DEVICES": str(i % gpus)}}} for i in range(n)}
    return SpecCluster(workers=specs, scheduler={
        "cls": Scheduler, "options": {"dashboard_address": address}})


def has_gpu_workers(client) -> bool:
    """Whether the cluster's workers declare a ``GPU`` resource (then each task asks for one)."""
    workers = client.scheduler_info().get("workers", {})
    return any("GPU" in (w.get("resources") or {}) for w in workers.values())


@contextlib.contextmanager
def open_client(workers: int | None = None, scheduler: str | None = None,
                stream=None) -> Iterator:
    """A Dask client: on ``scheduler`` when given, else on a new local cluster (closed after).
    Prints the dashboard link."""
    from distributed import Client

    stream = stream if stream is not None else sys.stderr
    if scheduler and workers is not None:
        raise ValueError("give --workers or --scheduler, not both (an existing cluster has "
                         "its own workers).")
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as err:
            raise OSError(f"--scheduler {scheduler}: no Dask scheduler answers there ({err}); "
                          "check the address (tcp://host:8786) and that it is running.") \
                from err
        cluster = None
    else:
        cluster = local_cluster(workers)
        client = Client(cluster)
    try:
        link = client.dashboard_link
        print(f"Dask dashboard: {link}", file=stream)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
