"""The staff sign-up's choices (issue 20): services narrowed to the chosen organisation, and subjects
asked for and said as words, not slugs."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from chalicelib import wiring
from chalicelib.core.jobs import RenderJob
from tests.support.subscriptions import active, signup

FORM_H = {"Content-Type": "application/x-www-form-urlencoded"}


def pairs(**overrides) -> list[tuple[str, str]]:
    body = signup(**overrides)
    tags = body.pop("tags")
    return [(k, str(v)) for k, v in body.items()] + [("tags", tags if isinstance(tags, str) else ", ".join(tags))]


def test_the_form_again_lists_only_the_chosen_organisations_services(client, aws, directory):
    resp = client.http.post("/api/subscriptions", body=urlencode(pairs(name="")), headers=FORM_H)
    assert resp.status_code == 422
    html = resp.body.decode()
    services = html[html.index('id="service"') : html.index("</select>", html.index('id="service"'))]
    assert '<option value="riverside-ward-7" selected>' in services
    assert "hillside" not in services  # another organisation's services are not offered
    assert "subscribe." not in html  # no script from the site: the API's policy would refuse it
    # No organisation chosen yet: every service, as on the static page.
    resp = client.http.post("/api/subscriptions", body=urlencode(pairs(organisation="")), headers=FORM_H)
    html = resp.body.decode()
    assert "hillside-district-nursing" in html[html.index('id="service"') :]


def test_the_static_form_loads_the_script_that_narrows_the_services(aws, directory):
    outputs = {o.key: o for o in wiring.site().build(RenderJob(page="static"))}
    form = outputs["subscribe/index.html"].body.decode()
    script = re.search(r'<script src="/(assets/subscribe\.[0-9a-f]{12}\.js)" defer></script>', form)
    assert script, "the sign-up page loads subscribe.js"
    published = {o.key for o in wiring.site().build(RenderJob(page="static"))}
    assert script.group(1) in published  # and the script is published with the page


def test_subjects_are_asked_for_and_said_in_words(client, aws, directory):
    outputs = {o.key: o for o in wiring.site().build(RenderJob(page="static"))}
    form = outputs["subscribe/index.html"].body.decode()
    hint = form[form.index('id="tags-hint"') :][:300]
    assert "Waiting times, Discharge" in hint and "waiting-times" not in hint

    person, _ = active(tags=["Waiting times", "Welsh language"])
    subscription = wiring.store().subscriptions_of(person["id"])[0]
    assert subscription["tags"] == ["waiting-times", "welsh-language"]  # kept as the moderators' tags
    alerts = wiring.subscriptions().alerts(
        wiring.links().issue("manage", "", person["id"], 30, subscriber_id=person["id"])
    )
    assert alerts["subscriptions"][0]["tags_words"] == "Only stories tagged waiting times or welsh language"
