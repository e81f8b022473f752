"""``sealbox completion bash|zsh|fish``: the shell's completion script, on stdout."""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")
# The variable the completion script sets when it asks sealbox for completions.
COMPLETE_VAR = "_SEALBOX_COMPLETE"


@click.command()
@click.argument("shell", metavar="SHELL", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script of SHELL (bash, zsh or fish).

    \b
    bash: eval "$(sealbox completion bash)"   in ~/.bashrc
    zsh:  eval "$(sealbox completion zsh)"    in ~/.zshrc
    fish: sealbox completion fish > ~/.config/fish/completions/sealbox.fish
    """
    from click.shell_completion import get_completion_class

    from sealbox.cli._app import cli

    completer = get_completion_class(shell)
    assert completer is not None  # one of click's own shells
    click.echo(completer(cli, {}, "sealbox", COMPLETE_VAR).source())
