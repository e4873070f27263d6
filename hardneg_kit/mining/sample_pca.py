"""PCA for corpora too large for memory: fitted on a seeded sample, applied block by block.

The in-memory path (:func:`hardneg_kit.mining.ensemble.ensemble_space`) runs scikit-learn's
full-SVD PCA on every row: exact, but it holds the data several times over (~26 KiB a passage
for three models). :func:`fit_sample_pca` instead

1. draws ``sample_rows`` rows (default 100,000) without replacement with
   ``numpy.random.default_rng(seed)``, sorted (memory-mapped reads stay sequential);
2. computes their mean and their ``d x d`` covariance in float64, in chunks of 16,384 rows;
3. takes the eigen-decomposition (``numpy.linalg.eigh``) and keeps, as scikit-learn does, the
   fewest components whose explained-variance ratio reaches ``variance``.

Why not a randomized SVD: the concatenated embeddings have ``d`` of about a thousand (384 + 384 +
256 for the default models), so the covariance is 8 MB and its exact eigen-decomposition takes
well under a second; a randomized SVD pays off only when ``d`` is far larger, and it would add
its own approximation. The only approximation here is the sample (``tests/test_scale.py``
compares against scikit-learn's exact PCA: with every row, the same components, cosines within
1e-4; with a sample of 800 of 3,000 rows, explained variance within 0.01 and cosines between
projections within 0.05; 100,000 rows sample far more finely).

Cost: O(sample x d^2) to fit, independent of the corpus; O(n x d x k) to project, linear in
passages.

:meth:`SamplePCA.transform` centres, projects and re-normalizes one block (the same steps as the
in-memory path). Component signs are arbitrary (eigenvectors, like SVD's, are defined up to
sign); cosines between projections do not depend on them.

Example:
    >>> pca = fit_sample_pca(lambda rows: X[rows], len(X), variance=0.95)  # doctest: +SKIP
    >>> pca.transform(X[:1000]).shape  # doctest: +SKIP
    (1000, 311)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: rows PCA is fitted on when the corpus is larger (module docstring)
SAMPLE_ROWS = 100_000
_CHUNK = 16_384


@dataclass
class SamplePCA:
    """Mean, kept components (rows) and their explained-variance ratios."""

    mean: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray
    sample_rows: int

    @property
    def dims(self) -> int:
        return int(self.components.shape[0])

    def transform(self, block: np.ndarray) -> np.ndarray:
        """Centre, project and L2-normalize a block of rows (float32 out).

        >>> pca.transform(np.zeros((2, pca.mean.shape[0]))).shape  # doctest: +SKIP
        (2, 311)
        """
        x = np.asarray(block, dtype=np.float32) - self.mean
        out = x @ self.components.T
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def sample_rows(n: int, size: int, seed: int) -> np.ndarray:
    """``min(n, size)`` distinct row numbers in ``[0, n)``, seeded, sorted.

    >>> sample_rows(10, 3, seed=0).tolist()
    [5, 6, 9]
    """
    if size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def fit_sample_pca(
    take: Callable[[np.ndarray], np.ndarray],
    n: int,
    variance: float = 0.95,
    seed: int = 0,
    size: int = SAMPLE_ROWS,
    extra: np.ndarray | None = None,
) -> SamplePCA:
    """Fit PCA on a seeded sample of ``n`` rows read through ``take(rows)``.

    Args:
        take: returns the given rows (sorted int array) as a 2-D array.
        n: rows available.
        variance: share of variance kept (``>= 1``: every component).
        seed: seeds the sample.
        size: rows sampled (all of them when ``n`` is smaller).
        extra: rows always included besides the sample (the queries of
            ``fit="passages+queries"``).

    >>> fit_sample_pca(lambda r: X[r], len(X), 0.95, seed=0).dims  # doctest: +SKIP
    """
    rows = sample_rows(n, size, seed)
    chunks = [rows[i : i + _CHUNK] for i in range(0, len(rows), _CHUNK)]
    parts = [np.asarray(take(c), dtype=np.float32) for c in chunks]
    if extra is not None and len(extra):
        parts.append(np.asarray(extra, dtype=np.float32))
    m = sum(len(p) for p in parts)
    mean = sum(p.sum(axis=0, dtype=np.float64) for p in parts) / m
    d = parts[0].shape[1]
    cov = np.zeros((d, d))
    for p in parts:  # float64 accumulation, one chunk at a time
        for i in range(0, len(p), _CHUNK):
            c = p[i : i + _CHUNK].astype(np.float64) - mean
            cov += c.T @ c
    cov /= max(m - 1, 1)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values, vectors = np.clip(values[order], 0, None), vectors[:, order]
    ratio = values / values.sum()
    k = d if variance >= 1 else int(np.searchsorted(np.cumsum(ratio), variance, side="right") + 1)
    k = min(k, d, m)
    return SamplePCA(
        mean=mean.astype(np.float32),
        components=np.ascontiguousarray(vectors[:, :k].T, dtype=np.float32),
        explained_variance_ratio=ratio[:k],
        sample_rows=int(len(rows)),
    )
