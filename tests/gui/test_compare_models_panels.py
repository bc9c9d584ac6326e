"""The Compare and Models screens, on a small trained model and its dataset."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QMessageBox

from gui.compare_panel import COLUMNS, ComparePanel
from gui.models_panel import ModelsPanel
from gui.session import Session


def test_compare_scores_every_model(qtbot, tiny_model, tiny_dataset):
    session = Session()
    session.set_dataset(tiny_dataset)
    session.add_model(tiny_model, "LSTM")
    session.add_model(tiny_model, "LSTM again")
    panel = ComparePanel(session)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.evaluated, timeout=20_000):
        panel.evaluate()
    view = panel.view
    assert view.table.rowCount() == 2 and view.table.columnCount() == len(COLUMNS)
    accuracy = float(view.table.item(0, 1).text().rstrip("%")) / 100
    assert abs(accuracy - tiny_model.evaluate(tiny_dataset["test"]).accuracy) < 1e-3
    assert len(view.by_length.getPlotItem().listDataItems()) == 2
    assert len(view.grads.getPlotItem().listDataItems()) == 2  # gradient norms from training history
    score = view.scores["LSTM"]
    wrong = int((score.predicted != score.truth).sum())
    assert view.wrong.rowCount() == wrong
    assert np.asarray(score.result.confusion).sum() == len(tiny_dataset["test"])
    if wrong:
        with qtbot.waitSignal(session.open_in_tester, timeout=1000) as sig:
            view.wrong.cellDoubleClicked.emit(0, 0)
        assert sig.args[0] in tiny_dataset["test"].texts


def test_compare_without_data_or_models_says_what_to_do(qtbot):
    panel = ComparePanel(Session())
    qtbot.addWidget(panel)
    panel.evaluate()
    assert "Train or open" in panel.message.text()


def test_models_panel_save_and_open_round_trip(qtbot, tiny_model, tmp_path):
    session = Session()
    session.add_model(tiny_model, "LSTM")
    panel = ModelsPanel(session)
    qtbot.addWidget(panel)
    assert panel.list.count() == 1
    assert "LSTM" in panel.details.toPlainText() and "Parameters" in panel.details.toPlainText()
    path = tmp_path / "lstm.safetensors"
    with qtbot.waitSignal(panel.saved, timeout=10_000):
        panel.save("LSTM", str(path))
    assert path.stat().st_size > 0
    with qtbot.waitSignal(panel.opened, timeout=10_000) as sig:
        panel.open_files([str(path)])
    (name,) = sig.args[0]
    assert name == "LSTM (2)" and panel.list.count() == 2
    texts = ["the film was great", "awful"]
    np.testing.assert_array_equal(session.models[name].predict_proba(texts), tiny_model.predict_proba(texts))


def test_models_panel_reports_a_bad_file(qtbot, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args))
    session = Session()
    panel = ModelsPanel(session)
    qtbot.addWidget(panel)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    task = panel.open_files([str(bad)])
    qtbot.waitUntil(lambda: not task.running and bool(warnings), timeout=5000)
    assert "not a Sentiment Studio model" in warnings[0][2]
    assert session.models == {}
