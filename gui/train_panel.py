"""The Train screen: choose models and hyperparameters, train them side by side, watch the curves.

All the work (the shared tokenizer, then each model in turn) runs in ONE ``Task`` whose generator,
``train_models``, tags every core event with the model it is about. The GUI thread only appends
to plot buffers and updates a label from a timer, so the window stays responsive however fast the
trainer reports. Finished models go into the ``Session`` as they complete, so a cancel keeps them.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QKeySequence, QPixmap, QShortcut, QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.data import TextDataset
from core.errors import StudioError
from core.models import CELL_KINDS, POOLINGS, ModelConfig
from core.pipeline import train_model
from core.sentiment_model import SentimentModel
from core.tokenizer import TextTokenizer, TokenizerConfig
from core.trainer import EpochEvent, Event, FinishedEvent, PhaseEvent, StepEvent, TrainConfig, TrainControl
from gui.session import Session
from gui.theme import model_color
from gui.training_plots import TrainingPlots
from gui.worker import Task, error_message

KIND_ORDER = ("lstm", "rnn", "gru")  # the order of the check boxes and of training
DEFAULT_KINDS = ("lstm", "rnn")  # the comparison the app is about; GRU is one tick away
DEVICES = ("auto", "cpu", "cuda", "mps")
TOKENIZER_KINDS = ("word", "bpe", "wordpiece")
assert set(KIND_ORDER) == set(CELL_KINDS)


# --- the worker side: plain Python, no Qt --------------------------------------------------------------
@dataclass
class ModelEvent:
    """A core event tagged with the model it is about (``name`` is "" for shared work, e.g. the tokenizer)."""

    name: str
    kind: str
    event: Event


@dataclass
class ModelDone:
    """A model finished training; the GUI thread adds it to the session."""

    name: str
    model: SentimentModel


def checkpoint_file(folder: Path, name: str, stamp: str) -> Path:
    """``<folder>/<name>-<stamp>.safetensors`` with the name made safe for any file system."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "model"
    return folder / f"{safe}-{stamp}.safetensors"


def train_models(
    dataset: TextDataset,
    plan: list[tuple[str, ModelConfig]],
    train_config: TrainConfig,
    tokenizer_config: TokenizerConfig,
    control: TrainControl,
    checkpoint_dir: Path | None = None,
) -> Generator[ModelEvent | ModelDone, None, list[str]]:
    """Train each ``(name, config)`` in turn on one shared tokenizer; returns the names finished.

    One vocabulary for all models means any difference between them is the cell's. A model that a
    cancel interrupted is dropped (it is half-trained); the ones finished before it are kept.
    With ``checkpoint_dir``, each model keeps its best epoch there while it trains (see
    ``core.pipeline``); a crash leaves the file for the app to offer on its next start.
    """
    yield ModelEvent("", "", PhaseEvent("tokenizer", f"learning a vocabulary from {len(dataset['train']):,} texts"))
    tokenizer = TextTokenizer.train(dataset["train"].texts, tokenizer_config)
    done: list[str] = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name, config in plan:
        if control.cancelled:
            break
        checkpoint = checkpoint_file(checkpoint_dir, name, stamp) if checkpoint_dir is not None else None
        events = train_model(
            dataset, config, train_config, tokenizer_config, tokenizer=tokenizer, control=control, name=name,
            checkpoint_path=checkpoint,
        )
        while True:
            try:
                event = next(events)
            except StopIteration as stop:
                model = stop.value
                break
            yield ModelEvent(name, config.kind, event)
        if control.cancelled:
            break
        yield ModelDone(name, model)
        done.append(name)
    return done


def estimate_left_s(
    step: StepEvent, models_after: int, paused_s: float = 0.0, later_per_step: float | None = None
) -> float:
    """Seconds left: this model's rate so far (pauses excluded) for its remaining steps, plus a whole
    run for each model still to come at ``later_per_step`` (default: this rate). An upper bound when
    early stopping ends a model sooner."""
    per_step = max(step.elapsed_s - paused_s, 0.0) / max(step.global_step, 1)
    later = per_step if later_per_step is None else later_per_step
    return per_step * (step.total_steps - step.global_step) + later * step.total_steps * models_after


