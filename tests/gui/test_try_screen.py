"""The Try screen: live predictions, the gate heatmap, the probability plot and the equations."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from core.config import ModelConfig
from core.model.classifier import build_classifier
from core.model.sentiment_model import SentimentModel
from core.model.trace import GATE_NAMES
from core.text.tokenizer import TextTokenizer
from gui.gate_heatmap import HEATMAP_ROWS
from gui.session import Session
from gui.try_screen import TRACE_TOKENS, TRACE_TOKENS_BIDIRECTIONAL, TryScreen


def untrained(kind: str, **config) -> SentimentModel:
    """A small random model: enough to check shapes and robustness without training."""
    tokenizer = TextTokenizer.train(["the film was great", "an awful plot", "lovely and fine"])
    cfg = ModelConfig(kind=kind, vocab_size=tokenizer.vocab_size, embed_dim=8, hidden_size=6, **config)
    return SentimentModel(build_classifier(cfg, seed=0), tokenizer, ["negative", "positive"])


def make_panel(qtbot, *models: SentimentModel) -> tuple[TryScreen, Session]:
    session = Session()
    for model in models:
        session.add_model(model)
    panel = TryScreen(session)
    qtbot.addWidget(panel)
    return panel, session


def set_mode(panel: TryScreen, mode: str) -> None:
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData(mode))


def test_lstm_sentence_fills_every_view(qtbot, tiny_model):
    panel, _ = make_panel(qtbot, tiny_model)
    with qtbot.waitSignal(panel.updated, timeout=1000):
        panel.set_text("the film was great")

    trace = panel.current_trace
    assert trace is not None and trace.tokens == ["the", "film", "was", "great"]
    assert panel.heatmap.image_shape() == (len(HEATMAP_ROWS["lstm"]), 4)
    assert panel.heatmap.row_labels() == ["input", "forget", "output", "cell", "hidden"]
    assert panel.heatmap.column_labels() == ["the", "film", "was", "great"]
    forget = HEATMAP_ROWS["lstm"].index("forget")
    assert panel.heatmap.value_at(forget, 3) == pytest.approx(trace.cell().values["forget"][3].mean())

    (card,) = panel.cards.values()
    assert card.class_names == ["negative", "positive"]
    shown = np.array([bar.value() for bar in card.bars])
    np.testing.assert_allclose(shown, tiny_model.predict_proba(["the film was great"])[0], atol=1e-6)
    assert card.predicted() == "positive"  # the tiny model has learned "great"
    assert [bar.text().endswith("%") for bar in card.bars] == [True, True]

    x, y = panel.prob_plot.curve_data(0)
    assert len(panel.prob_plot.curves) == 1 and len(x) == len(y) == 4
    np.testing.assert_allclose(y, trace.prefix_probabilities[:, 1])

    set_mode(panel, "unit")
    panel.unit_spin.setValue(3)
    assert panel.heatmap.value_at(forget, 2) == pytest.approx(trace.cell().values["forget"][2, 3])
    set_mode(panel, "gate")
    panel.gate_combo.setCurrentIndex(panel.gate_combo.findData("cell"))
    assert panel.heatmap.image_shape() == (tiny_model.config.hidden_size, 4)
    assert panel.current_trace is trace  # changing the view re-slices, it does not re-trace


def test_hover_shows_the_exact_value_and_fills_the_equations(qtbot, tiny_model):
    panel, _ = make_panel(qtbot, tiny_model)
    panel.resize(1100, 700)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_text("the film was great")
    heatmap, trace = panel.heatmap, panel.current_trace
    row, col = HEATMAP_ROWS["lstm"].index("forget"), 3

    pos = heatmap.plot.vb.mapViewToScene(QPointF(col + 0.5, row + 0.5))
    assert heatmap.cell_at(pos) == (row, col)
    with qtbot.waitSignal(heatmap.hovered, timeout=1000) as blocker:
        heatmap._on_mouse_moved(pos)  # what a real mouse move over the cell runs
    assert blocker.args == [col]
    value = f"{trace.cell().values['forget'][col].mean():.3f}"
    assert value in heatmap.readout.text() and "forget gate" in heatmap.readout.text()
    text = panel.equations.text()
    assert "great" in text and f"<b>{value}</b>" in text and "σ(W<sub>f</sub>" in text

    set_mode(panel, "unit")
    panel.unit_spin.setValue(5)
    heatmap.hover_cell(row, 1)
    assert f"<b>{trace.cell().values['forget'][1, 5]:.3f}</b>" in panel.equations.text()
    assert "film" in panel.equations.text()


def test_gru_and_rnn_show_their_own_rows_and_controls(qtbot):
    gru = untrained("gru", num_layers=2, bidirectional=True)
    rnn = untrained("rnn", bidirectional=False)
    panel, _ = make_panel(qtbot, gru, rnn)
    panel.set_text("the film was great")

    assert panel.heatmap.row_labels() == list(HEATMAP_ROWS["gru"]) == ["reset", "update", "candidate", "hidden"]
    assert panel.layer_combo.isVisibleTo(panel) and panel.direction_combo.isVisibleTo(panel)
    assert [panel.gate_combo.itemData(i) for i in range(panel.gate_combo.count())] == list(GATE_NAMES["gru"])
    panel.direction_combo.setCurrentIndex(1)
    panel.layer_combo.setCurrentIndex(0)
    backward = panel.current_trace.cell(0, 1).values["update"].mean(axis=1)
    np.testing.assert_allclose(panel.heatmap.data[1], backward, rtol=1e-6)
    panel.heatmap.hover_cell(3, 0)
    assert "backward" in panel.equations.text() and "z<sub>t</sub>" in panel.equations.text()

    panel.model_combo.setCurrentIndex(1)
    assert panel.current_trace.kind == "rnn"
    assert panel.heatmap.row_labels() == ["hidden"] and panel.heatmap.image_shape() == (1, 4)
    assert not panel.layer_combo.isVisibleTo(panel) and not panel.direction_combo.isVisibleTo(panel)
    assert len(panel.cards) == 2 and all(card.predicted() in ("negative", "positive") for card in panel.cards.values())


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "😀🎬 great 👍🏽",
        "مرحبا great שלום",
        "a\x00b\u202ec\x1b[31m\u200f",
        "great film " * 10_000,  # 110,000 characters
    ],
    ids=["empty", "whitespace", "emoji", "rtl", "control", "110k-chars"],
)
def test_awkward_text_never_raises(qtbot, text):
    panel, _ = make_panel(qtbot, untrained("lstm", bidirectional=False), untrained("gru", bidirectional=True))
    panel.set_text(text)
    if not text.strip():
        assert panel.current_trace is None and panel.heatmap.image_shape() == (0, 0)
        assert all(card.predicted() == "—" for card in panel.cards.values())
        return
    assert panel.current_trace is not None
    rows, cols = panel.heatmap.image_shape()
    assert rows == len(HEATMAP_ROWS["lstm"]) and 1 <= cols <= TRACE_TOKENS
    assert len(panel.heatmap.column_labels()) == cols
    if len(text) > 10_000:
        assert cols == TRACE_TOKENS and panel.note.isVisibleTo(panel)
        panel.model_combo.setCurrentIndex(1)  # a bidirectional model gets a shorter live trace
        assert panel.heatmap.image_shape()[1] == TRACE_TOKENS_BIDIRECTIONAL
    else:
        assert not panel.note.isVisibleTo(panel)
        assert "[UNK]" not in panel.heatmap.column_labels()  # unknown words show as typed


def test_without_models_a_hint_shows_and_models_arriving_are_picked_up(qtbot):
    panel, session = make_panel(qtbot)
    assert panel.stack.currentWidget() is panel.hint and "Train or open a model" in panel.hint.text()
    panel.set_text("the film was great")
    assert panel.current_trace is None

    with qtbot.waitSignal(panel.updated, timeout=1000):
        name = session.add_model(untrained("lstm"))
    assert panel.stack.currentIndex() == 1 and list(panel.cards) == [name]
    assert panel.heatmap.image_shape() == (5, 4)
    session.remove_model(name)
    assert panel.stack.currentWidget() is panel.hint and panel.current_trace is None

    session.add_model(untrained("rnn"))
    session.open_in_tester.emit("an awful plot", "")
    assert panel.text() == "an awful plot" and panel.current_trace.tokens == ["an", "awful", "plot"]


def test_typing_is_debounced_into_one_update(qtbot):
    panel, _ = make_panel(qtbot, untrained("lstm"))
    panel.show()
    updates: list[int] = []
    panel.updated.connect(lambda: updates.append(1))
    qtbot.keyClicks(panel.editor, "the film was great")
    assert updates == []  # nothing traced while keys arrive
    with qtbot.waitSignal(panel.updated, timeout=2000):
        pass
    qtbot.wait(250)
    assert updates == [1]
    assert panel.current_trace.tokens == ["the", "film", "was", "great"]


WORDS = ("the movie was not as good as i hoped but the acting felt really charming and the ending was honestly "
         "wonderful even if the plot seemed slow in the middle and some scenes were clumsy yet overall i would "
         "recommend it to anyone who likes quiet films about people and cities at night").split() * 2


def test_every_word_is_labelled_up_to_60_words_at_1280x800_then_the_plots_scroll(qtbot, tiny_model, tmp_path,
                                                                                  monkeypatch):
    """The heatmap labels every column (upright once they don't fit level); past ~60 words it scrolls."""
    from PySide6.QtCore import QSettings

    import gui.main_window as main_window_module

    monkeypatch.setattr(main_window_module, "settings",
                        lambda: QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    win = main_window_module.MainWindow()
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    win.session.add_model(tiny_model, "LSTM")
    win.tabs.setCurrentWidget(win.try_screen)
    screen = win.try_screen
    for n, upright, scrolls in ((8, False, False), (30, True, False), (60, True, False), (90, True, True)):
        with qtbot.waitSignal(screen.updated, timeout=5000):
            screen.set_text(" ".join(WORDS[:n]))
        qtbot.wait(50)  # the scroll area fits its content on the next layout pass
        heatmap = screen.heatmap
        assert heatmap.column_labels() == WORDS[:n]  # every column has its word, none thinned out
        assert heatmap.word_axis.upright == upright, n
        assert (screen.plots_scroll.horizontalScrollBar().maximum() > 0) == scrolls, n
        if n == 60:
            win.grab().save(str(tmp_path / "try-60-words.png"))  # for a person to look at when it fails
    labels = heatmap.word_axis
    assert labels.height() >= max(heatmap.fontMetrics().horizontalAdvance(w) for w in WORDS)  # room for upright words


def test_a_three_class_model_draws_chance_at_one_third(qtbot):
    model = untrained("lstm")
    model.label_names = ["negative", "neutral", "positive"]
    cfg = model.config
    model.classifier = build_classifier(
        ModelConfig(kind="lstm", vocab_size=cfg.vocab_size, embed_dim=8, hidden_size=6, num_classes=3), seed=0)
    panel, _ = make_panel(qtbot, model)
    with qtbot.waitSignal(panel.updated, timeout=5000):
        panel.set_text("the film was great")
    plot = panel.prob_plot
    assert len(plot.curves) == 3 and plot.threshold.value() == pytest.approx(1 / 3)
    panel2, _ = make_panel(qtbot, untrained("lstm"))
    with qtbot.waitSignal(panel2.updated, timeout=5000):
        panel2.set_text("the film was great")
    assert len(panel2.prob_plot.curves) == 1 and panel2.prob_plot.threshold.value() == pytest.approx(0.5)


def test_a_model_whose_weights_overflow_is_named_not_drawn(qtbot):
    """Finite but huge weights load (they pass every check) and give NaN outputs: the screen says so and
    draws nothing, instead of an exception in a timer slot."""
    import torch

    model = untrained("lstm")
    with torch.no_grad():
        for p in model.classifier.parameters():
            p.fill_(3e38)
    panel, _ = make_panel(qtbot, model)
    with qtbot.waitSignal(panel.updated, timeout=1000):
        panel.set_text("the film was great")
    assert panel.current_trace is None and not panel.note.isHidden()
    assert panel.note.text().startswith("Can't show this model: the model's outputs are not finite numbers")


def test_word_attributions_arrive_from_the_worker_beside_the_gates(qtbot, tiny_model, monkeypatch):
    import threading

    import core.inspect.attribution as attribution_module

    threads = []
    real_explain = attribution_module.explain

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return real_explain(*args, **kwargs)

    monkeypatch.setattr(attribution_module, "explain", recording)  # the screen imports it in its worker
    panel, _ = make_panel(qtbot, tiny_model)
    with qtbot.waitSignal(panel.explained, timeout=20_000):
        panel.set_text("the film was great")
    assert threads and all(t is not threading.main_thread() for t in threads)  # never on the GUI thread
    a = panel.attribution
    assert a.text == "the film was great" and a.method == "ig" and a.target_name == "positive"
    assert panel.heatmap.attribution is not None and len(panel.heatmap.attribution) == 4
    assert int(np.argmax(a.word_scores)) == 3  # "great" is what the tiny model learned
    assert "Why positive" in panel.why.text.text() and ">great</span>" in panel.why.text.text()
    assert "why positive" in panel.heatmap.hover_attribution(3) and "+" in panel.heatmap.hover_attribution(3)

    set_mode(panel, "gate")  # changing the view keeps the attribution: same text
    assert panel.heatmap.attribution is not None

    with qtbot.waitSignal(panel.explained, timeout=20_000):  # another method, toward another class
        panel.why.method_combo.setCurrentIndex(panel.why.method_combo.findData("occlusion"))
    assert panel.attribution.method == "occlusion"
    with qtbot.waitSignal(panel.explained, timeout=20_000):
        panel.why.target_combo.setCurrentIndex(panel.why.target_combo.findText("negative"))
    assert panel.attribution.target_name == "negative" and panel.attribution.word_scores[3] < 0

    panel.why.method_combo.setCurrentIndex(panel.why.method_combo.findData(""))  # off: row and text go
    assert panel.attribution is None and panel.heatmap.attribution is None and panel.why.text.text() == ""


def test_a_stale_attribution_never_replaces_a_newer_one(qtbot, tiny_model):
    panel, _ = make_panel(qtbot, tiny_model)
    panel.set_text("the film was bad")
    first = panel._attribution_key
    with qtbot.waitSignal(panel.explained, timeout=20_000):
        panel.set_text("a great plot and a lovely film")  # before the first answer is shown
    assert panel._attribution_key != first
    assert panel.attribution.text == "a great plot and a lovely film"
    late = panel.attribution
    import dataclasses

    stale = dataclasses.replace(late, text="the film was bad")
    panel._explained(first, stale)  # an answer for the older text arriving late is dropped
    assert panel.attribution is late
    qtbot.wait(300)  # whatever the first task still delivers changes nothing
    assert panel.attribution.text == "a great plot and a lovely film"
    assert len(panel.heatmap.attribution) == len(panel.current_trace.tokens) == 7


def test_a_mistake_opens_try_inside_the_model_that_made_it(qtbot, tiny_model):
    """Issue 29: double-clicking a mistake of "LSTM (2)" in Compare looked inside "LSTM", the first model."""
    import copy

    panel, session = make_panel(qtbot, tiny_model)
    second = session.add_model(copy.deepcopy(tiny_model))
    assert panel.model_combo.currentData() != second
    session.open_in_tester.emit("an awful plot", second)
    assert panel.text() == "an awful plot" and panel.model_combo.currentData() == second
    session.open_in_tester.emit("a fine film", "no such model")  # a model closed meanwhile: the text still opens
    assert panel.text() == "a fine film" and panel.model_combo.currentData() == second
