"""A chat's linear model learned from its votes (pure): arxiv-sanity's per-user classifier, in plain Python.

Owns training and applying the model: sparse tf-idf vectors in (core/score/feedback.py makes them), an
L2-regularised logistic regression trained by full-batch gradient descent with a fixed number of steps
(deterministic: no random start, no shuffling), and turning its decision values on a day's papers into
bounded score moves. It must not read the store, know what a Paper is, or decide wording.

Classes are balanced: the liked papers weigh as much together as the negatives, and among the negatives
an explicit 👎 weighs DOWN_WEIGHT unvoted papers, so one dislike says more than one paper merely not liked.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Vector = Mapping[str, float]

STEPS = 80
LEARNING_RATE = 4.0
L2 = 0.01
DOWN_WEIGHT = 3.0
FULL_TRUST = 3  # liked papers before the model moves papers by up to the whole cap
SPREAD = 2.0  # a paper SPREAD standard deviations above the day's median decision gets tanh(1) of the cap
DEAD_ZONE = 0.25  # smaller moves are none: the votes leave the many papers unlike anything voted alone


@dataclass(frozen=True, slots=True)
class VoteModel:
    """Weights per term and a bias: decision(x) = w·x + b, > 0 where the chat would like the paper."""

    weights: Mapping[str, float]
    bias: float
    trust: float = 1.0  # how far its moves go, as a share of the cap: it grows with the liked papers

    def decision(self, x: Vector) -> float:
        w = self.weights
        return self.bias + sum(v * w.get(t, 0.0) for t, v in x.items())


def train_vote_model(
    liked: Sequence[Vector], disliked: Sequence[Vector], unvoted: Sequence[Vector],
) -> VoteModel | None:
    """Fit the chat's model; None without a liked paper (nothing to learn a taste from) or without negatives."""
    if not liked or not (disliked or unvoted):
        return None
    neg_mass = DOWN_WEIGHT * len(disliked) + len(unvoted)
    samples: list[tuple[Vector, float, float]] = [(x, 1.0, 1.0 / len(liked)) for x in liked]
    samples += [(x, 0.0, DOWN_WEIGHT / neg_mass) for x in disliked]
    samples += [(x, 0.0, 1.0 / neg_mass) for x in unvoted]
    total = sum(wt for _, _, wt in samples)
    # Terms as list positions: the loops below are the whole cost, so they index lists, not dicts.
    index: dict[str, int] = {}
    rows = []
    for x, y, wt in samples:
        row = [(index.setdefault(t, len(index)), v) for t, v in x.items()]
        rows.append((row, y, wt / total))
    weights = [0.0] * len(index)
    bias = 0.0
    decay = 1.0 - LEARNING_RATE * L2
    for _ in range(STEPS):
        grad = [0.0] * len(index)
        grad_bias = 0.0
        for row, y, wt in rows:
            z = bias
            for j, v in row:
                z += v * weights[j]
            g = wt * (1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))) - y)
            grad_bias += g
            for j, v in row:
                grad[j] += g * v
        weights = [w * decay - LEARNING_RATE * d for w, d in zip(weights, grad, strict=True)]
        bias -= LEARNING_RATE * grad_bias
    return VoteModel({t: weights[j] for t, j in index.items()}, bias, min(1.0, len(liked) / FULL_TRUST))


def score_moves(model: VoteModel, vectors: Mapping[str, Vector], cap: float) -> dict[str, float]:
    """How far the model moves each paper (id -> delta in [-cap, cap]), relative to the median paper of `vectors`."""
    decisions = {i: model.decision(x) for i, x in vectors.items()}
    if len(decisions) < 2:
        return {}
    values = list(decisions.values())
    middle = statistics.median(values)
    spread = statistics.pstdev(values) or 1.0
    moves = {i: model.trust * cap * math.tanh((d - middle) / (SPREAD * spread)) for i, d in decisions.items()}
    return {i: m for i, m in moves.items() if abs(m) >= DEAD_ZONE}