def format_duration(seconds: float) -> str:
    """``0:42``, ``12:05``, ``1:02:03``."""
    s = round(max(seconds, 0.0))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# --- form widgets --------------------------------------------------------------------------------------
class ScientificSpinBox(QDoubleSpinBox):
    """For rates that span decades: shows ``0.002`` or ``1e-05`` and steps 1-2-5 per decade."""

    def __init__(self, minimum: float, maximum: float, floor: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._floor = floor  # the smallest positive value a step up from 0 goes to
        self.setDecimals(10)
        self.setRange(minimum, maximum)

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        try:
            value = float(text)
        except ValueError:
            ok = re.fullmatch(r"[0-9.eE+-]*", text) is not None
            return (QValidator.State.Intermediate if ok else QValidator.State.Invalid), text, pos
        inside = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if inside else QValidator.State.Intermediate), text, pos

    def fixup(self, text: str) -> str:
        return self.textFromValue(self.value())

    def stepBy(self, steps: int) -> None:
        value = self.value()
        for _ in range(abs(steps)):
            value = _step_125(value, up=steps > 0, floor=self._floor, minimum=self.minimum())
        self.setValue(min(max(value, self.minimum()), self.maximum()))


def _step_125(value: float, *, up: bool, floor: float, minimum: float) -> float:
    """The next value of the 1, 2, 5, 10, 20... ladder above or below ``value``."""
    if value <= 0:
        return floor if up else minimum
    e = math.floor(math.log10(value))
    if up:
        return next(m * 10.0**e for m in (1, 2, 5, 10, 20) if m * 10.0**e > value * (1 + 1e-9))
    below = [m * 10.0**e for m in (0.5, 1, 2, 5) if m * 10.0**e < value * (1 - 1e-9)]
    return below[-1] if below[-1] >= floor else minimum


def _widget_value(w: QWidget) -> Any:
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, QComboBox):
        return w.currentText()
    if isinstance(w, QSpinBox):
        return w.value()
    if isinstance(w, QDoubleSpinBox):
        return float(w.value())
    raise TypeError(type(w))


def _set_widget_value(w: QWidget, value: Any) -> None:
    """Set a form widget from a value that may have come back from QSettings as a string."""
    if isinstance(w, QCheckBox):
        w.setChecked(value.strip().lower() in ("1", "true", "yes", "on") if isinstance(value, str) else bool(value))
    elif isinstance(w, QComboBox):
        index = w.findText(str(value))
        if index >= 0:
            w.setCurrentIndex(index)
    elif isinstance(w, QSpinBox):
        w.setValue(int(float(value)))
    elif isinstance(w, QDoubleSpinBox):
        w.setValue(float(value))


