"""The main window: six screens in tabs, the menu bar, settings kept between runs, and shutdown.

It also owns the flows that cross screens: the first-run demo (load a built-in set, train an LSTM
and an RNN, compare them), reopening checkpoints after a crash, and asking about unsaved models
before closing.
"""

from __future__ import annotations

import json
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QSettings, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QWidget

import core
from core.errors import StudioError
from core.events import PhaseEvent
from core.heap import import_quietly
from gui.data_screen import DEMO_SOURCE
from gui.screens import BEFORE_PAINT, ScreenTabs
from gui.session import Session
from gui.theme import app_icon
from gui.worker import Task, error_message

if TYPE_CHECKING:
    from gui.compare_screen import CompareScreen
    from gui.data_screen import DataScreen
    from gui.models_screen import ModelsScreen
    from gui.runs_screen import RunsScreen
    from gui.train_screen import TrainScreen
    from gui.try_screen import TryScreen


TITLE = "Sentiment Studio"
FIRST_PAINT_WAIT_MS = 1000  # the deferred start-up runs this long after the window is made, painted or not
FORMS = ("data", "train")  # the screens whose forms are kept between runs
DATA_FILTER = "Datasets (*.csv *.tsv *.json *.jsonl *.parquet);;All files (*)"


def settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "SentimentStudio", "studio")


