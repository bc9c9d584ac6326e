"""Text to token ids with the ``tokenizers`` library: word-level, BPE or WordPiece.

The tokenizer is trained on the training split only and saved inside the model file as JSON, so a
model file carries everything needed to read new text. Every encoding keeps each token's character
offsets into the original text: views draw values over the very words a person typed.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from core.config import TokenizerConfig
from core.errors import StudioError, one_line

_SURROGATES = re.compile("[\ud800-\udfff]")


def _utf8_ok(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


PAD, UNK = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1  # fixed by the order of SPECIAL_TOKENS
SPECIAL_TOKENS = [PAD, UNK]

@dataclass
class Encoded:
    """A batch of encoded texts, unpadded: ragged arrays keep memory proportional to real tokens."""

    ids: list[np.ndarray]  # per text (length,) int64 token ids, at least one each
    lengths: np.ndarray  # (batch,) int64
    offsets: list[np.ndarray] | None  # per text (length, 2) int64 [start, end) char offsets
    tokens: list[list[str]] | None  # per text token strings
    word_ids: list[list[int]] | None  # per text, the word index of each token (subwords share one)


_KINDS = {
    "word": (models.WordLevel, trainers.WordLevelTrainer),
    "bpe": (models.BPE, trainers.BpeTrainer),
    "wordpiece": (models.WordPiece, trainers.WordPieceTrainer),
}
_MODEL_TYPES = {"word": "WordLevel", "bpe": "BPE", "wordpiece": "WordPiece"}


def _set_pipeline(tok: Tokenizer, config: TokenizerConfig) -> None:
    """The steps around the vocabulary, from the config alone (training and loading share them)."""
    steps = []
    if config.unicode_normalization == "nfkc":
        steps.append(normalizers.NFKC())
    if config.lowercase:
        steps.append(normalizers.Lowercase())
    tok.normalizer = normalizers.Sequence(steps) if steps else None
    tok.pre_tokenizer = pre_tokenizers.Whitespace()  # words and runs of punctuation
    tok.decoder = decoders.WordPiece() if config.kind == "wordpiece" else None


def _short(value: object, limit: int = 40) -> str:
    return repr(one_line(value, limit))


def is_rust_panic(error: BaseException) -> bool:
    """A Rust panic from ``tokenizers`` (pyo3's ``PanicException``): a ``BaseException``, not an
    ``Exception``, so ``except Exception`` lets it through."""
    return type(error).__name__ == "PanicException"


@contextmanager
def rust_errors(doing: str) -> Iterator[None]:
    """Turn a failure inside the Rust tokenizer, a panic included, into a ``StudioError``."""
    try:
        yield
    except StudioError:
        raise
    except BaseException as e:
        if not (isinstance(e, Exception) or is_rust_panic(e)):
            raise
        raise StudioError(f"the tokenizer failed while {doing}: {one_line(e)}") from None


class TextTokenizer:
    """A trained ``tokenizers.Tokenizer`` plus the config it was trained with."""

    def __init__(self, tokenizer: Tokenizer, config: TokenizerConfig):
        self._tok = tokenizer
        self.config = config
        self._tok.no_padding()
        self._tok.enable_truncation(config.max_length, direction=config.truncation_side)

    # construction -------------------------------------------------------------------------------
    @classmethod
    def train(cls, texts: Sequence[str], config: TokenizerConfig | None = None) -> TextTokenizer:
        """Learn the vocabulary from ``texts`` (the training split only, to keep test data unseen)."""
        config = config or TokenizerConfig()
        model_cls, trainer_cls = _KINDS[config.kind]
        tok = Tokenizer(model_cls(unk_token=UNK))
        trainer = trainer_cls(
            vocab_size=config.vocab_size,
            min_frequency=config.min_frequency,
            special_tokens=SPECIAL_TOKENS,
            show_progress=False,
        )
        _set_pipeline(tok, config)
        tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
        if tok.token_to_id(PAD) != PAD_ID or tok.token_to_id(UNK) != UNK_ID:
            raise AssertionError("special tokens must come first in the vocabulary")
        return cls(tok, config)

    def to_json(self) -> str:
        return self._tok.to_str()

    @classmethod
    def from_json(cls, text: str, config: TokenizerConfig) -> TextTokenizer:
        """A tokenizer saved by ``to_json``, checked as if freshly trained (raises ``StudioError``).

        Only the vocabulary is taken from the file: the steps around it (normalizer, pre-tokenizer,
        decoder, no post-processor) are rebuilt from ``config``, the app's own known kinds, so a
        crafted pattern in a file can neither change how text is split nor crash the Rust side.
        """
        try:
            spec = json.loads(text)
            model_type, vocab = spec["model"]["type"], spec["model"]["vocab"]
            merges = spec["model"].get("merges") or []
            added = [t["content"] for t in spec.get("added_tokens") or []]
        except (json.JSONDecodeError, RecursionError, ValueError, TypeError, KeyError, AttributeError) as e:
            raise StudioError(f"the tokenizer is not a tokenizers JSON file ({type(e).__name__})") from None
        if model_type != _MODEL_TYPES[config.kind]:
            raise StudioError(f"the tokenizer is a {_short(model_type)} model, but its settings say {config.kind}")
        if not isinstance(vocab, dict) or not all(isinstance(w, str) and type(i) is int for w, i in vocab.items()):
            raise StudioError("the tokenizer's vocabulary is not a table of words and ids")
        extra = [token for token in added if token not in SPECIAL_TOKENS]
        if extra:
            raise StudioError(f"the tokenizer adds tokens of its own ({_short(extra[0])}); only {PAD} and {UNK} are "
                              "allowed")
        size = len(vocab)
        if vocab.get(PAD) != PAD_ID or vocab.get(UNK) != UNK_ID:
            raise StudioError(f"the tokenizer's special tokens are not {PAD}={PAD_ID} and {UNK}={UNK_ID}")
        if sorted(vocab.values()) != list(range(size)):
            raise StudioError(f"the tokenizer's token ids are not the numbers 0 to {size - 1}")
        with rust_errors("reading the tokenizer"):
            # The model is rebuilt from the vocabulary (and BPE's merges) with the app's own options,
            # so a file's dropout, unknown-token name or prefix can't change what a text becomes.
            if config.kind == "bpe":
                pairs = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]
                model = models.BPE(vocab, pairs, unk_token=UNK)
            elif config.kind == "wordpiece":
                model = models.WordPiece(vocab, unk_token=UNK)
            else:
                model = models.WordLevel(vocab, unk_token=UNK)
            tok = Tokenizer(model)
            tok.add_special_tokens(SPECIAL_TOKENS)
            _set_pipeline(tok, config)
        return cls(tok, config)

    def with_words(self, words: Sequence[str]) -> tuple[TextTokenizer, list[str]]:
        """This vocabulary plus ``words`` (in their order, each after this tokenizer's normalization),
        and the words added, as given: those it could produce as one token and lacks. Whole-word vocabularies
        only; a subword vocabulary is returned unchanged (its pieces already spell unseen words)."""
        if self.config.kind != "word":
            return self, []
        vocab = self._tok.get_vocab()
        normalizer, pre = self._tok.normalizer, self._tok.pre_tokenizer
        added = []
        for word in words:
            form = normalizer.normalize_str(word) if normalizer is not None else word
            if form in vocab or [piece for piece, _ in pre.pre_tokenize_str(form)] != [form]:
                continue  # known, or never one token here (e.g. "don't" splits into three)
            vocab[form] = len(vocab)
            added.append(word)
        if not added:
            return self, []
        with rust_errors("adding words to the vocabulary"):
            tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
            tok.add_special_tokens(SPECIAL_TOKENS)
            _set_pipeline(tok, self.config)
        return TextTokenizer(tok, self.config), added

    # use ----------------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def id_to_token(self, i: int) -> str:
        return self._tok.id_to_token(i) or UNK

    def encode_batch(self, texts: Sequence[str], *, details: bool = True) -> Encoded:
        """Encode many texts at once (in parallel, in Rust).

        ``details=False`` skips offsets, token strings and word ids: training needs ids only, and
        building millions of Python tuples would cost more than the tokenization itself.
        """
        # A lone surrogate (e.g. from a file name or argv decoded with surrogateescape) makes the Rust
        # side raise a bare TypeError; U+FFFD keeps the length, so offsets still index the given text.
        texts = [t if t.isascii() or _utf8_ok(t) else _SURROGATES.sub("\ufffd", t) for t in texts]
        with rust_errors("tokenizing"):
            encs = self._tok.encode_batch_fast(texts) if not details else self._tok.encode_batch(texts)
        ids, offsets, tokens, word_ids = [], [], [], []
        for enc in encs:
            a = np.asarray(enc.ids, dtype=np.int64)
            if a.size == 0:  # nothing left after normalization: one [UNK] keeps every sequence non-empty
                a = np.array([UNK_ID], dtype=np.int64)
                if details:
                    offsets.append(np.zeros((1, 2), dtype=np.int64))
                    tokens.append([UNK])
                    word_ids.append([0])
            elif details:
                offs = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
                if self.config.unicode_normalization == "nfkc":
                    offs = _widen_over_composed(texts[len(offsets)], offs)
                offsets.append(offs)
                tokens.append(list(enc.tokens))
                word_ids.append([-1 if w is None else w for w in enc.word_ids])
            ids.append(a)
        lengths = np.fromiter((len(a) for a in ids), dtype=np.int64, count=len(ids))
        if not details:
            return Encoded(ids, lengths, None, None, None)
        return Encoded(ids, lengths, offsets, tokens, word_ids)

    def encode(self, text: str) -> Encoded:
        return self.encode_batch([text])


def _widen_over_composed(text: str, offsets: np.ndarray) -> np.ndarray:
    """Extend each token's end over the characters NFKC composed into its last character.

    ``tokenizers`` aligns a composed character with the first original character only: "A" + U+0300
    (combining grave) becomes "à" with offsets [0, 1), and three Hangul jamo become one syllable at
    [0, 1), so a heatmap would leave the accent or the jamo uncovered. A following character is taken
    in when it lies before the next token, is not whitespace, and adding it does not lengthen the NFKC
    form of the token's last few characters, i.e. it really merged into them.
    """
    if text.isascii() or len(offsets) == 0:
        return offsets
    out = offsets.copy()
    n = len(text)
    for k in range(len(out)):
        start, end = int(out[k, 0]), int(out[k, 1])
        if end <= start:
            continue
        limit = int(out[k + 1, 0]) if k + 1 < len(out) and out[k + 1, 0] >= end else n
        while end < limit and not text[end].isspace():
            tail = text[max(start, end - 4) : end]
            if len(unicodedata.normalize("NFKC", tail + text[end])) > len(unicodedata.normalize("NFKC", tail)):
                break
            end += 1
        out[k, 1] = end
    return out
