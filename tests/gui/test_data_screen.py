"""The Data screen: loading off the GUI thread, column mapping, errors, cancel, drag and drop, charts.

No network: Hub failures are mocked at core.data's loader.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMessageBox

import core.data as core_data
from core.data import DataError, describe
from core.events import TaskCancelled
from gui.data_screen import DataScreen
from gui.preview_table import PREVIEW_ROWS
from gui.session import Session

LOAD_TIMEOUT_MS = 10_000


@pytest.fixture
def warnings(monkeypatch) -> list[tuple]:
    """Record QMessageBox.warning calls instead of opening a modal dialog."""
    calls: list[tuple] = []

    def fake_warning(*args, **kwargs):
        calls.append(args)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(fake_warning))
    return calls


@pytest.fixture
def panel(qtbot, warnings):
    session = Session()
    widget = DataScreen(session)
    qtbot.addWidget(widget)
    widget.resize(1280, 800)
    widget.show()
    yield widget
    assert session.tasks.shutdown(timeout_s=2.0)


def load_ok(qtbot, panel: DataScreen, source: str, *columns: str | None):
    with qtbot.waitSignal(panel.loaded, timeout=LOAD_TIMEOUT_MS) as blocker:
        panel.load(source, *columns)
    return blocker.args[0]


def load_fail(qtbot, panel: DataScreen, source: str, *columns: str | None) -> str:
    with qtbot.waitSignal(panel.load_failed, timeout=LOAD_TIMEOUT_MS) as blocker:
        panel.load(source, *columns)
    return blocker.args[0]


def assert_idle(panel: DataScreen) -> None:
    assert not panel.is_loading
    assert panel.picker.load_button.isVisible() and panel.picker.load_button.isEnabled()
    assert not panel.picker.cancel_button.isVisible()
    assert not panel.progress.isVisible()


def test_builtin_fills_preview_splits_and_charts(qtbot, panel):
    statuses: list[str] = []
    panel.session.status.connect(statuses.append)
    ds = load_ok(qtbot, panel, "builtin:longrange?n=400")

    assert panel.session.dataset is ds
    assert_idle(panel)
    model = panel.preview.model
    assert model.rowCount() == min(len(ds.splits["train"]), PREVIEW_ROWS) > 0
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers[:2] == ["text", "label"]
    first = model.index(0, 0)
    assert model.data(first) == " ".join(ds.splits["train"].texts[0].split())
    assert ds.splits["train"].texts[0] in model.data(first, Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(0, 1)) in ds.label_names

    sizes = panel.splits_label.text()
    for split in ("train", "validation", "test"):
        assert f"{len(ds.splits[split]):,}" in sizes
    assert any(s.startswith("Loaded builtin:longrange") for s in statuses)

    for split, bars in panel.balance_chart.bars.items():
        heights = np.asarray(bars.opts["height"])
        assert heights.sum() == len(ds.splits[split])
        assert list(heights) == list(np.bincount(ds.splits[split].labels, minlength=ds.num_classes))
    ticks = panel.balance_chart.getAxis("bottom")._tickLevels[0]
    assert [name for _, name in ticks] == ds.label_names

    _, counts = panel.length_chart.curve.getData()
    assert counts.sum() == len(ds.splits["train"])
    stats = describe(ds)["train"]
    assert panel.length_chart.mean_line.value() == pytest.approx(stats.mean)
    assert panel.length_chart.p95_line.value() == stats.p95

    panel.preview.split.setCurrentText("test")
    assert model.rowCount() == len(ds.splits["test"])


def test_undetected_columns_reveal_the_fields_then_load(qtbot, panel, warnings, tmp_path):
    rows = [("a truly great and moving film", "yes"), ("dull and far too long", "no")] * 10
    path = tmp_path / "odd.csv"
    # Three columns, so core does not guess (it only guesses between exactly two).
    path.write_text("id,body,verdict\n" + "".join(f"{i},{t},{v}\n" for i, (t, v) in enumerate(rows)), "utf-8")

    message = load_fail(qtbot, panel, str(path))
    assert "column" in message and "--" not in message  # no CLI flags in the GUI
    assert panel.error_label.isVisible() and "verdict" in panel.error_label.text()
    assert panel.picker.column_row.isVisible()
    field = panel.picker.label_column
    assert [field.itemText(i) for i in range(field.count())] == ["id", "body", "verdict"]
    assert panel.picker.label_column.hasFocus() or not panel.isActiveWindow()
    assert len(warnings) == 1 and warnings[0][1] == "Could not load the dataset"
    assert_idle(panel)

    panel.picker.text_column.setEditText("body")
    panel.picker.label_column.setEditText("verdict")
    with qtbot.waitSignal(panel.loaded, timeout=LOAD_TIMEOUT_MS) as blocker:
        panel.picker.load_button.click()
    ds = blocker.args[0]
    assert (ds.text_column, ds.label_column) == ("body", "verdict")
    assert sorted(ds.label_names) == ["no", "yes"]
    assert not panel.error_label.isVisible()
    assert "<b>Validation</b> 2 <i>(carved from train, 10%, split seed 0)</i>" in panel.splits_label.text()


def test_bad_file_warns_and_panel_stays_usable(qtbot, panel, warnings, tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"this is not parquet at all")
    message = load_fail(qtbot, panel, str(bad))
    assert warnings and warnings[-1][2] == message
    assert panel.error_label.isVisible()
    assert panel.session.dataset is None
    assert_idle(panel)

    ds = load_ok(qtbot, panel, "builtin:reviews?n=200")
    assert panel.session.dataset is ds


def test_cancel_stops_a_slow_load_quickly(qtbot, panel, warnings, monkeypatch):
    started, saw_cancel = threading.Event(), threading.Event()

    def slow_load(source, *, control, **kwargs):
        started.set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if control.cancelled:
                saw_cancel.set()
                raise TaskCancelled("cancelled")
            time.sleep(0.01)
        raise AssertionError("the load was never cancelled")

    monkeypatch.setattr(core_data, "load_dataset", slow_load)
    failed: list[str] = []
    panel.load_failed.connect(failed.append)
    panel.load("imdb")
    assert panel.is_loading and panel.picker.cancel_button.isVisible() and panel.progress.isVisible()
    assert "Hugging Face Hub" in panel.status_label.text()
    assert started.wait(5)

    begun = time.monotonic()
    panel.picker.cancel_button.click()
    assert_idle(panel)  # at once, even before the worker notices
    qtbot.waitUntil(lambda: not panel.session.tasks, timeout=1000)
    assert saw_cancel.is_set() and time.monotonic() - begun < 1.0
    assert "Cancelled" in panel.status_label.text()
    assert not failed and not warnings
    assert panel.session.dataset is None

    monkeypatch.undo()  # the real loader again (the warnings fixture's patch goes too; no warning is expected)
    load_ok(qtbot, panel, "builtin:reviews?n=200")


def test_drop_a_tsv_file_loads_it(qtbot, panel, tmp_path):
    path = tmp_path / "reviews.tsv"
    rows = [("what a lovely warm film", "positive"), ("a boring mess", "negative")] * 10
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{v}\n" for t, v in rows), encoding="utf-8")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = QPointF(200, 200)
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier

    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, buttons, mods)
    panel.dragEnterEvent(enter)
    assert enter.isAccepted()
    with qtbot.waitSignal(panel.loaded, timeout=LOAD_TIMEOUT_MS) as blocker:
        panel.dropEvent(QDropEvent(pos, Qt.DropAction.CopyAction, mime, buttons, mods))
    assert blocker.args[0].label_names == ["negative", "positive"]
    assert panel.picker.current_source() == str(path)

    text_only = QMimeData()
    text_only.setText("not a file")
    ignored = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, text_only, buttons, mods)
    panel.dragEnterEvent(ignored)
    assert not ignored.isAccepted()


def test_offline_hub_message_is_shown(qtbot, panel, warnings, monkeypatch):
    offline = (
        'Can\'t reach the Hugging Face Hub and "imdb" is not in the local cache. Use a local file '
        "(CSV/TSV/JSON/Parquet) or a built-in set such as builtin:longrange."
    )

    def no_network(source, **kwargs):
        raise DataError(offline)

    monkeypatch.setattr(core_data, "load_dataset", no_network)
    panel.picker.source.setEditText("imdb")
    with qtbot.waitSignal(panel.load_failed, timeout=LOAD_TIMEOUT_MS) as blocker:
        qtbot.keyClick(panel.picker.source.lineEdit(), Qt.Key.Key_Return)
    assert blocker.args[0] == offline
    assert offline in panel.error_label.text()
    assert warnings[-1][2] == offline
    assert not panel.picker.column_row.isVisible()  # not a column problem
    assert_idle(panel)


@pytest.mark.parametrize("error", [ValueError("boom"), RuntimeError("boom")])
def test_unexpected_errors_are_reported_not_swallowed(qtbot, panel, warnings, monkeypatch, error):
    def broken(source, **kwargs):
        raise error

    monkeypatch.setattr(core_data, "load_dataset", broken)
    message = load_fail(qtbot, panel, "builtin:reviews")
    # RuntimeError matters: superqt drops it and never reports the end; the panel must still finish.
    assert message == f"Unexpected error ({type(error).__name__}): boom"
    assert len(warnings) == 1
    assert_idle(panel)


def test_settings_round_trip(qtbot, panel, tmp_path):
    load_ok(qtbot, panel, "builtin:reviews?n=200", "text", "label")
    saved = panel.settings_dict()
    assert saved["source"] == "builtin:reviews?n=200"
    assert (saved["text_column"], saved["label_column"]) == ("text", "label")
    assert saved["recent"] == ["builtin:reviews?n=200"]

    other = DataScreen(Session())
    qtbot.addWidget(other)
    other.apply_settings({**saved, "recent": "builtin:reviews?n=200"})  # QSettings gives a 1-item list as str
    assert other.picker.current_source() == "builtin:reviews?n=200"
    assert other.picker.options_button.isChecked()
    assert other.settings_dict() == saved


def test_shows_a_dataset_set_elsewhere(panel, tiny_dataset):
    panel.session.set_dataset(tiny_dataset)
    assert panel.preview.model.rowCount() == len(tiny_dataset.splits["train"])
    assert np.asarray(panel.balance_chart.bars["train"].opts["height"]).sum() == 200
    panel.session.set_dataset(None)
    assert panel.preview.model.rowCount() == 0


@pytest.mark.shared_data
def test_shared_sst2_folder(qtbot, panel):
    from helpers import shared_dataset

    ds = load_ok(qtbot, panel, str(shared_dataset("sst2")))
    assert ds.carved == ()
    assert panel.preview.model.rowCount() == PREVIEW_ROWS


def test_the_options_carve_missing_splits_as_asked_and_are_kept(qtbot, panel, tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("text,label\n" + "".join(f"review number {i},{['neg', 'pos'][i % 2]}\n" for i in range(200)))
    picker = panel.picker
    picker.options_button.setChecked(True)
    assert picker.split_row.isVisible() and set(picker.split_inputs) == {"split_seed", "validation_fraction",
                                                                         "test_fraction"}
    picker.split_inputs["split_seed"].setValue(7)
    picker.split_inputs["validation_fraction"].setValue(0.25)
    dataset = load_ok(qtbot, panel, str(path))
    assert (dataset.split_seed, dataset.validation_fraction, len(dataset["validation"])) == (7, 0.25, 50)
    assert "split seed 7" in panel.splits_label.text()
    other = DataScreen(Session())
    qtbot.addWidget(other)
    other.apply_settings(panel.settings_dict())  # kept between runs of the app, with the rest of the screen
    assert other.picker.data_config().split_seed == 7 and other.picker.options_button.isChecked()
    picker.split_inputs["test_fraction"].setValue(0.5)
    picker.split_inputs["validation_fraction"].setValue(0.45)  # together they leave too little to train on
    assert "at least 10% for training" in load_fail(qtbot, panel, str(path))
