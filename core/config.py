"""Every knob, with its default and why: the configs of the data, tokenizer, model, training and attributions.

Each user-facing field is a ``setting()`` (``core.settings``): its label, help, range and choices are
written once here, and the Train screen's form, the command line's flags, the sweep keys, the model
card and the run store are all generated from them. Each config checks its own values when built
(``check_settings``), so every face is refused the same values in the same words. Nothing here imports
torch: reading or building a config is instant, for the window and the command line alike.
"""

from __future__ import annotations

import dataclasses
import numbers
import re
from dataclasses import dataclass
from typing import Any, Literal, Self

from core.errors import SettingError, StudioError
from core.settings import check_settings, setting

CellKind = Literal["rnn", "gru", "lstm"]
Pooling = Literal["last", "mean", "max"]
CELL_KINDS: tuple[CellKind, ...] = ("lstm", "gru", "rnn")
POOLINGS: tuple[Pooling, ...] = ("mean", "max", "last")
MAX_PARAMETERS = 500_000_000  # 2 GB of float32 weights, about 8 GB while training with Adam
# Embedding size 0 (the default) means "the word vectors' size", and this without vectors: a model's config
# always holds the size it was built with (core.text.embedding.sized_for_vectors settles it before training)
EMBED_DIM_WITHOUT_VECTORS = 128
MAX_EMBED_DIM = 2048
CELL_DESCRIPTIONS: dict[str, str] = {  # what each kind is, for a person choosing one
    "lstm": "Long short-term memory: input, forget and output gates decide what the cell keeps, so it can "
    "carry one word across a long gap.",
    "rnn": "Plain (Elman, tanh) recurrent network: the baseline without gates, which forgets over long gaps.",
    "gru": "Gated recurrent unit: LSTM-like memory with two gates and fewer parameters.",
}
TokenizerKind = Literal["word", "bpe", "wordpiece"]
TOKENIZER_KINDS: tuple[TokenizerKind, ...] = ("word", "bpe", "wordpiece")
DEVICES = ("auto", "cpu", "cuda", "mps")
_DEVICE_RE = re.compile(r"auto|cpu|mps(:0)?|cuda(:\d{1,2})?")
Method = Literal["ig", "occlusion"]
METHODS: tuple[Method, ...] = ("ig", "occlusion")
METHOD_NAMES = {"ig": "Integrated Gradients", "occlusion": "Leave one word out"}


