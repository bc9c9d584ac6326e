"""The Compare and Models screens, on a small trained model and its dataset."""

from __future__ import annotations

import numpy as np
from helpers import leaning
from PySide6.QtWidgets import QFileDialog, QMessageBox

from core.uncertainty import p_text
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
    accuracy = float(view.table.item(0, 1).text().split(" [")[0]) / 100
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
        assert sig.args[0] in tiny_dataset["test"].texts and sig.args[1] == "LSTM"


def test_compare_shows_intervals_pairs_and_agreement(qtbot, tiny_model, tiny_dataset):
    """Issue 28: each score and bucket with its 95% interval, every pair's paired test in numbers and in words
    (equal to core.uncertainty.compare_rows on the same predictions), and the agreement matrix, whose cells
    list exactly their rows."""
    from core.uncertainty import compare_rows
    from gui.compare_pairs import PAIR_COLUMNS

    session = Session()
    session.set_dataset(tiny_dataset)
    session.add_model(tiny_model, "LSTM")
    session.add_model(leaning(tiny_model, -4.0), "Shy")
    session.add_model(leaning(tiny_model, 3.5), "Eager")
    panel = CompareScreen(session)
    qtbot.addWidget(panel)
    panel.intervals.set_values({"resamples": 2000, "seed": 3})
    with qtbot.waitSignal(panel.evaluated, timeout=30_000):
        panel.evaluate()
    view, n = panel.view, len(tiny_dataset["test"])
    scores = [view.scores[name] for name in ("LSTM", "Shy", "Eager")]
    expected = compare_rows([s.truth for s in scores], [s.predicted for s in scores], 2, resamples=2000, seed=3)

    # the metrics table: accuracy and macro-F1 with their intervals, as compare_rows measures them
    for row, interval in enumerate(expected.models):
        lo, hi = interval.accuracy_ci
        assert view.table.item(row, 1).text() == f"{100 * interval.accuracy:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
        lo, hi = interval.macro_f1_ci
        assert view.table.item(row, 2).text() == f"{100 * interval.macro_f1:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
    assert expected.models[1].accuracy_ci[0] < expected.models[1].accuracy < expected.models[1].accuracy_ci[1]

    # the pair table: one row per pair, its numbers those of compare_rows, each pair in words
    table = view.pair_table.table
    assert table.rowCount() == 3 and table.columnCount() == len(PAIR_COLUMNS)
    assert view.lower_tabs.isTabEnabled(0) and view.lower_tabs.isTabEnabled(1)
    names = ["LSTM", "Shy", "Eager"]
    for row, pair in enumerate(expected.pairs):
        a, b = names[pair.a], names[pair.b]
        lo, hi = pair.accuracy_diff_ci
        assert table.item(row, 0).text() == f"{a} - {b}"
        assert table.item(row, 1).text() == f"{100 * pair.accuracy_diff:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"
        lo, hi = pair.macro_f1_diff_ci
        assert table.item(row, 2).text() == f"{100 * pair.macro_f1_diff:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"
        assert (table.item(row, 3).text(), table.item(row, 4).text()) == (str(pair.a_only), str(pair.b_only))
        assert table.item(row, 7).text() == ("yes" if pair.significant else "no")
        assert pair.sentence(a, b) in view.pair_table.words.text()
    assert view.pairs.comparison.pairs == expected.pairs
    assert "Holm" in view.pair_table.caption.text() and "2,000 resamples, seed 3" in view.pair_table.caption.text()

    # the agreement matrix of Shy and Eager: a click on a cell lists exactly its rows
    right = {s.name: s.predicted == s.truth for s in scores}
    table.setCurrentCell(2, 0)  # the pair table's row chooses the matrix's pair
    assert view.agreement.pair.currentText() == "Shy and Eager"
    grid = view.agreement.grid
    only_shy = np.flatnonzero(right["Shy"] & ~right["Eager"])
    only_eager = np.flatnonzero(~right["Shy"] & right["Eager"])
    assert len(only_shy) > 0 and len(only_eager) > 0
    assert grid.item(0, 1).text().split("\n")[0] == str(len(only_shy))
    grid.cellClicked.emit(0, 1)
    np.testing.assert_array_equal(view.wrong.shown, only_shy)
    assert f"Rows only Shy gets right</b> ({len(only_shy)} test rows)" in view.wrong.title.text()
    assert view.wrong.model.currentText() == "Eager"  # the answers of the one that gets them wrong
    texts = tiny_dataset["test"].texts
    assert [view.wrong.table.item(r, 0).text() for r in range(view.wrong.table.rowCount())] == [
        texts[i] for i in only_shy]
    grid.setCurrentCell(1, 0)
    grid.cellActivated.emit(1, 0)  # Enter on a cell does the same
    np.testing.assert_array_equal(view.wrong.shown, only_eager)
    assert view.wrong.model.currentText() == "Shy"
    view.wrong.back.click()  # and back to Shy's mistakes
    assert view.wrong.table.rowCount() == int((~right["Shy"]).sum()) and "Misclassified" in view.wrong.title.text()
    either = (right["Shy"] | right["Eager"]).mean()
    assert f"Either is right: {either:.1%}" in view.agreement.oracle.text()
    assert f"any of the 3 models: {np.logical_or.reduce(list(right.values())).mean():.1%}" in \
        view.agreement.oracle.text()

    # the buckets by length carry their intervals, drawn as error bars
    shy = view.scores["Shy"]
    assert shy.by_length and all(b.ci_low <= b.accuracy <= b.ci_high for b in shy.by_length)
    assert sum(b.count for b in shy.by_length) == n
    bars = view.by_length.bars["Shy"]
    assert bars.isVisible() and len(bars.opts["x"]) == len(shy.by_length)
    np.testing.assert_allclose(bars.opts["top"], [b.ci_high - b.accuracy for b in shy.by_length])
    assert set(view.by_length.bars) == {"LSTM", "Shy", "Eager"}

    # another seed: the intervals are measured again, without scoring again
    before = view.scores["Shy"]
    with qtbot.waitSignal(panel.evaluated, timeout=20_000):
        panel.intervals.inputs["seed"].setValue(4)
    again = compare_rows([s.truth for s in scores], [s.predicted for s in scores], 2, resamples=2000, seed=4)
    assert view.pairs.comparison.pairs == again.pairs and view.pairs.seed == 4
    assert view.scores["Shy"].interval == again.models[1] and view.scores["Shy"].predicted is before.predicted
    assert [r.name for r in view.rows] == names

    # one model left: no pairs; the pair tabs say so and give way to the confusion matrices
    session.remove_model("Shy")
    session.remove_model("Eager")
    with qtbot.waitSignal(panel.evaluated, timeout=20_000):
        panel.evaluate()
    assert view.pair_table.table.rowCount() == 0 and not view.lower_tabs.isTabEnabled(0)
    assert view.lower_tabs.currentWidget() is view.confusion and set(view.by_length.bars) == {"LSTM"}


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


