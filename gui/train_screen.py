"""The Train screen: choose models and hyperparameters, train them side by side, watch the curves.

All the work (the shared tokenizer, then each model in turn) runs in one task, ``core.train.pipeline.
train_models``, whose events are tagged with the model they are about. The GUI thread only appends
to plot buffers and updates a label from a timer, so the window stays responsive however fast the
trainer reports. Finished models go into the ``Session`` as they complete, so a cancel keeps them.
The form is built from the config dataclasses (``gui.config_form``); the run's bookkeeping and time
left come from ``core.train.progress``. Repeating with N seeds adds the seeds to the sweep's grid; folds
train through ``core.train.repeats.train_folds``, every fold's models kept as runs, the last fold's in the session.
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.config import ModelConfig, RepeatConfig, TokenizerConfig, TrainConfig
from core.errors import SettingError, StudioError
from core.events import EpochEvent, PhaseEvent, StepEvent
from core.model.events import ModelDone, ModelEvent
from core.settings import shown
from core.train.progress import TrainingProgress
from core.train.repeats import fold_name, folds_refusal, train_folds
from core.train.sweep import Combination, combinations, new_sweep_id, train_grid, with_seeds
from core.train.warmup import import_torch
from gui.config_form import ConfigForm, PathInput
from gui.kind_boxes import DEFAULT_KINDS, KindBoxes
from gui.session import Session
from gui.sweep_field import SweepField
from gui.training_plots import TrainingPlots
from gui.worker import TaskSlot, error_message

SECTIONS = (("model", "Model", ModelConfig), ("tokenizer", "Tokenizer", TokenizerConfig),
            ("train", "Training", TrainConfig), ("repeat", "Seeds and folds", RepeatConfig))


class TrainScreen(QWidget):
    """The Train screen over a ``Session``; see the module docstring."""

    training_started = Signal()
    training_finished = Signal(list)  # the session names of the models trained
    training_cancelled = Signal()
    training_failed = Signal(str)  # the message shown to the user

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.slot = TaskSlot(session.tasks, self)
        self._progress: TrainingProgress | None = None
        self._added: list[str] = []  # names the session gave the models of the current run
        self._kept: set[str] | None = None  # with folds, the last fold's models: the session keeps only those
        self._notes: list[str] = []  # the vectors' coverage and warnings of the current run
        self.checkpoint_dir: Path | None = None  # where runs keep their best epoch; None: no checkpoints
        self.run_store_folder: Path | None = None  # where every run is recorded (core/store/runs.py); None: not kept
        self.forms: dict[str, ConfigForm] = {}
        self.plots = TrainingPlots(self)
        self._build()
        self._label_timer = QTimer(self)
        self._label_timer.setInterval(100)  # the label and bar follow the trainer ten times a second
        self._label_timer.timeout.connect(self._update_progress)
        session.dataset_changed.connect(self._update_buttons)
        self._update_buttons()

    @property
    def vectors_input(self) -> PathInput:
        return self.forms["train"].inputs["vectors"]  # type: ignore[return-value]

    @property
    def inputs(self) -> dict[tuple[str, str], QWidget]:
        """Every form input by (section, field), e.g. ``("train", "epochs")``."""
        return {(section, name): w for section, form in self.forms.items() for name, w in form.inputs.items()}

    # --- layout ------------------------------------------------------------------------------------
    def _build(self) -> None:
        form = QWidget()
        column = QVBoxLayout(form)
        column.setContentsMargins(0, 0, 6, 0)

        self.kinds = KindBoxes()
        self.kind_boxes = self.kinds.boxes
        self.kinds.changed.connect(self._update_buttons)
        column.addWidget(self.kinds)
        for section, title, cls in SECTIONS:
            self.forms[section] = ConfigForm(title, cls, exclude=("kind",) if cls is ModelConfig else ())
            column.addWidget(self.forms[section])
        for w in self.forms["repeat"].inputs.values():
            w.valueChanged.connect(self._update_buttons)
        labels = [label for f in self.forms.values() for label in f.labels]
        width = max(label.sizeHint().width() for label in labels)
        for label in labels:
            label.setMinimumWidth(width)  # one label column across the three groups

        self.sweep = SweepField()
        self.sweep.changed.connect(self._update_buttons)
        self.sweep_edit, self.sweep_label = self.sweep.edit, self.sweep.label
        column.addWidget(self.sweep)

        self.reset_button = QPushButton("Reset to defaults")
        self.reset_button.setToolTip("Set every model, tokenizer and training choice back to its default.")
        self.reset_button.clicked.connect(self.reset_to_defaults)
        column.addWidget(self.reset_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addStretch(1)
        self._form = form

        self.form_scroll = scroll = QScrollArea()
        scroll.setWidget(form)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.train_button.clicked.connect(self.start_training)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause after the current batch; Resume carries on where it stopped.")
        self.pause_button.clicked.connect(lambda: self.resume() if self.is_paused else self.pause())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the current batch (Esc). Models already finished are kept.")
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()  # under Train, whose text says what it trains ("Train 6 runs: 2 models × 3 seeds")
        for b in (self.pause_button, self.cancel_button):
            buttons.addWidget(b)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(scroll, 1)
        left_layout.addWidget(self.hint)
        left_layout.addWidget(self.train_button)
        left_layout.addLayout(buttons)

        self.progress_label = QLabel("Ready.")
        self.progress_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress_label.setWordWrap(True)  # a sweep's summary is long: wrap it, never widen the window
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%p%")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        self.vectors_label = QLabel()  # what the word vectors cover, or a loud warning; hidden without vectors
        self.vectors_label.setWordWrap(True)
        self.vectors_label.hide()
        right_layout.addWidget(self.progress_label)
        right_layout.addWidget(self.progress_bar)
        right_layout.addWidget(self.vectors_label)
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
        return self.kinds.selected()

    def settings_dict(self) -> dict:
        """The form as plain data: ``{"models": [kinds], section: {field: value}, "sweep": text}``."""
        return {"models": self.selected_kinds(), **{s: f.values() for s, f in self.forms.items()},
                "sweep": self.sweep_edit.text(), "recent_vectors": self.vectors_input.recent()}

    def apply_settings(self, settings: dict) -> None:
        """Fill the form from ``settings_dict()`` output; missing or unreadable entries are left alone, except
        the sweep, cleared when missing (a run's settings from the Runs screen are one combination)."""
        kinds = settings.get("models")
        if isinstance(kinds, str):  # an older settings file gave a one-item list back as a string
            kinds = [kinds]
        if isinstance(kinds, list | tuple):
            self.kinds.select(kinds)
        for section, form in self.forms.items():
            values = settings.get(section)
            if isinstance(values, dict):
                form.set_values(values)
        recent = settings.get("recent_vectors")
        if isinstance(recent, list):
            for path in reversed(recent):
                self.vectors_input.remember(str(path))
        sweep = settings.get("sweep", "")  # a run's settings (re-run) are one combination: no sweep
        self.sweep_edit.setText(sweep if isinstance(sweep, str) else "")

    def default_settings(self) -> dict:
        return {"models": list(DEFAULT_KINDS), **{s: f.defaults() for s, f in self.forms.items()}, "sweep": "",
                "recent_vectors": self.vectors_input.recent()}  # a reset keeps the list of files used

    def reset_to_defaults(self) -> None:
        self.apply_settings(self.default_settings())

    def configs(self) -> tuple[list[ModelConfig], TokenizerConfig, TrainConfig]:
        """The configs the form describes; raises ``StudioError`` for a combination the core rejects."""
        s = self.settings_dict()
        models = [ModelConfig(kind=kind, **s["model"]) for kind in s["models"]]
        return models, TokenizerConfig(**s["tokenizer"]), TrainConfig(**s["train"])

    def repeats(self) -> RepeatConfig:
        """Seeds and folds as the form gives them; raises ``SettingError`` for a combination refused."""
        return RepeatConfig(**self.forms["repeat"].values())

    def grid(self) -> list[Combination]:
        """The runs to train: one per combination of the sweep's values (one when there is no sweep) and seed,
        each training the ticked models; raises ``StudioError`` for a setting or value the core rejects."""
        models, tokenizer, train = self.configs()
        taken: set[str] = set()

        def name(kind: str, values: dict) -> str:
            base = " ".join([kind.upper(), *(f"{k}={shown(v).replace(',', '')}" for k, v in values.items())])
            unique, i = self.session.unique_name(base), 2
            while unique in taken:
                unique, i = self.session.unique_name(f"{base} ({i})"), i + 1
            taken.add(unique)
            return unique

        return combinations(models, tokenizer, train, with_seeds(self.sweep.grid(), self.repeats().repeat, train.seed),
                            name)

    def _describe_sweep(self) -> str:
        """Say what the sweep, seeds and folds make (sweep field, Train button); why they can't train, or ""."""
        kinds = len(self.selected_kinds())
        try:
            repeat = self.repeats()
            problem = folds_refusal(self.session.dataset, repeat.folds)
        except StudioError as exc:
            repeat, problem = RepeatConfig(), error_message(exc)
        runs = self.sweep.describe(kinds, repeat.repeat, repeat.folds, problem)
        self.train_button.setText(f"Train {runs} runs: {self.sweep.summary}" if runs > kinds else "Train")
        return problem

    # --- state -------------------------------------------------------------------------------------
    @property
    def is_training(self) -> bool:
        return self.slot.busy

    @property
    def is_paused(self) -> bool:
        return self._progress is not None and self._progress.paused

    def _update_buttons(self, *_: object) -> None:
        training = self.is_training
        dataset = self.session.dataset
        cancelling = self._progress is not None and self._progress.cancelling
        can_train = not training and dataset is not None and bool(self.selected_kinds())
        self.train_button.setEnabled(can_train)
        self.pause_button.setEnabled(training and not cancelling)
        self.cancel_button.setEnabled(training and not cancelling)
        self.pause_button.setText("Resume" if self.is_paused else "Pause")
        self._escape.setEnabled(training)
        self._form.setEnabled(not training)
        problem = self._describe_sweep()
        if dataset is None:
            self.hint.setText("Load a dataset on the Data screen first; then Train is enabled.")
        elif not self.selected_kinds():
            self.hint.setText("Tick at least one model to train.")
        elif problem:  # above Train, where it is seen however the form is scrolled
            self.hint.setText(f"<span style='color:#c0392b'>{escape(problem)}</span>")
        else:
            n = {s: len(dataset[s]) for s in ("train", "validation", "test")}
            folds, own = self.repeats().folds, "validation" not in dataset.carved  # own: kept out of the folds
            pool = sum(n.values()) - n["validation"] * own
            self.hint.setText(f"Dataset: {dataset.source}\n" + (f"{pool:,} texts in {folds} folds, each tested once"
                              if folds else f"{n['train']:,} training · {n['validation']:,} validation texts"))
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
            chosen, folds = self.grid(), self.repeats().folds
            if folds_refusal(dataset, folds):
                raise StudioError(folds_refusal(dataset, folds))
        except (StudioError, TypeError, ValueError) as exc:
            QMessageBox.warning(self, "Cannot train", error_message(exc))
            if isinstance(exc, SettingError):  # show the user which input to change
                next((w for (_, name), w in self.inputs.items() if name == exc.field), self).setFocus()
            return False
        plan = [(n, c) for one in chosen for n, c in one.plan]
        names = [n for n, _ in plan]
        if folds:  # fold by fold, as train_folds trains them; the session keeps the last fold's models
            plan = [(fold_name(n, k, folds), c) for k in range(folds) for n, c in plan]
        self._kept = {n for n, _ in plan[-len(names):]} if folds else None
        self._progress = TrainingProgress([(n, c.kind) for n, c in plan])
        self._added = []
        self._notes: list[str] = []  # what the vectors cover, and warnings, for this run
        self.vectors_label.hide()
        self.plots.clear()
        checkpoints, store_folder, sweep_id = self.checkpoint_dir, self.run_store_folder, new_sweep_id()

        def training(control):
            if "torch" not in sys.modules:  # not loaded yet (gui/main_window.py loads it after start-up): say so
                yield ModelEvent("", "", PhaseEvent("loading", "loading PyTorch (the first training after start-up)"))
                import_torch()
            if folds:
                yield from train_folds(dataset, chosen, folds, control, checkpoints, store_folder, sweep_id)
            else:
                yield from train_grid(dataset, chosen, control, checkpoints, store_folder, sweep_id)

        self.slot.start(
            training, "training", on_event=self._on_event, on_done=self._on_succeeded, on_cancelled=self._on_cancelled,
            on_failed=self._on_failed, on_ended=lambda: self._finish("Stopped.") if self._progress else None,
        )
        self.progress_bar.setValue(0)
        self.progress_label.setText("Starting…")
        self._update_buttons()
        self._label_timer.start()
        what = ", ".join(names) if len(chosen) == 1 else f"a sweep of {len(chosen)} combinations ({len(names)} runs)"
        what += f" on each of {folds} folds" if folds else ""
        self.session.status.emit(f"Training {what} on {dataset.source}")
        self.training_started.emit()
        return True

    def pause(self) -> None:
        if not self.is_training or self._progress is None or self.is_paused or self._progress.cancelling:
            return
        self.slot.task.pause()
        self._progress.pause()
        self._update_buttons()
        self._update_progress()

    def resume(self) -> None:
        if not self.is_training or self._progress is None or not self.is_paused:
            return
        self.slot.task.resume()
        self._progress.resume()
        self._update_buttons()
        self._update_progress()

    def cancel(self) -> None:
        """Ask the trainer to stop at its next batch; ``training_cancelled`` follows."""
        if not self.is_training or self._progress is None:
            return
        self._progress.cancel()
        self.slot.cancel()  # also wakes a paused run
        self._update_buttons()
        self._update_progress()

    # --- task signals (GUI thread) -----------------------------------------------------------------
    def _on_event(self, item: Any) -> None:
        run = self._progress
        if run is None:
            return
        if isinstance(item, ModelDone):
            if self._kept is not None and item.name not in self._kept:
                self.session.status.emit(f"{item.name} trained and kept as a run")  # an earlier fold's model
                return
            name = self.session.add_model(item.model, item.name, saved=bool(item.model.info.file))  # kept as a run
            self._added.append(name)
            accuracy = run.results.get(item.name)
            score = f": validation accuracy {accuracy:.1%}" if accuracy is not None else ""
            self.session.status.emit(f"{name} trained{score}")
            return
        if isinstance(item.event, PhaseEvent) and item.event.phase in ("coverage", "warning", "vocabulary"):
            self._show_vectors_note(item.event, item.name if item.event.phase == "vocabulary" else "")
        if run.update(item):
            self.plots.start_model(item.name, self.session.color(item.name, item.kind))
        if isinstance(item.event, StepEvent):
            self.plots.add_step(item.name, item.event)
        elif isinstance(item.event, EpochEvent):
            self.plots.add_epoch(item.name, item.event)

    def _show_vectors_note(self, event: PhaseEvent, model: str = "") -> None:
        """What the vectors cover, any warning (in red, and in the status bar), and what the vectors' extra
        words did for ``model``, under the progress bar."""
        if event.phase == "warning":
            note = f"<b style='color:#c0392b'>Warning: {escape(event.message)}</b>"
            self.session.status.emit(f"Warning: {event.message}")
        elif model:
            note = f"{escape(model)}: {escape(event.message)}"
        else:
            note = escape(event.message[:1].upper() + event.message[1:])
        if note not in self._notes:  # each model of the run says the same coverage
            self._notes.append(note)
        self.vectors_label.setText("<br>".join(self._notes))
        self.vectors_label.show()

    def _update_progress(self) -> None:
        text, value = self._progress.describe() if self._progress is not None else ("Ready.", 0)
        self.progress_label.setText(text)
        self.progress_bar.setValue(value)

    def _finish(self, message: str, bar: int | None = None) -> list[str]:
        """Back to idle (before any signal, so a handler may start the next training at once)."""
        self.slot.detach()  # the task has ended its work; only its ``ended`` signal is still to come
        self._label_timer.stop()
        self._progress = None
        self.plots.refresh()
        self.progress_label.setText(message)
        if bar is not None:
            self.progress_bar.setValue(bar)
        self._update_buttons()
        return list(self._added)

    def _on_succeeded(self) -> None:
        self.vectors_input.remember(self.vectors_input.text())  # a file that trained: worth offering again
        summary = self._progress.summary() if self._progress else ""
        added = self._finish(f"Finished · {summary}" if summary else "Finished.", bar=1000)
        self.training_finished.emit(added)

    def _on_cancelled(self) -> None:
        kept = list(self._added)
        text = "Cancelled" + (f" · kept {', '.join(kept)}" if kept else " · no model finished")
        self._finish(text + " · the curves so far stay below.")
        self.session.status.emit("Training cancelled")
        self.training_cancelled.emit()

    def _on_failed(self, exc: object) -> None:
        self._finish("Training failed.")
        self.session.status.emit("Training failed")
        message = error_message(exc)
        self.training_failed.emit(message)
        QMessageBox.critical(self, "Training failed", message)
