"""A form for one config dataclass, built from its fields' ``Setting`` metadata (``core.settings``).

The labels, tooltips, ranges and choices come from the dataclass, as the command line's flags do,
so the Train screen and ``main.py train`` always offer the same knobs described the same way.
"""

from __future__ import annotations

import math
import re
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QWidget,
)

from core.settings import SettingField, settings_of, shown


class ScientificSpinBox(QDoubleSpinBox):
    """For rates that span decades: shows ``0.002`` or ``1e-05`` and steps 1-2-5 per decade."""

    def __init__(self, minimum: float, maximum: float, floor: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._floor = floor  # the smallest positive value a step up from 0 goes to
        self.setDecimals(10)
        self.setRange(minimum, maximum)

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        try:
            value = float(text)
        except ValueError:
            ok = re.fullmatch(r"[0-9.eE+-]*", text) is not None
            return (QValidator.State.Intermediate if ok else QValidator.State.Invalid), text, pos
        inside = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if inside else QValidator.State.Intermediate), text, pos

    def fixup(self, text: str) -> str:
        return self.textFromValue(self.value())

    def stepBy(self, steps: int) -> None:
        value = self.value()
        for _ in range(abs(steps)):
            value = _step_125(value, up=steps > 0, floor=self._floor, minimum=self.minimum())
        self.setValue(min(max(value, self.minimum()), self.maximum()))


class PathInput(QWidget):
    """A file path setting: an editable list of recent files (empty: none) and a Browse… button."""

    MAX_RECENT = 8

    def __init__(self, title: str, file_filter: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title, self.file_filter = title, file_filter
        self.combo = QComboBox(editable=True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.lineEdit().setPlaceholderText("None")
        self.combo.lineEdit().setClearButtonEnabled(True)
        self.combo.addItem("")
        self.browse = QToolButton(text="Browse…")
        self.browse.clicked.connect(self.choose)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.browse)

    def setToolTip(self, text: str) -> None:
        super().setToolTip(text)
        self.combo.setToolTip(text)
        self.browse.setToolTip(f"Choose a file. {text}")

    def text(self) -> str:
        return self.combo.currentText().strip()

    def set_text(self, path: str) -> None:
        self.combo.setEditText(path)

    def recent(self) -> list[str]:
        return [self.combo.itemText(i) for i in range(1, self.combo.count())]

    def remember(self, path: str) -> None:
        """Put ``path`` first in the recent list (kept with the screen's settings)."""
        if not path:
            return
        paths = [path, *(p for p in self.recent() if p != path)][: self.MAX_RECENT]
        text = self.text()
        self.combo.blockSignals(True)
        while self.combo.count() > 1:
            self.combo.removeItem(1)
        self.combo.addItems(paths)
        self.combo.setEditText(text)
        self.combo.blockSignals(False)

    def choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.title, self.text(), self.file_filter)
        if path:
            self.remember(path)
            self.set_text(path)


def _step_125(value: float, *, up: bool, floor: float, minimum: float) -> float:
    """The next value of the 1, 2, 5, 10, 20... ladder above or below ``value``."""
    if value <= 0:
        return floor if up else minimum
    e = math.floor(math.log10(value))
    if up:
        return next(m * 10.0**e for m in (1, 2, 5, 10, 20) if m * 10.0**e > value * (1 + 1e-9))
    below = [m * 10.0**e for m in (0.5, 1, 2, 5) if m * 10.0**e < value * (1 - 1e-9)]
    return below[-1] if below[-1] >= floor else minimum


def make_input(f: SettingField) -> QWidget:
    """The widget for one setting, showing its default, with its help as the tooltip."""
    s, default = f.setting, f.default
    w: QWidget
    if s.path:
        w = PathInput(s.label, s.path)
    elif isinstance(default, bool):
        w = QCheckBox()
    elif s.choices:
        w = QComboBox(editable=s.open_choices)
        w.addItems(list(s.choices))
    elif s.log_scale:
        lo, hi, _ = s.range or (0.0, 1.0, 0.0)
        w = ScientificSpinBox(lo, hi, floor=1e-6)
    elif isinstance(default, float):
        w = QDoubleSpinBox()
        w.setDecimals(2)
        lo, hi, step = s.range or (0.0, 1.0, 0.05)
        w.setRange(lo, hi)
        w.setSingleStep(step)
    else:
        w = QSpinBox()
        lo, hi, step = s.range or (0, 2**31 - 1, 1)
        w.setRange(int(lo), int(hi))
        w.setSingleStep(max(1, int(step)))
        w.setGroupSeparatorShown(hi >= 10_000 and step > 1)  # sizes (30,000), not identifiers (a seed)
    if s.special and isinstance(w, QSpinBox | QDoubleSpinBox):
        w.setSpecialValueText(s.special)  # shown at the minimum, which means "automatic"
    set_value(w, default)
    shown_default = s.special if s.special and default == (s.range or (0,))[0] else shown(default)
    w.setToolTip(f"<p>{s.help}</p><p>Default: <b>{shown_default}</b></p>")
    return w


