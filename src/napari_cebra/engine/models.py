"""CEBRA encoders: 1-D convolutional nets over time, registered by name.

Every model maps a window of ``receptive_field`` consecutive samples of (neurons,) to one
point of the embedding. Convolutions run as GEMMs on time-major rows: on a CPU that beats
``conv1d`` for these small kernels, and it lets training compute each layer once per distinct
time point that the step's windows need (see ``Encoder.forward_windows``) instead of once per
overlapping window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_REGISTRY: dict[str, Callable[..., Encoder]] = {}


def register(name: str):
    """Decorator: make a model factory available as ``CEBRA(model_architecture=name)``."""

    def wrap(factory):
        _REGISTRY[name] = factory
        return factory

    return wrap


def available_models() -> list[str]:
    return sorted(_REGISTRY)


def make_model(name: str, num_neurons: int, num_units: int, num_output: int) -> Encoder:
    if name not in _REGISTRY:
        raise ValueError(
            f"model_architecture={name!r} is unknown; "
            f"choose one of {', '.join(available_models())}."
        )
    return _REGISTRY[name](num_neurons=num_neurons, num_units=num_units, num_output=num_output)


@dataclass(frozen=True)
class Layout:
    """Kernel sizes: first conv (neurons→units), skip blocks (units→units), last (units→output)."""

    first: int
    skips: tuple[int, ...]
    last: int

    @property
    def receptive_field(self) -> int:
        return 1 + (self.first - 1) + sum(k - 1 for k in self.skips) + (self.last - 1)


class _ConvIm2col(torch.autograd.Function):
    """Valid 1-D convolution as one GEMM over (tap, channel) columns, with a hand-written
    backward that accumulates the input gradient tap by tap (autograd's unfold/cat backward
    zero-fills and scatters, which costs more than the GEMMs at these sizes)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        batch, length, cin = x.shape
        cout, _, k = weight.shape
        out_len = length - k + 1
        if k == 1:
            cols = x.reshape(batch * length, cin)
        else:
            cols = torch.cat([x[:, j: j + out_len] for j in range(k)], dim=-1)
            cols = cols.reshape(batch * out_len, k * cin)
        matrix = weight.permute(2, 1, 0).reshape(k * cin, cout)
        ctx.save_for_backward(cols, matrix)
        ctx.dims = (batch, length, cin, k, out_len, weight.shape)
        return torch.addmm(bias, cols, matrix).view(batch, out_len, cout)

    @staticmethod
    def backward(ctx, grad_out):
        cols, matrix = ctx.saved_tensors
        batch, length, cin, k, out_len, weight_shape = ctx.dims
        grad2 = grad_out.reshape(batch * out_len, -1)
        cout = weight_shape[0]
        grad_weight = (cols.t() @ grad2).view(k, cin, cout).permute(2, 1, 0)
        grad_bias = grad2.sum(0)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_cols = (grad2 @ matrix.t()).view(batch, out_len, k, cin)
            if k == 1:
                grad_x = grad_cols.view(batch, length, cin)
            else:
                grad_x = grad_cols.new_zeros(batch, length, cin)
                for j in range(k):
                    grad_x[:, j: j + out_len] += grad_cols[:, :, j]
        return grad_x, grad_weight, grad_bias


