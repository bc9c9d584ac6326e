"""The project's own error types.

Every failure a user can cause (a bad file, a bad column, a broken model file) is raised as a
``StudioError`` with a message written for that user: the CLI prints it as one line and the GUI
shows it in a dialog. Anything else escaping is a bug.
"""


def one_line(value: object, limit: int = 200) -> str:
    """``value`` as one line of at most ``limit`` characters, for a message (never raises: an int of more
    than 4,300 digits has no ``str``)."""
    try:
        text = " ".join(str(value).split())
    except ValueError:
        return "a number too long to show"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class StudioError(Exception):
    """A problem the user can fix; ``str(err)`` is the one line to show them."""


class DataError(StudioError):
    """A dataset source could not be read or does not make a usable sentiment dataset."""


class ModelFileError(StudioError):
    """A model file is missing, not a Sentiment Studio file, damaged, tampered with, or too new."""


class TrainingError(StudioError):
    """Training cannot go on (for example the loss became NaN, or memory ran out)."""


class ColumnError(DataError):
    """The text or label column is missing or wrong; carries the facts a face needs to offer a fix.

    ``missing`` names the roles at fault ("text", "label"); ``columns`` lists the columns there are.
    The message names no command-line flag or form field: each face adds its own way to name them.
    """

    def __init__(self, message: str, *, columns: list[str], missing: tuple[str, ...]) -> None:
        super().__init__(message)
        self.columns = list(columns)
        self.missing = tuple(missing)


class SettingError(StudioError):
    """A setting's value is outside what it allows; ``field`` names the config field, so a form can
    point at it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field
