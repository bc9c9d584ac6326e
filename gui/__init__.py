"""Sentiment Studio's desktop app (PySide6). Everything here is a view over ``core``."""