def conv_gemm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Valid 1-D convolution of time-major ``x`` (B, L, Cin) with a conv1d-shaped weight."""
    return _ConvIm2col.apply(x, weight, bias)


def gelu(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x)  # the exact (erf) form: on a CPU it is also faster than the tanh one


def _as_matrix(weight: torch.Tensor) -> torch.Tensor:
    """A conv1d weight (out, in, k) as the (k·in, out) matrix of its im2col GEMM."""
    return weight.permute(2, 1, 0).reshape(-1, weight.shape[0])

class _GatherWindows(torch.autograd.Function):
    """Rows ``r … r + k − 1`` of ``h`` side by side for each ``r``: (len(rows), k · C). The
    backward adds each tap's gradient rows back with ``index_add_`` (autograd's gather
    backward scatters element by element)."""

    @staticmethod
    def forward(ctx, h, rows, k):
        index = (rows[:, None] + torch.arange(k, device=rows.device)).reshape(-1)
        ctx.save_for_backward(index)
        ctx.shape = h.shape
        return h.index_select(0, index).view(rows.shape[0], k * h.shape[1])

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        out = grad.new_zeros(ctx.shape)
        out.index_add_(0, index, grad.reshape(index.shape[0], ctx.shape[1]))
        return out, None, None


def _gather_windows(h: torch.Tensor, rows: torch.Tensor, k: int) -> torch.Tensor:
    return _GatherWindows.apply(h, rows, k)



class _LayerPlan:
    """Which time points each layer must compute for a set of windows, and where its inputs
    are. Level 0 is the input, level j the output of the j-th convolution; activations are
    indexed by the first time point of their receptive field. Planned on the host (numpy: no
    device round trips), then handed to the device as index tensors."""

    def __init__(self, encoder: Encoder, length: int, starts, device: torch.device):
        if isinstance(starts, torch.Tensor):
            starts = starts.detach().cpu().numpy()
        starts = np.asarray(starts, dtype=np.int64).reshape(-1)
        kernels = [encoder.layout.first, *encoder.layout.skips, encoder.layout.last]
        mask = np.zeros(length, dtype=bool)
        mask[starts] = True
        masks = [mask]
        for k in reversed(kernels):  # level j needs t … t + k − 1 for each t of level j + 1
            grown = mask.copy()
            for tap in range(1, k):
                grown[tap:] |= mask[:-tap]
            mask = grown
            masks.insert(0, mask)
        times = [np.flatnonzero(m) for m in masks]
        row = np.empty(length, dtype=np.int64)  # time → row of the level being indexed
        taps = {}
        for level in range(len(kernels) - 1, -1, -1):  # rows of this level's input, per tap
            row[times[level]] = np.arange(times[level].size)
            taps[level] = row[times[level + 1][:, None] + np.arange(kernels[level])]
        first = (taps.pop(0) * kernels[0] + np.arange(kernels[0])).reshape(-1)
        row[times[-1]] = np.arange(times[-1].size)

        def put(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a)).to(device, non_blocking=True)

        self.times = [put(t) for t in times]
        self.taps = {level: put(t) for level, t in taps.items()}
        self.first_taps = put(first)
        self.window_rows = put(row[starts])


class _WindowGrid:
    """The distinct time points that a set of windows covers, in order (the *grid*), and the
    grid row where each window starts. Planned on the host (numpy: no device round trips),
    then handed to the device as index tensors.

    Every window ``s … s + receptive_field − 1`` lies on consecutive grid rows, so a valid
    convolution along the grid's rows gives, at each window's rows, exactly what it gives on
    the recording; rows whose taps straddle a gap between covered stretches are computed too
    and never read.
    """

    def __init__(self, receptive_field: int, length: int, starts, device: torch.device):
        if isinstance(starts, torch.Tensor):
            starts = starts.detach().cpu().numpy()
        starts = np.asarray(starts, dtype=np.int64).reshape(-1)
        # windows open at their start and close after their end: covered where more opened
        edges = np.bincount(starts, minlength=length + receptive_field)
        edges[receptive_field:] -= edges[:-receptive_field].copy()
        times = np.flatnonzero(np.cumsum(edges[:length]) > 0)
        row = np.empty(length, dtype=np.int64)
        row[times] = np.arange(times.size)

        def put(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a)).to(device, non_blocking=True)

        self.size = int(times.size)
        self.times = put(times)
        self.window_rows = put(row[starts])


class Encoder(nn.Module):
    """Conv net with GELU and residual skip blocks; unit-sphere output when ``normalize``."""

    def __init__(self, num_neurons: int, num_units: int, num_output: int, layout: Layout,
                 normalize: bool):
        super().__init__()
        self.layout = layout
        self.normalize = normalize
        self.num_neurons = num_neurons
        self.num_output = num_output
        self.first = nn.Conv1d(num_neurons, num_units, layout.first)
        self.skips = nn.ModuleList(nn.Conv1d(num_units, num_units, k) for k in layout.skips)
        self.last = nn.Conv1d(num_units, num_output, layout.last)

    @property
    def receptive_field(self) -> int:
        return self.layout.receptive_field

    @property
    def offset(self) -> tuple[int, int]:
        """Samples (before, after) the output time point that the window covers."""
        before = self.receptive_field // 2
        return before, self.receptive_field - 1 - before

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        """Everything after the first conv's linear part: (B, L1, units) → (B, L_out, output)."""
        h = gelu(hidden)
        for conv in self.skips:
            crop = (conv.kernel_size[0] - 1) // 2
            extra = conv.kernel_size[0] - 1 - crop
            h = h[:, crop: h.shape[1] - extra] + gelu(conv_gemm(h, conv.weight, conv.bias))
        out = conv_gemm(h, self.last.weight, self.last.bias)
        return F.normalize(out, dim=-1) if self.normalize else out

    def forward_windows(self, data: torch.Tensor, starts, dense: bool | None = None
                        ) -> torch.Tensor:
        """Embed the windows ``data[s : s + receptive_field]`` for each ``s`` in ``starts``
        (integer indices: a numpy array, or a tensor).

        The net is a stack of convolutions, so every layer's activation at a time point is the
        same whichever window asks for it, and windows overlap (a CEBRA-Time positive continues
        its reference, negatives land near references). Two exact ways to use that:

        - gathered (``dense=False``, the default on a CPU): each layer is computed once per
          distinct time point that some window needs from it, as GEMMs over gathered rows
          (:class:`_LayerPlan`): the fewest FLOPs.
        - dense (``dense=True``, the default on a GPU): the windows' distinct time points are
          gathered once and every layer runs as a dense convolution along them
          (:class:`_WindowGrid`): more FLOPs, but no per-layer gathers or scatter-add
          gradients, so fewer kernel launches, which bound a GPU's step at these sizes.

        Either way the first layer, most of the work for wide inputs, is linear before its
        GELU: one GEMM of the distinct input samples against every tap, then a tap sum.
        """
        if dense is None:
            dense = data.device.type == "cuda"
        return self._forward_dense(data, starts) if dense else \
            self._forward_gathered(data, starts)

    def _forward_gathered(self, data: torch.Tensor, starts) -> torch.Tensor:
        plan = _LayerPlan(self, data.shape[0], starts, data.device)
        weight = self.first.weight  # (units, neurons, k)
        k, units = weight.shape[2], weight.shape[0]
        rows = data.index_select(0, plan.times[0])
        per_tap = (rows @ weight.permute(1, 2, 0).reshape(weight.shape[1], -1))
        taps = per_tap.view(-1, units).index_select(0, plan.first_taps)
        h = gelu(taps.view(-1, k, units).sum(1) + self.first.bias)
        for level, conv in enumerate(self.skips, start=1):
            k = conv.kernel_size[0]
            cols = h.index_select(0, plan.taps[level].reshape(-1)).view(-1, k, h.shape[1])
            out = torch.addmm(conv.bias, cols.view(cols.shape[0], -1), _as_matrix(conv.weight))
            h = cols[:, (k - 1) // 2] + gelu(out)
        last = len(self.skips) + 1
        cols = h.index_select(0, plan.taps[last].reshape(-1)).view(plan.taps[last].shape[0], -1)
        out = torch.addmm(self.last.bias, cols, _as_matrix(self.last.weight))
        out = F.normalize(out, dim=-1) if self.normalize else out
        return out.index_select(0, plan.window_rows)

    def _forward_dense(self, data: torch.Tensor, starts) -> torch.Tensor:
        grid = _WindowGrid(self.receptive_field, data.shape[0], starts, data.device)
        weight = self.first.weight  # (units, neurons, k)
        k, units = weight.shape[2], weight.shape[0]
        rows = data.index_select(0, grid.times)
        per_tap = (rows @ weight.permute(1, 2, 0).reshape(weight.shape[1], -1)).view(-1, k, units)
        width = grid.size - k + 1
        h = per_tap[:width, 0] + self.first.bias
        for j in range(1, k):
            h = h + per_tap[j: j + width, j]
        h = gelu(h)[None]
        for conv in self.skips:
            crop = (conv.kernel_size[0] - 1) // 2
            extra = conv.kernel_size[0] - 1 - crop
            h = h[:, crop: h.shape[1] - extra] + gelu(conv_gemm(h, conv.weight, conv.bias))
        k = self.last.kernel_size[0]
        cols = _gather_windows(h[0], grid.window_rows, k)
        out = torch.addmm(self.last.bias, cols, _as_matrix(self.last.weight))
        return F.normalize(out, dim=-1) if self.normalize else out

    def embed_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Inference on one long recording (L, neurons) → (L − receptive_field + 1, output).

        The first layer (neurons → units, most of the work for wide inputs) is one GEMM of all
        samples against every tap, then shifted sums: on a CPU 2–2.5× faster than conv1d for
        1,000 neurons. The narrow layers after it use torch's conv1d.
        """
        weight = self.first.weight  # (units, neurons, k)
        k = weight.shape[2]
        per_tap = (x @ weight.permute(1, 2, 0).reshape(weight.shape[1], -1))
        per_tap = per_tap.view(x.shape[0], k, weight.shape[0])
        width = x.shape[0] - k + 1
        h = per_tap[:width, 0] + self.first.bias
        for j in range(1, k):
            h += per_tap[j: j + width, j]
        h = F.gelu(h.t()[None])
        for conv in self.skips:
            crop = (conv.kernel_size[0] - 1) // 2
            extra = conv.kernel_size[0] - 1 - crop
            h = h[:, :, crop: h.shape[2] - extra] + F.gelu(conv(h))
        out = F.conv1d(h, self.last.weight, self.last.bias)[0].t()
        return F.normalize(out, dim=-1) if self.normalize else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, neurons) → (B, L − receptive_field + 1, output)."""
        return self.head(conv_gemm(x, self.first.weight, self.first.bias))


def _factory(layout: Layout, normalize: bool):
    def build(num_neurons: int, num_units: int, num_output: int) -> Encoder:
        return Encoder(num_neurons, num_units, num_output, layout, normalize)

    return build


_LAYOUTS = {
    1: Layout(first=1, skips=(1, 1), last=1),
    5: Layout(first=2, skips=(3,), last=2),
    10: Layout(first=2, skips=(3, 3, 3), last=3),
    15: Layout(first=2, skips=(3,) * 6, last=2),
    20: Layout(first=2, skips=(3,) * 8, last=3),
    36: Layout(first=2, skips=(3,) * 16, last=3),
    40: Layout(first=2, skips=(3,) * 18, last=3),
    50: Layout(first=2, skips=(3,) * 23, last=3),
}
for _offset, _layout in _LAYOUTS.items():
    assert _layout.receptive_field == _offset, (_offset, _layout)
    if _offset == 1:
        continue  # the single-sample models are the paper's MLPs (DenseEncoder, below)
    register(f"offset{_offset}-model")(_factory(_layout, normalize=True))
    register(f"offset{_offset}-model-mse")(_factory(_layout, normalize=False))


# -- single-sample models: fully connected layers, no residuals (the reference's offset1 nets) ---
class DenseEncoder(Encoder):
    """A per-sample MLP, ``neurons → widths[0] → … → widths[-1] → output`` with GELU between
    layers and no residual connections. The layers are stored as kernel-1 convolutions, so the
    windowed training path, ``transform`` and the model files treat it like any encoder."""

    residual = False

    def __init__(self, num_neurons: int, widths: tuple[int, ...], num_output: int,
                 normalize: bool):
        nn.Module.__init__(self)
        if min(widths) < 1:
            raise ValueError(f"num_hidden_units is too small for this model (layer widths "
                             f"{widths}); use num_hidden_units ≥ 2.")
        self.layout = Layout(first=1, skips=(1,) * (len(widths) - 1), last=1)
        self.normalize = normalize
        self.num_neurons = num_neurons
        self.num_output = num_output
        self.first = nn.Conv1d(num_neurons, widths[0], 1)
        self.skips = nn.ModuleList(nn.Conv1d(a, b, 1)
                                   for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.last = nn.Conv1d(widths[-1], num_output, 1)

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        h = gelu(hidden)
        for conv in self.skips:
            h = gelu(conv_gemm(h, conv.weight, conv.bias))
        out = conv_gemm(h, self.last.weight, self.last.bias)
        return F.normalize(out, dim=-1) if self.normalize else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(conv_gemm(x, self.first.weight, self.first.bias))

    def forward_windows(self, data: torch.Tensor, starts, dense: bool | None = None
                        ) -> torch.Tensor:
        starts = torch.as_tensor(starts, dtype=torch.long, device=data.device)
        return self.forward(data[starts][:, None])[:, 0]

    def embed_sequence(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x[None])[0]


def _dense_factory(widths: Callable[[int, int], tuple[int, ...]], normalize: bool):
    def build(num_neurons: int, num_units: int, num_output: int) -> Encoder:
        return DenseEncoder(num_neurons, widths(num_units, num_output), num_output, normalize)

    return build


# widths as in the paper's code: offset1-model narrows to units // 2; the -mse one sizes its
# layers from the output dimension (30·d, 30·d, 10·d) and ignores num_hidden_units.
register("offset1-model")(_dense_factory(lambda u, d: (u, u, u // 2), normalize=True))
register("offset1-model-mse")(_dense_factory(lambda u, d: (30 * d, 30 * d, 10 * d),
                                             normalize=False))
register("offset1-model-v2")(_dense_factory(lambda u, d: (u, u, u), normalize=True))


# -- causal models (live decoding): the window ends at the output time point ---------------------
class CausalEncoder(Encoder):
    """The same network as ``offset{N}-model``, its window ending at the current sample: it
    never waits for future frames, so live decoding has no lag (see napari_cebra.live)."""

    @property
    def offset(self) -> tuple[int, int]:
        return self.receptive_field - 1, 0


def _causal_factory(layout: Layout, normalize: bool):
    def build(num_neurons: int, num_units: int, num_output: int) -> Encoder:
        return CausalEncoder(num_neurons, num_units, num_output, layout, normalize)

    return build


for _offset, _layout in _LAYOUTS.items():
    if _offset == 1:  # one sample: causal already, the same network as offset1-model(-mse)
        register("offset1-model-causal")(_REGISTRY["offset1-model"])
        register("offset1-model-causal-mse")(_REGISTRY["offset1-model-mse"])
        continue
    register(f"offset{_offset}-model-causal")(_causal_factory(_layout, normalize=True))
    register(f"offset{_offset}-model-causal-mse")(_causal_factory(_layout, normalize=False))