def ask_unsaved(parent: QWidget, names: list[str]) -> str:
    """Ask what to do with unsaved models before closing: "save", "discard" or "cancel"."""
    Button = QMessageBox.StandardButton
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    answer = QMessageBox.question(
        parent, "Save trained models?",
        f"{len(names)} trained model(s) are not saved: {shown}.\n\nSave them before closing? "
        "Save all asks for a folder and writes one .safetensors file per model.",
        Button.SaveAll | Button.Discard | Button.Cancel, Button.SaveAll,
    )
    return {Button.SaveAll: "save", Button.Discard: "discard"}.get(answer, "cancel")


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
        self.checkpoint_dir = checkpoint_dir()  # where training keeps best epochs (given to the Train screen)
        self._store_folder: Path | bool | None = False  # the run store's folder, once looked up (None: unusable)
        self._forms: dict[str, dict] = {}  # the Data and Train screens' saved forms, until they are built
        self._demo = ""  # the first-run demo's stage: "", "loading" or "training" (see start_demo)
        self._closing_save: Task | None = None  # Save all chosen on close: the window closes when it ends
        # after the first paint (see _after_first_paint): "" before it, "started" (the other screens being built),
        # "loading" (PyTorch, see load_torch), "ready", or "failed" (a training then imports it itself)
        self._torch = ""

        self.tabs = ScreenTabs(self.session)
        self.tabs.built.connect(self._wire)
        self.tabs.currentChanged.connect(lambda _i: self._refresh_runs(only_if_shown=True))
        self.setCentralWidget(self.tabs)
        self.session.status.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
        self.session.open_in_tester.connect(self._open_in_tester)
        self.session.dataset_changed.connect(self._dataset_changed)
        self._build_menus()
        self.statusBar().showMessage("Ready: pick a dataset on the Data screen (Ctrl+O opens a file)")
        self.resize(1280, 800)
        self._restore_settings()
        if self.tabs.current_key() in BEFORE_PAINT:  # drawn with the window; the rest follow it (gui/screens.py)
            self.tabs.screen(self.tabs.current_key())
        QTimer.singleShot(FIRST_PAINT_WAIT_MS, self, self._after_first_paint)  # should no UpdateRequest come

    def event(self, event: QEvent) -> bool:
        """A window's first ``UpdateRequest`` draws it: what the start-up deferred follows (see below)."""
        handled = super().event(event)
        if event.type() == QEvent.Type.UpdateRequest and not self._torch:
            QTimer.singleShot(0, self, self._after_first_paint)
        return handled

    def _after_first_paint(self) -> None:
        """Offer what a crash left, then build the other screens, then load PyTorch in the background."""
        if self._torch:
            return
        self._torch = "started"
        self.offer_checkpoints()  # after a crash: reopen the best epochs kept on disk (asks first)
        self.tabs.build_rest(then=self._screens_built)

    # the screens ---------------------------------------------------------------------------------
    @property
    def data_screen(self) -> DataScreen:
        return self.tabs.screen("data")

    @property
    def train_screen(self) -> TrainScreen:
        return self.tabs.screen("train")

    @property
    def compare_screen(self) -> CompareScreen:
        return self.tabs.screen("compare")

    @property
    def try_screen(self) -> TryScreen:
        return self.tabs.screen("try")

    @property
    def models_screen(self) -> ModelsScreen:
        return self.tabs.screen("models")

    @property
    def runs_screen(self) -> RunsScreen:
        return self.tabs.screen("runs")

    def _wire(self, key: str, screen) -> None:
        """Connect a screen just built to the window and to the screens it talks to (through the window)."""
        if key == "data":
            screen.demo_requested.connect(self.start_demo)
            screen.loaded.connect(self._demo_loaded)
            screen.load_failed.connect(self._demo_stopped)
            screen.load_cancelled.connect(self._demo_stopped)
        elif key == "train":
            screen.checkpoint_dir = self.checkpoint_dir
            screen.run_store_folder = self.run_store_folder
            screen.training_cancelled.connect(self._demo_stopped)
            screen.training_failed.connect(self._demo_stopped)
            screen.training_finished.connect(self._demo_trained)
            for signal in (screen.training_started, screen.training_finished, screen.training_cancelled,
                           screen.training_failed):
                signal.connect(lambda *_: self._refresh_runs())  # the live run appears as it starts and ends
            screen.training_started.connect(lambda: self._runs_live(True))  # and as it goes
            for signal in (screen.training_finished, screen.training_cancelled, screen.training_failed):
                signal.connect(lambda *_: self._runs_live(False))
        elif key == "runs":
            screen.store_folder = self.run_store_folder
            screen.set_live(self.tabs.is_built("train") and self.train_screen.is_training)  # built mid-training
            screen.opened.connect(lambda _name: self.tabs.show_screen("try"))
            screen.rerun_requested.connect(self._rerun)
        if key in self._forms:
            screen.apply_settings(self._forms.pop(key))

    def _refresh_runs(self, only_if_shown: bool = False) -> None:
        if self.tabs.is_built("runs") and (not only_if_shown or self.tabs.current_key() == "runs"):
            self.runs_screen.refresh()

    def _runs_live(self, live: bool) -> None:
        if self.tabs.is_built("runs"):
            self.runs_screen.set_live(live)

    def _open_in_tester(self, text: str, model: str = "") -> None:
        built = self.tabs.is_built("try")
        screen = self.tabs.show_screen("try")
        if not built:  # built just now: it missed the signal that asked for it
            screen.set_text(text, model)

    @property
    def run_store_folder(self) -> Path | None:
        """The run store's folder, the command line's too (core.store.runs.store_home); None, said in the
        status bar, when it can't be used: training then works as before, without keeping runs."""
        if self._store_folder is False:
            from core.store.runs import RunStore

            try:
                store = RunStore()
            except StudioError as e:
                self.session.status.emit(f"Runs are not kept: {e}")
                self._store_folder = None
                return None
            notes, read_only = store.notes, store.read_only
            store.close()
            for note in notes:
                self.session.status.emit(note)
            self._store_folder = None if read_only else store.folder
        return self._store_folder

    def _screens_built(self) -> None:
        """Every screen is built: the Data screen's charts are made now (not when the first dataset arrives),
        then the tasks' thread machinery is imported (superqt: 0.1 s), each a turn of its own, then PyTorch
        starts loading."""
        self.data_screen.charts()
        QTimer.singleShot(0, self, self._import_task_machinery)

    def _import_task_machinery(self) -> None:
        import_quietly("superqt.utils")  # what gui/worker.py's Task.start imports for the first task
        QTimer.singleShot(0, self, self.load_torch)

    def load_torch(self) -> Task | None:
        """Load PyTorch and the core's torch-side modules on a worker thread, then do PyTorch's one-time set-up
        (core.train.warmup). The window was drawn without them; a Train, Try or Compare pressed meanwhile
        waits on its own worker thread for the import to finish, never on the GUI thread."""
        if self._torch in ("loading", "ready"):
            return None
        self._torch = "loading"

        def steps(control):
            from core.train.warmup import warm_up_steps  # on the worker thread (see gui/worker.py)

            return warm_up_steps(control)

        task = Task(steps, name="load PyTorch")
        task.event.connect(self._torch_loading)  # methods: no call once the window is gone
        task.failed.connect(self._torch_failed)
        return self.session.tasks.track(task).start()

    def _torch_loading(self, event: PhaseEvent) -> None:
        if event.phase == "loaded":
            self._torch = "ready"
        self.statusBar().showMessage(event.message, 4000)

    def _torch_failed(self, exc: BaseException) -> None:
        """Say it; each task that needs PyTorch then imports it itself, and reports what fails there."""
        self._torch = "failed"
        self.statusBar().showMessage(f"PyTorch could not be set up in the background: {error_message(exc)}", 15000)

    # menus ---------------------------------------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _rerun(self, settings: dict) -> None:
        """A run's settings from the Runs screen: into the Train screen's form, shown there; its data settings
        (how the splits were carved) into the Data screen's options, saying when the loaded data differs."""
        self.train_screen.apply_settings(settings)
        self.tabs.show_screen("train")
        carve = settings.get("data")
        if isinstance(carve, dict):  # older runs recorded none
            self.data_screen.picker.set_data_config(carve)
            dataset = self.session.dataset
            if dataset is not None and dataset.carved and any(
                    getattr(dataset, name, value) != value for name, value in carve.items()):
                self.session.status.emit("The run's split options are on the Data screen: load the dataset again "
                                         "to carve it as the run did")

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "Open &dataset…", self.open_dataset_dialog, QKeySequence.StandardKey.Open,
                     "Open a CSV, TSV, JSON or Parquet file")
        self._action(file, "Open dataset &folder…", self.open_dataset_folder, "Ctrl+Shift+D",
                     "Open a folder with train / dev / test files")
        self._action(file, "Open &model…", lambda: self.models_screen.open_dialog(), "Ctrl+Shift+O", "Open model files")
        self._action(file, "&Save model…", lambda: self.models_screen.save_dialog(), QKeySequence.StandardKey.Save,
                     "Save the model selected on the Models screen")
        self._action(file, "E&xport model…", lambda: self.models_screen.export_dialog(), "Ctrl+Shift+E",
                     "Export the selected model as a folder that runs without PyTorch (ONNX)")
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
            self.tabs.show_screen("data")
            self.data_screen.load(path)

    def open_dataset_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of split files")
        if path:
            self.tabs.show_screen("data")
            self.data_screen.load(path)

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

    # the first-run demo ------------------------------------------------------------------------
    def start_demo(self) -> None:
        """Load the built-in demo set, then train the ticked models (LSTM and RNN) on it and open Compare.

        Any other load, a cancel or a failure ends the demo: later loads and trainings act as usual.
        """
        self._demo = "loading"
        self.tabs.show_screen("data")
        self.data_screen.load(DEMO_SOURCE)

    def _demo_loaded(self, dataset) -> None:
        if self._demo != "loading" or dataset.source != DEMO_SOURCE:
            self._demo = ""
            return
        self.tabs.show_screen("train")
        self._demo = "training" if self.train_screen.start_training() else ""

    def _demo_trained(self, _names: list) -> None:
        if self._demo == "training":
            self.tabs.show_screen("compare")
        self._demo = ""

    def _demo_stopped(self, *_args) -> None:
        self._demo = ""

    def leftover_checkpoints(self) -> list[Path]:
        """Checkpoints of runs that never finished (a finished or cancelled run removes its own)."""
        folder = self.checkpoint_dir
        if folder is None or not folder.is_dir():
            return []
        return sorted(folder.glob("*.safetensors"))

    def offer_checkpoints(self) -> list[str]:
        """At start-up: offer to reopen the best epochs of trainings a crash interrupted.

        Yes opens them into the session (and removes the files: save a model to keep it), Discard
        removes them, No leaves them for next time. A checkpoint whose run the run store recorded moves into
        the store first and stays there (its interrupted run keeps it), whatever the answer.
        Returns the session names of the models opened.
        """
        paths = self.leftover_checkpoints()
        if not paths:
            return []
        from core.store.modelfile import load_model  # torch: only when a crash left models to offer
        from core.store.runs import RunStore

        kept: set[Path] = set()  # adopted by their runs: never removed here
        if self.run_store_folder is not None:
            try:
                store = RunStore(self.run_store_folder)
            except StudioError:
                store = None
            if store is not None:
                with store:
                    for i, path in enumerate(paths):
                        with suppress(OSError, StudioError):
                            adopted = store.adopt(path)
                            if adopted is not None:
                                paths[i] = adopted
                                kept.add(adopted)
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
                if path not in kept:
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
            epoch = model.record.checkpoint.epoch if model.record.checkpoint else None
            suffix = f" (recovered, epoch {epoch})" if epoch else " (recovered)"
            opened.append(self.session.add_model(model, model.name + suffix, saved=path in kept))
            if path not in kept:
                with suppress(OSError):
                    path.unlink(missing_ok=True)  # in the session now; saving it is the user's choice
        if problems:
            QMessageBox.warning(self, "Some checkpoints could not be opened", "\n".join(problems))
        if opened:
            self.tabs.show_screen("models")
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
            self.models_screen.open_files(models)
            self.tabs.show_screen("models")
        others = [p for p in paths if not p.endswith(".safetensors")]
        if others:
            self.tabs.show_screen("data")
            self.data_screen.load(others[0])
        event.acceptProposedAction()

    # settings and shutdown -----------------------------------------------------------------------
    def _restore_settings(self) -> None:
        """The window, the tab and each screen's form; a screen's form is one JSON value."""
        s = settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        for key in FORMS:  # each applied when its screen is built (see _wire)
            try:
                values = json.loads(s.value(f"{key}/json", "") or "{}")
            except (TypeError, ValueError):
                values = None  # written by another version, or damaged: keep the defaults
            if isinstance(values, dict):
                self._forms[key] = values
        tab = s.value("window/tab", 0, type=int)
        self.tabs.setCurrentIndex(min(max(tab, 0), self.tabs.count() - 1))

    def save_settings(self) -> None:
        s = settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/tab", self.tabs.currentIndex())
        for key in FORMS:
            values = self.tabs.screen(key).settings_dict() if self.tabs.is_built(key) else self._forms.get(key)
            if values is not None:  # a screen never built keeps what it was given
                s.remove(key)
                s.setValue(f"{key}/json", json.dumps(values))
        s.sync()

    def closeEvent(self, event) -> None:
        """Ask about unsaved models, cancel running work and wait for it (within one batch), then close."""
        if self._closing_save is not None:  # still writing the files of Save all: close when it ends
            self.statusBar().showMessage("Still saving the models; the window closes when they are written")
            event.ignore()
            return
        unsaved = [n for n in self.session.models if n in self.session.unsaved]
        if unsaved:
            answer = ask_unsaved(self, unsaved)
            if answer == "cancel":
                event.ignore()
                return
            if answer == "save":
                folder = QFileDialog.getExistingDirectory(self, "Save the trained models into a folder")
                if not folder:
                    event.ignore()
                    return
                task = self.models_screen.save_all(unsaved, folder)
                self._closing_save = task
                task.succeeded.connect(self.close, Qt.ConnectionType.QueuedConnection)  # after ``ended``
                task.ended.connect(lambda: setattr(self, "_closing_save", None))
                self.statusBar().showMessage(f"Saving {len(unsaved)} model(s) to {folder}…")
                event.ignore()
                return
        self.save_settings()
        if self.session.tasks:
            self.statusBar().showMessage("Stopping running work…")
        self.session.tasks.shutdown(timeout_s=2.5)  # a task still running after that ends at its next batch
        event.accept()
