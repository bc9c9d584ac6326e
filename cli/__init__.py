"""The headless command line: ``train``, ``sweep``, ``evaluate``, ``predict``, ``info``, ``export``, ``runs`` and
``compare``.

A face of the app like ``gui/``: it parses arguments, drives the core's tasks and prints. Every
setting flag is generated from the config dataclasses' field metadata (``core.settings``), the same
source the Train screen's form is built from. Every user-caused problem ends with one line on stderr
and a non-zero exit status, never a traceback; results go to stdout as JSON so scripts can read them.

One module a job, each command's flags beside the code that reads them (each module's ``register``
adds its subcommands and the handler each one runs):

- this package: ``main``, the subcommands' parser (``predict``'s texts around its options and after ``--``),
  how every way a command can end becomes a line and an exit status, SIGTERM;
- ``flags``: the parser, the setting flags and the arguments several commands share;
- ``train``: ``train`` and ``sweep``, their progress, the run store's record, torchrun;
- ``use``: ``evaluate``, ``predict``, ``info``, ``export`` and ``runs``;
- ``compare``: models on the same rows, with intervals and paired tests.

Building the parser imports no torch: the handlers import the core's heavy modules when they run.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from cli import compare, train, use
from cli.flags import EXIT_USAGE, _Parser, add_setting_flags, configs_from
from cli.use import PREDICT_CHUNK
from core.errors import ColumnError, StudioError, one_line

EXIT_ERROR, EXIT_CANCELLED, EXIT_TERMINATED = 1, 130, 143  # and EXIT_USAGE (2), the parser's

__all__ = [
    "EXIT_CANCELLED", "EXIT_ERROR", "EXIT_TERMINATED", "EXIT_USAGE", "PREDICT_CHUNK", "add_setting_flags",
    "build_parser", "configs_from", "main",
]  # fmt: skip


class _CommandParser(_Parser):
    """A subcommand's parser. ``intermixed=True`` (``predict``'s): its positional lists (the texts) may come
    before, between and after its options, and every argument after the first "--" is a positional, as POSIX
    has it (argparse's intermixed parsing; the subcommand's action calls ``parse_known_args``)."""

    def __init__(self, *args, intermixed: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._intermixed = intermixed

    def parse_known_args(self, args=None, namespace=None):
        if not self._intermixed:
            return super().parse_known_args(args, namespace)
        args = list(sys.argv[1:] if args is None else args)
        if "--" in args:  # argparse 3.11 loses a "--" before the first positional, and every "--" after it: the
            # arguments after the first go through marked as positionals, the marks taken off below
            cut = args.index("--")
            args = args[:cut] + [_POSITIONAL + a for a in args[cut + 1:]]
        self._intermixed = False  # the intermixed parse calls parse_known_args for each of its two passes
        try:
            namespace, rest = self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixed = True
        for name, value in vars(namespace).items():
            if isinstance(value, list | str):
                setattr(namespace, name, _unmarked(value))
        return namespace, _unmarked(rest)


_POSITIONAL = "\0"  # marks an argument after "--" (never in an argument of its own: a command line holds no NUL)


def _unmarked(value: str | list):
    if isinstance(value, list):
        return [_unmarked(v) for v in value]
    return value.removeprefix(_POSITIONAL) if isinstance(value, str) else value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="main.py", description="Sentiment Studio: train, evaluate and inspect recurrent sentiment models.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks for unexpected errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_CommandParser)
    train.register(sub)
    use.register(sub)
    compare.register(sub)
    return p


def column_hint(error: ColumnError) -> str:
    """How to name the columns on the command line."""
    flags = [f"--{role}-column" for role in ("text", "label") if role in error.missing] or ["--text-column",
                                                                                             "--label-column"]
    return f"name {'them' if len(flags) > 1 else 'it'} with {' and '.join(flags)}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest:
        parser.error(_unrecognized(args.command, rest))
    with _sigterm_as_interrupt() as sigterm:
        return _run(args.func, args, sigterm)  # the handler its subcommand's register set


def _unrecognized(command: str, rest: list[str]) -> str:
    """The parser's error for arguments no command takes. ``predict`` takes every other argument as a text, so
    what it leaves are the ones starting with "-" (and the texts after them, which are not named)."""
    if command != "predict":
        return f"unrecognized arguments: {' '.join(rest)}"
    wrong = [r for r in rest if r.startswith("-")] or rest
    return (f"unrecognized arguments: {' '.join(wrong)}; a text that starts with \"-\" goes after \"--\": "
            "main.py predict FILE [options] -- TEXT...")


def _run(command, args, sigterm: _Sigterm) -> int:
    """Run one command; every way it can end becomes one line on stderr and an exit status. Once the command
    has ended, a SIGTERM (torchrun stops every process when one fails) cuts neither short."""
    status, line = _ending(command, args, sigterm)
    if line is not None:
        print(line, file=sys.stderr)
    return status


def _ending(command, args, sigterm: _Sigterm) -> tuple[int, str | None]:
    """The command's exit status and the line that says how it ended (none when it did its work)."""
    try:
        try:
            return command(args), None
        finally:
            sigterm.running = False  # first thing, and a plain store: no call in which a SIGTERM could land first
    except ColumnError as e:
        return EXIT_ERROR, f"error: {str(e).rstrip('.')}; {column_hint(e)}."
    except StudioError as e:
        return EXIT_ERROR, f"error: {e}"
    except _Terminated:
        return EXIT_TERMINATED, "cancelled (terminated)"
    except KeyboardInterrupt:
        return EXIT_CANCELLED, "cancelled"
    except BrokenPipeError:
        return 0, None
    except BaseException as e:  # the last line of defence: a Rust panic is not an Exception
        from core.text.tokenizer import is_rust_panic

        if isinstance(e, SystemExit | GeneratorExit) or not (isinstance(e, Exception) or is_rust_panic(e)):
            raise
        if args.debug:
            raise
        return EXIT_ERROR, f"internal error: {type(e).__name__}: {one_line(e, 300)} (run with --debug for details)"


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so it ends like Ctrl+C: cleanly, saying so."""


class _Sigterm:
    """SIGTERM while a command runs: ``_Terminated`` raised where the program is. Once ``running`` is false
    it changes nothing: the command is over, and its line is printed whole and its status kept."""

    def __init__(self) -> None:
        self.running = True

    def handler(self, signum, frame) -> None:
        if self.running:
            raise _Terminated()


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Treat SIGTERM (``kill``, a scheduler stopping the job) like SIGINT while the command runs: unwind, say
    "cancelled". Yields the ``_Sigterm`` the command's ending tells."""
    sigterm = _Sigterm()
    if threading.current_thread() is not threading.main_thread():
        yield sigterm
        return
    previous = signal.signal(signal.SIGTERM, sigterm.handler)
    try:
        yield sigterm
    finally:
        signal.signal(signal.SIGTERM, previous)
