"""Take the README's screenshots from the real window after real training runs (1280x800 each).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [--quick]

Part one uses SST-2 from ../shared/datasets (builtin:reviews where that is absent) with the default
settings: data, train, compare (its pairs and agreement too), try and models screens. Part two trains LSTM,
GRU and RNN on builtin:longrange, reading left to right and classifying from the last state, to show the RNN
losing the deciding word as the gap grows. ``--part compare`` trains LSTM, GRU and RNN on SST-2 and takes
the Compare screen alone: the intervals, the pair table, the agreement matrix with a cell's rows listed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the runs these windows train go to a store of their own, never the user's (core/store/runs.py)
os.environ.setdefault("SENTIMENT_STUDIO_HOME", __import__("tempfile").mkdtemp(prefix="studio-shots-runs-"))
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import gui.main_window as main_window_module  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
SST2 = ROOT.parent / "shared" / "datasets" / "sst2"
LONG_SENTENCE = (  # 52 words: every one labelled under its heatmap column at 1280x800
    "i went in expecting another tired thriller , but the first hour is tense , the lead gives a quiet and "
    "moving performance , and even when the plot stumbles in the last act the film never loses its nerve ; "
    "not a masterpiece , yet far better than it had any right to be"
)


def wait_for(signal, timeout_s: float) -> list:
    loop = QEventLoop()
    got: list = []
    signal.connect(lambda *args: (got.extend(args), loop.quit()))
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    return got


def settle(ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def shot(win, tab, name: str) -> None:
    win.tabs.setCurrentWidget(tab)
    settle()
    path = OUT / f"{name}.png"
    win.grab().save(str(path))
    print("saved", path, flush=True)


def make_window(tmp_settings: Path):
    main_window_module.settings = lambda: QSettings(str(tmp_settings), QSettings.Format.IniFormat)
    win = main_window_module.MainWindow()
    win.resize(1280, 800)
    win.show()
    return win


def main() -> int:
    global OUT
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer epochs (for checking the script)")
    parser.add_argument("--part", choices=["all", "sentences", "longrange", "compare", "repeats"], default="all")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs (default docs/screenshots)")
    args = parser.parse_args()
    OUT = args.out
    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    settings_file = OUT / ".screenshots.ini"

    if args.part in ("all", "sentences"):
        sentences(settings_file, args.quick)
    if args.part in ("all", "longrange"):
        longrange(settings_file, args.quick)
    if args.part == "compare":
        three_kinds(settings_file, args.quick)
    if args.part == "repeats":
        repeats(settings_file, args.quick)
    settings_file.unlink(missing_ok=True)
    app.quit()
    return 0


def sentences(settings_file: Path, quick: bool) -> None:
    """Part one: real sentences, default settings."""
    win = make_window(settings_file)
    shot(win, win.data_screen, "welcome")  # what a first launch shows
    source = str(SST2) if (SST2 / "train.tsv").is_file() else "builtin:reviews"
    win.data_screen.load(source)
    wait_for(win.data_screen.loaded, 60)
    shot(win, win.data_screen, "data")
    screen = win.train_screen
    screen.reset_to_defaults()
    screen.kind_boxes["gru"].setChecked(True)
    screen.inputs[("train", "epochs")].setValue(2 if quick else 6)
    win.tabs.setCurrentWidget(screen)
    screen.start_training()
    wait_for(screen.training_finished, 1800)
    shot(win, screen, "train")
    win.tabs.setCurrentWidget(win.compare_screen)
    wait_for(win.compare_screen.evaluated, 300)
    shot(win, win.compare_screen, "compare")
    compare_pairs(win, "compare")
    win.tabs.setCurrentWidget(win.try_screen)
    win.try_screen.set_text("a gorgeous , witty film , though the ending is not as good as it should be")
    wait_for(win.try_screen.explained, 30)  # the word attributions come from the worker
    shot(win, win.try_screen, "try")
    win.try_screen.set_text(LONG_SENTENCE)
    wait_for(win.try_screen.explained, 30)
    shot(win, win.try_screen, "try-long")
    win.models_screen.list.setCurrentRow(0)
    shot(win, win.models_screen, "models")
    win.tabs.setCurrentWidget(win.runs_screen)
    win.runs_screen.refresh()
    table = win.runs_screen.table_model
    for row in range(min(3, table.rowCount())):  # overlay the three runs just trained
        table.setData(table.index(row, 0), 2, 10)  # Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole
    shot(win, win.runs_screen, "runs")
    sweep(win, quick)
    win.session.unsaved.clear()  # no Save all question when the script closes the window
    win.close()


def compare_pairs(win, prefix: str) -> None:
    """The Compare screen's pair table, then its agreement matrix with the rows only the first model of the
    first pair gets right listed beside."""
    view = win.compare_screen.view
    view.lower_tabs.setCurrentWidget(view.pair_table)
    shot(win, win.compare_screen, f"{prefix}-pairs")
    view.lower_tabs.setCurrentWidget(view.agreement)
    view.agreement.grid.setCurrentCell(0, 1)
    view.agreement.choose(0, 1)
    shot(win, win.compare_screen, f"{prefix}-agreement")
    view.lower_tabs.setCurrentWidget(view.pair_table)
    view.wrong.show_mistakes()


def three_kinds(settings_file: Path, quick: bool) -> None:
    """LSTM, GRU and RNN on SST-2 with the default settings, and the Compare screen: intervals, pairs, agreement."""
    win = make_window(settings_file)
    source = str(SST2) if (SST2 / "train.tsv").is_file() else "builtin:reviews"
    win.data_screen.load(source)
    wait_for(win.data_screen.loaded, 60)
    screen = win.train_screen
    screen.reset_to_defaults()
    for kind, box in screen.kind_boxes.items():
        box.setChecked(kind in ("lstm", "gru", "rnn"))
    screen.inputs[("train", "epochs")].setValue(2 if quick else 6)
    win.tabs.setCurrentWidget(screen)
    screen.start_training()
    wait_for(screen.training_finished, 1800)
    win.tabs.setCurrentWidget(win.compare_screen)
    wait_for(win.compare_screen.evaluated, 300)
    shot(win, win.compare_screen, "compare-intervals")
    compare_pairs(win, "compare")
    win.session.unsaved.clear()
    win.close()


def repeats(settings_file: Path, quick: bool) -> None:
    """LSTM and RNN repeated over 3 seeds (builtin:reviews), then over 5 folds of MR (which has no test split
    of its own), each pair of groups ticked on the Runs screen: intervals, mean ± sd, bands, the paired test; the
    seeds' models on the Compare screen's Groups tab too."""
    win = make_window(settings_file)
    screen, runs = win.train_screen, win.runs_screen
    for source, seeds, folds in (("builtin:reviews", 3, 0), (str(ROOT.parent / "shared/datasets/mr/all.tsv"), 1, 5)):
        if folds and not Path(source).is_file():
            break
        win.data_screen.load(source)
        wait_for(win.data_screen.loaded, 120)
        screen.reset_to_defaults()
        screen.inputs[("train", "epochs")].setValue(1 if quick else 4 if seeds > 1 else 2)
        screen.inputs[("repeat", "repeat")].setValue(seeds)
        screen.inputs[("repeat", "folds")].setValue(3 if quick and folds else folds)
        win.tabs.setCurrentWidget(screen)
        screen.form_scroll.ensureWidgetVisible(screen.forms["repeat"])
        if folds:
            shot(win, screen, "train-folds-ready")
        screen.start_training()
        wait_for(screen.training_finished, 3600)
        shot(win, screen, "train-folds" if folds else "train-seeds")
        win.tabs.setCurrentWidget(runs)
        runs.refresh()
        groups = runs.groups_model
        for row in range(groups.rowCount()):  # the two groups just trained (newest first), only those
            groups.setData(groups.index(row, 0), 2 if row < 2 else 0, 10)  # (un)checked, Qt's CheckStateRole
        shot(win, runs, "runs-folds" if folds else "runs-seeds")
        if not folds:
            compare_groups(win)
    screen.inputs[("repeat", "repeat")].setValue(1)
    screen.inputs[("repeat", "folds")].setValue(5)
    win.data_screen.load("builtin:reviews")
    wait_for(win.data_screen.loaded, 60)
    screen.form_scroll.ensureWidgetVisible(screen.forms["repeat"])
    shot(win, screen, "train-folds-refused")
    win.session.unsaved.clear()
    win.close()


def compare_groups(win) -> None:
    """The Compare screen's Groups tab over the models of the seed groups just trained: mean ± sd, the paired test."""
    view = win.compare_screen.view
    win.tabs.setCurrentWidget(win.compare_screen)
    wait_for(win.compare_screen.evaluated, 600)
    view.lower_tabs.setCurrentWidget(view.groups)
    shot(win, win.compare_screen, "compare-groups")


