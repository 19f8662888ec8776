"""gui/forms.py edge cases: an optional number whose range starts at a fraction of its step."""

from __future__ import annotations

from dataclasses import dataclass

from napari_cebra.gui.forms import SettingsForm
from napari_cebra.settings import Settings, setting


@dataclass
class _Rate(Settings):
    rate: float | None = setting(None, min=0.01, max=10.0, help="a rate", unit="Hz")


def test_optional_float_below_its_step_reads_none_and_values(qtbot):
    form = SettingsForm(_Rate)
    assert form.settings.rate is None
    form["rate"].value = 0.01  # the declared minimum is a value, not "none"
    assert form.settings.rate == 0.01
    form["rate"].value = 2.5
    assert form.settings.rate == 2.5
    form.set(_Rate(rate=None))
    assert form.settings.rate is None
