"""The machinery every verb of the `textseq` command line shares, so that textseq/cli.py only
declares verbs: exit codes, which stream gets what, how texts are read, shell completion.

Exit codes (docs/cli.md):

    0  done
    1  a bug in textseq: the only case that prints a traceback, with a line asking to report it
    2  usage: an option or argument that cannot work as given (argparse's errors, UsageError)
    3  bad input: data, config or model directory unusable (other TextseqErrors, OS file errors)
    4  interrupted (Ctrl-C)

stdout carries only a verb's results (JSON, JSON lines, a written file's path); messages,
warnings, progress and Lightning's output go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence

from textseq.data.readers import iter_lines
from textseq.errors import TextseqError, UsageError
from textseq.version import __version__

OK, BUG, USAGE, BAD_INPUT, INTERRUPTED = 0, 1, 2, 3, 4
EXIT_CODES = {
    OK: "done",
    BUG: "a bug in textseq (prints a traceback and asks you to report it)",
    USAGE: "usage: an option or argument that cannot work as given",
    BAD_INPUT: "bad input: data, config or model directory unusable",
    INTERRUPTED: "interrupted (Ctrl-C)",
}
STDIN = "-"  # --file - and --data - read standard input


def run(verb: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Runs `verb` and turns what can go wrong into one line on stderr and an exit code."""
    try:
        return verb(args)
    except UsageError as error:
        return _fail(str(error), USAGE)
    except TextseqError as error:
        return _fail(str(error), BAD_INPUT)
    except KeyboardInterrupt:
        return _fail("interrupted", INTERRUPTED, prefix="textseq: ")
    except BrokenPipeError:  # e.g. `textseq predict ... | head`: the reader has enough
        with contextlib.suppress(OSError):  # no second error when Python flushes stdout
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    except OSError as error:  # a file that cannot be read or written
        where = f"{error.filename}: " if error.filename else ""
        return _fail(f"{where}{error.strerror or error}", BAD_INPUT)
    except Exception:
        traceback.print_exc()
        command = " ".join(["textseq", *sys.argv[1:]]) if sys.argv else "textseq"
        print(
            f"textseq: this is a bug in textseq {__version__}, not a mistake of yours; please "
            f"report it with the command ({command}) and the traceback above",
            file=sys.stderr,
        )
        return BUG


def _fail(message: str, code: int, *, prefix: str = "textseq: error: ") -> int:
    print(f"{prefix}{message}", file=sys.stderr)
    return code


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Anything printed inside goes to stderr: for work, such as training, whose libraries may
    print to stdout, which carries only results."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def read_lines(file: str | None, texts: Sequence[str] = (), *, what: str = "texts") -> list[str]:
    """The texts of a verb: its arguments, or the lines of --file (`-`: stdin; no --file and
    stdin not a terminal: stdin too), one text per line. A blank line stays, as "", so that
    output line i answers input line i; the verb decides what a blank text gives."""
    if texts and file:
        raise UsageError(f"give {what} as arguments or with --file, not both")
    if texts:
        return list(texts)
    if file is None and sys.stdin.isatty():
        raise UsageError(f"no {what}: give them as arguments, with --file FILE, or on stdin")
    if file is None or file == STDIN:
        lines = [line.rstrip("\r\n") for line in sys.stdin]
        source = "on stdin"
    else:
        lines = [line.rstrip("\r") for _, line in iter_lines(file)]
        source = f"in {file}"
    if not any(line.strip() for line in lines):
        raise TextseqError(f"no {what} {source}")
    return [line.strip() for line in lines]


def positive(name: str, value: int | None) -> None:
    """A count option (`--batch-size`, `--top-k`, ...) must be at least 1 when given."""
    if value is not None and value < 1:
        raise UsageError(f"{name} ({value}) must be at least 1")


def completion(parser: argparse.ArgumentParser, shell: str) -> str:
    """A completion script for `shell` (bash or zsh): verbs, then each verb's options, then
    files. zsh runs the bash function through bashcompinit."""
    verbs = _subcommands(parser)
    top = [flag for action in parser._actions for flag in action.option_strings]
    cases = "".join(
        f'        {name}) opts="{" ".join(_flags(sub))}" ;;\n' for name, sub in verbs.items()
    )
    script = f"""\
# textseq completion for {shell}: eval "$(textseq completion {shell})" in your shell's rc file
_textseq() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" verb="" opts="" word
    for word in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        case "$word" in -*) ;; *) verb="$word"; break ;; esac
    done
    case "$verb" in
        "") COMPREPLY=($(compgen -W "{" ".join([*verbs, *top])}" -- "$cur")); return ;;
{cases}    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -o default -F _textseq textseq
"""
    if shell == "zsh":
        script = "autoload -U +X bashcompinit && bashcompinit\n" + script
    return script


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return [
        flag
        for action in parser._actions
        if action.help != argparse.SUPPRESS
        for flag in action.option_strings
    ]
