"""Compiled Jinja2 templates, shipped in the package (issue 17: compiling a page's or a letter's
templates was about a fifth of a render or mail worker's first invocation).

`make package` (tools/package.py) compiles every template of each environment (the site's pages, the
letters, the moderation screen) on the runtime's Python and puts the code in the zip, under
chalicelib/templates/.compiled/. At run time each environment reads its templates' code from there
and compiles only a template whose source, or whose environment's options, changed since (Jinja
checks the source's checksum; the key holds the options), or one the build did not see. Nothing is
ever written at run time: Lambda's /var/task is read-only. Without the directory (a checkout, the
tests) templates compile as before, each when it is first used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

COMPILED = Path(__file__).resolve().parents[1] / "templates" / ".compiled"


def attach(env: Any, name: str, directory: Path | None = None, write: bool = False) -> Any:
    """Give `env` (named, so that two environments' templates of one name stay apart) the compiled
    templates in `directory`; with `write`, compile into it too (the build). Returns env."""
    from jinja2 import FileSystemBytecodeCache, __version__

    options = repr(
        (
            name,
            __version__,
            env.block_start_string,
            env.variable_start_string,
            env.comment_start_string,
            env.line_statement_prefix,
            env.trim_blocks,
            env.lstrip_blocks,
            env.keep_trailing_newline,
            env.newline_sequence,
            sorted(env.extensions),
        )
    )

    class Compiled(FileSystemBytecodeCache):
        def get_cache_key(self, template: str, filename: str | None = None) -> str:
            # Not the file's path (the build's is not Lambda's): the environment's options and the name.
            escaped = env.autoescape(template) if callable(env.autoescape) else env.autoescape
            return hashlib.sha1(f"{options}|{escaped}|{template}".encode(), usedforsecurity=False).hexdigest()

        def dump_bytecode(self, bucket: Any) -> None:
            if write:
                super().dump_bytecode(bucket)

    env.bytecode_cache = Compiled(str(directory or COMPILED), "%s.jinja")
    return env


def compile_all(
    envs: Iterable[tuple[str, Any, list[str]]], directory: Path, root: tuple[str, str] | None = None
) -> int:
    """Compile the named templates of each (name, environment, templates) into `directory` (the site's
    pages.page_templates, the letters' sender.letter_templates, the screen's); how many were written.
    `root` (this checkout's directory, the runtime's) names the files as the runtime has them, for its
    tracebacks and so that the same templates give the same bytes wherever they are built."""
    from jinja2 import BaseLoader

    class Renamed(BaseLoader):
        def __init__(self, inner: Any):
            self.inner = inner

        def get_source(self, environment: Any, template: str) -> tuple[str, str | None, Any]:
            source, filename, uptodate = self.inner.get_source(environment, template)
            if root and filename and filename.startswith(root[0]):
                filename = root[1] + filename[len(root[0]) :]
            return source, filename, uptodate

    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, env, templates in envs:
        building = attach(env.overlay(loader=Renamed(env.loader), cache_size=0), name, directory, write=True)
        for template in templates:
            building.get_template(template)
            count += 1
    return count
