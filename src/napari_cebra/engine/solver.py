"""The training loop: a generator of steps, so the GUI, the CLI and ``fit`` all drive it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .loss import Temperature, infonce
from .models import Encoder
from .sampling import Sampler

CHUNK_STEPS = 32  # steps whose indices are drawn in one vectorised call


@dataclass(frozen=True)
class TrainingStep:
    """What one optimisation step reports."""

    step: int  # 1-based
    max_iterations: int
    loss: float
    temperature: float
    alignment: float
    uniformity: float


@dataclass
class Session:
    """One recording on the training device, replicate-padded so every index is a valid window."""

    data: torch.Tensor  # (T + receptive_field − 1, N)
    sampler: Sampler
    encoder: Encoder


def pad_replicate(x: np.ndarray, before: int, after: int) -> np.ndarray:
    if before == 0 and after == 0:
        return x
    return np.concatenate([np.repeat(x[:1], before, 0), x, np.repeat(x[-1:], after, 0)], axis=0)


class Solver:
    """Optimises the encoders of one or more sessions with InfoNCE.

    Single session: B references, B positives and B independent negatives go through the
    encoder in one pass. With ``shared_negatives`` each reference's negatives are instead the
    other B − 1 references: i.i.d. draws from the same prior, so the objective is the same while
    each step embeds a third fewer windows (faster, but measured to decode slightly worse at an
    equal number of steps). Multi-session: each session's references get positives from
    another session (nearest label), and negatives are pooled over sessions. ``hybrid`` adds a
    time-contrastive loss on all dimensions to the behaviour loss on the first
    ``behaviour_dims``.
    """

    def __init__(self, sessions: list[Session], temperature: Temperature, distance: str,
                 batch_size: int, learning_rate: float, hybrid: bool, behaviour_dims: int,
                 rng: np.random.Generator, shared_negatives: bool = False):
        self.sessions = sessions
        self.temperature = temperature
        self.distance = distance
        self.batch_size = batch_size
        self.hybrid = hybrid
        self.behaviour_dims = behaviour_dims
        self.rng = rng
        self.shared_negatives = shared_negatives
        params = [p for s in sessions for p in s.encoder.parameters()]
        params += list(temperature.parameters())
        self.device = sessions[0].data.device
        # the same Adam as the reference's (default betas, eps); fused: one kernel per step
        fused = self.device.type in ("cpu", "cuda")
        self.optimizer = torch.optim.Adam(params, lr=learning_rate, fused=fused)

    # -- index sampling -------------------------------------------------------------------
    @property
    def num_negatives(self) -> int:
        pooled = self.batch_size * len(self.sessions)
        return pooled - 1 if self.shared_negatives else pooled

    def _draw_single(self, steps: int):
        """(steps, groups, B) indices; groups: reference, positive[, negative][, time positive]."""
        sampler, shape = self.sessions[0].sampler, (steps, self.batch_size)
        ref = sampler.references(shape, for_time_positives=self.hybrid)
        groups = [ref, sampler.positives(ref)]
        if not self.shared_negatives:
            groups.append(sampler.negatives(shape))
        if self.hybrid:
            groups.append(sampler.time_positives(ref))
        return np.stack(groups, axis=1)

    def _draw_multi(self, steps: int):
        """Per session: references, negatives, and positives found in a partner session
        (``partner[step, i]``, never ``i`` itself) by nearest label or shared class."""
        n = len(self.sessions)
        shape = (steps, self.batch_size)
        partner = (np.arange(n)[None] + self.rng.integers(1, n, size=(steps, 1))) % n
        refs = [s.sampler.references(shape) for s in self.sessions]
        negs = [None if self.shared_negatives else s.sampler.negatives(shape)
                for s in self.sessions]
        pos = [np.empty(shape, dtype=np.int64) for _ in self.sessions]
        for i, source in enumerate(self.sessions):
            classes = source.sampler._class_of(refs[i])
            for j, target in enumerate(self.sessions):
                rows = partner[:, i] == j
                if not rows.any():
                    continue
                row_classes = None if classes is None else classes[rows]
                if source.sampler.labels.continuous is not None:
                    query = source.sampler.queries(refs[i][rows])
                    pos[i][rows] = target.sampler.nearest(query, row_classes)
                else:
                    pos[i][rows] = target.sampler.classes.draw_members(row_classes, self.rng)
        return refs, pos, negs, partner

    # -- one step -------------------------------------------------------------------------
    def _embed(self, session: Session, idx: np.ndarray) -> torch.Tensor:
        return session.encoder.forward_windows(session.data, idx.reshape(-1))

    def _loss(self, ref, pos, neg, tau, dims: int | None = None):
        if dims is not None:
            ref, pos = ref[:, :dims], pos[:, :dims]
            neg = None if neg is None else neg[:, :dims]
            if self.distance == "cosine":
                unit = torch.nn.functional.normalize
                ref, pos = unit(ref, dim=1), unit(pos, dim=1)
                neg = None if neg is None else unit(neg, dim=1)
        return infonce(ref, pos, neg, tau, self.distance)

    def _single_step(self, idx: np.ndarray):
        session = self.sessions[0]
        out = list(self._embed(session, idx).view(idx.shape[0], self.batch_size, -1))
        ref, pos = out[0], out[1]
        neg = None if self.shared_negatives else out[2]
        tau = self.temperature()
        if not self.hybrid:
            return self._loss(ref, pos, neg, tau), tau
        behaviour = self._loss(ref, pos, neg, tau, self.behaviour_dims)
        time = self._loss(ref, out[-1], neg, tau)
        return tuple(b + t for b, t in zip(behaviour, time, strict=True)), tau

    def _multi_step(self, refs, pos, negs, partner):
        tau = self.temperature()
        ref_emb, pos_emb, neg_emb = [], [], []
        for i, session in enumerate(self.sessions):
            ref_emb.append(self._embed(session, refs[i]))
            if not self.shared_negatives:
                neg_emb.append(self._embed(session, negs[i]))
        # positives of session i's references live in session partner[i]
        for i in range(len(self.sessions)):
            pos_emb.append(self._embed(self.sessions[partner[i]], pos[i]))
        neg = torch.cat(neg_emb) if neg_emb else None
        return self._loss(torch.cat(ref_emb), torch.cat(pos_emb), neg, tau), tau

    def steps(self, max_iterations: int) -> Iterator[TrainingStep]:
        """Run ``max_iterations`` steps, yielding a :class:`TrainingStep` after each."""
        for session in self.sessions:
            session.encoder.train()
        done = 0
        while done < max_iterations:
            chunk = min(CHUNK_STEPS, max_iterations - done)
            if len(self.sessions) == 1:
                drawn = self._draw_single(chunk)
                step_inputs = ((drawn[k],) for k in range(chunk))
                run = self._single_step
            else:
                refs, pos, negs, partner = self._draw_multi(chunk)
                step_inputs = (([r[k] for r in refs], [p[k] for p in pos],
                                [None if g is None else g[k] for g in negs], partner[k])
                               for k in range(chunk))
                run = self._multi_step
            for args in step_inputs:
                (loss, align, uniform), tau = run(*args)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                done += 1
                values = torch.stack([loss, tau, align, uniform]).detach().tolist()  # one sync
                yield TrainingStep(done, max_iterations, *values)
