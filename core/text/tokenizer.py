"""Text to token ids with the ``tokenizers`` library: word-level, BPE or WordPiece.

The tokenizer is trained on the training split only and saved inside the model file as JSON, so a
model file carries everything needed to read new text. Every encoding keeps each token's character
offsets into the original text: views draw values over the very words a person typed.

A long text is cut on its kept side (``truncation_side``) before the tokenizer sees it, for learning and
encoding alike: ``tokenizers`` builds every token of a whole text, with its offsets and alignments (90-120
bytes a character), before it truncates to ``max_length``, so one 20 MB review peaked at 1.8-2.4 GB for 400
kept tokens and 100 MB aborted the process in Rust. A cut falls at a whitespace, where the pre-tokenizer
splits anyway, so the tokens before it are the whole text's; encoding checks that the cut part still holds
``max_length`` tokens and cuts longer when it does not (``_cut``, ``encode_batch``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from core.config import TokenizerConfig
from core.errors import StudioError, one_line

_SURROGATES = re.compile("[\ud800-\udfff]")

# Cutting long texts (see the module docstring). A text reaches the tokenizer as at most ``kept_chars``
# characters: 64 a kept token, generous (English averages about 5 with its space, and a whole subword
# token can't be shorter than one), and never under 100,000, so that every review (IMDB's longest has
# 13,704) is learned from whole whatever ``max_length`` says.
MAX_CHARS_PER_TOKEN = 64
MIN_KEPT_CHARS = 100_000
FIRST_CHARS_PER_TOKEN = 16  # encoding first cuts this short, and twice as long again while too few tokens fit
BOUNDARY_WINDOW = 4_096  # how far from a cut a whitespace is looked for before cutting longer
# Unicode's White_Space characters: the pre-tokenizer splits at each of them, before and after NFKC and
# lowercasing, and none combines with what comes before or after it, so the tokens on either side of one
# don't depend on the other side (checked for every one of them in tests/test_hostile_text.py).
_WHITESPACE = re.compile("[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


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
    offsets: list[np.ndarray] | None  # per text (length, 2) int64 [start, end) char offsets into the whole text
    tokens: list[list[str]] | None  # per text token strings
    # per text, the word index of each token (subwords share one); a long text cut on the left counts its
    # words from the cut
    word_ids: list[list[int]] | None


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


# What the app writes around the vocabulary, compared with a model file's own (from_json). Truncation is not
# among them: it holds no ids or patterns, and the config's max_length and side replace it.
_STEPS = {"normalizer": "normalizer", "pre_tokenizer": "pre-tokenizer", "post_processor": "post-processor",
          "decoder": "decoder", "padding": "padding"}


@lru_cache(maxsize=32)
def _app_steps(kind: str, lowercase: bool, normalization: str) -> dict[str, object]:
    """The pipeline ``_set_pipeline`` makes for these settings, as ``tokenizers`` writes it to JSON."""
    tok = Tokenizer(models.WordLevel({PAD: PAD_ID, UNK: UNK_ID}, unk_token=UNK))
    _set_pipeline(tok, TokenizerConfig(kind=kind, lowercase=lowercase, unicode_normalization=normalization))
    spec = json.loads(tok.to_str())
    return {key: spec.get(key) for key in _STEPS}


def _step_name(step: object) -> str:
    if step is None:
        return "none"
    kind = step.get("type") if isinstance(step, dict) else None
    if kind == "Sequence":
        inner = next((v for v in step.values() if isinstance(v, list)), [])
        return "a sequence of " + ", ".join(_step_name(s) for s in inner[:4]) + (", ..." if len(inner) > 4 else "")
    return _short(kind) if isinstance(kind, str) else "one of its own"


def kept_chars(config: TokenizerConfig) -> int:
    """The most characters of one text the tokenizer sees, on the kept side (see the module docstring)."""
    return max(MAX_CHARS_PER_TOKEN * config.max_length, MIN_KEPT_CHARS)


def _cut(text: str, chars: int, side: str, hard: bool) -> tuple[str, int] | None:
    """``text`` cut to at most ``chars`` characters on its kept side (``side``, as ``truncation_side``), at a
    whitespace within ``BOUNDARY_WINDOW`` of the cut, and where the part kept starts in ``text``. The text
    itself when it is that short; None when no whitespace is near, or (``hard``) cut exactly there."""
    n = len(text)
    if n <= chars:
        return text, 0
    if side == "right":  # keep text[:p], where text[p] is a whitespace
        low = max(0, chars - BOUNDARY_WINDOW)
        found = _WHITESPACE.search(text[low : chars + 1][::-1])
        if found is not None:
            return text[: chars - found.start()], 0
        return (text[:chars], 0) if hard else None
    low = n - chars - 1  # keep text[p + 1:], where text[p] is a whitespace
    found = _WHITESPACE.search(text, low, min(n, low + BOUNDARY_WINDOW))
    if found is not None:
        return text[found.start() + 1 :], found.start() + 1
    return (text[n - chars :], n - chars) if hard else None


def _valid_utf8(text: str) -> str:
    """A lone surrogate (e.g. from a file name or argv decoded with surrogateescape) makes the Rust side
    raise a bare TypeError; U+FFFD keeps the length, so offsets still index the given text."""
    return text if text.isascii() or _utf8_ok(text) else _SURROGATES.sub("\ufffd", text)


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
        """Learn the vocabulary from ``texts`` (the training split only, to keep test data unseen), each
        cut to its first or last ``kept_chars`` characters (the side ``truncation_side`` keeps)."""
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
        limit = kept_chars(config)
        kept = (_cut(text, limit, config.truncation_side, hard=True)[0] for text in texts)
        tok.train_from_iterator(kept, trainer=trainer, length=len(texts))
        if tok.token_to_id(PAD) != PAD_ID or tok.token_to_id(UNK) != UNK_ID:
            raise AssertionError("special tokens must come first in the vocabulary")
        return cls(tok, config)

    def to_json(self) -> str:
        return self._tok.to_str()

    @classmethod
    def from_json(cls, text: str, config: TokenizerConfig) -> TextTokenizer:
        """A tokenizer saved by ``to_json``, checked as if freshly trained (raises ``StudioError``).

        Only the vocabulary is taken from the file, and the steps around it (normalizer, pre-tokenizer,
        post-processor, decoder, padding) must be the ones the app writes for ``config``: anything else
        (a pattern of the file's own, a post-processor or padding naming an id) is refused, as a weight
        that doesn't fit is; they are then rebuilt from ``config`` all the same. Every id the tokenizer can
        give is one of the vocabulary's.
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
        for key, wanted in _app_steps(config.kind, config.lowercase, config.unicode_normalization).items():
            if spec.get(key) != wanted:
                raise StudioError(f"its {_STEPS[key]} is {_step_name(spec.get(key))} where its settings make "
                                  f"{_step_name(wanted)}: a model file may hold only the steps the app writes")
        extra = [token for token in added if token not in SPECIAL_TOKENS]
        if extra:
            raise StudioError(f"the tokenizer adds tokens of its own ({_short(extra[0])}); only {PAD} and {UNK} are "
                              "allowed")
        size = len(vocab)
        if vocab.get(PAD) != PAD_ID or vocab.get(UNK) != UNK_ID:
            raise StudioError(f"the tokenizer's special tokens are not {PAD}={PAD_ID} and {UNK}={UNK_ID}")
        if sorted(vocab.values()) != list(range(size)):
            raise StudioError(f"the tokenizer's token ids are not the numbers 0 to {size - 1}")
        for token in spec.get("added_tokens") or []:  # dicts with a "content": read above
            content, given = token["content"], token.get("id")
            if type(given) is not int or given != vocab[content]:
                said = given if type(given) is int else _short(given)
                raise StudioError(f"the tokenizer gives {content} the id {said}, where its vocabulary says "
                                  f"{vocab[content]}")
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
        """Encode many texts at once (in parallel, in Rust), each cut on its kept side first.

        ``details=False`` skips offsets, token strings and word ids: training needs ids only, and
        building millions of Python tuples would cost more than the tokenization itself.
        """
        encodings, parts, starts = self._encode_kept(texts, details)
        ids, offsets, tokens, word_ids = [], [], [], []
        for enc, part, start in zip(encodings, parts, starts, strict=True):
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
                    offs = _widen_over_composed(part, offs)
                offsets.append(offs + start)
                tokens.append(list(enc.tokens))
                word_ids.append([-1 if w is None else w for w in enc.word_ids])
            ids.append(a)
        lengths = np.fromiter((len(a) for a in ids), dtype=np.int64, count=len(ids))
        if not details:
            return Encoded(ids, lengths, None, None, None)
        return Encoded(ids, lengths, offsets, tokens, word_ids)

    def _encode_kept(self, texts: Sequence[str], details: bool) -> tuple[list, list[str], list[int]]:
        """Each text's encoding, of the part of it the tokenizer saw, that part and where it starts.

        A text is cut to ``FIRST_CHARS_PER_TOKEN`` characters a kept token at first; one whose part gave
        fewer than ``max_length`` tokens (long words, runs of spaces) is cut again twice as long, up to
        ``kept_chars``, so the tokens kept are those of the whole text."""
        config = self.config
        texts = texts if isinstance(texts, list) else list(texts)  # read once (texts on disk: by batches)
        limit = kept_chars(config)
        chars = min(FIRST_CHARS_PER_TOKEN * config.max_length, limit)
        encodings: list = [None] * len(texts)
        parts, starts = [""] * len(texts), [0] * len(texts)
        pending = list(range(len(texts)))
        while pending:
            hard = chars >= limit
            batch, later = [], []
            for i in pending:
                cut = _cut(texts[i], chars, config.truncation_side, hard)
                if cut is None:  # no whitespace near the cut: cut longer
                    later.append(i)
                    continue
                parts[i], starts[i] = _valid_utf8(cut[0]), cut[1]
                batch.append(i)
            with rust_errors("tokenizing"):
                chunk = [parts[i] for i in batch]
                done = self._tok.encode_batch(chunk) if details else self._tok.encode_batch_fast(chunk)
            for i, enc in zip(batch, done, strict=True):
                if not hard and len(enc.ids) < config.max_length and len(parts[i]) < len(texts[i]):
                    later.append(i)  # the cut part holds too few tokens to be sure of them: cut longer
                else:
                    encodings[i] = enc
            pending, chars = later, min(2 * chars, limit)
        return encodings, parts, starts

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
