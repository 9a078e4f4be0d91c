"""`python -m tools.ff source-add` and `import-source` (issue 21), in process on moto: the summary line on
stdout, each refused item by name on stderr, a progress bar, and exit 1 when anything was refused."""

from __future__ import annotations

import json

from chalicelib import wiring
from tests.support.feed_server import FeedServer
from tools import ff

WORDS = "The nurses on the ward were kind and explained every step of my treatment to me."


def test_the_commands_register_a_source_import_it_and_say_what_they_did(aws, directory, capsys):
    items = [
        {"id": "r1", "title": "Kind nurses", "content_text": WORDS, "date_published": "2026-11-01"},
        {"id": "r2", "title": "", "content_text": WORDS, "date_published": "2026-11-01"},
    ]
    with FeedServer() as server:
        location = server.serve("/feed.json", json.dumps({"version": "1.1", "items": items}))
        add = ["source-add", "reviews", "--name", "NHS website reviews", "--organisation", "riverside-trust"]
        add += ["--kind", "json_feed", "--location", location, "--service", "riverside-ward-7"]
        assert ff.main(add) == 0
        assert "not licensed (its stories are for staff only)" in capsys.readouterr().out
        assert ff.main(add) == 1
        assert "slug: A source with this slug exists already" in capsys.readouterr().err
        assert ff.main(["import-source", "reviews"]) == 1  # an item was refused
        out, err = capsys.readouterr()
        assert out == "1 imported, 0 updated, 0 unchanged, 1 refused\n"
        assert "  item r2/title: missing" in err and "Importing reviews" in err  # the refusal, and the bar
        assert ff.main(["--no-progress", "import-source", "reviews", "--max-items", "1"]) == 0
        assert capsys.readouterr().out == "0 imported, 0 updated, 1 unchanged, 0 refused (more to come: run it again)\n"
    assert ff.main(["--no-progress", "import-source", "nobody"]) == 1
    assert "There is no source 'nobody'" in capsys.readouterr().err
    imported = [s for s in wiring.moderation().queue() if s["route"] == "import"]
    assert [s["title"] for s in imported] == ["Kind nurses"]


def test_the_local_stacks_demo_source_is_served_by_the_static_server_and_imported_once(aws):
    from local.sources import SOURCE, seed_demo_source
    from local.static_server import StaticServer

    tree = [{"slug": SOURCE["organisation"], "name": "Northbridge", "kind": "trust"}]
    tree[0]["children"] = [{"slug": SOURCE["service"], "name": "Northbridge General", "kind": "hospital"}]
    wiring.directory().load(tree)
    s3 = aws.client("s3")
    site = StaticServer(s3, aws.resources.bucket, port=0).start()
    try:
        first = seed_demo_source(s3, aws.resources.bucket, site.url)
        again = seed_demo_source(s3, aws.resources.bucket, site.url)
    finally:
        site.stop()
    assert first.startswith("Demo source (Northbridge patient survey, http://127.0.0.1:")
    assert first.endswith(": 3 imported, 0 updated, 0 unchanged, 0 refused (in the moderation queue)")
    assert again.endswith(": 0 imported, 0 updated, 3 unchanged, 0 refused (in the moderation queue)")
    assert len([s for s in wiring.moderation().queue() if s["route"] == "import"]) == 3