def value_of(w: QWidget) -> Any:
    if isinstance(w, PathInput):
        return w.text()
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, QComboBox):
        return w.currentText().strip()
    if isinstance(w, QSpinBox):
        return w.value()
    if isinstance(w, QDoubleSpinBox):
        return float(w.value())
    raise TypeError(type(w))


def set_value(w: QWidget, value: Any) -> None:
    """Set a form widget from a value that may have come back from QSettings as a string."""
    if isinstance(w, PathInput):
        w.set_text(str(value))
    elif isinstance(w, QCheckBox):
        w.setChecked(value.strip().lower() in ("1", "true", "yes", "on") if isinstance(value, str) else bool(value))
    elif isinstance(w, QComboBox):
        index = w.findText(str(value))
        if index >= 0:
            w.setCurrentIndex(index)
        elif w.isEditable():
            w.setEditText(str(value))
    elif isinstance(w, QSpinBox):
        w.setValue(int(float(value)))
    elif isinstance(w, QDoubleSpinBox):
        w.setValue(float(value))


class ConfigRow(QWidget):
    """``ConfigRow(IntervalConfig)``: the same labelled inputs as ``ConfigForm``, in one line (a screen's tool bar).
    ``changed`` is emitted when a value is changed by hand (after an edit is finished, not per keystroke)."""

    changed = Signal()

    def __init__(self, config_cls: type, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.config_cls = config_cls
        self.fields = settings_of(config_cls)
        self.inputs: dict[str, QWidget] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for f in self.fields:
            w = make_input(f)
            w.setObjectName(f"{config_cls.__name__}.{f.name}")
            label = QLabel(f"{f.setting.label}:")
            label.setToolTip(w.toolTip())
            label.setBuddy(w)
            layout.addWidget(label)
            layout.addWidget(w)
            if isinstance(w, QSpinBox | QDoubleSpinBox):
                w.setKeyboardTracking(False)  # valueChanged once the number is typed, not per digit
                w.valueChanged.connect(lambda *_: self.changed.emit())
            elif isinstance(w, QCheckBox):
                w.toggled.connect(lambda *_: self.changed.emit())
            elif isinstance(w, QComboBox):
                w.currentTextChanged.connect(lambda *_: self.changed.emit())
            self.inputs[f.name] = w

    def values(self) -> dict[str, Any]:
        return {name: value_of(w) for name, w in self.inputs.items()}

    def config(self) -> Any:
        return self.config_cls(**self.values())

    def set_values(self, values: dict[str, Any]) -> None:
        """Fill the inputs from ``values`` (without ``changed``); unknown names and unreadable values are left
        alone."""
        for name, value in values.items():
            w = self.inputs.get(name)
            if w is None:
                continue
            w.blockSignals(True)
            try:
                set_value(w, value)
            except (TypeError, ValueError):
                pass
            finally:
                w.blockSignals(False)


class ConfigForm(QGroupBox):
    """``ConfigForm(title, ModelConfig)``: a labelled input per user-facing field of a config class."""

    def __init__(self, title: str, config_cls: type, *, exclude: tuple[str, ...] = (),
                 parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.config_cls = config_cls
        self.fields = [f for f in settings_of(config_cls) if f.name not in exclude]
        self.inputs: dict[str, QWidget] = {}
        self.labels: list[QLabel] = []
        layout = QFormLayout(self)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for f in self.fields:
            w = make_input(f)
            w.setObjectName(f"{config_cls.__name__}.{f.name}")
            label = QLabel(f.setting.label)
            label.setToolTip(w.toolTip())
            label.setBuddy(w)
            layout.addRow(label, w)
            self.inputs[f.name] = w
            self.labels.append(label)

    def values(self) -> dict[str, Any]:
        return {name: value_of(w) for name, w in self.inputs.items()}

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.fields}

    def set_values(self, values: dict[str, Any]) -> None:
        """Fill the inputs from ``values``; unknown names and unreadable values are left alone."""
        for name, value in values.items():
            w = self.inputs.get(name)
            if w is None:
                continue
            try:
                set_value(w, value)
            except (TypeError, ValueError):
                pass
