"""A model's embedding from pretrained word vectors: its size, its first rows, and words added after training.

``core.text.vectors`` reads vectors files; this module puts what it read into an embedding. Training
(``core.train.pipeline``) settles the embedding's size for the vectors, or for none (``sized_for_vectors``),
copies their rows in (``start_from_vectors``), and after training may grow the vocabulary by the file's
most frequent words the training texts lacked (``expand_vocabulary``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.config import EMBED_DIM_WITHOUT_VECTORS, MAX_EMBED_DIM, ModelConfig, TrainConfig
from core.errors import StudioError
from core.events import PhaseEvent
from core.text.batching import EncodedSplit
from core.text.tokenizer import PAD_ID, SPECIAL_TOKENS, UNK_ID, TextTokenizer
from core.text.vectors import Coverage, VectorsError, WordVectors, copy_rows, lookup_keys, read_vectors


def read_vectors_for(tokenizer: TextTokenizer, path: str, extra: int = 0,
                     models: list[ModelConfig] = ()) -> Iterator[PhaseEvent | WordVectors]:
    """Read the rows of ``tokenizer``'s words from the vectors file at ``path`` (and of the file's first
    ``extra`` words, for ``expand_vocabulary``): progress events, then the ``WordVectors`` as the last event.
    An embedding size in ``models`` that the vectors' dimension rules out stops it at the file's first line."""
    tokens = [tokenizer.id_to_token(i) for i in range(len(SPECIAL_TOKENS), tokenizer.vocab_size)]
    yield from read_vectors(path, lookup_keys(tokens), first=extra if tokenizer.config.kind == "word" else 0,
                            check_dim=lambda dim: _fit_vectors(models, dim))


def _fit_vectors(models: list[ModelConfig], dim: int) -> None:
    """Refuse (``VectorsError``) an embedding size in ``models`` that ``dim``-d vectors rule out."""
    for config in models:
        sized_for_vectors(config, dim)


@dataclass
class Expansion:
    """A trained model's vocabulary grown by words of its vectors file (``expand_vocabulary``)."""

    tokenizer: TextTokenizer
    embedding: nn.Embedding
    added: int


def more_words(n: int) -> str:
    """``1 more word``, ``2,000 more words``."""
    return f"{n:,} more word{'' if n == 1 else 's'}"


VECTORS_CACHED = 4  # readings a sweep keeps: one per vocabulary it varies, each up to 120 MB (100k 300-d rows)


def vectors_for(tokenizer: TextTokenizer, train_config: TrainConfig, cache: dict | None,
                 models: list[ModelConfig]) -> Iterator[PhaseEvent | WordVectors]:
    """``read_vectors_for`` the run's vectors file (for ``models``), or the reading ``cache`` holds for this
    file, vocabulary and number of extra words."""
    key = (train_config.vectors, train_config.vectors_words, tokenizer.to_json())
    if cache is not None and key in cache:
        vectors = cache[key]
        _fit_vectors(models, vectors.dim)
        yield PhaseEvent("vectors", f"word vectors {vectors.name}: already read for an earlier run")
        yield vectors
        return
    for item in read_vectors_for(tokenizer, train_config.vectors, train_config.vectors_words, models):
        if isinstance(item, WordVectors) and cache is not None:
            while len(cache) >= VECTORS_CACHED:
                del cache[next(iter(cache))]  # the oldest
            cache[key] = item
        yield item


