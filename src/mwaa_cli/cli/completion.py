"""``mwaa completion``: shell completion scripts."""

from __future__ import annotations

import click


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for mwaa.

    \b
    bash:  eval "$(mwaa completion bash)"            (in ~/.bashrc)
    zsh:   eval "$(mwaa completion zsh)"             (in ~/.zshrc)
    fish:  mwaa completion fish > ~/.config/fish/completions/mwaa.fish
    """
    from click.shell_completion import get_completion_class

    from . import cli

    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "mwaa", "_MWAA_COMPLETE").source())
