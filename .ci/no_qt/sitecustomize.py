"""Makes Qt unimportable in this interpreter: PySide6, shiboken6, pyqtgraph and superqt.

``.ci/run`` puts this folder on PYTHONPATH for its second step, which runs every test outside
``tests/gui`` this way (napari's third check): it proves the core and its tests need no Qt, which
import-linter alone (static imports) cannot prove for imports made at run time.
"""

import sys
from importlib.abc import MetaPathFinder

BLOCKED = frozenset({"PySide6", "shiboken6", "pyqtgraph", "superqt"})


class _NoQt(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (Qt is blocked: see .ci/no_qt)", name=name)
        return None


sys.meta_path.insert(0, _NoQt())
