"""The app's icons and other files, found by ``gui.theme.RESOURCES`` (a package so ``pip install .`` ships it)."""
