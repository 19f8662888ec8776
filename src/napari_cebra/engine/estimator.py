"""``CEBRA``: the sklearn-style estimator, speaking the reference package's parameter names."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Generator
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError as _SklearnNotFitted

from napari_cebra.engine.information import goodness_of_fit_bits

from . import validation
from .loss import DISTANCES
from .sampling import CONDITIONALS, PRIORS, Labels
from .solver import TrainingStep

__all__ = ["CEBRA", "TrainingStep"]

NEGATIVES = ("batch", "independent")

_PARAMS = ("model_architecture", "batch_size", "output_dimension", "num_hidden_units",
           "learning_rate", "temperature", "temperature_mode", "min_temperature",
           "time_offsets", "conditional", "delta", "prior", "max_iterations", "distance",
           "hybrid", "device", "seed", "negatives", "max_adapt_iterations")


class CEBRA(TransformerMixin, BaseEstimator):
    """Consistent EmBeddings of high-dimensional Recordings using Auxiliary variables.

    ``fit(neural)`` trains CEBRA-Time; ``fit(neural, behaviour)`` (continuous labels) or
    ``fit(neural, discrete=classes)`` trains CEBRA-Behaviour; ``hybrid=True`` adds the time
    objective. A list of recordings (with a list of labels) trains one encoder per session
    into a shared embedding space.

    It is a scikit-learn transformer (``Pipeline``, ``GridSearchCV``, ``clone``): ``fit(X, y)``
    takes ``y`` as labels — floats are continuous, 1-D integers are classes (sklearn's
    convention); ``continuous=`` / ``discrete=`` declare them explicitly. ``fit(X, y,
    adapt=True)`` fits a fresh input layer for another recording's neurons and keeps every
    other trained layer (see :meth:`fit`).
    """

    def __init__(self, model_architecture: str = "offset10-model", batch_size: int | None = 512,
                 output_dimension: int = 3, num_hidden_units: int = 32,
                 learning_rate: float = 3e-4, temperature: float = 1.0,
                 temperature_mode: str = "constant", min_temperature: float = 0.1,
                 time_offsets: int = 10, conditional: str = "time_delta", delta: float = 0.1,
                 prior: str = "empirical", max_iterations: int = 5000, distance: str = "cosine",
                 hybrid: bool = False, device: str = "auto", seed: int | None = None,
                 negatives: str = "independent", max_adapt_iterations: int = 500):
        self.model_architecture = model_architecture
        self.batch_size = batch_size
        self.output_dimension = output_dimension
        self.num_hidden_units = num_hidden_units
        self.learning_rate = learning_rate
        self.temperature = temperature
        self.temperature_mode = temperature_mode
        self.min_temperature = min_temperature
        self.time_offsets = time_offsets
        self.conditional = conditional
        self.delta = delta
        self.prior = prior
        self.max_iterations = max_iterations
        self.distance = distance
        self.hybrid = hybrid
        self.device = device
        self.seed = seed
        self.negatives = negatives
        self.max_adapt_iterations = max_adapt_iterations

    # -- sklearn conventions ----------------------------------------------------------------
    @property
    def is_fitted_(self) -> bool:
        return "encoders_" in self.__dict__

    def __sklearn_is_fitted__(self) -> bool:
        return self.is_fitted_

    @property
    def loss_history_(self) -> list[float]:
        """The loss of every training step of the last fit (empty before fitting)."""
        return self.__dict__.get("_loss_history", [])

    @loss_history_.setter
    def loss_history_(self, value: list[float]) -> None:
        self._loss_history = list(value)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.seed is None  # a fixed seed gives the same model
        tags.input_tags.sparse = False
        tags.target_tags.required = False  # labels are optional (CEBRA-Time without them)
        tags.transformer_tags.preserves_dtype = ["float32"]  # embeddings are float32
        return tags

    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in _PARAMS}

    def set_params(self, **params) -> CEBRA:
        for name, value in params.items():
            if name not in _PARAMS:
                raise ValueError(f"{name!r} is not a CEBRA parameter; known: {', '.join(_PARAMS)}.")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.get_params().items() if v != _DEFAULTS[k]}
        return f"CEBRA({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # -- checks -----------------------------------------------------------------------------
    def _check_params(self) -> None:
        from .models import available_models

        if self.model_architecture not in available_models():
            raise ValueError(f"model_architecture={self.model_architecture!r} is unknown; choose "
                             f"one of {', '.join(available_models())}.")
        if self.conditional not in CONDITIONALS:
            raise ValueError(f"conditional={self.conditional!r} is unknown; use one of "
                             f"{', '.join(CONDITIONALS)}.")
        if self.prior not in PRIORS:
            raise ValueError(f"prior={self.prior!r} is unknown; use one of {', '.join(PRIORS)}.")
        if self.negatives not in NEGATIVES:
            raise ValueError(f"negatives={self.negatives!r} is unknown; use 'independent' "
                             "(separate draws) or 'batch' (the batch's other references).")
        if self.distance not in DISTANCES:
            raise ValueError(f"distance={self.distance!r} is unknown; use one of "
                             f"{', '.join(DISTANCES)}.")
        for name in ("output_dimension", "num_hidden_units", "max_iterations", "time_offsets",
                     "max_adapt_iterations"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer.")
        if self.batch_size is not None and (not isinstance(self.batch_size, (int, np.integer))
                                            or self.batch_size < 2):
            raise ValueError(f"batch_size={self.batch_size!r} must be an integer ≥ 2 (or None "
                             "for the whole recording).")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate={self.learning_rate!r} must be positive.")
        if self.hybrid and self.output_dimension < 2:
            raise ValueError("hybrid=True needs output_dimension ≥ 2 (behaviour uses the first "
                             "half of the dimensions).")

    def _sessions_input(self, neural, behaviour, continuous, discrete):
        """Validate and pair each recording with its declared labels."""
        if behaviour is not None and continuous is not None:
            raise TypeError("pass continuous labels once: either positionally (behaviour) or as "
                            "continuous=..., not both.")
        multi = _is_multi_session(neural)
        if continuous is None and discrete is None and _are_classes(behaviour, multi):
            behaviour, discrete = None, behaviour  # sklearn's convention: integer y = classes
        recordings = list(neural) if multi else [neural]
        if multi and not recordings:
            raise ValueError("neural is an empty list; pass one (time, neurons) array per session.")
        cont_given = continuous if continuous is not None else behaviour
        explicit = continuous is not None

        def per_session(value, what):
            if value is None:
                return [None] * len(recordings)
            if not multi:
                return [value]
            if not isinstance(value, (list, tuple)) or len(value) != len(recordings):
                raise ValueError(f"{what} must be a list with one array per session "
                                 f"({len(recordings)} sessions).")
            return list(value)

        conts = per_session(cont_given, "continuous labels")
        discs = per_session(discrete, "discrete labels")
        sessions = []
        for i, (x, c, d) in enumerate(zip(recordings, conts, discs, strict=True)):
            tag = f" of session {i}" if multi else ""
            x = validation.as_neural(x, f"neural{tag}")
            t = x.shape[0]
            labels = Labels(
                t,
                None if c is None else validation.as_continuous(
                    c, t, f"continuous labels{tag}", allow_int=explicit),
                None if d is None else validation.as_discrete(d, t, f"discrete labels{tag}"),
            )
            sessions.append((x, labels))
        if multi and len(sessions) > 1:
            if not sessions[0][1].has_labels:
                raise ValueError("multi-session training aligns sessions through their labels; "
                                 "pass behaviour/continuous=[...] or discrete=[...] per session.")
            widths = {s[1].continuous.shape[1] for s in sessions if s[1].continuous is not None}
            if len(widths) > 1:
                raise ValueError(f"continuous labels of the sessions differ in width {widths}; "
                                 "every session needs the same label columns.")
            if discrete is not None:
                sets = {tuple(np.unique(s[1].discrete)) for s in sessions}
                if len(sets) > 1:
                    raise ValueError("discrete labels of the sessions have different classes; "
                                     "every session needs the same set of classes.")
            if self.hybrid:
                raise ValueError("hybrid=True is for a single session; train multi-session "
                                 "models with hybrid=False.")
        if self.hybrid and not sessions[0][1].has_labels:
            raise ValueError("hybrid=True combines behaviour and time; pass behaviour labels "
                             "(or use hybrid=False for CEBRA-Time).")
        return sessions, multi

    # -- training ---------------------------------------------------------------------------
    def fit_steps(self, neural, y=None, *, continuous=None, discrete=None,
                  adapt: bool = False, behaviour=None) -> Generator[TrainingStep, None, CEBRA]:
        """Train step by step: yields a :class:`TrainingStep` per step, returns ``self``.

        Closing the generator before the end (``gen.close()``, or dropping it) discards the
        run and leaves this model exactly as it was. ``adapt=True``: see :meth:`fit`.
        """
        self._check_params()
        behaviour = _one_of(behaviour, y)
        sessions, multi = self._sessions_input(neural, behaviour, continuous, discrete)
        if adapt and self.is_fitted_:
            if multi or len(self.encoders_) > 1:
                raise ValueError("adapt=True fits one new input layer for one recording; it "
                                 "needs a single-session model and a single recording.")
            return self._train(sessions, multi, adapt_from=self.encoders_[0])
        return self._train(sessions, multi)

    def _train(self, sessions, multi, adapt_from=None) -> Generator[TrainingStep, None, CEBRA]:
        import copy

        import torch

        from .device import resolve_device
        from .loss import Temperature
        from .models import make_model
        from .sampling import Sampler
        from .solver import Session, Solver, pad_replicate

        device = resolve_device(self.device)
        seed = self.seed if self.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        rng = np.random.default_rng(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            encoders = [make_model(self.model_architecture, x.shape[1], self.num_hidden_units,
                                   self.output_dimension) for x, _ in sessions]
        if adapt_from is not None:
            _keep_all_but_first_layer(adapt_from, encoders[0])
        before, after = encoders[0].offset
        smallest = min(x.shape[0] for x, _ in sessions)
        uses_offset = any(self._uses_time_pairs(labels) for _, labels in sessions)
        if smallest < 2 or (uses_offset and smallest <= self.time_offsets):
            raise ValueError(f"neural has only {smallest} time points (n_samples = {smallest}); "
                             "training needs at least 2"
                             + (f", and more than time_offsets={self.time_offsets}"
                                if uses_offset else "")
                             + ". Record longer or use a smaller time_offsets.")
        # like the reference, draws are with replacement: a batch may exceed the recording
        batch = self.batch_size if self.batch_size is not None else smallest
        try:
            solver_sessions = []
            for x, labels in sessions:
                offset = min(self.time_offsets, x.shape[0] - 1)  # only Δ-steps get clipped
                if offset < self.time_offsets and labels.continuous is not None \
                        and self.conditional == "time_delta":
                    warnings.warn(f"time_offsets={self.time_offsets} spans the whole recording "
                                  f"({x.shape[0]} time points); label steps are taken over "
                                  f"{offset} samples instead.", UserWarning, stacklevel=3)
                sampler = Sampler(labels, self.conditional, offset, self.delta, self.prior, rng)
                data = torch.from_numpy(pad_replicate(x, before, after)).to(device)
                solver_sessions.append(Session(data, sampler, None))
            for session, encoder in zip(solver_sessions, encoders, strict=True):
                session.encoder = encoder.to(device)
            if adapt_from is None:
                temperature = Temperature(self.temperature, self.temperature_mode,
                                          self.min_temperature).to(device)
            else:  # the trained τ, held fixed like every layer but the first
                temperature = copy.deepcopy(self.temperature_).to(device)
                temperature.requires_grad_(False)
        except torch.cuda.OutOfMemoryError as err:
            raise MemoryError(_OOM_HINT.format(device=device)) from err
        solver = Solver(solver_sessions, temperature, self.distance, batch, self.learning_rate,
                        self.hybrid, max(1, math.ceil(self.output_dimension / 2)), rng,
                        shared_negatives=self.negatives == "batch")
        iterations = self.max_iterations if adapt_from is None else self.max_adapt_iterations
        history: list[float] = []
        try:
            for step in solver.steps(iterations):
                if not math.isfinite(step.loss):
                    raise FloatingPointError(
                        f"the loss became {step.loss} at step {step.step}; lower learning_rate "
                        "or raise temperature / min_temperature.")
                history.append(step.loss)
                yield step
        except _StopTraining:
            pass  # stopped early on purpose: keep what was learned
        except torch.cuda.OutOfMemoryError as err:
            raise MemoryError(_OOM_HINT.format(device=device)) from err
        # Only a run that got here (or was stopped through ``stop``) replaces the model.
        for module in (*encoders, temperature):
            module.requires_grad_(True)
        self._commit(encoders, temperature, history, sessions, multi, device, seed, batch,
                     solver.num_negatives)
        self.adapted_ = adapt_from is not None
        return self

    def _commit(self, encoders, temperature, history, sessions, multi, device, seed, batch,
                num_negatives):
        for encoder in encoders:
            encoder.eval()
        self.encoders_ = encoders
        self.temperature_ = temperature
        self.loss_history_ = list(history)
        self.device_ = device
        self.seed_ = seed
        self.batch_size_ = batch
        self.num_negatives_ = num_negatives
        self.multi_session_ = multi
        self._set_neurons([x.shape[1] for x, _ in sessions])
        self.label_kinds_ = {
            "continuous": sessions[0][1].continuous is not None,
            "discrete": sessions[0][1].discrete is not None,
        }

    def _uses_time_pairs(self, labels: Labels) -> bool:
        """Whether training pairs samples ``time_offsets`` apart (CEBRA-Time, hybrid)."""
        return self.hybrid or not labels.has_labels or self.conditional == "time"

    def _set_neurons(self, per_session: list[int]) -> None:
        """``neurons_per_session_`` always; ``n_features_in_`` an int for one session (as
        scikit-learn expects), the list for multi-session models (as the reference does)."""
        self.neurons_per_session_ = list(per_session)
        self.n_features_in_ = per_session[0] if len(per_session) == 1 else list(per_session)

    def fit(self, neural, y=None, *, continuous=None, discrete=None, adapt: bool = False,
            callback: Callable[[TrainingStep], bool | None] | None = None,
            behaviour=None) -> CEBRA:
        """Train to ``max_iterations`` steps. ``callback(step)`` returning ``False`` stops
        early; the model keeps what it learned so far.

        ``adapt=True`` on a fitted single-session model re-uses it on another recording, whose
        neuron count may differ: a freshly initialised input layer (sized to ``neural``) is
        trained for ``max_adapt_iterations`` steps with the same objective (pass the new
        recording's labels, as for ``fit``) while every other layer and the temperature stay
        as trained; the adapted model then replaces this one (save it first to keep both).
        On an unfitted model ``adapt=True`` is an ordinary fit, as in the reference package.
        """
        gen = self.fit_steps(neural, y, continuous=continuous, discrete=discrete,
                             adapt=adapt, behaviour=behaviour)
        while True:
            try:
                step = next(gen)
            except StopIteration:
                return self
            if callback is not None and callback(step) is False:
                _finish_early(gen)
                return self

    def fit_transform(self, neural, y=None, **kwargs) -> np.ndarray:
        return self.fit(neural, y, **kwargs).transform(neural)

    # -- inference --------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not self.is_fitted_:
            raise NotFittedError("this CEBRA model is not fitted yet; call fit() or "
                                 "CEBRA.load().")

    def transform(self, neural, session_id: int | None = None,
                  chunk_size: int | None = None) -> np.ndarray:
        """Embed a whole recording: (T, N) → float32 (T, output_dimension).

        Runs fully convolutionally in chunks with replicate padding at the edges, so memory
        stays bounded for recordings far longer than RAM (``np.memmap``, h5py, zarr inputs).
        """
        from .inference import embed_recording

        self._check_fitted()
        if session_id is None:
            if len(self.encoders_) > 1:
                raise ValueError(f"this model has {len(self.encoders_)} sessions; pass "
                                 "session_id=0…{} to transform().".format(len(self.encoders_) - 1))
            session_id = 0
        if not 0 <= int(session_id) < len(self.encoders_):
            raise ValueError(f"session_id={session_id} is out of range; the model has "
                             f"{len(self.encoders_)} session(s).")
        encoder = self.encoders_[int(session_id)]
        kind = np.dtype(getattr(neural, "dtype", float)).kind
        if getattr(neural, "shape", None) is None or kind in "Oc":
            neural = validation.as_neural(neural)  # lists, objects with __array__, boxed numbers
        shape = neural.shape
        if len(shape) != 2:
            raise ValueError(f"neural must be 2-D (time, neurons); got shape {tuple(shape)}. "
                             "Reshape your data: a single neuron to (T, 1).")
        if shape[1] != encoder.num_neurons:
            raise ValueError(
                f"neural has {shape[1]} neurons but this model was trained on "
                f"{encoder.num_neurons} (X has {shape[1]} features, but CEBRA is expecting "
                f"{encoder.num_neurons} features as input); pass the same ROIs in the same "
                "order, or fit a new "
                "input layer for these neurons first: model.fit(neural, labels, adapt=True) "
                "(the Train widget's 'Adapt to these neurons').")
        return embed_recording(encoder, neural, self.device_, chunk_size)

    def goodness_of_fit_bits(self, last: int = 100) -> float:
        """Information captured by the embedding, in bits, from the mean of the last losses."""
        self._check_fitted()
        tail = self.loss_history_[-last:] or [float("nan")]
        return goodness_of_fit_bits(float(np.mean(tail)), self.num_negatives_)

    # -- files ------------------------------------------------------------------------------
    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        from .io import save_model

        self._check_fitted()
        return save_model(self, Path(path), overwrite)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> CEBRA:
        from .io import load_model

        return load_model(cls, Path(path), device)


_DEFAULTS = {name: CEBRA.__init__.__defaults__[i] for i, name in enumerate(_PARAMS)}

_OOM_HINT = ("out of GPU memory on {device}; use a smaller batch_size or num_hidden_units, "
             "or train on device='cpu'.")


def _are_classes(y, multi: bool) -> bool:
    """Whether positional labels are 1-D integers (class labels in scikit-learn's sense)."""
    if y is None:
        return False
    arrays = list(y) if multi and isinstance(y, (list, tuple)) else [y]
    for arr in arrays:
        dtype = getattr(arr, "dtype", None)
        if dtype is None:
            arr = np.asarray(arr)
            dtype = arr.dtype
        shape = np.shape(arr)
        if not (np.issubdtype(dtype, np.integer) or np.dtype(dtype).kind == "b") or \
                not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
            return False
    return bool(arrays)


def _is_multi_session(neural) -> bool:
    """A list of recordings (2-D arrays), not one recording written as a list of rows."""
    if not isinstance(neural, (list, tuple)):
        return False
    return not neural or all(np.ndim(x) >= 2 for x in neural)


def _one_of(behaviour, y):
    """Labels given positionally or as scikit-learn's ``y=`` keyword (not both)."""
    if behaviour is not None and y is not None:
        raise TypeError("pass the labels once: positionally or as y=..., not both.")
    return behaviour if y is None else y


def _keep_all_but_first_layer(trained, fresh) -> None:
    """Copy every trained layer except the input one into ``fresh`` and freeze them."""
    if trained.layout != fresh.layout or trained.last.weight.shape != fresh.last.weight.shape:
        raise ValueError("adapt=True needs the architecture the model was trained with; "
                         "leave model_architecture, num_hidden_units and output_dimension "
                         "unchanged.")
    state = {k: v for k, v in trained.state_dict().items() if not k.startswith("first.")}
    fresh.load_state_dict(state, strict=False)
    for name, param in fresh.named_parameters():
        param.requires_grad_(name.startswith("first."))


def _finish_early(gen: Generator) -> None:
    """Stop a training generator and keep its model (``close`` would discard it)."""
    with contextlib.suppress(StopIteration):
        gen.throw(_StopTraining())


class NotFittedError(_SklearnNotFitted, RuntimeError):
    """A model used before ``fit``/``load`` (scikit-learn's NotFittedError, and a
    RuntimeError as in earlier napari-cebra versions)."""


class _StopTraining(Exception):
    pass
