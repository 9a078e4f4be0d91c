"""Test data: a small directory and valid story bodies."""

from __future__ import annotations

import uuid
from datetime import date

SMALL_DIRECTORY = [
    {
        "slug": "riverside-trust",
        "name": "Riverside NHS Foundation Trust",
        "kind": "trust",
        # Staff at these domains join by themselves, as readers (organisations need one or a lead).
        "domains": ["nhs.example"],
        "children": [
            {
                "slug": "riverside-general",
                "name": "Riverside General Hospital",
                "kind": "hospital",
                "children": [
                    {"slug": "riverside-ward-7", "name": "Ward 7 (Acute Medicine)", "kind": "ward"},
                    {"slug": "riverside-maternity", "name": "Maternity Unit", "kind": "department"},
                ],
            }
        ],
    },
    {
        "slug": "hillside-trust",
        "name": "Hillside Community Health",
        "kind": "trust",
        "domains": ["hillside.nhs.example"],
        "children": [{"slug": "hillside-district-nursing", "name": "District Nursing", "kind": "service"}],
    },
]


def story_body(**overrides):
    today = date.today()
    body = {
        "submission_id": uuid.uuid4().hex,
        "title": "Kind nurses on a busy night",
        "story": "I was admitted at night with chest pain.\nThe nurses explained everything and stayed calm.",
        "good": "They listened.",
        "improve": "The wait for a bed was long.",
        "feelings": ["listened-to", "anxious"],
        "role": "patient",
        "pseudonym": "Night owl",
        "experience_month": today.month,
        "experience_year": today.year,
        "services": ["riverside-ward-7"],
        "email": "author@example.org",
        "consent": True,
    }
    body.update(overrides)
    return body
