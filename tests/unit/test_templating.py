"""Compiled templates (core/templating.py, issue 17): read instead of compiled, never written at run
time, and compiled again when the source or the environment's options changed."""

from __future__ import annotations

from pathlib import Path

from jinja2 import DictLoader, Environment, select_autoescape

from chalicelib.core import templating


def environment(sources: dict[str, str], **options) -> Environment:
    return Environment(loader=DictLoader(sources), autoescape=select_autoescape(("html",)), **options)


def compiles(env: Environment) -> list[str]:
    """Counts the templates `env` compiles from source (a read compiled one is not counted)."""
    seen: list[str] = []
    real = env.compile

    def counted(source, name=None, *args, **kwargs):
        seen.append(name)
        return real(source, name, *args, **kwargs)

    env.compile = counted  # type: ignore[method-assign]
    return seen


def test_compiled_templates_are_read_and_only_a_changed_one_is_compiled_again(tmp_path: Path):
    sources = {"a.html": "<p>{{ x }}</p>", "b.txt": "{{ x }}!"}
    assert templating.compile_all([("t", environment(sources), list(sources))], tmp_path) == 2
    written = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    reader = templating.attach(environment(sources), "t", tmp_path)
    seen = compiles(reader)
    assert reader.get_template("a.html").render(x="<b>") == "<p>&lt;b&gt;</p>"
    assert reader.get_template("b.txt").render(x="<b>") == "<b>!"
    assert seen == []

    sources["a.html"] = "<div>{{ x }}</div>"  # the source changed since the build
    reader = templating.attach(environment(sources), "t", tmp_path)
    seen = compiles(reader)
    assert reader.get_template("a.html").render(x="1") == "<div>1</div>" and seen == ["a.html"]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == written  # nothing written at run time

    other = templating.attach(environment(sources, trim_blocks=True), "t", tmp_path)  # other options
    seen = compiles(other)
    other.get_template("b.txt")
    assert seen == ["b.txt"]
    elsewhere = templating.attach(environment(sources), "another", tmp_path)  # another environment's name
    seen = compiles(elsewhere)
    elsewhere.get_template("b.txt")
    assert seen == ["b.txt"]


def test_every_template_of_the_site_the_letters_and_the_screen_compiles(tmp_path: Path):
    from chalicelib.edge.moderation_screen import screen_templates
    from chalicelib.mail.sender import letter_templates
    from chalicelib.site.pages import page_templates

    envs = [page_templates(), letter_templates(), screen_templates()]
    count = templating.compile_all(envs, tmp_path)
    assert count == sum(len(names) for _, _, names in envs) == len(list(tmp_path.iterdir()))
    assert any(n.endswith(".txt#subject") for n in envs[1][2]) and "pages/story.html" in envs[0][2]


def test_a_letter_s_text_is_two_templates_its_subject_line_and_its_body():
    from chalicelib.mail.sender import _templates

    env = _templates()
    whole, _, _ = env.loader.get_source(env, "author_confirmation.txt")
    subject, _, body = whole.partition("\n")
    assert env.loader.get_source(env, "author_confirmation.txt#subject")[0] == subject.removeprefix("Subject:").strip()
    assert env.loader.get_source(env, "author_confirmation.txt#body")[0] == body.lstrip("\n")
