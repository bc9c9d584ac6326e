"""The windows' fixtures (tests outside tests/gui never import Qt or gui)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _checkpoints_in_tmp(tmp_path, monkeypatch):
    """Windows made by tests keep their training checkpoints in the test's folder, not the user's, and
    never wait on a question."""
    import gui.main_window as main_window_module

    monkeypatch.setattr(main_window_module, "checkpoint_dir", lambda: tmp_path / "checkpoints")
    # Closing a window with trained, unsaved models asks first: a modal dialog would block the test.
    # Tests answer Discard unless they patch it themselves.
    monkeypatch.setattr(main_window_module, "ask_unsaved", lambda parent, names: "discard")
