"""The Train screen with word vectors: Browse… picks a file, training reports coverage, recents are kept."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QFileDialog

from core.data import load_dataset
from gui.session import Session
from gui.train_screen import TrainScreen


def test_picking_a_vectors_file_and_training_from_it(qtbot, tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("".join(f"{w} {' '.join(f'{x:.4f}' for x in rng.normal(size=6))}\n"
                               for w in ("the", "good", "bad", "not", "movie", "film")))
    session = Session()
    screen = TrainScreen(session)
    qtbot.addWidget(screen)
    session.set_dataset(load_dataset("builtin:reviews?n=200"))
    screen.kind_boxes["rnn"].setChecked(False)
    screen.inputs[("model", "hidden_size")].setValue(8)
    screen.inputs[("train", "epochs")].setValue(1)
    screen.inputs[("train", "device")].setCurrentText("cpu")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(vectors), ""))
    screen.vectors_input.browse.click()
    assert screen.settings_dict()["train"]["vectors"] == str(vectors)
    with qtbot.waitSignal(screen.training_finished, timeout=60_000) as done:
        assert screen.start_training()
    model = session.models[done.args[0][0]]
    assert model.info.vectors["file"] == "vectors.txt" and model.classifier.config.embed_dim == 6
    assert screen.vectors_label.isVisibleTo(screen) and "of training tokens" in screen.vectors_label.text()
    qtbot.waitUntil(lambda: not session.tasks, timeout=10_000)
    other = TrainScreen(Session())  # the recent files travel with the screen's settings
    qtbot.addWidget(other)
    other.apply_settings(screen.settings_dict())
    assert other.vectors_input.recent() == [str(vectors)] and other.vectors_input.text() == str(vectors)
    screen.vectors_input.set_text(str(tmp_path / "missing.txt"))
    monkeypatch.setattr("gui.train_screen.QMessageBox.critical", lambda *a: None)
    with qtbot.waitSignal(screen.training_failed, timeout=30_000) as failed:
        assert screen.start_training()
    assert "missing.txt does not exist" in failed.args[0]


def test_a_warning_never_hides_the_coverage(qtbot):
    from core.events import PhaseEvent

    screen = TrainScreen(Session())
    qtbot.addWidget(screen)
    screen._show_vectors_note(PhaseEvent("warning", "these runs are not kept in the run store: locked"))
    screen._show_vectors_note(PhaseEvent("coverage", "word vectors v.txt (6-d): 5 of 9 vocabulary words"))
    screen._show_vectors_note(PhaseEvent("coverage", "word vectors v.txt (6-d): 5 of 9 vocabulary words"))
    text = screen.vectors_label.text()
    assert "not kept in the run store" in text and text.count("Word vectors v.txt") == 1
