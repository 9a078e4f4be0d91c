"""The embeddable widget: a page per service made for an iframe, and the snippet on the service page."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

from chalicelib import wiring
from chalicelib.core.jobs import RenderJob
from chalicelib.site import widget
from tests.support.published import START, seed

WIDGET = "services/{}/widget/index.html"


def get(aws, key: str) -> str:
    return aws.client("s3").get_object(Bucket=aws.resources.bucket, Key=key)["Body"].read().decode()


def keys(aws) -> set[str]:
    return {o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=aws.resources.bucket).get("Contents", [])}


def test_the_widget_shows_the_latest_five_stories_and_opens_them_in_a_new_tab(aws, directory):
    ids = seed(7, "riverside-ward-7")  # newest first
    seed(2, "hillside-district-nursing", start=START + timedelta(days=30))
    wiring.site().render(RenderJob(page="service", ref="riverside-general"))
    page = get(aws, WIDGET.format("riverside-general"))
    assert '<h1 class="widget__title">' in page and "Riverside General Hospital" in page
    shown = re.findall(r'href="/stories/([0-9a-z]{17})/" target="_blank" rel="noopener"', page)
    assert shown == ids[:5]
    assert "Story 6 about riverside-ward-7" in page and "Story 1 about riverside-ward-7" not in page
    assert "What happened 6." in page and "Not yet read" in page  # excerpt and progress
    assert (
        'href="/tell-your-story/riverside-general/?via=widget" target="_blank" rel="noopener">Tell your story' in page
    )
    assert all('target="_blank" rel="noopener"' in a for a in re.findall(r"<a [^>]*>", page))
    # Its own host only, no script, a policy, and not indexed (the service page is the page to find).
    body = re.sub(r'<meta http-equiv="Content-Security-Policy" content="[^"]*">', "", page)
    assert "<script" not in body and "http://" not in body and "https://" not in body and " style=" not in body
    assert re.search(r'<link rel="stylesheet" href="/assets/site\.[0-9a-f]{12}\.css">', page)
    assert '<meta http-equiv="Content-Security-Policy"' in page and 'name="robots" content="noindex"' in page
    assert "Hillside" not in page


def test_a_service_with_no_stories_says_so_and_a_removed_service_loses_its_widget(aws, directory):
    wiring.site().render(RenderJob(page="service", ref="riverside-maternity"))
    assert "No stories about this service have been published yet." in get(aws, WIDGET.format("riverside-maternity"))
    wiring.site().render(RenderJob(page="service", ref="no-longer-here"))
    aws.client("s3").put_object(Bucket=aws.resources.bucket, Key=WIDGET.format("gone"), Body=b"old")
    wiring.site().render(RenderJob(page="service", ref="gone"))
    assert WIDGET.format("gone") not in keys(aws)


def test_text_in_the_widget_is_escaped(aws, directory):
    store = wiring.store()
    svc = store.get_service("riverside-ward-7")
    store.put_service({**svc, "name": 'Ward <b>7</b> & "Co"'})
    wiring.site().render(RenderJob(page="service", ref="riverside-ward-7"))
    page = get(aws, WIDGET.format("riverside-ward-7"))
    assert "<b>7</b>" not in page and "Ward &lt;b&gt;7&lt;/b&gt; &amp; &#34;Co&#34;" in page


def test_the_service_page_offers_the_snippet_to_copy(aws, directory):
    store = wiring.store()
    svc = store.get_service("riverside-ward-7")
    store.put_service({**svc, "name": 'Ward 7 & "Acute"'})
    wiring.site().render(RenderJob(page="service", ref="riverside-ward-7"))
    page = get(aws, "services/riverside-ward-7/index.html")
    found = re.search(
        r'<details class="embed">.*?<label class="label" for="(embed-code-[a-z0-9-]+)">.*?'
        r'<textarea [^>]*id="\1"[^>]*readonly[^>]*>(.*?)</textarea>',
        page,
        re.S,
    )
    assert found, "no labelled, read-only snippet on the service page"
    code = html_lib.unescape(found.group(2))
    assert code == widget.snippet("https://site.test", store.get_service("riverside-ward-7"))
    assert code.startswith(
        '<iframe src="https://site.test/services/riverside-ward-7/widget/" title="Latest stories about Ward 7 &amp; &#34;Acute&#34;'
    )
    assert 'width="100%" height="400" loading="lazy"' in code
    # The pasted code is itself valid markup: its one attribute-quoted title survives.
    assert (
        html_lib.unescape(re.search(r'title="([^"]*)"', code).group(1))
        == 'Latest stories about Ward 7 & "Acute" on FeedForward'
    )
