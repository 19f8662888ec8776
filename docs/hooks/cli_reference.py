"""mkdocs hook: the command-line reference, rendered from the real parser at build time.

``docs/cli.md`` holds the page's prose and a region from ``<!-- cli-reference -->`` to
``<!-- /cli-reference -->`` (a note for readers of the Markdown file); this hook replaces the
region with ``napari-cebra --help`` and every subcommand's ``--help``, taken from
``napari_cebra.cli.build_parser()``. A new option or subcommand appears by itself; a parser
that no longer builds fails the build.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from mkdocs.exceptions import PluginError

MARKER = "<!-- cli-reference -->"
END_MARKER = "<!-- /cli-reference -->"
PAGE = "cli.md"
WIDTH = "100"  # columns argparse wraps the help at, fixed so the page does not depend on a terminal
SRC = Path(__file__).resolve().parents[2] / "src"


@contextlib.contextmanager
def _fixed_terminal() -> Iterator[None]:
    """Wrap help at WIDTH columns and without colour, whatever terminal runs the build."""
    saved = {key: os.environ.get(key) for key in ("COLUMNS", "NO_COLOR")}
    os.environ.update(COLUMNS=WIDTH, NO_COLOR="1")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _build_parser() -> argparse.ArgumentParser:
    if str(SRC) not in sys.path:  # document this checkout's code, installed or not
        sys.path.insert(0, str(SRC))
    from napari_cebra.cli import build_parser

    return build_parser()


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of every subcommand, in the order ``--help`` lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    raise PluginError("napari_cebra.cli.build_parser() has no subcommands")


def _text_block(text: str) -> str:
    return "```text\n" + text.rstrip() + "\n```"


def render_cli_reference() -> str:
    """Markdown for every subcommand of ``napari-cebra``: a summary table, then each ``--help``."""
    with _fixed_terminal():
        parser = _build_parser()
        commands = _subcommands(parser)
        parts = ["| command | what it does |", "|---|---|"]
        parts += [f"| [`napari-cebra {name}`](#{name}) | {summary.replace('|', '&#124;')} |"
                  for name, summary, _ in commands]
        parts += ["", "## napari-cebra {#napari-cebra}", "", _text_block(parser.format_help())]
        for name, _, sub in commands:
            parts += ["", f"## napari-cebra {name} {{#{name}}}", "", _text_block(sub.format_help())]
    return "\n".join(parts) + "\n"


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    start, end = markdown.find(MARKER), markdown.find(END_MARKER)
    if start < 0 or end < start:
        raise PluginError(f"docs/{PAGE} lost its markers {MARKER} … {END_MARKER}: "
                          "the CLI reference has no place")
    try:
        reference = render_cli_reference()
    except PluginError:
        raise
    except Exception as err:  # the parser itself is broken: the build must say so
        raise PluginError(f"the CLI reference could not be built from napari_cebra.cli: "
                          f"{type(err).__name__}: {err}") from err
    return markdown[:start] + reference + markdown[end + len(END_MARKER):]
