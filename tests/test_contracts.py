"""docs/CONTRACTS.md says what the code does: names exist, field lists match."""

import dataclasses
import importlib
import re
from pathlib import Path

import numpy as np
import pytest

from napari_cebra import contracts
from napari_cebra.engine.solver import TrainingStep
from napari_cebra.progress import Progress

DOC = (Path(__file__).parents[1] / "docs" / "CONTRACTS.md").read_text()


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


NAMES = sorted(set(re.findall(r"`(napari_cebra(?:\.\w+)+)", DOC)))


@pytest.mark.parametrize("dotted", NAMES)
def test_every_name_on_the_page_exists(dotted):
    assert _resolve(dotted) is not None


def test_the_page_names_enough_to_be_checked():
    assert len(NAMES) > 30


def _listed(after: str) -> list[str]:
    """The backticked words of the paragraph that starts with ``after``."""
    para = DOC[DOC.index(after):].split("\n\n")[0]
    return re.findall(r"`(\w+)`", para)


def test_training_step_fields_are_documented():
    fields = [f.name for f in dataclasses.fields(TrainingStep)]
    assert _listed("`TrainingStep` fields:")[1:] == fields


def test_progress_fields_are_documented():
    fields = [f.name for f in dataclasses.fields(Progress)]
    listed = _listed("Every long job in the core")
    assert all(name in listed for name in fields)


def test_traces_record_fields_are_the_documented_ones():
    record = contracts.traces_record(np.zeros((5, 2)))
    assert tuple(record) == contracts.TRACES_FIELDS
    section = DOC[DOC.index("## Traces on napari layers"):DOC.index("## A trained embedding")]
    for key in (*contracts.TRACES_FIELDS, *contracts.EXTRA_TRACES_FIELDS):
        assert f'`"{key}"`' in section, key


def test_embedding_record_fields_are_the_documented_ones():
    record = contracts.embedding_record(np.zeros((5, 2)))
    assert tuple(record) == contracts.EMBEDDING_FIELDS
    section = DOC[DOC.index("## A trained embedding"):DOC.index("## Widgets finding")]
    for key in contracts.EMBEDDING_FIELDS:
        assert f"`{key}`" in section, key


def test_records_refuse_what_the_contract_forbids():
    with pytest.raises(ValueError, match="declare one of continuous, discrete"):
        contracts.traces_record(np.zeros((5, 2)), labels={"x": np.zeros(5)},
                                label_kinds={"x": "guessed"})
    with pytest.raises(ValueError, match="one entry per embedding row"):
        contracts.embedding_record(np.zeros((5, 2)), time=np.arange(4))
