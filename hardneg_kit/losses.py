"""Cross-encoder losses that sentence-transformers does not ship.

:class:`TripletMarginLoss` is the loss of the reference method (arXiv 2411.02404): for a query Q,
its positive P and a mined negative D, ``relu(margin - s(Q, P) + s(Q, D))`` where ``s`` is the
cross-encoder's score. It plugs into
:class:`~sentence_transformers.cross_encoder.CrossEncoderTrainer` like the upstream losses in
``sentence_transformers.cross_encoder.losses``.

Example:
    >>> from hardneg_kit.losses import TripletMarginLoss
    >>> from hardneg_kit.models import cross_encoder_start
    >>> model = cross_encoder_start(num_layers=1, max_length=32)  # doctest: +SKIP
    >>> loss = TripletMarginLoss(model, margin=1.0)  # doctest: +SKIP
    >>> loss([["q"], ["relevant"], ["near miss"]], None)  # doctest: +SKIP
    tensor(1.0123, grad_fn=<MeanBackward0>)
"""

from __future__ import annotations

import torch
from sentence_transformers.cross_encoder import CrossEncoder
from sentence_transformers.util import batch_to_device, fullname
from torch import Tensor, nn

from hardneg_kit.errors import TrainingError

#: the default activation: raw logits (a module-level instance, as a default argument)
IDENTITY = nn.Identity()


class TripletMarginLoss(nn.Module):
    # __init__ is long only by its docstring: sentence-transformers documents a loss there
    # (Args, References, Inputs, Example), and the code below it is ten lines
    def __init__(
        self,
        model: CrossEncoder,
        margin: float = 1.0,
        activation_fn: nn.Module | None = IDENTITY,
    ) -> None:
        """Triplet margin loss for a cross-encoder: ``relu(margin - s(q, p) + s(q, n))``.

        For every row the model scores (query, positive) and (query, negative_i) for each negative
        column; the loss is the hinge ``max(0, margin - s_p + s_n_i)`` averaged over all negatives
        of all rows in the batch. Scores are the raw logits unless ``activation_fn`` says otherwise
        (with :class:`torch.nn.Sigmoid` the scores lie in (0, 1), so pick ``margin`` < 1).
        A negative given as ``None`` is skipped (its row is averaged over the others; a row with
        no negative at all adds nothing).

        Args:
            model: a :class:`~sentence_transformers.cross_encoder.CrossEncoder` with one output.
            margin: how far the positive's score must exceed each negative's before the loss is 0.
            activation_fn: applied to the logits before the hinge; defaults to identity.

        References:
            - Enhancing Retrieval Performance: An Ensemble Approach For Hard Negative Mining,
              arXiv 2411.02404 (the reference method this kit reproduces).

        Inputs:
            +----------------------------------------------------+--------+------------------+
            | Inputs                                             | Labels | Model outputs    |
            +====================================================+========+==================+
            | (anchor, positive, negative) triplets              | none   | 1                |
            +----------------------------------------------------+--------+------------------+
            | (anchor, positive, negative_1, ..., negative_n)    | none   | 1                |
            +----------------------------------------------------+--------+------------------+

        Example:
            ::

                from datasets import Dataset
                from sentence_transformers.cross_encoder import CrossEncoderTrainer
                from hardneg_kit.losses import TripletMarginLoss
                from hardneg_kit.models import cross_encoder_start

                model = cross_encoder_start(num_layers=2, max_length=128)
                train_dataset = Dataset.from_dict({
                    "query": ["How do I delete a bucket?"],
                    "positive": ["Use `rb` to remove an empty bucket."],
                    "negative": ["Use `mb` to make a bucket."],
                })
                loss = TripletMarginLoss(model, margin=1.0)
                trainer = CrossEncoderTrainer(model=model, train_dataset=train_dataset, loss=loss)
                trainer.train()
        """
        super().__init__()
        self.model = model
        self.margin = float(margin)
        self.activation_fn = activation_fn
        if not isinstance(self.model, CrossEncoder):
            raise TrainingError(
                f"{type(self).__name__} expects a CrossEncoder, got {type(self.model).__name__}."
            )
        if self.model.num_labels != 1:
            raise TrainingError(
                f"{type(self).__name__} expects a model with 1 output label, "
                f"got {self.model.num_labels}."
            )

    def score_pairs(
        self, pairs: list[tuple[str, str]], prompt: str | None = None, task: str | None = None
    ) -> Tensor:
        """Scores (after ``activation_fn``) of (query, passage) pairs in one forward pass."""
        features = self.model.preprocess(pairs, prompt=prompt, task=task)
        features = batch_to_device(features, self.model.device)
        logits = self.model(features)["scores"].view(-1)
        return self.activation_fn(logits) if self.activation_fn is not None else logits

    def forward(
        self,
        inputs: list[list[str]],
        labels: Tensor | None = None,
        prompt: str | None = None,
        task: str | None = None,
    ) -> Tensor:
        """``inputs`` are the dataset columns: anchors, positives, then one or more negatives."""
        if len(inputs) < 3:
            raise TrainingError(
                f"{type(self).__name__} needs (anchor, positive, negative_1, ...) columns, "
                f"got {len(inputs)} column(s)."
            )
        anchors, positives, negative_columns = inputs[0], inputs[1], inputs[2:]
        batch_size = len(anchors)
        pairs = list(zip(anchors, positives, strict=True))
        neg_slots: list[tuple[int, int]] = []  # (column, row) of every negative that is present
        for col, negatives in enumerate(negative_columns):
            for row, (anchor, negative) in enumerate(zip(anchors, negatives, strict=True)):
                if negative is not None:
                    pairs.append((anchor, negative))
                    neg_slots.append((col, row))
        scores = self.score_pairs(pairs, prompt=prompt, task=task)
        pos_scores, neg_scores = scores[:batch_size], scores[batch_size:]
        if not neg_slots:
            return scores.sum() * 0.0  # keeps the graph; nothing to learn from this batch
        rows = torch.tensor([row for _, row in neg_slots], device=scores.device)
        hinge = torch.relu(self.margin - pos_scores[rows] + neg_scores)
        # Mean over the negatives of each row, then over the rows that have any.
        per_row_sum = torch.zeros(batch_size, device=scores.device, dtype=hinge.dtype)
        per_row_sum = per_row_sum.index_add(0, rows, hinge)
        counts = torch.bincount(rows, minlength=batch_size).to(hinge.dtype)
        has_neg = counts > 0
        return (per_row_sum[has_neg] / counts[has_neg]).mean()

    def get_config_dict(self) -> dict[str, float | str]:
        """Hyper-parameters, written into the model card by sentence-transformers."""
        return {"margin": self.margin, "activation_fn": fullname(self.activation_fn)}

    @property
    def citation(self) -> str:
        return """
@misc{meghwani2024enhancing,
  title={Enhancing Retrieval Performance: An Ensemble Approach For Hard Negative Mining},
  author={Meghwani, Hansa},
  year={2024},
  eprint={2411.02404},
  archivePrefix={arXiv},
  primaryClass={cs.IR},
  url={https://arxiv.org/abs/2411.02404}
}
"""
