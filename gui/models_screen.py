"""The Models screen: the session's models, their config and metrics, and model files.

Opening and saving run as tasks (``core.store.modelfile.open_models`` / ``save_steps``): a model file is
small, but a slow disk or network share must never freeze the window. Models trained in this
session and not saved yet are marked "(not saved)"; closing the window asks about them.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.events import PhaseEvent
from core.files import safe_file_name
from core.model.events import ModelOpened, ModelSaved
from core.store.export import Exported, export_steps, is_bundle
from core.text.vectors import added_words
from core.train.warmup import import_torch
from gui.session import Session
from gui.theme import style_plot
from gui.worker import Task, TaskSlot, error_message

if TYPE_CHECKING:
    from core.model.sentiment_model import SentimentModel

MODEL_FILTER = "Sentiment Studio models (*.safetensors);;All files (*)"


def _vectors_text(v: dict) -> str:
    """The word vectors a model started from, as stored in its file (whatever a file holds: never a crash)."""
    how = "frozen" if v.get("frozen") else "fine-tuned"
    try:
        covered = (f": {100 * float(v['words_covered']):.1f}% of the vocabulary, "
                   f"{100 * float(v['tokens_covered']):.1f}% of training tokens")
    except (KeyError, TypeError, ValueError):
        covered = ""
    added = added_words(v)
    more = f"; {added:,} more words from the vectors after training" if added else ""
    return f"{v.get('file')} ({v.get('dim')}-d, {how}){covered}{more}"


def describe_model(name: str, model: SentimentModel, saved: bool = True) -> str:
    """Rich text with a model's config, training settings, metrics and provenance."""
    cfg = model.config
    tok = model.tokenizer.config
    tc = model.train_config
    test, fin, info = model.record.test, model.record.finished, model.info
    rows = [
        ("Kind", cfg.kind.upper()),
        ("Classes", ", ".join(model.label_names)),
        ("Embedding / hidden", f"{cfg.embed_dim} / {cfg.hidden_size} × {cfg.num_layers} layer(s)"
         + (", bidirectional" if cfg.bidirectional else "")),
        ("Pooling / dropout", f"{cfg.pooling} / {cfg.dropout}, word dropout {cfg.word_dropout}"),
        ("Parameters", f"{model.classifier.num_parameters():,}"),
        ("Tokenizer", f"{tok.kind}, {model.tokenizer.vocab_size:,} tokens, max length {tok.max_length}"
         + (", lowercase" if tok.lowercase else "")),
        ("Training", f"lr {tc.learning_rate}, batch {tc.batch_size}, ≤{tc.epochs} epochs, seed {tc.seed}"),
    ]
    if fin:
        rows.append(("Epochs run / best", f"{fin.epochs_run} / {fin.best_epoch}"
                     + (" (stopped early)" if fin.stopped_early else "")))
        speed = f"{fin.training_time_s:.1f} s" + (f" at {fin.tokens_per_s:,.0f} tokens/s" if fin.tokens_per_s else "")
        rows.append(("Training time", speed))
    if test:
        rows.append(("Test accuracy / macro F1", f"{test.accuracy:.2%} / {test.macro_f1:.3f}"))
    if info.dataset:
        rows.append(("Dataset", info.dataset))
    if info.splits is not None and info.splits.carved:
        rows.append(("Carved splits", f"{', '.join(info.splits.carved)} (split seed {info.splits.split_seed})"))
    if info.vectors:
        rows.append(("Word vectors", _vectors_text(info.vectors)))
    rows.append(("File", info.file or ("not saved yet" if not saved else "")))
    if info.created:
        rows.append(("Created", info.created))
    if info.versions:
        rows.append(("Versions", ", ".join(f"{k} {v}" for k, v in info.versions.items())))
    body = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<h3>{html.escape(name)}</h3><table cellspacing='4'>{body}</table>"


