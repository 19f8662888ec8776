"""Forms the napari way: a magicgui form from a job's settings class, and layer pickers.

A job declares its settings once (``napari_cebra.settings``: a dataclass of ``setting(...)``
fields); a widget shows them with :class:`SettingsForm` and reads them back validated:

    form = SettingsForm(TrainSettings, exclude=("hybrid",))
    layout.addWidget(form.native)              # a magicgui Container; .native is its QWidget
    form.changed.connect(on_change)            # any field changed
    settings = form.settings                   # a TrainSettings (ValueError names a bad value)
    form.set(loaded_settings)                  # show another instance
    form["max_iterations"].value = 500         # one field's magicgui widget, by name

Each field becomes one ``magicgui.widgets.create_widget``: a spin box with the declared
min/max/step for numbers (``X | None`` numbers get one more step below ``min`` shown as the
field's ``none`` word, e.g. "random"), a combo box for choices (choices computed at run time,
like the registered models or this machine's GPUs, are filled when the form is built), a check
box for booleans, a multi-select list for a tuple with choices, a file picker for paths
(:func:`path_of` reads an empty one as None) and a line edit for text; the label and tooltip
come from the declaration (help, range, unit). ``form.settings_with(hybrid=...)`` fills fields
a widget shows with its own control; ``SettingsForm(cls, only=(...), layout="horizontal")``
shows a few fields in a row.

Layer pickers are magicgui combo boxes of one layer kind (``napari.layers.Image``, ``Labels``,
…, plus an optional filter) that follow the viewer's layer list by themselves (added, removed,
renamed, reordered layers), keeping the chosen layer by identity:

    traces = layer_picker(viewer, napari.layers.Image, filter=has_traces, label="Traces")
    traces.value                               # the chosen layer, or None
    traces.changed.connect(...)
    choose(traces, "session 1")                # select by layer or name

Works docked or not (the picker is bound to ``viewer``, not found through the window).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from magicgui.widgets import ComboBox, Container, Widget, create_widget

from napari_cebra.settings import Field, fields_of


def tooltip(f: Field) -> str:
    """The field's help with its allowed values, as the form shows it on hover."""
    if f.fixed_choices is not None or (f.min is None and f.max is None):
        return f.help
    return f"{f.help} ({f.rule()})"


def field_widget(f: Field, value: Any = None) -> Widget:
    """The magicgui widget for one declared setting, showing ``value`` (default: its default)."""
    value = f.default if value is None and not f.optional else value
    options: dict[str, Any] = {"tooltip": tooltip(f)}
    annotation: Any = f.type
    widget_type = None
    if f.type is tuple and f.choices is not None:
        widget_type = "Select"
        options["choices"] = f.fixed_choices
        annotation = list
        value = list(value or ())
    elif f.choices is not None:
        widget_type = "ComboBox"
        options["choices"] = f.fixed_choices if f.fixed_choices is not None else (
            lambda _widget, _f=f: list(_f.choices()))
    elif f.type in (int, float):
        lo = -2**31 + 1 if f.min is None else f.min
        hi = 2**31 - 1 if f.max is None else f.max
        step = f.step if f.step is not None else (1 if f.type is int else 0.1)
        if f.optional:  # one step below the range stands for None (rounded as shown)
            lo = round(lo - step, 10)
        options.update(min=lo, max=hi, step=step)
        widget_type = "SpinBox" if f.type is int else "FloatSpinBox"
    elif f.type is Path:
        options["mode"] = f.file_mode
        annotation = Path
    elif f.type is bool:
        options["text"] = f.label
    shown = _to_widget(f, value, options)
    given = {} if f.type is Path and not shown else {"value": shown}  # empty: no path yet
    widget = create_widget(**given, annotation=annotation, name=f.name,
                           label="" if f.type is bool else f.label, widget_type=widget_type,
                           options=options)
    if widget_type == "FloatSpinBox":
        tiny = min(abs(x) for x in (options["min"], options["step"]) if x) if any(
            (options["min"], options["step"])) else 0.1
        widget.native.setDecimals(max(2, math.ceil(-math.log10(tiny)) if tiny < 1 else 2))
        widget.min = options["min"]  # re-applied at the precision just set
        widget.value = shown
    if f.optional and widget_type in ("SpinBox", "FloatSpinBox"):
        widget.native.setSpecialValueText(f.none or "none")
    return widget


def _to_widget(f: Field, value: Any, options: dict) -> Any:
    if value is None and f.optional and "min" in options:
        return options["min"]
    if f.type is tuple:
        return list(value or ())
    if value is None and f.type in (str, Path):
        return ""
    return value


def _from_widget(f: Field, widget: Widget) -> Any:
    value = widget.value
    if f.type is tuple:
        return tuple(value or ())
    if f.type is str and f.optional and not value:
        return None
    if f.optional and f.type in (int, float) and (
            value <= widget.min or (f.min is not None and value < f.min)):
        return None
    if f.type is Path:
        path = path_of(widget)
        return path if path is not None or f.optional else Path()
    return value


