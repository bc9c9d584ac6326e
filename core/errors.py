"""The project's own error types.

Every failure a user can cause (a bad file, a bad column, a broken model file) is raised as a
``StudioError`` with a message written for that user: the CLI prints it as one line and the GUI
shows it in a dialog. Anything else escaping is a bug.
"""


class StudioError(Exception):
    """A problem the user can fix; ``str(err)`` is the one line to show them."""


class DataError(StudioError):
    """A dataset source could not be read or does not make a usable sentiment dataset."""


class ModelFileError(StudioError):
    """A model file is missing, not a Sentiment Studio file, damaged, tampered with, or too new."""


class TrainingError(StudioError):
    """Training cannot go on (for example the loss became NaN, or memory ran out)."""