@dataclass
class Config:
    """What every config shares: it checks its settings when built, and goes to and from a plain dict (the
    model file's JSON, the run store's settings) ignoring keys it does not know (a newer file's)."""

    def __post_init__(self) -> None:
        check_settings(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Self:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class DataConfig(Config):
    split_seed: int = setting(
        0, "Split seed", "Seeds which training rows are carved out as validation and test rows when the data has "
        "no such split, apart from the training seed: models trained with different seeds are tested on the same "
        "rows. A model file records it, and evaluating redoes the same carve.", range=(0, 2**31 - 1, 1))
    validation_fraction: float = setting(
        0.1, "Validation share", "Share of the training rows carved out for validation when the data has no "
        "validation split: enough rows to choose the best epoch on.", range=(0.0, 0.5, 0.05))
    test_fraction: float = setting(
        0.1, "Test share", "Share of the training rows carved out for testing when the data has no test split.",
        range=(0.0, 0.5, 0.05))

    def __post_init__(self) -> None:
        super().__post_init__()
        check_carve(self.validation_fraction, self.test_fraction)


MIN_TRAIN_SHARE = 0.1  # what carving the validation and test rows must leave for training


def check_carve(validation_fraction: float, test_fraction: float) -> None:
    """Refuse shares that would leave too little to train on (``DataConfig``, and ``load_dataset`` for any
    shares it is given, a model file's record among them)."""
    if validation_fraction + test_fraction >= 1 - MIN_TRAIN_SHARE:
        raise SettingError(f"the validation and test shares together must leave at least {MIN_TRAIN_SHARE:.0%} for "
                           "training", "test_fraction")


@dataclass
class ModelConfig(Config):
    kind: CellKind = setting(
        "lstm", "Model", "Recurrent cell: lstm (gates keep a cell state), gru (two gates) or rnn (plain tanh, no "
        "gates: the baseline that forgets over long gaps).", choices=CELL_KINDS, flag="--model")
    vocab_size: int = 30_000  # set from the trained tokenizer
    num_classes: int = 2  # set from the dataset
    embed_dim: int = setting(
        0, "Embedding size", "Length of each word's vector; 0, the default, follows the word vectors' size, and is "
        f"{EMBED_DIM_WITHOUT_VECTORS} without vectors. {EMBED_DIM_WITHOUT_VECTORS} is large enough for sentence "
        "sentiment; bigger mostly adds parameters. A size given with word vectors keeps them in its first dimensions "
        "and random values in the rest (a smaller one is refused).", range=(0, MAX_EMBED_DIM, 16),
        special="auto")
    hidden_size: int = setting(
        128, "Hidden size", "Units in the recurrent state, per direction: how much the model can hold in memory. A "
        "middle size that trains in minutes on CPU.", range=(1, 2048, 16))
    num_layers: int = setting(
        1, "Layers", "Recurrent layers stacked on each other. One layer is enough for sentence sentiment and twice "
        "as fast as two.", range=(1, 8, 1), flag="--layers")
    bidirectional: bool = setting(
        True, "Bidirectional", "Also read each text right to left and join both readings. On by default for "
        "accuracy; turn it off (with last pooling) to see how far each cell carries a word.")
    dropout: float = setting(
        0.5, "Dropout", "Share of units zeroed at random while training (embeddings, between layers, before the "
        "output). Strong regularisation, because sentence datasets are small for these models.",
        range=(0.0, 0.95, 0.05))
    pooling: Pooling = setting(
        "mean", "Pooling", "How the states over the text become one vector: the mean or max over time, or the last "
        "state. Mean scored best on SST-2 and is robust for long texts; last makes the cell carry the text.",
        choices=POOLINGS)
    word_dropout: float = setting(
        0.2, "Word dropout", "Share of words replaced by [UNK] while training, so the model learns to cope with "
        "words it has not seen. Worth about 1.5 points of SST-2 accuracy.", range=(0.0, 0.9, 0.05))
    pad_id: int = 0
    unk_id: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("vocab_size", "num_classes", "pad_id", "unk_id"):
            value = getattr(self, name)
            if isinstance(value, numbers.Integral) and not isinstance(value, bool):
                value = int(value)
                object.__setattr__(self, name, value)
            if type(value) is not int or not 0 <= value <= 100_000_000:
                raise StudioError(f"{name.replace('_', ' ')} must be a whole number, not {value!r}"[:120])
        if self.vocab_size < 2 or not (self.pad_id < self.vocab_size and self.unk_id < self.vocab_size):
            raise StudioError(f"a vocabulary of {self.vocab_size} tokens cannot hold [PAD] and [UNK]")
        if self.num_classes < 2:
            raise StudioError(f"a classifier needs at least 2 classes, not {self.num_classes}")
        n, embed = self.num_parameters(), self.embed_dim or EMBED_DIM_WITHOUT_VECTORS
        if n > MAX_PARAMETERS:
            raise StudioError(
                f"this model would have {n / 1e6:,.0f} million parameters; the most is {MAX_PARAMETERS / 1e6:,.0f} "
                f"million (vocabulary {self.vocab_size:,} x embedding {embed}, {self.num_layers} layer(s) "
                f"of {self.hidden_size}): lower the embedding size, hidden size, layers or vocabulary size"
            )

    def num_parameters(self) -> int:
        """The number of weights, computed without building anything (to refuse a model too big first)."""
        gates = {"rnn": 1, "gru": 3, "lstm": 4}[self.kind]
        h, dirs = self.hidden_size, self.num_directions
        embed = self.embed_dim or EMBED_DIM_WITHOUT_VECTORS  # 0: not settled yet (see embed_dim)
        n = self.vocab_size * embed
        for layer in range(self.num_layers):
            inputs = embed if layer == 0 else h * dirs
            n += dirs * gates * h * (inputs + h + 2)
        return n + h * dirs * self.num_classes + self.num_classes

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1


@dataclass
class TokenizerConfig(Config):
    kind: TokenizerKind = setting(
        "word", "Tokenizer", "How text is split: whole words, or BPE / WordPiece subwords. Words make the most "
        "readable heatmap columns; subwords handle rare and misspelled words.", choices=TOKENIZER_KINDS,
        flag="--tokenizer")
    vocab_size: int = setting(
        30_000, "Vocabulary size", "Most distinct tokens kept; rarer ones become [UNK]. An upper bound that "
        "sentence datasets rarely reach, so every word keeps its own vector.", range=(10, 1_000_000, 1000))
    min_frequency: int = setting(
        1, "Min frequency", "Times a token must occur in the training texts to enter the vocabulary. 1 keeps "
        "rare words: most sentiment words are rare (Kim 2014 keeps all).", range=(1, 1000, 1))
    lowercase: bool = setting(
        True, "Lowercase", "Fold case before tokenizing, so Great and great share one vector. Sentence datasets "
        "are too small to learn both.")
    unicode_normalization: Literal["nfkc", "none"] = setting(
        "nfkc", "Unicode normalization", "nfkc folds full-width forms, ligatures and composed accents into one "
        "spelling; none keeps the text as typed.", choices=("nfkc", "none"))
    max_length: int = setting(
        400, "Max length (tokens)", "Tokens kept per text; the rest is cut off. Covers nearly all of a typical "
        "review (IMDB's median is about 230 words) while bounding memory.", range=(1, 100_000, 50))
    truncation_side: Literal["right", "left"] = setting(
        "right", "Truncation side", "Which end of a long text is cut: right keeps the beginning, left keeps the "
        "end (where reviews often sum up).", choices=("right", "left"))


@dataclass
class TrainConfig(Config):
    epochs: int = setting(
        12, "Epochs", "Passes over the training split, at most. An upper bound: early stopping usually ends sooner "
        "(the longest runs, IMDB and SUBJ LSTM, gained under 0.1 point of validation accuracy from epochs 13-15).",
        range=(1, 1000, 1))
    batch_size: int = setting(
        32, "Batch size", "Texts per optimisation step. Small batches generalise better on sentence data and are "
        "fast on CPU; raise it on a GPU.", range=(1, 8192, 8))
    learning_rate: float = setting(
        2e-3, "Learning rate", "The learning rate, AdamW's step size. A rate that trains small recurrent "
        "classifiers quickly and stably; it is decayed when validation stops improving.",
        range=(1e-6, 1.0, 0.0), log_scale=True, flag="--lr")
    weight_decay: float = setting(
        1e-4, "Weight decay", "AdamW's decoupled weight decay, pulling weights towards zero. A mild regulariser "
        "beside dropout.", range=(0.0, 1.0, 0.0), log_scale=True)
    grad_clip: float = setting(
        5.0, "Gradient clip", "Largest global gradient norm allowed; a bigger step is scaled down to it. Protects "
        "plain RNNs from exploding gradients without touching normal steps.", range=(0.01, 1e6, 0.5))
    patience: int = setting(
        3, "Patience (epochs)", "Epochs without a better validation accuracy before training stops and the best "
        "weights are restored. Gives the decayed learning rate a chance before giving up.", range=(1, 1000, 1))
    lr_decay: float = setting(
        0.5, "LR decay on plateau", "Multiply the learning rate by this whenever an epoch brings no validation "
        "improvement: smaller steps often find a better minimum.", range=(0.05, 1.0, 0.05))
    seed: int = setting(
        0, "Seed", "Seeds the initial weights, dropout and batch order: the same seed and settings give the same "
        "model. It does not change the data (see the split seed).", range=(0, 2**31 - 1, 1))
    device: str = setting(
        "auto", "Device", "Where to train: auto picks a CUDA GPU, then Apple's MPS, then the CPU (cuda:1 picks a "
        "GPU).", choices=DEVICES, open_choices=True)
    vectors: str = setting(
        "", "Word vectors", "A pretrained word vectors file whose rows start the embedding of the vocabulary's words "
        "(GloVe or fastText text, also .gz or .zip; word2vec .bin; a .npy matrix with its words beside it). Empty: "
        "learned from scratch. The embedding size follows the vectors while Embedding size is left at 0, its default; "
        "a larger size keeps the vectors in the first dimensions and random values in the rest.",
        path="Word vectors (*.txt *.vec *.gz *.zip *.bin *.npy);;All files (*)")
    freeze_vectors: bool = setting(
        False, "Freeze vectors", "Keep the pretrained rows fixed while training (Kim's CNN-static). Off, the "
        "default, fine-tunes them, which scored higher on validation here (see docs/results.md).")
    vectors_words: int = setting(
        100_000, "Words from vectors", "After training, the vectors file's most frequent words (up to this many) "
        "that the training texts lack join the vocabulary, their vectors mapped into the trained embedding "
        "(Kiros et al. 2015), so a word never seen in training still counts. Kept only where validation accuracy "
        "does not drop. Each word adds a row to the model file: 100,000 words of 50-d vectors add 20 MB, of 300-d "
        "120 MB. 0: off. Whole-word tokenizer only.",
        range=(0, 2_000_000, 10_000))
    max_steps: int = setting(
        0, "Max steps", "Stop after this many optimizer steps (then validate, test and save as usual), wherever "
        "the epoch is: for smoke tests and quick checks. 0: no limit (Epochs decides).", range=(0, 10**9, 100))
    eval_batch_size: int = 256  # inference only: larger is faster and changes no result

    def __post_init__(self) -> None:
        super().__post_init__()
        if not _DEVICE_RE.fullmatch(self.device.strip().lower()):
            raise SettingError(f"Device (--device) must be auto, cpu, cuda, cuda:N or mps, not {self.device[:40]!r}",
                               "device")
        if type(self.eval_batch_size) is not int or not 1 <= self.eval_batch_size <= 65536:
            raise SettingError(f"eval batch size must be a whole number from 1 to 65536, not {self.eval_batch_size!r}",
                               "eval_batch_size")
        if self.freeze_vectors and not self.vectors.strip():
            raise SettingError("Freeze vectors (--freeze-vectors) keeps pretrained word vectors fixed, but no vectors "
                               "file (--vectors) is given: give one, or leave freezing off", "freeze_vectors")


@dataclass
class ExplainConfig(Config):
    method: Method = setting(
        "ig", "Attribution method", "How each word's share of the decision is measured: ig (Integrated Gradients "
        "on the embeddings, from padding to the text) or occlusion (the change when the word is left out).",
        choices=METHODS)
    steps: int = setting(
        32, "IG steps", "Points on the path from padding to the text that Integrated Gradients averages "
        "gradients over. 32 follows typing (40 ms for 40 words on 2 cores); the completeness error shown with "
        "each result says when a text needs more, which are slower and closer.",
        range=(2, 1024, 8))


@dataclass
class IntervalConfig(Config):
    """How the uncertainty of a score is measured (``core.uncertainty``): Compare, ``compare``, ``evaluate``."""

    resamples: int = setting(
        10_000, "Bootstrap resamples", "Resamples of the test rows behind each 95% interval and paired difference. "
        "10,000 keeps an interval's ends within about 0.1 points from one seed to another and takes well under a "
        "second for three models on SST-2's test set; fewer are faster and rougher.", range=(100, 1_000_000, 1000))
    seed: int = setting(
        0, "Bootstrap seed", "Seeds the resampling: the same seed gives the same intervals.",
        range=(0, 2**31 - 1, 1))


MAX_REPEATS = 100  # seeds or folds of one group: more is surely a typo (each is a whole training run)


@dataclass
class RepeatConfig(Config):
    """Training one setting several times, so its score comes with its spread (``core.uncertainty``)."""

    repeat: int = setting(
        1, "Repeat with seeds", "Train each model this many times, with the seed and the ones after it (0, 1, 2 for "
        "3 from seed 0): the runs are kept as one group and shown as mean ± sd, because one seed alone moves SST-2 "
        "accuracy by about a point. Two groups on the same seeds get a paired test.",
        range=(1, MAX_REPEATS, 1))
    folds: int = setting(
        0, "Folds", "Cross-validation for data without a test split of its own: K models, each tested on its own "
        "fold (stratified by class, seeded by the split seed) and trained on the rest, as the papers report MR, "
        "SUBJ and MPQA (10 folds). 0 is off: one model, tested on the carved test share.",
        range=(0, MAX_REPEATS, 1), special="off")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.folds == 1:
            raise SettingError("folds: 1 fold tests on the rows it trains on; give 2 or more (10, as the papers), "
                               "or 0 for none", "folds")
        if self.folds and self.repeat > 1:
            raise SettingError("repeat with seeds or folds, not both: each fold is one run", "repeat")