def sweep(win, quick: bool) -> None:
    """A 2 x 2 sweep of the LSTM on the Train screen, then its runs plotted against a swept setting."""
    screen = win.train_screen
    for kind, box in screen.kind_boxes.items():
        box.setChecked(kind == "lstm")
    screen.inputs[("train", "epochs")].setValue(1 if quick else 3)
    screen.sweep_edit.setText("hidden_size=64,128 learning_rate=0.001,0.003")
    screen.sweep_edit.setCursorPosition(0)
    screen.form_scroll.ensureWidgetVisible(screen.sweep_edit)
    win.tabs.setCurrentWidget(screen)
    screen.start_training()
    wait_for(screen.training_finished, 1800)
    shot(win, screen, "train-sweep")
    runs = win.runs_screen
    win.tabs.setCurrentWidget(runs)
    runs.refresh()
    runs.table.selectRow(0)
    runs.tick_sweep()
    runs.axis_choice.setCurrentText("train.learning_rate")
    shot(win, runs, "runs-sweep")
    screen.sweep_edit.clear()


def longrange(settings_file: Path, quick: bool) -> None:
    """Part two: the long-range story, as in docs/results.md (gaps 5-200, one-way, last state)."""
    win = make_window(settings_file)
    win.data_screen.load("builtin:longrange?n=8000&gap=5-200")
    wait_for(win.data_screen.loaded, 60)
    screen = win.train_screen
    screen.reset_to_defaults()
    screen.kind_boxes["gru"].setChecked(True)
    for key, value in {("model", "embed_dim"): 32, ("model", "hidden_size"): 32, ("model", "dropout"): 0.0,
                       ("model", "word_dropout"): 0.0, ("train", "learning_rate"): 5e-3,
                       ("train", "epochs"): 3 if quick else 10, ("train", "patience"): 10}.items():
        if key in screen.inputs:
            screen.inputs[key].setValue(value)
    screen.inputs[("model", "bidirectional")].setChecked(False)
    screen.inputs[("model", "pooling")].setCurrentText("last")
    win.tabs.setCurrentWidget(screen)
    screen.start_training()
    wait_for(screen.training_finished, 1800)
    shot(win, screen, "train-longrange")
    win.tabs.setCurrentWidget(win.compare_screen)
    wait_for(win.compare_screen.evaluated, 300)
    view = win.compare_screen.view
    view.accuracy_tabs.setCurrentWidget(view.by_gap)
    view.inside_tabs.setCurrentWidget(view.through_time)
    shot(win, win.compare_screen, "compare-longrange")
    view.inside_tabs.setCurrentWidget(view.gates)
    shot(win, win.compare_screen, "compare-gates")
    win.session.unsaved.clear()
    win.close()


if __name__ == "__main__":
    sys.exit(main())
