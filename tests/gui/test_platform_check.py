"""The launch path says in one line what is missing instead of letting Qt abort cryptically."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys

from helpers import ROOT

import gui.app as app_module


def test_missing_xcb_libraries_are_named(monkeypatch):
    monkeypatch.setattr(app_module.sys, "platform", "linux")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None if name == "xcb-cursor" else f"lib{name}.so")
    problem = app_module.platform_problem()
    assert problem is not None and "apt-get install libxcb-cursor0" in problem and "\n" not in problem


def test_no_display_is_explained(monkeypatch):
    monkeypatch.setattr(app_module.sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert "No display" in app_module.platform_problem()


def test_offscreen_needs_nothing(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert app_module.platform_problem() is None


def test_main_without_a_display_exits_with_one_line():
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT)}
    r = subprocess.run([sys.executable, str(ROOT / "main.py")], env=env, capture_output=True, text=True, timeout=60)
    if sys.platform.startswith("linux"):
        assert r.returncode == 1
        assert r.stderr.strip().count("\n") == 0 and "display" in r.stderr.lower()
