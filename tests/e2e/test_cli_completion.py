"""`textseq completion bash|zsh`: the script is loaded into a real bash, which then completes
verbs, a verb's options and file names as a user's Tab would (zsh runs the same function
through bashcompinit; its script is checked for that preamble)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from textseq.cli import main

pytestmark = pytest.mark.e2e


def _script(shell: str, capsys) -> str:
    assert main(["completion", shell]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def _complete(script: str, words: list[str], cwd) -> list[str]:
    """What bash offers for the last of `words` (the word under the cursor)."""
    line = " ".join(f"'{w}'" for w in words)
    call = f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _textseq"
    probe = f'{script}\n{call}\nprintf "%s\\n" "${{COMPREPLY[@]}}"'
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", probe], capture_output=True, text=True, cwd=cwd
    )
    assert result.returncode == 0, result.stderr
    return sorted(filter(None, result.stdout.splitlines()))


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_verbs_options_and_files(capsys, tmp_path):
    script = _script("bash", capsys)
    assert "complete -o default -F _textseq textseq" in script
    assert _complete(script, ["textseq", "pre"], tmp_path) == ["predict"]
    assert _complete(script, ["textseq", "e"], tmp_path) == [
        "embeddings-plot",
        "evaluate",
        "explain",
        "export",
    ]
    assert _complete(script, ["textseq", "--"], tmp_path) == [
        "--help",
        "--no-verify",
        "--progress",
        "--quiet",
        "--verbose",
        "--version",
    ]
    # a verb's own options, after its model directory
    assert _complete(script, ["textseq", "translate", "runs/de_en", "--q"], tmp_path) == [
        "--quantize"
    ]
    assert "--batch-size" in _complete(script, ["textseq", "predict", "runs/x", "--b"], tmp_path)
    # not an option: files
    (tmp_path / "reviews.txt").write_text("a fine film\n")
    assert _complete(script, ["textseq", "predict", "runs/x", "--file", "rev"], tmp_path) == [
        "reviews.txt"
    ]


def test_zsh_gets_the_same_function_through_bashcompinit(capsys):
    bash, zsh = _script("bash", capsys), _script("zsh", capsys)
    preamble = "autoload -U +X bashcompinit && bashcompinit\n"
    assert zsh == preamble + bash.replace("for bash", "for zsh").replace("bash)", "zsh)")
    checked = subprocess.run(["bash", "-n"], input=bash, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr  # the function parses