def _swatch(color: str) -> QIcon:
    """A square of a model's colour, kept in colour while the form is disabled during training."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(color))
    icon = QIcon()
    for mode in (QIcon.Mode.Normal, QIcon.Mode.Disabled):
        icon.addPixmap(pixmap, mode)
    return icon


# What each input does and why its default; the default itself is appended from the dataclass.
KIND_TIPS = {
    "lstm": "Long short-term memory: input, forget and output gates decide what the cell keeps, so it can "
    "carry one word across a long gap. Ticked by default.",
    "rnn": "Plain (Elman, tanh) recurrent network: the baseline without gates, which forgets over long gaps. "
    "Ticked by default, to compare against the LSTM.",
    "gru": "Gated recurrent unit: LSTM-like memory with two gates and fewer parameters. Optional: tick it for "
    "a three-way comparison (training takes longer).",
}
TIPS: dict[tuple[str, str], str] = {
    ("model", "embed_dim"): "Length of each word's vector, learned from scratch (no pretrained vectors). "
    "Large enough for sentence sentiment; bigger mostly adds parameters.",
    ("model", "hidden_size"): "Units in the recurrent state, per direction: how much the model can hold in "
    "memory. A middle size that trains in minutes on CPU.",
    ("model", "num_layers"): "Recurrent layers stacked on each other. One layer is enough for sentence "
    "sentiment and twice as fast as two.",
    ("model", "bidirectional"): "Also read each text right to left and join both readings. On by default for "
    "accuracy; turn it off (with 'last' pooling) to see how far each cell carries a word.",
    ("model", "dropout"): "Share of units zeroed at random while training (embeddings, between layers, before "
    "the output). Strong regularisation, because sentence datasets are small for these models.",
    ("model", "pooling"): "How the states over the text become one vector: the mean or max over time, or the "
    "last state. Mean scored best on SST-2 and is robust for long texts; 'last' tests the cell's memory.",
    ("model", "word_dropout"): "Share of words replaced by [UNK] while training, so the model learns to cope "
    "with words it has not seen. Worth about 1.5 points of SST-2 accuracy.",
    ("tokenizer", "kind"): "How text is split: whole words, or BPE / WordPiece subwords. Words make the most "
    "readable heatmap columns; subwords handle rare and misspelled words.",
    ("tokenizer", "vocab_size"): "Most distinct tokens kept; rarer ones become [UNK]. An upper bound that "
    "sentence datasets rarely reach, so every word keeps its own vector.",
    ("tokenizer", "max_length"): "Tokens kept per text; the rest is cut off. Covers nearly all of a typical "
    "review (IMDB's median is about 230 words) while bounding memory.",
    ("train", "epochs"): "Passes over the training split, at most. An upper bound: early stopping (patience) "
    "usually ends sooner.",
    ("train", "batch_size"): "Texts per optimisation step. Small batches generalise better on sentence data and "
    "are fast on CPU; raise it on a GPU.",
    ("train", "learning_rate"): "AdamW's step size. A rate that trains small recurrent classifiers quickly and "
    "stably; it is halved when validation stops improving.",
    ("train", "weight_decay"): "AdamW's decoupled weight decay, pulling weights towards zero. A mild "
    "regulariser beside dropout.",
    ("train", "grad_clip"): "Largest gradient norm allowed; a bigger step is scaled down to it. Protects plain "
    "RNNs from exploding gradients without touching normal steps.",
    ("train", "patience"): "Epochs without a better validation accuracy before training stops and the best "
    "weights are restored. Gives the decayed learning rate a chance before giving up.",
    ("train", "lr_decay"): "Multiply the learning rate by this whenever an epoch brings no validation "
    "improvement: smaller steps often find a better minimum.",
    ("train", "seed"): "Seeds the initial weights, dropout and batch order: the same seed and settings give the "
    "same model, and every model in a run starts from the same seed.",
    ("train", "device"): "Where to train: auto picks a CUDA GPU, then Apple's MPS, then the CPU.",
}
LABELS: dict[tuple[str, str], str] = {
    ("model", "embed_dim"): "Embedding size",
    ("model", "hidden_size"): "Hidden size",
    ("model", "num_layers"): "Layers",
    ("model", "bidirectional"): "Bidirectional",
    ("model", "dropout"): "Dropout",
    ("model", "pooling"): "Pooling",
    ("model", "word_dropout"): "Word dropout",
    ("tokenizer", "kind"): "Tokenizer",
    ("tokenizer", "vocab_size"): "Vocabulary size",
    ("tokenizer", "max_length"): "Max length (tokens)",
    ("train", "epochs"): "Epochs",
    ("train", "batch_size"): "Batch size",
    ("train", "learning_rate"): "Learning rate",
    ("train", "weight_decay"): "Weight decay",
    ("train", "grad_clip"): "Gradient clip",
    ("train", "patience"): "Patience (epochs)",
    ("train", "lr_decay"): "LR decay on plateau",
    ("train", "seed"): "Seed",
    ("train", "device"): "Device",
}
DEFAULTS = {"model": ModelConfig(), "tokenizer": TokenizerConfig(), "train": TrainConfig()}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# (minimum, maximum, step) of each numeric input.
RANGES: dict[str, tuple[float, float, float]] = {
    "embed_dim": (1, 2048, 16),
    "hidden_size": (1, 2048, 16),
    "num_layers": (1, 8, 1),
    "dropout": (0.0, 0.95, 0.05),
    "word_dropout": (0.0, 0.9, 0.05),
    "vocab_size": (100, 1_000_000, 1000),
    "max_length": (1, 100_000, 50),
    "epochs": (1, 1000, 1),
    "batch_size": (1, 8192, 8),
    "grad_clip": (0.1, 1000.0, 0.5),  # a clip of 0 would scale every gradient to nothing
    "patience": (1, 1000, 1),
    "lr_decay": (0.05, 1.0, 0.05),
    "seed": (0, 2**31 - 1, 1),
}
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("model", "pooling"): POOLINGS,
    ("tokenizer", "kind"): TOKENIZER_KINDS,
    ("train", "device"): DEVICES,
}


def _make_input(section: str, key: str) -> QWidget:
    """The widget for one config field, with the dataclass default as its value."""
    w: QWidget
    default = getattr(DEFAULTS[section], key)
    if isinstance(default, bool):
        w = QCheckBox()
    elif (section, key) in CHOICES:
        w = QComboBox()
        w.addItems(list(CHOICES[(section, key)]))
    elif key in ("learning_rate", "weight_decay"):
        w = ScientificSpinBox(1e-6 if key == "learning_rate" else 0.0, 1.0, floor=1e-6)
    elif isinstance(default, float):
        w = QDoubleSpinBox()
        w.setDecimals(2)
        lo, hi, step = RANGES[key]
        w.setRange(lo, hi)
        w.setSingleStep(step)
    else:
        w = QSpinBox()
        lo, hi, step = RANGES[key]
        w.setRange(int(lo), int(hi))
        w.setSingleStep(int(step))
        w.setGroupSeparatorShown(key in ("vocab_size", "max_length"))
    _set_widget_value(w, default)
    w.setToolTip(f"<p>{TIPS[(section, key)]}</p><p>Default: <b>{_shown(default)}</b></p>")
    w.setObjectName(f"{section}.{key}")
    return w


@dataclass
class _Run:
    """What the panel knows about the training in progress."""

    plan: list[tuple[str, str]]  # (name, kind) in training order
    started: float = field(default_factory=time.perf_counter)
    current: int = -1  # index into plan of the model now training
    last_step: StepEvent | None = None
    phase: str = ""
    results: dict[str, float] = field(default_factory=dict)  # name -> best validation accuracy
    added: list[str] = field(default_factory=list)  # names the session gave the finished models
    paused_since: float | None = None
    paused_s: float = 0.0  # paused time within the current model
    per_step_s: list[float] = field(default_factory=list)  # seconds per step of each model trained so far
    cancelling: bool = False


class TrainPanel(QWidget):
    """The Train screen over a ``Session``; see the module docstring."""

    training_started = Signal()
    training_finished = Signal(list)  # the session names of the models trained
    training_cancelled = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._task: Task | None = None
        self._run: _Run | None = None
        self.checkpoint_dir: Path | None = None  # where runs keep their best epoch; None: no checkpoints
        self.kind_boxes: dict[str, QCheckBox] = {}
        self.inputs: dict[tuple[str, str], QWidget] = {}
        self.plots = TrainingPlots(self)
        self._build()
        self._label_timer = QTimer(self)
        self._label_timer.setInterval(100)  # the label and bar follow the trainer ten times a second
        self._label_timer.timeout.connect(self._update_progress)
        session.dataset_changed.connect(self._update_buttons)
        self._update_buttons()

    # --- layout ------------------------------------------------------------------------------------
    def _build(self) -> None:
        form = QWidget()
        column = QVBoxLayout(form)
        column.setContentsMargins(0, 0, 6, 0)

        models = QGroupBox("Models to train")
        row = QHBoxLayout(models)
        for kind in KIND_ORDER:
            box = QCheckBox(kind.upper())
            box.setIcon(_swatch(model_color(kind)))  # the colour of its curves
            box.setChecked(kind in DEFAULT_KINDS)
            box.setToolTip(KIND_TIPS[kind])
            box.setObjectName(f"kind.{kind}")
            box.toggled.connect(self._update_buttons)
            self.kind_boxes[kind] = box
            row.addWidget(box)
        row.addStretch(1)
        column.addWidget(models)

        sections = (
            ("Model", "model", ("embed_dim", "hidden_size", "num_layers", "bidirectional", "dropout",
                                "word_dropout", "pooling")),
            ("Tokenizer", "tokenizer", ("kind", "vocab_size", "max_length")),
            ("Training", "train", ("epochs", "batch_size", "learning_rate", "weight_decay", "grad_clip",
                                   "patience", "lr_decay", "seed", "device")),
        )
        for title, section, keys in sections:
            group = QGroupBox(title)
            layout = QFormLayout(group)
            layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for key in keys:
                w = _make_input(section, key)
                self.inputs[(section, key)] = w
                label = QLabel(LABELS[(section, key)])
                label.setToolTip(w.toolTip())
                label.setBuddy(w)
                layout.addRow(label, w)
            column.addWidget(group)

        labels = form.findChildren(QLabel)
        width = max(label.sizeHint().width() for label in labels)
        for label in labels:
            label.setMinimumWidth(width)  # one label column across the three groups

        self.reset_button = QPushButton("Reset to defaults")
        self.reset_button.setToolTip("Set every model, tokenizer and training choice back to its default.")
        self.reset_button.clicked.connect(self.reset_to_defaults)
        column.addWidget(self.reset_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addStretch(1)
        self._form = form

        scroll = QScrollArea()
        scroll.setWidget(form)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.train_button.setToolTip("Train the ticked models one after another on the loaded dataset (Ctrl+Enter).")
        self.train_button.clicked.connect(self.start_training)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause after the current batch; Resume carries on where it stopped.")
        self.pause_button.clicked.connect(lambda: self.resume() if self.is_paused else self.pause())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the current batch (Esc). Models already finished are kept.")
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        for b in (self.train_button, self.pause_button, self.cancel_button):
            buttons.addWidget(b)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(scroll, 1)
        left_layout.addWidget(self.hint)
        left_layout.addLayout(buttons)

        self.progress_label = QLabel("Ready.")
        self.progress_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%p%")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.progress_label)
        right_layout.addWidget(self.progress_bar)
        right_layout.addWidget(self.plots, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        left.setMinimumWidth(300)
        splitter.setSizes([340, 940])
        layout = QHBoxLayout(self)
        layout.addWidget(splitter)

        # Window-wide, but Qt only fires a shortcut of a visible widget: on another screen of the
        # main window (this one hidden) the keys do nothing here.
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self).activated.connect(self.start_training)
        self._escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)  # enabled only while training
        self._escape.activated.connect(self.cancel)

    # --- settings ----------------------------------------------------------------------------------
    def selected_kinds(self) -> list[str]:
        return [kind for kind in KIND_ORDER if self.kind_boxes[kind].isChecked()]

    def settings_dict(self) -> dict:
        """The form as plain data for QSettings: ``{"models": [kinds], section: {field: value}}``."""
        d: dict[str, Any] = {"models": self.selected_kinds()}
        for (section, key), w in self.inputs.items():
            d.setdefault(section, {})[key] = _widget_value(w)
        return d

    def apply_settings(self, settings: dict) -> None:
        """Fill the form from ``settings_dict()`` output; missing or unreadable entries are left alone."""
        kinds = settings.get("models")
        if isinstance(kinds, str):  # QSettings gives a one-item list back as a string
            kinds = [kinds]
        if isinstance(kinds, list | tuple):
            wanted = {str(k).lower() for k in kinds}
            for kind, box in self.kind_boxes.items():
                box.setChecked(kind in wanted)
        for (section, key), w in self.inputs.items():
            values = settings.get(section)
            if isinstance(values, dict) and key in values:
                try:
                    _set_widget_value(w, values[key])
                except (TypeError, ValueError):
                    pass

    def default_settings(self) -> dict:
        d: dict[str, Any] = {"models": list(DEFAULT_KINDS)}
        for section, key in self.inputs:
            d.setdefault(section, {})[key] = getattr(DEFAULTS[section], key)
        return d

    def reset_to_defaults(self) -> None:
        self.apply_settings(self.default_settings())

    def configs(self) -> tuple[list[ModelConfig], TokenizerConfig, TrainConfig]:
        """The configs the form describes; raises ``StudioError`` for a combination the core rejects."""
        s = self.settings_dict()
        models = [replace(DEFAULTS["model"], kind=kind, **s["model"]) for kind in s["models"]]
        tokenizer = replace(DEFAULTS["tokenizer"], **s["tokenizer"])
        train = replace(DEFAULTS["train"], **s["train"])
        return models, tokenizer, train

    # --- state -------------------------------------------------------------------------------------
    @property
    def is_training(self) -> bool:
        return self._task is not None

    @property
    def is_paused(self) -> bool:
        return self._run is not None and self._run.paused_since is not None

    def _update_buttons(self, *_: object) -> None:
        training = self.is_training
        dataset = self.session.dataset
        can_train = not training and dataset is not None and bool(self.selected_kinds())
        self.train_button.setEnabled(can_train)
        self.pause_button.setEnabled(training and not (self._run and self._run.cancelling))
        self.cancel_button.setEnabled(training and not (self._run and self._run.cancelling))
        self.pause_button.setText("Resume" if self.is_paused else "Pause")
        self._escape.setEnabled(training)
        self._form.setEnabled(not training)
        if dataset is None:
            self.hint.setText("Load a dataset on the Data screen first; then Train is enabled.")
        elif not self.selected_kinds():
            self.hint.setText("Tick at least one model to train.")
        else:
            n = {s: len(dataset[s]) for s in ("train", "validation")}
            self.hint.setText(
                f"Dataset: {dataset.source}\n{n['train']:,} training · {n['validation']:,} validation texts"
            )
        self.train_button.setToolTip(
            self.hint.text() if not can_train and not training else
            "Train the ticked models one after another on the loaded dataset (Ctrl+Enter)."
        )

    # --- actions -----------------------------------------------------------------------------------
    def start_training(self) -> bool:
        """Train the ticked models in one background task; False when it cannot start."""
        dataset = self.session.dataset
        if self.is_training or dataset is None or not self.selected_kinds():
            return False
        try:
            model_configs, tokenizer_config, train_config = self.configs()
        except (StudioError, TypeError, ValueError) as exc:
            QMessageBox.warning(self, "Cannot train", error_message(exc))
            return False
        names = [self.session.unique_name(c.kind.upper()) for c in model_configs]
        plan = list(zip(names, model_configs, strict=True))
        self._run = _Run([(n, c.kind) for n, c in plan])
        self.plots.clear()
        checkpoints = self.checkpoint_dir
        task = Task(
            lambda control: train_models(dataset, plan, train_config, tokenizer_config, control, checkpoints),
            name="training",
        )
        # Each handler checks that the signal is from the task in hand: a cancelled task's late
        # ``ended`` must not touch the training started right after it.
        task.event.connect(lambda item: self._on_event(item) if self._task is task else None)
        task.succeeded.connect(lambda _: self._on_succeeded() if self._task is task else None)
        task.cancelled.connect(lambda: self._on_cancelled() if self._task is task else None)
        task.failed.connect(lambda exc: self._on_failed(exc) if self._task is task else None)
        task.ended.connect(lambda: self._finish("Stopped.") if self._task is task else None)
        self._task = self.session.track(task)
        self.progress_bar.setValue(0)
        self.progress_label.setText("Starting…")
        self._update_buttons()
        self._label_timer.start()
        task.start()
        self.session.status.emit(f"Training {', '.join(names)} on {dataset.source}")
        self.training_started.emit()
        return True

    def pause(self) -> None:
        if self._task is None or self._run is None or self.is_paused or self._run.cancelling:
            return
        self._task.pause()
        self._run.paused_since = time.perf_counter()
        self._update_buttons()
        self._update_progress()

    def resume(self) -> None:
        if self._task is None or self._run is None or not self.is_paused:
            return
        self._task.resume()
        self._run.paused_s += time.perf_counter() - self._run.paused_since
        self._run.paused_since = None
        self._update_buttons()
        self._update_progress()

    def cancel(self) -> None:
        """Ask the trainer to stop at its next batch; ``training_cancelled`` follows."""
        if self._task is None or self._run is None:
            return
        self._run.cancelling = True
        self._run.paused_since = None
        self._task.cancel()  # also wakes a paused run
        self._update_buttons()
        self._update_progress()

    # --- task signals (GUI thread) -----------------------------------------------------------------
    def _on_event(self, item: object) -> None:
        run = self._run
        if run is None:
            return
        if isinstance(item, ModelDone):
            name = self.session.add_model(item.model, item.name)
            run.added.append(name)
            accuracy = run.results.get(item.name)
            shown = f": validation accuracy {accuracy:.1%}" if accuracy is not None else ""
            self.session.status.emit(f"{name} trained{shown}")
            return
        if not isinstance(item, ModelEvent):
            return
        event = item.event
        if item.name and (run.current < 0 or run.plan[run.current][0] != item.name):
            if run.last_step is not None:
                run.per_step_s.append(self._per_step(run.last_step, run.paused_s))
            run.current = next(i for i, (n, _) in enumerate(run.plan) if n == item.name)
            run.last_step, run.paused_s = None, 0.0
            self.plots.start_model(item.name, item.kind)
        if isinstance(event, StepEvent):
            self.plots.add_step(item.name, event)
            run.last_step = event
            run.phase = ""
        elif isinstance(event, EpochEvent):
            self.plots.add_epoch(item.name, event)
            run.phase = ""
        elif isinstance(event, PhaseEvent):
            run.phase = event.message
        elif isinstance(event, FinishedEvent) and event.validation is not None:
            run.results[item.name] = event.validation.accuracy

    def _progress_text(self) -> tuple[str, int]:
        """The progress label and the bar's value (per mille of all planned steps)."""
        run = self._run
        if run is None:
            return "Ready.", 0
        n = len(run.plan)
        if run.current < 0:
            return "Preparing: " + (run.phase or "starting…"), 0
        name = run.plan[run.current][0]
        who = f"{name} ({run.current + 1}/{n})" if n > 1 else name
        step = run.last_step
        if step is None:
            return f"{who} · {run.phase or 'starting…'}", int(1000 * run.current / n)
        value = int(1000 * (run.current + step.global_step / max(step.total_steps, 1)) / n)
        where = f"{who} · epoch {step.epoch}/{math.ceil(step.total_steps / step.steps_per_epoch)}" \
                f" · step {step.step}/{step.steps_per_epoch}"
        if run.cancelling:
            return f"Cancelling… {where}", value
        if run.paused_since is not None:
            return f"Paused · {where}", value
        # Models still to come run at the slowest rate seen so far: an LSTM after an RNN takes
        # longer, and a time left that grows is worse than one that shrinks faster than shown.
        per_step = self._per_step(step, run.paused_s)
        left = estimate_left_s(step, n - run.current - 1, run.paused_s, max([per_step, *run.per_step_s]))
        text = f"{where} · {step.tokens_per_s:,.0f} tok/s · {format_duration(left)} left"
        if run.phase:
            text += f" · {run.phase}"
        return text, value

    @staticmethod
    def _per_step(step: StepEvent, paused_s: float) -> float:
        return max(step.elapsed_s - paused_s, 0.0) / max(step.global_step, 1)

    def _update_progress(self) -> None:
        text, value = self._progress_text()
        self.progress_label.setText(text)
        self.progress_bar.setValue(value)

    def _finish(self, message: str, bar: int | None = None) -> list[str]:
        """Back to idle (before any signal, so a handler may start the next training at once)."""
        run = self._run
        self._label_timer.stop()
        self._task = None
        self._run = None
        self.plots.refresh()
        self.progress_label.setText(message)
        if bar is not None:
            self.progress_bar.setValue(bar)
        self._update_buttons()
        return run.added if run is not None else []

    def _summary(self) -> str:
        run = self._run
        if run is None or not run.results:
            return ""
        parts = [f"{name} {acc:.1%}" for name, acc in run.results.items()]
        elapsed = format_duration(time.perf_counter() - run.started)
        return " · ".join(parts) + f" validation accuracy · {elapsed}"

    def _on_succeeded(self) -> None:
        summary = self._summary()
        added = self._finish(f"Finished · {summary}" if summary else "Finished.", bar=1000)
        self.training_finished.emit(list(added))

    def _on_cancelled(self) -> None:
        kept = self._run.added if self._run else []
        text = "Cancelled" + (f" · kept {', '.join(kept)}" if kept else " · no model finished")
        self._finish(text + " · the curves so far stay below.")
        self.session.status.emit("Training cancelled")
        self.training_cancelled.emit()

    def _on_failed(self, exc: object) -> None:
        self._finish("Training failed.")
        self.session.status.emit("Training failed")
        QMessageBox.critical(self, "Training failed", error_message(exc))