def expand_vocabulary(embedding: nn.Embedding, config: ModelConfig, tokenizer: TextTokenizer,
                      vectors: WordVectors) -> Expansion | str:
    """``tokenizer`` plus the vectors' leading words it lacks, with a copy of the trained ``embedding`` (of a
    model made by ``config``) that holds their rows too; or why none can be added.

    The trained rows moved away from the vectors while fine-tuning, so a new word's vector is mapped into
    the trained embedding by the affine map that best takes each vocabulary word's vector to its trained
    row (least squares; Kiros et al. 2015's vocabulary expansion). For frozen vectors that map is the
    identity. Works on any device: the map is fitted on the CPU (MPS has no float64).
    """
    grown, added = tokenizer.with_words(vectors.leading)
    if not added:
        return ("a subword vocabulary spells new words from its pieces" if tokenizer.config.kind != "word"
                else "the vocabulary already holds the file's most frequent words")
    try:
        ModelConfig.from_dict({**config.to_dict(), "vocab_size": grown.vocab_size})
    except StudioError as e:
        return f"{more_words(len(added))} would make the model too large ({e})"
    weight = embedding.weight.detach()
    ids, sources = [], []
    for i in range(len(SPECIAL_TOKENS), tokenizer.vocab_size):
        row, _ = vectors.row_for(tokenizer.id_to_token(i))
        if row is not None:
            ids.append(i)
            sources.append(row)
    if len(ids) <= 2 * (vectors.dim + 1):  # too few words to fit the map's (dim + 1) x size unknowns well
        return (f"only {len(ids):,} vocabulary words have vectors, too few to map new words into the trained "
                "embedding")
    source = np.hstack([np.stack(sources).astype(np.float64), np.ones((len(ids), 1))])
    target = weight[ids].cpu().double().numpy()
    mapping = np.linalg.lstsq(source, target, rcond=None)[0].astype(np.float32)
    rows = np.stack([vectors.rows[w] for w in added]) @ mapping[:-1] + mapping[-1]  # float32: no large copies
    larger = nn.Embedding(grown.vocab_size, weight.shape[1], padding_idx=PAD_ID, device=weight.device,
                          dtype=weight.dtype)
    with torch.no_grad():
        larger.weight[: len(weight)] = weight
        larger.weight[len(weight):] = torch.from_numpy(rows).to(weight.device, weight.dtype)
    larger.weight.requires_grad_(embedding.weight.requires_grad)
    return Expansion(grown, larger, len(added))


def sized_for_vectors(config: ModelConfig, dim: int | None) -> ModelConfig:
    """``config`` with its embedding size settled for ``dim``-d vectors (None: no vectors). Embedding size 0, the
    default, takes the vectors' size (``EMBED_DIM_WITHOUT_VECTORS`` without vectors); a size given is kept, the
    vectors in its first dimensions and the rest random, and refused when smaller than the vectors."""
    if config.embed_dim == 0:
        if dim is None:
            return ModelConfig.from_dict({**config.to_dict(), "embed_dim": EMBED_DIM_WITHOUT_VECTORS})
        if dim > MAX_EMBED_DIM:  # not the user's Embedding size: they gave none
            raise VectorsError(f"the word vectors have {dim:,} dimensions, and an embedding has at most "
                               f"{MAX_EMBED_DIM:,}: use vectors of {MAX_EMBED_DIM:,} dimensions or fewer (GloVe's "
                               "and fastText's have 50 to 300)")
        try:
            return ModelConfig.from_dict({**config.to_dict(), "embed_dim": dim})
        except StudioError as e:  # too many parameters with an embedding that wide
            raise VectorsError(f"with the word vectors' {dim:,} dimensions, {e}") from None
    if dim is not None and config.embed_dim < dim:
        raise VectorsError(f"Embedding size (--embed-dim) {config.embed_dim} is smaller than the vectors' {dim} "
                           "dimensions: leave it at 0, its default, to follow the vectors, or give "
                           f"{dim} or more (the extra dimensions start random)")
    return config


def start_from_vectors(embedding: nn.Embedding, tokenizer: TextTokenizer, vectors: WordVectors,
                       train: EncodedSplit, freeze: bool) -> Coverage:
    """Copy the vectors into the rows of a new model's ``embedding`` (padding stays zero, unknown words random)
    and freeze them when asked; how much of the vocabulary and of the training tokens they cover."""
    weight = embedding.weight
    tokens = [tokenizer.id_to_token(i) for i in range(tokenizer.vocab_size)]
    found, lowered = copy_rows(weight.data, tokens, vectors, skip={PAD_ID, UNK_ID})
    if freeze:
        weight.requires_grad_(False)
    counts = train.token_counts(tokenizer.vocab_size)
    real = counts.sum() - counts[PAD_ID]
    return Coverage(file=vectors.name, sha256=vectors.sha256, dim=vectors.dim,
                    words=tokenizer.vocab_size - len(SPECIAL_TOKENS), words_found=len(found),
                    tokens_covered=float(counts[found].sum() / real) if real else 0.0, lowercase_matches=lowered,
                    frozen=freeze)
