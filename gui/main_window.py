"""The main window: five screens in tabs, the menu bar, settings kept between runs, and shutdown."""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QTabWidget, QWidget

import core
from gui.app import app_icon
from gui.compare_panel import ComparePanel
from gui.data_panel import DataPanel
from gui.models_panel import ModelsPanel
from gui.session import Session
from gui.train_panel import TrainPanel
from gui.try_panel import TryPanel
from gui.worker import Task

TITLE = "Sentiment Studio"
DATA_FILTER = "Datasets (*.csv *.tsv *.json *.jsonl *.parquet);;All files (*)"


def settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "SentimentStudio", "studio")


def checkpoint_dir() -> Path:
    """Where training keeps each model's best epoch while it runs (per user; created when first needed)."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "checkpoints"


class MainWindow(QMainWindow):
    def __init__(self, session: Session | None = None) -> None:
        super().__init__()
        self.session = session or Session(self)
        self.setWindowTitle(f"{TITLE} {core.__version__}")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)

        self.data_panel = DataPanel(self.session)
        self.train_panel = TrainPanel(self.session)
        self.compare_panel = ComparePanel(self.session)
        self.try_panel = TryPanel(self.session)
        self.models_panel = ModelsPanel(self.session)
        self.train_panel.checkpoint_dir = checkpoint_dir()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for panel, name, tip in (
            (self.data_panel, "&Data", "Pick and inspect a dataset"),
            (self.train_panel, "&Train", "Train LSTM, RNN and GRU models and watch them learn"),
            (self.compare_panel, "&Compare", "Score the models side by side"),
            (self.try_panel, "T&ry", "Type a sentence and look inside the models"),
            (self.models_panel, "&Models", "Save and open model files"),
        ):
            index = self.tabs.addTab(panel, name.replace("&", ""))
            self.tabs.setTabToolTip(index, tip)
        self.setCentralWidget(self.tabs)

        self.session.status.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
        self.session.open_in_tester.connect(lambda _text: self.tabs.setCurrentWidget(self.try_panel))
        self.session.dataset_changed.connect(self._dataset_changed)
        self._build_menus()
        self.statusBar().showMessage("Ready: pick a dataset on the Data screen (Ctrl+O opens a file)")
        self.resize(1280, 800)
        self._restore_settings()
        QTimer.singleShot(500, self._warm_up)

    def _warm_up(self) -> None:
        """PyTorch's first training step sets up for 100+ ms holding the GIL: do it now, in the background."""
        from core.trainer import warm_up

        def steps(_control):
            warm_up()
            return None
            yield  # a generator, as Task expects

        self.session.track(Task(steps, name="warm-up")).start()

    # menus ---------------------------------------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "Open &dataset…", self.open_dataset_dialog, QKeySequence.StandardKey.Open,
                     "Open a CSV, TSV, JSON or Parquet file")
        self._action(file, "Open dataset &folder…", self.open_dataset_folder, "Ctrl+Shift+D",
                     "Open a folder with train / dev / test files")
        self._action(file, "Open &model…", self.models_panel.open_dialog, "Ctrl+Shift+O", "Open model files")
        self._action(file, "&Save model…", self.models_panel.save_dialog, QKeySequence.StandardKey.Save,
                     "Save the model selected on the Models screen")
        file.addSeparator()
        self._action(file, "&Export plot as PNG…", self.export_png, "Ctrl+E", "Save the current screen's plots")
        file.addSeparator()
        self._action(file, "&Quit", self.close, "Ctrl+Q")
        view = bar.addMenu("&View")
        for i in range(self.tabs.count()):
            self._action(view, self.tabs.tabText(i), lambda _=False, i=i: self.tabs.setCurrentIndex(i), f"Ctrl+{i + 1}")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About Sentiment Studio", self.about)

    # actions -------------------------------------------------------------------------------------
    def open_dataset_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open dataset", "", DATA_FILTER)
        if path:
            self.tabs.setCurrentWidget(self.data_panel)
            self.data_panel.load(path)

    def open_dataset_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of split files")
        if path:
            self.tabs.setCurrentWidget(self.data_panel)
            self.data_panel.load(path)

    def export_png(self, path: str | None = None) -> str | None:
        """Save the visible screen (its plots and tables) as a PNG."""
        if not path:
            name = self.tabs.tabText(self.tabs.currentIndex()).lower()
            path, _ = QFileDialog.getSaveFileName(self, "Export as PNG", f"sentiment-studio-{name}.png",
                                                  "PNG images (*.png)")
            if not path:
                return None
        widget: QWidget = self.tabs.currentWidget()
        if not widget.grab().save(path, "PNG"):
            QMessageBox.warning(self, "Export failed", f"Could not write {path}")
            return None
        self.statusBar().showMessage(f"Saved {path}", 8000)
        return path

    def about(self) -> None:
        QMessageBox.about(
            self, "About Sentiment Studio",
            f"<h3>Sentiment Studio {core.__version__}</h3><p>Train, compare and look inside LSTM, GRU and "
            "plain RNN sentiment classifiers.</p><p>Models are saved as safetensors files and work from "
            "the command line too: <code>python main.py --help</code>.</p>",
        )

    def leftover_checkpoints(self) -> list[Path]:
        """Checkpoints of runs that never finished (a finished or cancelled run removes its own)."""
        folder = self.train_panel.checkpoint_dir
        if folder is None or not folder.is_dir():
            return []
        return sorted(folder.glob("*.safetensors"))

    def offer_checkpoints(self) -> list[str]:
        """At start-up: offer to reopen the best epochs of trainings a crash interrupted.

        Yes opens them into the session (and removes the files: save a model to keep it), Discard
        removes them, No leaves them for next time. Returns the session names of the models opened.
        """
        from core.errors import StudioError
        from core.modelfile import load_model

        paths = self.leftover_checkpoints()
        if not paths:
            return []
        names = ", ".join(p.stem for p in paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        Button = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self, "Reopen unfinished training?",
            f"{len(paths)} training run(s) did not finish last time (the app closed unexpectedly). "
            f"Their best epochs were kept: {names}.\n\nOpen them as models now?",
            Button.Yes | Button.No | Button.Discard, Button.Yes,
        )
        if answer == Button.Discard:
            for path in paths:
                with suppress(OSError):
                    path.unlink(missing_ok=True)
            return []
        if answer != Button.Yes:
            return []
        opened, problems = [], []
        for path in paths:
            try:
                model = load_model(path)
            except StudioError as e:
                problems.append(str(e))
                continue
            epoch = (model.metrics.get("checkpoint") or {}).get("epoch")
            suffix = f" (recovered, epoch {epoch})" if epoch else " (recovered)"
            opened.append(self.session.add_model(model, model.name + suffix))
            with suppress(OSError):
                path.unlink(missing_ok=True)  # in the session now; saving it is the user's choice
        if problems:
            QMessageBox.warning(self, "Some checkpoints could not be opened", "\n".join(problems))
        if opened:
            self.tabs.setCurrentWidget(self.models_panel)
            self.statusBar().showMessage(f"Reopened {', '.join(opened)}: save them to keep them", 8000)
        return opened

    def _dataset_changed(self, dataset) -> None:
        if dataset is not None:
            self.setWindowTitle(f"{TITLE} {core.__version__} — {dataset.source}")

    # drag and drop -------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        models = [p for p in paths if p.endswith(".safetensors")]
        if models:
            self.models_panel.open_files(models)
            self.tabs.setCurrentWidget(self.models_panel)
        others = [p for p in paths if not p.endswith(".safetensors")]
        if others:
            self.tabs.setCurrentWidget(self.data_panel)
            self.data_panel.load(others[0])
        event.acceptProposedAction()

    # settings and shutdown -----------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        tab = s.value("window/tab", 0, type=int)
        self.tabs.setCurrentIndex(min(max(tab, 0), self.tabs.count() - 1))
        for key, panel in (("data", self.data_panel), ("train", self.train_panel)):
            values = {k: s.value(f"{key}/{k}") for k in self._keys(s, key)}
            if values:
                try:
                    panel.apply_settings(values)
                except (TypeError, ValueError, KeyError):
                    pass  # settings from an older version: keep the defaults

    @staticmethod
    def _keys(s: QSettings, group: str) -> list[str]:
        s.beginGroup(group)
        keys = s.childKeys()
        s.endGroup()
        return keys

    def save_settings(self) -> None:
        s = settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/tab", self.tabs.currentIndex())
        for key, panel in (("data", self.data_panel), ("train", self.train_panel)):
            s.remove(key)
            for k, v in panel.settings_dict().items():
                s.setValue(f"{key}/{k}", v)
        s.sync()

    def closeEvent(self, event) -> None:
        """Cancel running work and wait for it (training stops within one batch), then close."""
        self.save_settings()
        if self.session.tasks:
            self.statusBar().showMessage("Stopping running work…")
        self.session.shutdown(timeout_s=2.5)  # a task still running after that ends at its next batch
        event.accept()

