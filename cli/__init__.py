"""The headless command line: ``train``, ``sweep``, ``evaluate``, ``predict``, ``info``, ``export`` and ``runs``.

A face of the app like ``gui/``: it parses arguments, drives the core's tasks and prints. Every
setting flag is generated from the config dataclasses' field metadata (``core.settings``), the same
source the Train screen's form is built from. Every user-caused problem ends with one line on stderr
and a non-zero exit status, never a traceback; results go to stdout as JSON so scripts can read them.

One module a job, each command's flags beside the code that reads them (each module's ``register``
adds its subcommands and the handler each one runs):

- this package: ``main``, how every way a command can end becomes a line and an exit status, SIGTERM;
- ``flags``: the parser, the setting flags and the arguments several commands share;
- ``train``: ``train`` and ``sweep``, their progress, the run store's record, torchrun;
- ``use``: ``evaluate``, ``predict``, ``info``, ``export`` and ``runs``.

Building the parser imports no torch: the handlers import the core's heavy modules when they run.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from cli import train, use
from cli.flags import EXIT_USAGE, _Parser, add_setting_flags, configs_from
from cli.use import PREDICT_CHUNK
from core.errors import ColumnError, StudioError, one_line

EXIT_ERROR, EXIT_CANCELLED, EXIT_TERMINATED = 1, 130, 143  # and EXIT_USAGE (2), the parser's

__all__ = [
    "EXIT_CANCELLED", "EXIT_ERROR", "EXIT_TERMINATED", "EXIT_USAGE", "PREDICT_CHUNK", "add_setting_flags",
    "build_parser", "configs_from", "main",
]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="main.py", description="Sentiment Studio: train, evaluate and inspect recurrent sentiment models.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks for unexpected errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train.register(sub)
    use.register(sub)
    return p


def column_hint(error: ColumnError) -> str:
    """How to name the columns on the command line."""
    flags = [f"--{role}-column" for role in ("text", "label") if role in error.missing] or ["--text-column",
                                                                                             "--label-column"]
    return f"name {'them' if len(flags) > 1 else 'it'} with {' and '.join(flags)}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "predict" and rest and not any(r.startswith("-") for r in rest):
        args.texts = [*args.texts, *rest]  # texts after an option: predict FILE --gates "text"
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    with _sigterm_as_interrupt():
        return _run(args.func, args)  # the handler its subcommand's register set


def _run(command, args) -> int:
    """Run one command; every way it can end becomes one line on stderr and an exit status."""
    from core.text.tokenizer import is_rust_panic

    try:
        return command(args)
    except ColumnError as e:
        print(f"error: {str(e).rstrip('.')}; {column_hint(e)}.", file=sys.stderr)
        return EXIT_ERROR
    except StudioError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except _Terminated:
        print("cancelled (terminated)", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:
        return 0
    except BaseException as e:  # the last line of defence: a Rust panic is not an Exception
        if isinstance(e, SystemExit | GeneratorExit) or not (isinstance(e, Exception) or is_rust_panic(e)):
            raise
        if args.debug:
            raise
        detail = one_line(e, 300)
        print(f"internal error: {type(e).__name__}: {detail} (run with --debug for details)", file=sys.stderr)
        return EXIT_ERROR


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so it ends like Ctrl+C: cleanly, saying so."""


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Treat SIGTERM (``kill``, a scheduler stopping the job) like SIGINT: unwind, say "cancelled"."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
