"""Multi-class agreement with gold labels from a confusion matrix: per-class F1, macro-F1, balanced
accuracy and Cohen's kappa (claim verification, issue 13).

Layout: ``m[..., g, p]`` counts items of gold class ``g`` predicted as ``p``, for ``k`` classes and
``k + 1`` prediction columns; the last column holds items the verifier could not classify
(unparseable), so they count against recall and agreement without inventing a class for them.
Every function accepts a stack of matrices (leading axes), so a bootstrap evaluates all resamples at
once; a value that is undefined (a 0/0) is NaN.

Definitions, with ``tp_c = m[c, c]``, ``fp_c = sum_g m[g, c] - tp_c`` and ``fn_c = sum_p m[c, p] - tp_c``:

* ``F1_c = 2 tp_c / (2 tp_c + fp_c + fn_c)``; undefined for a class that neither occurs nor is predicted;
* macro-F1: the mean of the defined ``F1_c`` (scikit-learn's ``f1_score(average="macro")`` over the
  classes that occur in gold or predictions);
* balanced accuracy: the mean over classes that occur in gold of the recall ``tp_c / n_c``
  (scikit-learn's ``balanced_accuracy_score``);
* Cohen's kappa (Cohen 1960): ``(p_o - p_e) / (1 - p_e)`` with ``p_o = sum_c tp_c / N`` and
  ``p_e = sum_c n_c * pred_c / N**2`` (the unparseable column matches no gold class); equal to
  scikit-learn's ``cohen_kappa_score`` with ``"unparseable"`` as one more label.

>>> m = np.array([[3, 1, 0], [1, 2, 1]])  # 2 classes + the unparseable column
>>> round(float(cohen_kappa(m)), 4), round(float(macro_f1(m)), 4), round(float(balanced_accuracy(m)), 4)
(0.3333, 0.6607, 0.625)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

UNPARSEABLE = "unparseable"


def n_classes(n_cells: int) -> int:
    """``k`` such that ``k * (k + 1) == n_cells`` (k classes x k + 1 prediction columns), or ValueError."""
    k = int((math.isqrt(1 + 4 * n_cells) - 1) // 2)
    if k < 2 or k * (k + 1) != n_cells:
        raise ValueError(f"{n_cells} cells are not k x (k + 1) confusion cells for k >= 2 classes")
    return k


def confusion_matrix(gold: Sequence[str], pred: Sequence[str | None], classes: Sequence[str]) -> np.ndarray:
    """Counts ``k x (k + 1)``; a prediction of ``None`` (or ``"unparseable"``) goes to the last column."""
    index = {c: i for i, c in enumerate(classes)}
    m = np.zeros((len(classes), len(classes) + 1))
    for g, p in zip(gold, pred, strict=True):
        m[index[g], len(classes) if p is None or p == UNPARSEABLE else index[p]] += 1
    return m


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _parts(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tp, gold totals, predicted totals) per class, over the leading axes."""
    m = np.asarray(m, dtype=float)
    k = m.shape[-2]
    tp = np.diagonal(m[..., :, :k], axis1=-2, axis2=-1)
    return tp, m.sum(axis=-1), m[..., :, :k].sum(axis=-2)


def class_f1(m: np.ndarray) -> np.ndarray:
    """F1 of every class (last axis), NaN for a class neither present nor predicted."""
    tp, gold, predicted = _parts(m)
    return _div(2 * tp, gold + predicted)


def class_precision(m: np.ndarray) -> np.ndarray:
    tp, _, predicted = _parts(m)
    return _div(tp, predicted)


def class_recall(m: np.ndarray) -> np.ndarray:
    tp, gold, _ = _parts(m)
    return _div(tp, gold)


def _nanmean(x: np.ndarray) -> np.ndarray:
    defined = np.isfinite(x)
    count = defined.sum(axis=-1)
    return _div(np.where(defined, x, 0.0).sum(axis=-1), count)


def macro_f1(m: np.ndarray) -> np.ndarray:
    return _nanmean(class_f1(m))


def balanced_accuracy(m: np.ndarray) -> np.ndarray:
    return _nanmean(class_recall(m))


def cohen_kappa(m: np.ndarray) -> np.ndarray:
    tp, gold, predicted = _parts(m)
    total = gold.sum(axis=-1)
    p_o = _div(tp.sum(axis=-1), total)
    p_e = _div((gold * predicted).sum(axis=-1), total**2)
    return _div(p_o - p_e, 1 - p_e)


def from_cell_sums(sums: np.ndarray) -> np.ndarray:
    """Confusion matrices from cell totals laid out gold-major (``n = k (k + 1)`` on the last axis)."""
    n = sums.shape[-1]
    k = n_classes(n)
    return sums.reshape(*sums.shape[:-1], k, k + 1)
