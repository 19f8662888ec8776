"""A trained CEBRA encoder run on a stream, one sample at a time, doing only the new work.

Every layer of the encoder is a valid 1-D convolution over time, so each layer's output at time
τ depends only on its input at τ − k + 1 … τ. :class:`EncoderWindow` keeps, per layer, the
last ``k`` outputs it already computed; a new sample then costs one product with each layer's
weights (the first layer's: one (neurons × taps·units) GEMV) and nothing is recomputed. The
weights are the model's own, copied once into numpy.

Alignment follows ``transform``: the stream starts with ``before`` copies of its first sample
(replicate padding), so the embedding of time point t is ready when sample ``t + after``
arrives — ``after`` frames of lag (0 for the ``-causal`` models), whatever the compute time.
:meth:`EncoderWindow.finish` pads the end the same way, for a recording that has ended.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

_SQRT1_2 = np.float32(1 / np.sqrt(2))


def _gelu(x: np.ndarray) -> np.ndarray:
    """torch's exact (erf) GELU, in float32."""
    return np.float32(0.5) * x * (np.float32(1) + erf(x * _SQRT1_2))


class _Conv:
    """One valid conv layer's weights as per-tap matrices, with a ring of its last inputs."""

    def __init__(self, conv) -> None:
        w = conv.weight.detach().float().cpu().numpy()  # (out, in, k)
        self.k = w.shape[2]
        # (k·in, out): the window's k inputs, oldest first, flattened → one GEMV
        self.matrix = np.ascontiguousarray(w.transpose(2, 1, 0).reshape(-1, w.shape[0]))
        self.bias = conv.bias.detach().float().cpu().numpy().copy()
        self.ring = np.zeros((self.k, w.shape[1]), np.float32)  # last k inputs, oldest first

    def feed(self, x: np.ndarray) -> np.ndarray:
        """Shift ``x`` into the window and return the conv's output for that window."""
        ring = self.ring
        ring[:-1] = ring[1:]
        ring[-1] = x
        return ring.reshape(-1) @ self.matrix + self.bias


class EncoderWindow:
    """``push(x)`` with one (neurons,) sample returns the embedding of the time point ``lag``
    samples back, or ``None`` while the receptive field is still filling."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.before, self.lag = (int(v) for v in encoder.offset)
        self.receptive_field = int(encoder.receptive_field)
        self.num_neurons = int(encoder.num_neurons)
        self.num_output = int(encoder.num_output)
        self.normalize = bool(encoder.normalize)
        first = encoder.first.weight.detach().float().cpu().numpy()  # (units, neurons, k)
        self.k1, self.units = first.shape[2], first.shape[0]
        # (neurons, k·units): one GEMV gives this sample's term for every tap of the first conv
        self._first = np.ascontiguousarray(first.transpose(1, 2, 0).reshape(self.num_neurons, -1))
        self._first_bias = encoder.first.bias.detach().float().cpu().numpy().copy()
        self._skips = [(_Conv(conv), (conv.kernel_size[0] - 1) // 2) for conv in encoder.skips]
        self._last = _Conv(encoder.last)
        self._residual = bool(getattr(encoder, "residual", True))  # offset1 MLPs have none
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next sample is time point 0 again."""
        self._terms = np.zeros((self.k1, self.k1, self.units), np.float32)  # ring: tap terms
        for conv, _ in self._skips:
            conv.ring[:] = 0
        self._last.ring[:] = 0
        self._pushed = 0  # samples of the padded stream so far
        self._real = 0  # samples the caller pushed
        self._tail: np.ndarray | None = None

    @property
    def samples_in(self) -> int:
        return self._real

    @property
    def frames_out(self) -> int:
        """How many embeddings have been produced so far (time points 0 … frames_out − 1)."""
        return max(0, self._pushed - self.receptive_field + 1)

    def push(self, x: np.ndarray) -> np.ndarray | None:
        x = np.asarray(x, np.float32)
        if x.shape != (self.num_neurons,):
            raise ValueError(f"sample has shape {x.shape}; the model expects "
                             f"({self.num_neurons},): one value per neuron it was trained on.")
        out = None
        for _ in range(self.before + 1 if self._real == 0 else 1):  # replicate the start
            out = self._step(x)
        self._real += 1
        self._tail = x
        return out

    def finish(self) -> list[np.ndarray]:
        """The stream has ended: the last ``lag`` embeddings, the end padded as ``transform``
        pads a recording (the stream can go on after this only through :meth:`reset`)."""
        if self._tail is None:
            return []
        outs = [self._step(self._tail) for _ in range(self.lag)]
        return [o for o in outs if o is not None]

    def _step(self, x: np.ndarray) -> np.ndarray | None:
        """One sample of the padded stream through every layer."""
        k1 = self.k1
        terms = self._terms
        terms[:-1] = terms[1:]
        terms[-1] = (x @ self._first).reshape(k1, self.units)
        self._pushed += 1
        if self._pushed < k1:
            return None
        # first conv at this window: tap j of the sample j steps into the window
        hidden = self._first_bias + terms[np.arange(k1), np.arange(k1)].sum(axis=0)
        h = _gelu(hidden)
        filled = self._pushed - k1 + 1  # outputs of the first layer so far
        for conv, crop in self._skips:
            y = conv.feed(h)
            filled -= conv.k - 1
            if filled < 1:
                return None
            # residual: the input aligned with this output (``crop`` steps into the window)
            h = conv.ring[crop] + _gelu(y) if self._residual else _gelu(y)
        out = self._last.feed(h)
        if filled - (self._last.k - 1) < 1:
            return None
        if self.normalize:
            out = out / max(float(np.sqrt(out @ out)), 1e-12)
        return out.astype(np.float32, copy=False)