def test_compare_shows_groups_over_seeds_and_their_paired_test(qtbot, tiny_model, tiny_dataset):
    """Issue 28: models of two groups of runs on the same seeds (ModelInfo.group) as a row each, mean ± sd with
    min-max, and the two groups' paired test over the seeds beside each seed's McNemar p; no group, no tab."""
    from gui.compare_groups import GROUP_COLUMNS, NO_GROUPS

    session = Session()
    session.set_dataset(tiny_dataset)
    for label, shifts in (("LSTM", (0.0, -1.5, 2.0)), ("RNN", (-4.0, -3.0, 3.5))):
        for seed, shift in enumerate(shifts):
            model = leaning(tiny_model, shift)
            model.info.group = {"id": f"s:{label}", "kind": "seeds", "n": 3, "index": seed, "seed": seed}
            session.add_model(model, f"{label} seed={seed}")
    panel = CompareScreen(session)
    qtbot.addWidget(panel)
    panel.intervals.set_values({"resamples": 500, "seed": 3})
    with qtbot.waitSignal(panel.evaluated, timeout=30_000):
        panel.evaluate()
    view = panel.view
    tab = view.lower_tabs.indexOf(view.groups)
    assert view.lower_tabs.tabText(tab) == "Groups" and view.lower_tabs.isTabEnabled(tab)
    lstm, rnn = view.pairs.groups
    table = view.groups.table
    assert table.rowCount() == 2 and table.columnCount() == len(GROUP_COLUMNS)
    s = rnn.accuracy
    spread = f"{100 * s.mean:.1f} ± {100 * s.sd:.1f} ({100 * s.low:.1f}-{100 * s.high:.1f})"
    assert [table.item(1, c).text() for c in range(3)] == ["RNN", "3 seeds", spread]
    assert table.item(1, 4).text() == "seed 0, seed 1, seed 2"
    words = view.groups.words.text()
    assert f"LSTM, 3 seeds: {lstm.line().split(': ')[1]}" in words and f"RNN, 3 seeds: {spread}" in words
    (pair,) = view.pairs.group_pairs
    sentence = (f"LSTM - RNN over seeds 0, 1, 2: mean {100 * pair.test.mean_diff:+.1f} points, "
                f"{p_text(pair.test.p)} (exact paired permutation test; 3 seeds can say no less than 0.25); "
                "per seed McNemar: " + ", ".join(f"seed {k} {p_text(pair.mcnemar[k])}" for k in range(3)))
    assert sentence in words
    assert "seed 1, one of 3 runs repeated over seeds" in view.table.item(1, 0).toolTip()

    # no group of two: the tab is off, and says why
    for name in ("LSTM seed=1", "LSTM seed=2", "RNN seed=1", "RNN seed=2"):
        session.remove_model(name)
    view.lower_tabs.setCurrentIndex(tab)
    with qtbot.waitSignal(panel.evaluated, timeout=20_000):
        panel.evaluate()
    assert not view.lower_tabs.isTabEnabled(tab) and "Repeat with N seeds" in view.lower_tabs.tabToolTip(tab)
    assert view.lower_tabs.currentWidget() is view.confusion
    assert view.groups.table.rowCount() == 0 and view.groups.caption.text() == NO_GROUPS
