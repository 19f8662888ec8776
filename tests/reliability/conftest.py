"""The fault suite's fixture: ``unchanged`` asserts a folder's files stayed byte-identical."""

from pathlib import Path

import pytest
from faults import snapshot


@pytest.fixture
def unchanged(tmp_path):
    """``with unchanged(folder): ...`` asserts no file below ``folder`` changed or appeared."""
    from contextlib import contextmanager

    @contextmanager
    def check(folder: Path = tmp_path):
        before = snapshot(folder)
        yield
        after = snapshot(folder)
        assert after == before, (
            f"appeared: {sorted(set(after) - set(before))}, "
            f"gone: {sorted(set(before) - set(after))}, "
            f"changed: {sorted(k for k in before if k in after and before[k] != after[k])}")

    return check
