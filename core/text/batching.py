"""Length-bucketed batches of token ids.

Sentence datasets are long-tailed: padding every batch to the longest text wastes two thirds of
the compute. Batches here are drawn from pools of similar-length texts, so a batch's texts differ
little in length and, packed, cost only their real tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.text.tokenizer import PAD_ID


class PiecedIds:
    """Token ids held in several arrays (the record batches of a memory-mapped Arrow column), addressed
    as if they were one: ``ids[a:b]`` is a view into the piece holding it (a text never spans pieces)."""

    def __init__(self, pieces: list[np.ndarray]):
        self.pieces = pieces
        sizes = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
        self.bases = np.zeros(len(pieces), dtype=np.int64)
        if len(pieces):
            np.cumsum(sizes[:-1], out=self.bases[1:])
        self._size = int(sizes.sum())

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, span: slice) -> np.ndarray:
        piece = int(np.searchsorted(self.bases, span.start, side="right")) - 1
        base = int(self.bases[piece])
        return self.pieces[piece][span.start - base : span.stop - base]


@dataclass
class EncodedSplit:
    """A tokenized split: per-text start offsets into one ids store (cheap to slice).

    The store is an int64 array holding the split's texts back to back (``from_ragged``), or, for data
    larger than memory, ``PiecedIds`` over a memory-mapped Arrow column that may hold other splits' texts
    too (``core.text.token_cache``): only ``starts`` and ``lengths`` say which tokens are this split's.
    """

    flat_ids: np.ndarray | PiecedIds  # int64 array, or int32 pieces of a memory-mapped column
    starts: np.ndarray  # (n,) int64 start of each text in flat_ids
    lengths: np.ndarray  # (n,) int64
    labels: np.ndarray  # (n,) int64

    @classmethod
    def from_ragged(cls, ids: list[np.ndarray], labels: np.ndarray) -> EncodedSplit:
        lengths = np.fromiter((len(a) for a in ids), dtype=np.int64, count=len(ids))
        starts = np.zeros(len(ids), dtype=np.int64)
        if len(ids):
            np.cumsum(lengths[:-1], out=starts[1:])
        flat = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        return cls(flat.astype(np.int64, copy=False), starts, lengths, np.asarray(labels, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.lengths)

    def take(self, index: np.ndarray) -> EncodedSplit:
        """The texts at ``index``, in that order, as a split of their own (sharing this one's ids store)."""
        return EncodedSplit(self.flat_ids, self.starts[index], self.lengths[index], self.labels[index])

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())

    def token_counts(self, minlength: int, rows: int = 65_536) -> np.ndarray:
        """How often each token id occurs in the split's texts (a few texts at a time: the store may be
        memory-mapped and shared with other splits)."""
        counts = np.zeros(minlength, dtype=np.int64)
        for first in range(0, len(self), rows):
            part = [self.flat_ids[s : s + n] for s, n in zip(self.starts[first: first + rows],
                                                             self.lengths[first: first + rows], strict=True)]
            if part:
                found = np.bincount(np.concatenate(part), minlength=minlength)
                counts[: len(found)] += found[:minlength]
        return counts


@dataclass
class Batch:
    ids: torch.Tensor  # (batch, time) int64, right-padded with PAD_ID, rows longest first
    lengths: torch.Tensor  # (batch,) int64, on the CPU (pack_padded_sequence wants them there)
    labels: torch.Tensor  # (batch,) int64
    index: np.ndarray  # (batch,) positions in the split, to map predictions back

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())


def bucketed_order(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None, pool_batches: int = 50
) -> list[np.ndarray]:
    """Split indices into batches of similar length.

    With ``rng``: shuffle, sort within pools of ``pool_batches`` batches, cut, shuffle the batches
    (random, yet nearly padding-free). Without: sort everything by length (evaluation).
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(-lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    perm = rng.permutation(n)
    pool = batch_size * pool_batches
    batches = []
    for p in range(0, n, pool):
        chunk = perm[p : p + pool]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def collate(split: EncodedSplit, index: np.ndarray, device: torch.device) -> Batch:
    """Gather texts ``index`` into one padded batch, sorted longest first."""
    index = index[np.argsort(-split.lengths[index], kind="stable")]
    lengths = split.lengths[index]
    width = int(lengths.max())
    ids = np.full((len(index), width), PAD_ID, dtype=np.int64)
    for row, (s, n) in enumerate(zip(split.starts[index], lengths, strict=True)):
        ids[row, :n] = split.flat_ids[s : s + n]
    pin = device.type == "cuda"
    t_ids, t_labels = torch.from_numpy(ids), torch.from_numpy(split.labels[index])
    if pin:  # pinned host memory lets the copy overlap with compute
        t_ids, t_labels = t_ids.pin_memory(), t_labels.pin_memory()
    return Batch(
        t_ids.to(device, non_blocking=True),
        torch.from_numpy(lengths),
        t_labels.to(device, non_blocking=True),
        index,
    )


@torch.inference_mode()
def predict_probabilities(
    model: torch.nn.Module, split: EncodedSplit, device: torch.device, batch_size: int = 256
) -> tuple[np.ndarray, float]:
    """Class probabilities (n, classes) in the split's order, and the mean cross-entropy loss.

    Evaluation semantics (no dropout) whatever mode the model was in; the mode is restored after.
    """
    was_training = model.training
    model.eval()
    n = len(split)
    probs = None
    total_loss = 0.0
    try:
        for index in bucketed_order(split.lengths, batch_size, rng=None):
            batch = collate(split, index, device)
            logits = model(batch.ids, batch.lengths).float()
            total_loss += float(torch.nn.functional.cross_entropy(logits, batch.labels, reduction="sum"))
            p = torch.softmax(logits, -1).cpu().numpy()
            if probs is None:
                probs = np.zeros((n, p.shape[1]), dtype=np.float32)
            probs[batch.index] = p
    finally:
        model.train(was_training)
    return (probs if probs is not None else np.zeros((0, 0), np.float32)), total_loss / max(n, 1)
