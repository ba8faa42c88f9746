"""A classifier far larger than its task needs: shrink it, keep its accuracy.

Three interleaved spirals in the plane (a fixed dataset, generated here: 900 points to train
on, 900 held out), a multi-layer perceptron trained with full-batch Adam in NumPy, about a
second per run on one CPU core. The seed ($GITRESEARCH_SEED) sets the initial weights and
the order of nothing else, so the accuracy varies from seed to seed and the parameter count
does not. Prints the parameter count (the objective: minimize) and the held-out accuracy
(the constraint: at least 0.92).

The planted flaw: HIDDEN = 256 units per layer, where a few dozen do as well.
"""

import itertools
import os

import numpy as np

# --- the model ---
HIDDEN = 256
LAYERS = 2
EPOCHS = 400
LR = 0.01
# --- end of the model ---


def spirals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    per = n // 3
    xs, ys = [], []
    for k in range(3):
        r = np.linspace(0.05, 1.0, per)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, per) + rng.normal(0, 0.5, per)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(per, k))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


data = np.random.default_rng(1234)
x, y = spirals(1800, data)
order = data.permutation(len(x))
x, y = x[order], y[order]
x_train, y_train, x_test, y_test = x[:900], y[:900], x[900:], y[900:]

rng = np.random.default_rng(int(os.environ.get("GITRESEARCH_SEED", "0")))
sizes = [2] + [HIDDEN] * LAYERS + [3]
weights = [rng.normal(0, np.sqrt(2.0 / a), (a, b)).astype(np.float32) for a, b in itertools.pairwise(sizes)]
biases = [np.zeros(b, np.float32) for b in sizes[1:]]
params = [*weights, *biases]
moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]


def forward(inputs: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    acts = [inputs]
    for i, (w, b) in enumerate(zip(weights, biases)):
        z = acts[-1] @ w + b
        acts.append(np.maximum(z, 0.0) if i < len(weights) - 1 else z)
    return acts[-1], acts


onehot = np.eye(3, dtype=np.float32)[y_train]
for step in range(1, EPOCHS + 1):
    logits, acts = forward(x_train)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    grad = (p - onehot) / len(x_train)
    grads_w: list[np.ndarray] = []
    grads_b: list[np.ndarray] = []
    for i in range(len(weights) - 1, -1, -1):
        grads_w.insert(0, acts[i].T @ grad)
        grads_b.insert(0, grad.sum(axis=0))
        if i:
            grad = (grad @ weights[i].T) * (acts[i] > 0)
    for j, (param, g) in enumerate(zip(params, [*grads_w, *grads_b])):
        m, v = moments[j]
        m[:] = 0.9 * m + 0.1 * g
        v[:] = 0.999 * v + 0.001 * g * g
        param -= LR * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)

accuracy = float((forward(x_test)[0].argmax(axis=1) == y_test).mean())
print(f"params: {sum(p.size for p in params)}")
print(f"accuracy: {accuracy:.4f}")