def path_of(edit: Widget) -> Path | None:
    """A file picker's path, or None when its text is empty (magicgui shows an empty
    ``FileEdit`` as the current folder)."""
    text = str(edit.line_edit.value if hasattr(edit, "line_edit") else edit.value or "")
    return Path(text.strip()) if text.strip() else None


class SettingsForm(Container):
    """A magicgui form of a settings class's fields (see the module docstring).

    ``exclude``/``only`` choose the fields shown; fields not shown keep the values of the last
    instance given to :meth:`set` (or the class's defaults), so :attr:`settings` is always a
    whole, validated instance.
    """

    def __init__(self, settings_class: type, *, value: Any = None,
                 exclude: Iterable[str] = (), only: Iterable[str] | None = None,
                 **container_kwargs: Any) -> None:
        exclude, only = set(exclude), (list(only) if only is not None else None)
        declared = {f.name: f for f in fields_of(settings_class)}
        names = only if only is not None else [n for n, f in declared.items() if f.gui]
        self.settings_class = settings_class
        self.fields = tuple(declared[n] for n in names if n not in exclude)
        self._base = value if value is not None else settings_class()
        widgets = [field_widget(f, getattr(self._base, f.name)) for f in self.fields]
        container_kwargs.setdefault("labels", True)
        super().__init__(widgets=widgets, **container_kwargs)

    def values(self) -> dict[str, Any]:
        """The shown fields' values, as the settings class takes them."""
        return {f.name: _from_widget(f, self[f.name]) for f in self.fields}

    @property
    def settings(self):
        """A validated instance of the settings class (ValueError names a bad value)."""
        return self.settings_with()

    def settings_with(self, **overrides: Any):
        """:attr:`settings` with some fields given by the widget itself (e.g. ``hybrid``)."""
        from dataclasses import replace

        return replace(self._base, **{**self.values(), **overrides})

    def set(self, settings: Any) -> None:
        """Show ``settings``; a value a combo box does not offer here (a GPU this machine
        lacks, a model no longer registered) keeps the current choice."""
        self._base = settings
        with self.changed.blocked():
            for f in self.fields:
                widget = self[f.name]
                shown = _to_widget(f, getattr(settings, f.name),
                                   {"min": widget.min} if hasattr(widget, "min") else {})
                try:
                    if f.type is Path and not shown:
                        widget.line_edit.value = ""  # FileEdit would show "" as this folder
                    else:
                        widget.value = shown
                except (ValueError, TypeError):
                    continue
        self.changed.emit(self)


# ---------------------------------------------------------------------------- layer pickers
_LAYER_EVENTS = ("inserted", "removed", "renamed", "reordered")


def follow_layers(viewer, callback: Callable[..., Any]) -> None:
    """Call ``callback(event)`` when a layer is added to, removed from, renamed or moved in
    ``viewer``. napari holds a bound method weakly: a closed widget stops being called."""
    for name in _LAYER_EVENTS:
        getattr(viewer.layers.events, name).connect(callback)


class LayerPicker(ComboBox):
    """A magicgui combo box of layers that keeps the chosen layer by identity when the list is
    refreshed (magicgui alone keeps it by name, so a renamed layer would be dropped); emits
    ``changed`` once, when the chosen layer really changes."""

    layer_kind: type | None = None

    def reset_choices(self, *_: Any) -> None:
        before = self.value
        with self.changed.blocked():
            super().reset_choices()
            if before is not None and any(c is before for c in self.choices):
                self.value = before
        if self.value is not before:
            self.changed.emit(self.value)


def layer_picker(viewer, kind: type | None = None, *,
                 filter: Callable[[Any], bool] | None = None, label: str = "",
                 name: str = "", nullable: bool = False, tooltip: str = "") -> ComboBox:
    """A :class:`LayerPicker` of ``viewer``'s layers of ``kind`` (e.g. ``napari.layers.Image``)
    passing ``filter``, refreshed whenever the layer list changes; ``.value`` is the chosen
    layer (kept by identity across renames), None when there is none."""
    import napari.layers

    kind = kind or napari.layers.Layer

    def choices(_widget=None) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in viewer.layers
                if isinstance(layer, kind) and (filter is None or filter(layer))]

    picker = LayerPicker(choices=choices, name=name or kind.__name__.lower(), label=label,
                         nullable=nullable, tooltip=tooltip)
    picker.layer_kind = kind
    ref = weakref.ref(picker)

    def refresh(*_: Any) -> None:
        widget = ref()
        if widget is None:
            return
        try:
            widget.reset_choices()
        except RuntimeError:  # its Qt widget is gone: stop following
            for event in _LAYER_EVENTS:
                getattr(viewer.layers.events, event).disconnect(refresh)

    follow_layers(viewer, refresh)
    return picker


def choose(picker: ComboBox, layer: Any) -> None:
    """Select ``layer`` (or a layer name) in a picker, refreshing its choices first."""
    picker.reset_choices()
    if isinstance(layer, str):
        matches = [c for c in picker.choices if getattr(c, "name", None) == layer]
        if not matches:
            raise ValueError(f"no layer {layer!r} to choose; have "
                             f"{', '.join(c.name for c in picker.choices) or 'none'}.")
        layer = matches[0]
    picker.value = layer
