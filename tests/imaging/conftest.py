import pytest

from napari_cebra.synthetic.calcium_movie import simulate_calcium_movie


@pytest.fixture(scope="session")
def movie():
    """A smaller movie with rigid motion (the full 1,000 × 128 × 128 one is in benchmarks/)."""
    return simulate_calcium_movie(n_frames=1000, shape=(80, 80), n_neurons=12, seed=0)


@pytest.fixture(scope="session")
def extracted(movie, tmp_path_factory):
    """suite2p (rigid registration) through our API on ``movie``."""
    from napari_cebra.imaging import extract

    out = tmp_path_factory.mktemp("extract") / "run"
    events = []
    session = extract(
        movie.movie,
        fs=movie.fs,
        tau=movie.tau,
        diameter=movie.diameter,
        registration="rigid",
        out_dir=out,
        on_progress=events.append,
    )
    return session, events
