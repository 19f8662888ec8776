"""Every job's settings are declared once: the widget's form, the CLI and the JSON agree.

Walks every settings class of ``napari_cebra.settings.JOBS`` and compares, field by field,
the declaration with (1) the magicgui form its dock widget shows (names, defaults, ranges,
choices), (2) the options of its subcommand (names, defaults, choices, help text) and (3) the
settings JSON (a changed instance comes back equal). Any disagreement fails.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from napari_cebra.settings import JOBS, fields_of, registered

JOB_CLASSES = registered()
#: the subcommand that takes each job's settings, and which of them (None: all declared)
SUBCOMMANDS = {"extract": ("extract", None), "train": ("train", None),
               "decode": ("decode", None), "live": ("live", None), "batch": ("batch", None),
               "hypotheses": ("hypotheses", "all but sets")}
#: jobs with no subcommand of their own, and why (their form and JSON are still walked)
GUI_ONLY = {"behaviour": "the shell reads pose files through 'hypotheses --labels POSE'"}
#: settings other subcommands take too (the batch runs CEBRA; decode's raw-stack path runs
#: suite2p)
ALSO = [("batch", "train", "napari_cebra.cli.batch:TRAINING_OPTIONS"),
        ("decode", "extract", ("fs", "tau", "diameter", "registration"))]


def test_every_job_is_walked():
    assert set(JOB_CLASSES) == set(JOBS) == set(SUBCOMMANDS) | set(GUI_ONLY)
    for cls in JOB_CLASSES.values():
        assert fields_of(cls), f"{cls.__name__} declares no setting"
        for f in fields_of(cls):
            assert f.help.strip(), f"{cls.__name__}.{f.name} has no help text"


def _subparser(name: str) -> argparse.ArgumentParser:
    from napari_cebra.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _check_cli(cls, command: str, only) -> None:
    options = {a.dest: a for a in _subparser(command)._actions}
    if only == "all but sets":  # 'hypotheses --sets' takes a list, joined into the setting
        only = {f.name for f in fields_of(cls)} - {"sets"}
    for f in fields_of(cls):
        if not f.cli or (only is not None and f.name not in only):
            continue
        action = options.get(f.name)
        assert action is not None, f"{command}: no option for {cls.__name__}.{f.name}"
        assert f.cli in action.option_strings
        assert action.default == f.default, f"{command} {f.cli}: default differs"
        if f.fixed_choices is not None and f.type is not tuple:
            assert tuple(action.choices) == f.fixed_choices
        assert f.help.replace("%", "%%") in action.help, f"{command} {f.cli}: help differs"
        if f.type in (int, float) and f.min is not None:
            assert f.rule() in action.help  # range and unit in --help


@pytest.mark.parametrize("job", sorted(SUBCOMMANDS))
def test_cli_options_are_the_declaration(job):
    command, only = SUBCOMMANDS[job]
    _check_cli(JOB_CLASSES[job], command, only)


@pytest.mark.parametrize(("command", "job", "only"), ALSO)
def test_shared_settings_on_other_subcommands(command, job, only):
    if isinstance(only, str):
        import importlib

        module, name = only.split(":")
        only = getattr(importlib.import_module(module), name)
    _check_cli(JOB_CLASSES[job], command, only)


def _changed(cls):
    """An instance with every declared field moved off its default (still valid)."""
    values = {}
    for f in fields_of(cls):
        if f.fixed_choices is not None and f.type is tuple:
            values[f.name] = f.fixed_choices[:1]
        elif f.fixed_choices is not None:
            values[f.name] = f.fixed_choices[-1] if f.default != f.fixed_choices[-1] \
                else f.fixed_choices[0]
        elif f.type is bool:
            values[f.name] = not f.default
        elif f.type in (int, float):
            lo = f.min if f.min is not None else 0
            values[f.name] = f.type(lo + 1) if f.max is None or lo + 1 <= f.max else f.type(lo)
        elif f.optional:
            values[f.name] = None if f.default is not None else (
                Path.cwd() / "x.json" if f.type is Path else f.type("x"))
    return dataclasses.replace(cls(), **values)


@pytest.mark.parametrize("job", sorted(JOBS))
def test_json_round_trip(job):
    cls = JOB_CLASSES[job]
    for instance in (cls(), _changed(cls)):
        assert cls.from_json(instance.to_json()) == instance
    assert _changed(cls) != cls() or len(fields_of(cls)) == 0


def _check_form(form, cls) -> None:
    shown = {f.name for f in form.fields}
    declared = [f for f in fields_of(cls) if f.gui]
    for f in declared:
        if f.name not in shown:
            continue  # a widget may leave a setting to its own control (see its .form_only)
        w = form[f.name]
        if f.choices is not None and f.type is not tuple:
            values = f.choice_values()
            assert tuple(w.choices) == values, f"{f.name}: choices differ"
        elif f.choices is not None:
            assert tuple(w.choices) == f.fixed_choices
        if f.type in (int, float):
            step = f.step if f.step is not None else (1 if f.type is int else 0.1)
            lo = f.min - step if f.optional else f.min
            assert w.min == pytest.approx(lo) and w.max == pytest.approx(f.max), f.name
        if f.type in (int, float) and f.default is not None:
            assert w.value == pytest.approx(f.default), f"{f.name}: default differs"
        elif f.type is tuple:
            assert tuple(w.value) == f.default
        elif f.default is not None:
            assert w.value == f.default, f"{f.name}: default differs"
    assert form.settings == cls()
    changed = _changed(cls)
    form.set(changed)
    assert form.settings == changed


@pytest.mark.parametrize("job", sorted(JOBS))
def test_form_is_the_declaration(job, qtbot):
    from napari_cebra.gui.forms import SettingsForm

    cls = JOB_CLASSES[job]
    _check_form(SettingsForm(cls), cls)


WIDGETS = {"extract": "napari_cebra.gui.extract_widget:ExtractWidget",
           "train": "napari_cebra.gui.train_widget:TrainWidget",
           "decode": "napari_cebra.gui.decode_widget:DecodeWidget",
           "live": "napari_cebra.gui.live_widget:LiveWidget",
           "hypotheses": "napari_cebra.gui.hypotheses_widget:HypothesesWidget",
           "behaviour": "napari_cebra.gui.behaviour_widget:BehaviourWidget"}


@pytest.mark.parametrize("job", sorted(WIDGETS))
def test_dock_widget_shows_the_declared_form(job, make_napari_viewer):
    import importlib

    module, name = WIDGETS[job].split(":")
    widget = getattr(importlib.import_module(module), name)(make_napari_viewer())
    cls = JOB_CLASSES[job]
    assert widget.form.settings_class is cls
    names = {f.name for f in widget.form.fields}
    missing = {f.name for f in fields_of(cls) if f.gui} - names - set(
        getattr(widget, "form_excludes", ()))
    assert not missing, f"{name} does not show {missing}"
    _check_form(widget.form, cls)
