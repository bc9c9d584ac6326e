"""The Compare and Models screens, on a small trained model and its dataset."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QFileDialog, QMessageBox

from gui.compare_screen import CompareScreen
from gui.compare_views import COLUMNS
from gui.models_screen import ModelsScreen
from gui.session import Session


def test_compare_scores_every_model(qtbot, tiny_model, tiny_dataset):
    session = Session()
    session.set_dataset(tiny_dataset)
    session.add_model(tiny_model, "LSTM")
    session.add_model(tiny_model, "LSTM again")
    panel = CompareScreen(session)
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
    assert view.wrong.table.rowCount() == wrong
    assert np.asarray(score.result.confusion).sum() == len(tiny_dataset["test"])
    if wrong:
        with qtbot.waitSignal(session.open_in_tester, timeout=1000) as sig:
            view.wrong.table.cellDoubleClicked.emit(0, 0)
        assert sig.args[0] in tiny_dataset["test"].texts


def test_compare_names_the_words_behind_each_mistake(qtbot, tiny_model, tiny_dataset):
    from core.data import TextDataset

    flipped = TextDataset("memory:flipped", {name: type(split)(split.texts, 1 - split.labels)
                                             for name, split in tiny_dataset.splits.items()}, tiny_dataset.label_names)
    session = Session()
    session.set_dataset(flipped)  # the model's right answers are all mistakes here
    session.add_model(tiny_model, "LSTM")
    panel = CompareScreen(session)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.evaluated, timeout=30_000):
        panel.evaluate()
    table = panel.view.wrong.table
    assert table.rowCount() >= 30 and table.horizontalHeaderItem(4).text() == "Words behind it"
    top = table.item(0, 4).text().split(" (")[0]
    assert top in table.item(0, 0).text().split() and "+" in table.item(0, 4).text()


def test_compare_without_data_or_models_says_what_to_do(qtbot):
    panel = CompareScreen(Session())
    qtbot.addWidget(panel)
    panel.evaluate()
    assert "Train or open" in panel.message.text()


def test_models_panel_save_and_open_round_trip(qtbot, tiny_model, tmp_path):
    session = Session()
    session.add_model(tiny_model, "LSTM")
    panel = ModelsScreen(session)
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


def test_models_panel_exports_the_same_bundle_as_the_command_line(qtbot, tiny_model, tmp_path, monkeypatch):
    """Export… (File > Export model…) writes the CLI's bundle in the background; a non-empty folder is
    replaced only after the user says so."""
    import json

    import cli
    from core.store.export import FILES

    session = Session()
    session.add_model(tiny_model, "LSTM")
    panel = ModelsScreen(session)
    qtbot.addWidget(panel)
    path = tmp_path / "lstm.safetensors"
    with qtbot.waitSignal(panel.saved, timeout=10_000):
        panel.save("LSTM", str(path))
    out = tmp_path / "from-the-app"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(out), ""))
    with qtbot.waitSignal(panel.exported, timeout=20_000):
        panel.export_dialog()
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, "lstm.safetensors"])
    qtbot.waitUntil(lambda: not session.tasks, timeout=10_000)
    assert cli.main(["export", str(path), "--out", str(tmp_path / "from-the-cli")]) == 0
    for name in ("model.onnx", "tokenizer.json", "lstm.safetensors"):
        assert (out / name).read_bytes() == (tmp_path / "from-the-cli" / name).read_bytes(), name
    assert json.loads((out / "config.json").read_text()) == json.loads((tmp_path / "from-the-cli" / "config.json")
                                                                       .read_text())
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args) or QMessageBox.StandardButton.No)
    panel.export_dialog()  # the folder holds a bundle now: asked, and left alone on No
    assert asked and "holds an earlier bundle" in asked[0][2] and not panel.session.tasks
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warned.append(args))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    out = tmp_path / "mine"
    panel.export_dialog()  # a folder of other files is never offered for replacing
    assert warned and "not an earlier bundle" in warned[0][2] and len(asked) == 1
    assert (out / "thesis.tex").read_text() == "years of work"


def test_models_panel_reports_a_bad_file(qtbot, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args))
    session = Session()
    panel = ModelsScreen(session)
    qtbot.addWidget(panel)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    task = panel.open_files([str(bad)])
    qtbot.waitUntil(lambda: not task.running and bool(warnings), timeout=5000)
    assert "not a Sentiment Studio model" in warnings[0][2]
    assert session.models == {}


def test_compare_shows_the_lstm_vs_rnn_story(qtbot, tiny_dataset, tiny_model):
    """On builtin:longrange: accuracy by gap, gradient through time and forget-gate values, per model."""
    from core.config import ModelConfig, TrainConfig
    from core.data import load_dataset
    from core.events import run_to_end
    from core.train.pipeline import train_model

    ds = load_dataset("builtin:longrange?n=300&gap=5-60")
    session = Session()
    session.set_dataset(ds)
    for kind in ("lstm", "rnn"):
        cfg = ModelConfig(kind=kind, embed_dim=8, hidden_size=8, bidirectional=False, pooling="last", dropout=0.0)
        session.add_model(run_to_end(train_model(ds, cfg, TrainConfig(epochs=1, device="cpu"))).model, kind.upper())
    panel = CompareScreen(session)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.evaluated, timeout=30_000):
        panel.evaluate()
    view = panel.view
    assert view.accuracy_tabs.isTabEnabled(1)
    assert len(view.by_gap.getPlotItem().listDataItems()) == 2
    lstm = view.scores["LSTM"]
    assert sum(b.count for b in lstm.by_gap) == len(ds["test"])
    # one-way models reading their last state: the real loss's gradient, measured over the longest texts
    assert all(s.gradient.exact_loss for s in view.scores.values())
    longest = sorted(len(t.split()) for t in ds["test"].texts)[-64:]
    assert view.scores["RNN"].gradient.norms.size == min(200, longest[0])
    assert len(view.through_time.getPlotItem().listDataItems()) == 2
    assert "loss" in view.through_time.getPlotItem().titleLabel.text
    # only the LSTM has a memory gate; its histogram covers every traced value
    assert view.scores["RNN"].gates is None
    assert lstm.gates.gate == "forget" and lstm.gates.histogram.sum() == lstm.gates.count > 0
    assert len(view.gates.getPlotItem().listDataItems()) == 1
    (curve,) = view.gates.getPlotItem().listDataItems()
    assert "forget gate" in curve.name() and "above 0.9" in curve.name()

    # a dataset without a gap column: the tab is off, the other views still fill
    session.set_dataset(tiny_dataset)
    with qtbot.waitSignal(panel.evaluated, timeout=30_000):
        panel.evaluate()
    assert not view.accuracy_tabs.isTabEnabled(1)
    assert len(view.through_time.getPlotItem().listDataItems()) == 2
    session.add_model(tiny_model, "BiLSTM")  # pooled and two-way: the recurrence alone
    with qtbot.waitSignal(panel.evaluated, timeout=30_000):
        panel.evaluate()
    assert not view.scores["BiLSTM"].gradient.exact_loss
    assert "u·h_T" in view.through_time.getPlotItem().titleLabel.text


def test_a_model_that_cannot_be_scored_keeps_its_row_with_the_reason(qtbot, tiny_model, tiny_dataset):
    """A 3-class model on 2-class data: the reason stays in its row, not in a message that is overwritten."""
    import copy

    from core.data import TextDataset

    three = copy.copy(tiny_model)
    three.label_names = ["a", "b", "c"]
    session = Session()
    session.set_dataset(tiny_dataset)
    session.add_model(tiny_model, "LSTM")
    session.add_model(three, "Other")
    panel = CompareScreen(session)
    qtbot.addWidget(panel)
    panel.split.setCurrentText("validation")
    with qtbot.waitSignal(panel.evaluated, timeout=20_000):
        panel.evaluate()
    table = panel.view.table
    assert table.rowCount() == 2 and table.item(1, 0).text() == "Other"
    assert "don't match" in table.item(1, 1).text() and table.columnSpan(1, 1) == table.columnCount() - 1
    assert "1 could not be scored" in panel.message.text()
    assert list(panel.view.scores) == ["LSTM"]
    # the misclassified list says which split it lists
    assert "Misclassified validation examples" in panel.view.wrong.title.text()
    assert panel.view.wrong.table.rowCount() == int((panel.view.scores["LSTM"].predicted
                                                     != panel.view.scores["LSTM"].truth).sum())
    assert isinstance(session.dataset, TextDataset)


def test_colours_are_assigned_once_and_shared_by_every_screen(qtbot, tiny_model):
    from gui.try_screen import TryScreen

    session = Session()
    session.add_model(tiny_model, "LSTM")
    second = session.add_model(tiny_model)  # "LSTM (2)": a second model of the same kind
    models = ModelsScreen(session)
    tryout = TryScreen(session)
    qtbot.addWidget(models)
    qtbot.addWidget(tryout)
    assert second == "LSTM (2)" and session.color("LSTM") != session.color(second)
    shown = {models.list.item(i).data(0x0100): models.list.item(i).foreground().color().name().upper()
             for i in range(models.list.count())}
    assert shown == {name: color.upper() for name, color in session.colors().items()}
    assert session.color(second).lower() in tryout.cards[second].title.text().lower()
    session.remove_model("LSTM")
    assert session.color(second).upper() == shown[second]  # kept when other models go


def test_a_change_during_scoring_drops_the_old_run(qtbot, tiny_model, tiny_dataset):
    """Removing a model while the (hidden) screen scores: the old run's rows never appear."""
    session = Session()
    session.set_dataset(tiny_dataset)
    session.add_model(tiny_model, "A")
    session.add_model(tiny_model, "B")
    panel = CompareScreen(session)
    qtbot.addWidget(panel)
    shown = []
    panel.evaluated.connect(lambda: shown.append([r.name for r in panel.view.rows]))
    panel.evaluate()
    assert panel.slot.busy
    session.remove_model("B")
    assert not panel.slot.busy and panel.button.isEnabled()
    qtbot.waitUntil(lambda: not session.tasks, timeout=20_000)  # the dropped run ends; nothing is drawn from it
    assert shown == []
    with qtbot.waitSignal(panel.evaluated, timeout=20_000):
        panel.evaluate()
    assert shown == [["A"]]