class ModelsScreen(QWidget):
    opened = Signal(list)  # names of the models opened
    saved = Signal(str)  # path written
    exported = Signal(str)  # bundle folder written

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.opening = TaskSlot(session.tasks, self)
        self.list = QListWidget()
        self.list.currentRowChanged.connect(self._show_details)
        self.details = QTextBrowser()
        self.details.setOpenExternalLinks(False)
        self.history = pg.PlotWidget(title="Training history (per epoch)")
        self.history.addLegend(offset=(-10, -10))
        self.history.setLabel("bottom", "epoch")
        self.history.showGrid(y=True, alpha=0.3)
        style_plot(self.history, self.history.getPlotItem())
        self._curves = {
            key: self.history.plot(
                pen=pg.mkPen(color, width=2), symbol="o", symbolSize=6, symbolBrush=color, name=label
            )
            for key, label, color in (
                ("train_accuracy", "training accuracy", "#999999"),
                ("val_accuracy", "validation accuracy", "#0072B2"),
                ("val_loss", "validation loss", "#D55E00"),
            )
        }
        self.open_button = QPushButton("Open model files…")
        self.open_button.setToolTip(
            "Open .safetensors model files (Ctrl+Shift+O); you can also drop them on the window"
        )
        self.open_button.clicked.connect(self.open_dialog)
        self.save_button = QPushButton("Save selected…")
        self.save_button.setToolTip("Save the selected model to a file (Ctrl+S)")
        self.save_button.clicked.connect(self.save_dialog)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(
            "Export the selected model as a folder that runs without PyTorch: ONNX model, tokenizer, model card "
            "(Ctrl+Shift+E)"
        )
        self.export_button.clicked.connect(self.export_dialog)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected model from this session (its file stays)")
        self.remove_button.clicked.connect(self._remove)
        self.hint = QLabel(
            "Trained and opened models appear here. Save them to reuse them later or on the command line."
        )
        self.hint.setWordWrap(True)

        buttons = QHBoxLayout()
        for b in (self.open_button, self.save_button, self.export_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("<b>Models in this session</b>"))
        ll.addWidget(self.list, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.details)
        right.addWidget(self.history)
        right.setSizes([380, 320])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([300, 900])
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addLayout(buttons)
        layout.addWidget(split, 1)
        session.models_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        current = self.selected_name()
        self.list.blockSignals(True)
        self.list.clear()
        for name in self.session.models:
            unsaved = name in self.session.unsaved
            item = QListWidgetItem(name + ("  (not saved)" if unsaved else ""))
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setForeground(QColor(self.session.color(name)))
            if unsaved:
                item.setToolTip("Trained in this session and not saved yet: Save selected… keeps it")
            self.list.addItem(item)
        self.list.blockSignals(False)
        names = list(self.session.models)
        if names:
            self.list.setCurrentRow(names.index(current) if current in names else len(names) - 1)
        has = bool(names)
        self.save_button.setEnabled(has)
        self.export_button.setEnabled(has)
        self.remove_button.setEnabled(has)
        if not has:
            self.details.setHtml("<p>No models yet: train some on the Train screen, or open model files.</p>")
            self._show_history(None)

    def _show_details(self, *_: object) -> None:
        name = self.selected_name()
        model = self.session.models.get(name) if name else None
        if model is not None:
            self.details.setHtml(describe_model(name, model, saved=name not in self.session.unsaved))
        self._show_history(model)

    def _show_history(self, model: SentimentModel | None) -> None:
        epochs = model.record.history.epochs if model is not None else []
        x = np.array([e.epoch for e in epochs], dtype=float)
        for key, curve in self._curves.items():
            curve.setData(x, np.array([getattr(e, key) for e in epochs], dtype=float))

    def selected_name(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _remove(self) -> None:
        name = self.selected_name()
        if name:
            self.session.remove_model(name)

    # files -------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open model files", "", MODEL_FILTER)
        if paths:
            self.open_files(paths)

    def open_files(self, paths: list[str]) -> Task:
        opened: list[str] = []

        def on_event(event: object) -> None:
            if isinstance(event, PhaseEvent):
                self.session.status.emit(event.message)
            elif isinstance(event, ModelOpened):
                base = event.model.info.name or Path(event.path).stem
                opened.append(self.session.add_model(event.model, base, saved=True))

        def on_done() -> None:
            self.session.status.emit(f"Opened {', '.join(opened)}")
            self.opened.emit(opened)

        def opening(control):
            import_torch()  # on the worker thread (see gui/worker.py): gently, if not yet loaded
            from core.store.modelfile import open_models

            return open_models(list(paths), control)

        return self.opening.start(
            opening, "open models", on_event=on_event, on_done=on_done,
            on_failed=lambda exc: QMessageBox.warning(self, "Could not open the model", error_message(exc)),
        )

    def save_dialog(self) -> None:
        name = self.selected_name()
        if name is None:
            QMessageBox.information(self, "Nothing to save", "Train or open a model first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, f"Save {name}", f"{safe_file_name(name).lower()}.safetensors",
                                              MODEL_FILTER)
        if path:
            if not path.endswith(".safetensors"):
                path += ".safetensors"
            self.save(name, path)

    def export_dialog(self) -> None:
        name = self.selected_name()
        if name is None:
            QMessageBox.information(self, "Nothing to export", "Train or open a model first.")
            return
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export {name} as a folder", f"{safe_file_name(name).lower()}-bundle", "Folder (*)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if not path:
            return
        out = Path(path)
        force = False
        if out.is_dir() and any(out.iterdir()):
            if not is_bundle(out):
                QMessageBox.warning(self, "Choose another folder",
                                    f"{out} is not empty and not an earlier bundle; choose a new or empty folder.")
                return
            answer = QMessageBox.question(self, "Replace the bundle?", f"{out} holds an earlier bundle. Replace it "
                                          "with this model's? Other files in the folder are kept.")
            if answer != QMessageBox.StandardButton.Yes:
                return
            force = True
        self.export(name, str(out), force)

    def export(self, name: str, path: str, force: bool = False) -> Task:
        """Write ``name``'s export bundle to the folder ``path`` in the background."""
        model = self.session.models[name]
        source = model.info.file or None  # reused only while it still holds these weights (export checks)
        task = Task(lambda control: export_steps(model, path, force=force, model_file=source, control=control),
                    name="export model")

        def on_event(event: object) -> None:
            if isinstance(event, PhaseEvent):
                self.session.status.emit(event.message)
            elif isinstance(event, Exported):
                kept = f" (your other files there are kept: {', '.join(event.kept)})" if event.kept else ""
                self.session.status.emit(f"Exported {name} to {event.path}{kept}")
                self.exported.emit(event.path)

        task.event.connect(on_event)
        task.failed.connect(lambda exc: QMessageBox.warning(self, "Could not export the model", error_message(exc)))
        return self.session.tasks.track(task).start()

    def save(self, name: str, path: str) -> Task:
        """Save one model in the background (each save is its own task: two saves never cancel each other)."""
        model = self.session.models[name]  # the session is the GUI thread's: read it here, not in the worker

        def saving(_control):
            from core.store.modelfile import save_steps  # on the worker thread (see gui/worker.py)

            return save_steps(model, path, name)

        return self._save_task(saving, "save model")

    def save_all(self, names: list[str], folder: str) -> Task:
        """Save the named models into ``folder`` (the close prompt's Save all)."""
        models = {n: self.session.models[n] for n in names if n in self.session.models}
        def saving(_control):
            from core.store.modelfile import save_all_steps  # on the worker thread (see gui/worker.py)

            return save_all_steps(models, folder)

        return self._save_task(saving, "save models")

    def _save_task(self, factory, name: str) -> Task:
        task = Task(factory, name=name)

        def on_event(event: object) -> None:
            if isinstance(event, ModelSaved):
                model = self.session.models.get(event.name)
                if model is not None:
                    model.info.file = event.path
                self.session.mark_saved(event.name)
                self.session.status.emit(f"Saved {event.name} to {event.path}")
                self.saved.emit(event.path)

        task.event.connect(on_event)
        task.failed.connect(lambda exc: QMessageBox.warning(self, "Could not save the model", error_message(exc)))
        return self.session.tasks.track(task).start()
