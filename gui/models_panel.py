"""The Models screen: the session's models, their config and metrics, and model files.

Opening and saving run in a ``Task``: a model file is small, but a slow disk or network share
must never freeze the window.
"""

from __future__ import annotations

import html
from pathlib import Path

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

from core.trainer import PhaseEvent
from gui.session import Session
from gui.theme import model_color, style_plot
from gui.worker import Task, error_message

MODEL_FILTER = "Sentiment Studio models (*.safetensors);;All files (*)"


def _open_files(paths: list[str], control):
    from core.modelfile import load_model

    models = []
    for path in paths:
        if control.cancelled:
            break
        yield PhaseEvent("opening", f"opening {path}")
        model = load_model(path)
        model.info.setdefault("file", str(path))
        models.append(model)
    return models


def _save_file(model, path: str, control):
    from core.modelfile import save_model

    yield PhaseEvent("saving", f"saving {path}")
    return save_model(model, path)


def describe_model(name: str, model) -> str:
    """Rich text with a model's config, training settings, metrics and provenance."""
    cfg = model.config
    tok = model.tokenizer.config
    tc = model.train_config
    test = model.metrics.get("test") or {}
    fin = model.metrics.get("finished") or {}
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
        rows.append(("Epochs run / best", f"{fin.get('epochs_run')} / {fin.get('best_epoch')}"
                     + (" (stopped early)" if fin.get("stopped_early") else "")))
        speed = f"{fin.get('training_time_s', 0):.1f} s at {fin.get('tokens_per_s', 0):,.0f} tokens/s"
        rows.append(("Training time", speed))
    if test:
        scores = f"{test.get('accuracy', float('nan')):.2%} / {test.get('macro_f1', 0):.3f}"
        rows.append(("Test accuracy / macro F1", scores))
    for key in ("dataset", "file", "created"):
        if model.info.get(key):
            rows.append((key.capitalize(), str(model.info[key])))
    versions = model.info.get("versions")
    if versions:
        rows.append(("Versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    body = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<h3>{html.escape(name)}</h3><table cellspacing='4'>{body}</table>"


class ModelsPanel(QWidget):
    opened = Signal(list)  # names of the models opened
    saved = Signal(str)  # path written

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.list = QListWidget()
        self.list.currentTextChanged.connect(self._show_details)
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
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected model from this session (its file stays)")
        self.remove_button.clicked.connect(self._remove)
        self.hint = QLabel(
            "Trained and opened models appear here. Save them to reuse them later or on the command line."
        )
        self.hint.setWordWrap(True)

        buttons = QHBoxLayout()
        for b in (self.open_button, self.save_button, self.remove_button):
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
        current = self.list.currentItem().text() if self.list.currentItem() else None
        self.list.clear()
        seen: dict[str, int] = {}
        for name, model in self.session.models.items():
            item = QListWidgetItem(name)
            item.setForeground(QColor(model_color(model.kind, seen.get(model.kind, 0))))
            seen[model.kind] = seen.get(model.kind, 0) + 1
            self.list.addItem(item)
        names = list(self.session.models)
        if names:
            self.list.setCurrentRow(names.index(current) if current in names else len(names) - 1)
        has = bool(names)
        self.save_button.setEnabled(has)
        self.remove_button.setEnabled(has)
        if not has:
            self.details.setHtml("<p>No models yet: train some on the Train screen, or open model files.</p>")
            self._show_history(None)

    def _show_details(self, name: str) -> None:
        model = self.session.models.get(name)
        if model is not None:
            self.details.setHtml(describe_model(name, model))
        self._show_history(model)

    def _show_history(self, model) -> None:
        epochs = ((model.metrics.get("history") or {}).get("epochs") or []) if model is not None else []
        x = np.array([e["epoch"] for e in epochs], dtype=float)
        for key, curve in self._curves.items():
            curve.setData(x, np.array([e[key] for e in epochs], dtype=float))

    def selected_name(self) -> str | None:
        item = self.list.currentItem()
        return item.text() if item else None

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
        task = Task(lambda control: _open_files(list(paths), control), name="open models")
        task.event.connect(lambda e: self.session.status.emit(e.message))
        task.succeeded.connect(self._opened)
        task.failed.connect(lambda exc: QMessageBox.warning(self, "Could not open the model", error_message(exc)))
        return self.session.track(task).start()

    def _opened(self, models: list) -> None:
        names = []
        for model in models:
            base = model.info.get("name") or Path(model.info.get("file", "model")).stem
            names.append(self.session.add_model(model, base))
        self.session.status.emit(f"Opened {', '.join(names)}")
        self.opened.emit(names)

    def save_dialog(self) -> None:
        name = self.selected_name()
        if name is None:
            QMessageBox.information(self, "Nothing to save", "Train or open a model first.")
            return
        default = f"{name.lower().replace(' ', '_').replace('(', '').replace(')', '')}.safetensors"
        path, _ = QFileDialog.getSaveFileName(self, f"Save {name}", default, MODEL_FILTER)
        if path:
            if not path.endswith(".safetensors"):
                path += ".safetensors"
            self.save(name, path)

    def save(self, name: str, path: str) -> Task:
        model = self.session.models[name]
        task = Task(lambda control: _save_file(model, path, control), name="save model")
        task.succeeded.connect(lambda p: (self.session.status.emit(f"Saved {name} to {p}"), self.saved.emit(str(p))))
        task.failed.connect(lambda exc: QMessageBox.warning(self, "Could not save the model", error_message(exc)))
        return self.session.track(task).start()
