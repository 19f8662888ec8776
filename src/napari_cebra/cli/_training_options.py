"""The CEBRA training options that ``train`` and ``batch`` share, declared once."""

from __future__ import annotations

import argparse

from napari_cebra.pipeline import TrainSettings

_DEFAULTS = TrainSettings()


def add_training_options(p: argparse.ArgumentParser, device_help: str) -> None:
    """--model, --output-dimension, … --device, --seed, defaulting to :class:`TrainSettings`."""
    p.add_argument("--model", default=_DEFAULTS.model_architecture,
                   help=f"model architecture ({_DEFAULTS.model_architecture})")
    p.add_argument("--output-dimension", type=int, default=_DEFAULTS.output_dimension)
    p.add_argument("--hidden-units", type=int, default=_DEFAULTS.num_hidden_units)
    p.add_argument("--iterations", type=int, default=_DEFAULTS.max_iterations)
    p.add_argument("--batch-size", type=int, default=_DEFAULTS.batch_size)
    p.add_argument("--learning-rate", type=float, default=_DEFAULTS.learning_rate)
    p.add_argument("--temperature", type=float, default=_DEFAULTS.temperature)
    p.add_argument("--device", default="auto", help=device_help)
    p.add_argument("--seed", type=int, default=0)


def training_settings(args: argparse.Namespace) -> dict:
    """The :class:`TrainSettings` fields that :func:`add_training_options` declared."""
    return dict(model_architecture=args.model, output_dimension=args.output_dimension,
                num_hidden_units=args.hidden_units, max_iterations=args.iterations,
                batch_size=args.batch_size, learning_rate=args.learning_rate,
                temperature=args.temperature, device=args.device, seed=args.seed)
