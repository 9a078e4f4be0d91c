"""Every budget `make bench` checks, in one place, each with the reason for its number.

A budget is an upper (or lower) bound on one figure. The AWS-call budgets are the calls an
operation needs by design, counted from the code's access patterns (docs/data-model.md):
a change that adds a call to an operation must change its budget here, and say why.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    op: str  # "<=", ">=" or "=="
    limit: float
    why: str

    def check(self, value: float) -> bool:
        if self.op == "<=":
            return value <= self.limit + 1e-9
        if self.op == ">=":
            return value >= self.limit - 1e-9
        return abs(value - self.limit) < 1e-9

    def text(self) -> str:
        limit = f"{self.limit:g}"
        return {"<=": f"≤ {limit}", ">=": f"≥ {limit}", "==": f"= {limit}"}[self.op]


# ---- cold start ------------------------------------------------------------------------------------

COLD_START_RATIO = Budget("<=", 1.2, "design.md: importing app costs at most 1.2× a bare `import boto3, chalice`")

# ---- AWS calls per operation (botocore before-call events on chalicelib's own clients) -------------
# The demo directory is up to five levels deep; the benchmark story is about a ward three levels down
# (trust › hospital › ward), so it is listed on four listings (three services and everything).

AWS_CALLS: dict[str, Budget] = {
    "submit": Budget(
        "<=",
        5,
        "the request: the sender's rate limit (1 UpdateItem, limits.py: one ADD per hit), check the services "
        "(1 BatchGetItem), the submission's idempotency record in progress and done (PutItem, UpdateItem), the "
        "story with its private contact (1 TransactWriteItems)",
    ),
    "submit_stream": Budget(
        "<=",
        1,
        "the stream handler for a new story: the author's confirmation job (1 SendMessageBatch); the private "
        "contact item itself never leaves the store",
    ),
    "author_confirmation": Budget(
        "<=",
        8,
        "one email, in fixed words (issue 18): idempotency in progress and done (PutItem, UpdateItem), the story "
        "and the contact (2 GetItem), a fresh confirm link (PutItem), the address's daily count (UpdateItem), the "
        "suppression check (GetItem), SES (SendRawEmail)",
    ),
    "moderate_publish": Budget(
        "<=",
        16,
        "decide: read the story (GetItem), write it (UpdateItem). The stream: the audit record (PutItem), the "
        "services' paths (BatchGetItem), the listings (1 BatchWriteItem for up to 25: services, everything, tags, "
        "month), the tag and month names for sitemaps (2 BatchWriteItem), the jobs (one SendMessageBatch per "
        "queue: render, mail, and the search FIFO queue, which issue 17 added: the shard's rebuild runs in its "
        "own function). A moderator's edit adds one PutItem (the kept original). The figures (figures.py): the "
        "story's applied facts (GetItem, consistent) and the counters of its listings with its new facts (1 "
        "TransactWriteItems); the month archives' render jobs take the render jobs past ten (a second "
        "SendMessageBatch). The response promise (promise.py): the services' targets (BatchGetItem) and the "
        "promise with its ladder item (1 TransactWriteItems); that write to the story comes back on the stream "
        "and re-renders the story page only (1 SendMessageBatch)",
    ),
    "render_story_pages": Budget(
        "<=",
        75,
        "the seven pages one publication touches for a ward three levels down with one tag: story = Query (the "
        "story and its conversation) + BatchGetItem (services) + PutObject (3); home = Query (listing) + "
        "BatchGetItem + Query (organisations) + 2 Query (tag and month names) + 4 PutObject (page, Atom, JSON "
        "feed, sitemap index) (9); each service = GetItem + Query (children) + Query (listing) + BatchGetItem + "
        "3 PutObject (page and feeds) (7 × 3); the tag = Query (listing) + BatchGetItem + Query (tag names) + "
        "4 PutObject (page, feeds, tags sitemap) (7); the month's sitemap = Query + BatchGetItem (the services' trees, for its archive pages) + PutObject (3). Each further "
        "level or tag adds 7. The figures: each service page, the home page and the tag page read their counter "
        "(GetItem: 5); the newest month-archive page of each listing (three services, everything, the tag) = "
        "GetItem (counter) + Query (the month, Limit ≤ two pages) + BatchGetItem + PutObject, a second PutObject "
        "when the story starts a new page (5 × 5). Each further level or tag adds 5 more. Each service's embeddable "
        "widget is one more PutObject from what its page already read (3). The search index job is counted apart "
        "(incremental: Pagefind rebuilds an index from every story)",
    ),
    "author_published": Budget(
        "<=",
        8,
        "every letter to an author whose address is confirmed: idempotency (PutItem, UpdateItem), the story and "
        "the contact (2 GetItem), a fresh private link (PutItem) and the story's one working author link "
        "(PutItem, issue 18), the suppression check (GetItem), SES (SendRawEmail)",
    ),
    "alert_fanout": Budget(
        "<=",
        6,
        "the fan-out job: the story (GetItem), its services' paths (BatchGetItem), the watchers of each "
        "level (one Query per level: 3), the alert jobs (one SendMessageBatch per 10 people). Digest "
        "subscribers add one BatchWriteItem per 25",
    ),
    "staff_alert_per_recipient": Budget(
        "<=",
        11,
        "one alert: idempotency (PutItem, UpdateItem), the story, the subscriber (2 GetItem), the services "
        "(BatchGetItem), the person's subscriptions (Query), three links: read-and-respond, unsubscribe, manage "
        "(3 PutItem), the suppression check (GetItem), SES (SendRawEmail)",
    ),
    "staff_read": Budget(
        "<=",
        6,
        "the request: the bad-link guessing limit (GetItem, limits.py: read before a capability link is looked "
        "up), the link (GetItem), its holder and subscription still active (2 GetItem, links.py, which hands "
        "both to conversation.py for what the page shows: not read twice), the story (GetItem), the receipt "
        "(PutItem, conditional)",
    ),
    "staff_response": Budget(
        "<=",
        8,
        "the request: as the read receipt (5 GetItem, PutItem), the response (PutItem, conditional); when the "
        "person had already read the story (as here), one GetItem returns when they did",
    ),
    "author_reply": Budget(
        "<=",
        5,
        "the request: the author's link (GetItem), the story's one working author link (GetItem, issue 18), the "
        "story (GetItem), a reply with the same id already there? (GetItem: a double submit makes one reply), the "
        "reply (PutItem, conditional)",
    ),
}

# ---- incremental publishing --------------------------------------------------------------------------

# ---- search at scale (bench/search.py) --------------------------------------------------------------

SEARCH_REBUILD_RATIO = Budget(
    "<=",
    1.1,
    "issue 17: the hot shard's rebuild after one publication reads and writes a bounded number of items and "
    "files whatever the site's size (the same month's stories at 10,000 stories as at 1,000)",
)
SEARCH_QUERY_KB = Budget(
    "<=",
    500,
    "issue 17: a search downloads at most 500 KB at every size measured, 50,000 stories included (loader, "
    "worker and WebAssembly included, nothing cached): each shard searched costs its pf_meta, so shards are bounded",
)

INCREMENTAL_RATIO = Budget(
    "<=",
    1.0,
    "design.md rule 5: publishing one story costs the same S3 writes and DynamoDB reads at 10,000 stories as at 100",
)

# ---- full rebuild --------------------------------------------------------------------------------

REBUILD_UNCHANGED_UPLOADS = Budget(
    "==", 0, "design.md: a full rebuild skips objects whose content hash has not changed"
)

# ---- fan-out ---------------------------------------------------------------------------------------

FANOUT_RECIPIENTS = 1000
FANOUT_SENT = Budget(
    "==", FANOUT_RECIPIENTS, "design.md: one story that reaches 1,000 subscribers gives exactly 1,000 emails"
)
FANOUT_DUPLICATES = Budget("==", 0, "design.md: no duplicates after injected retries")
FANOUT_HOOKS = Budget(
    "<=",
    4,
    "chalicelib/core/idempotency.py keeps one powertools persistence layer per client, key prefix and configuration "
    "(a handful in the whole app: stories.submit, notifications.send, ...): each layer adds one hook that every "
    "DynamoDB request runs, so the count is bounded by the idempotent functions, never by the emails sent (it "
    "was 2,052 after 1,000)",
)

# ---- load on the local stack ------------------------------------------------------------------------

LOAD_LOST = Budget(
    "==", 0, "every story the API acknowledged (201) is stored, and no story is stored that was not acknowledged"
)
LOAD_UNMAILED = Budget("==", 0, "every acknowledged story gets its author's confirmation through the event pump")
LOAD_THROUGHPUT_RATIO = Budget(
    ">=",
    0.5,
    "a story is one TransactWriteItems (the story and its contact) plus three small calls and an HTTP hop through "
    "chalice local: it should reach at least half the rate of that bare transaction on the same emulator",
)

# ---- reports (issue 15) ---------------------------------------------------------------------------

# A lead's report: the bad-link budget, the link and its holder (3 GetItem), the service (GetItem),
# its sub-services (Query), the services the stories name and the service's path (2 BatchGetItem), the
# tags (Query), the chart's counter (GetItem), the previous period's listing (Query) and spare for a
# second page of the stories' services.
REPORT_FIXED_CALLS = 12


def report_budget(stories: int) -> Budget:
    limit = REPORT_FIXED_CALLS + -(-stories // 1000) + -(-stories // 100)
    return Budget(
        "<=",
        limit,
        "docs/data-model.md (reports): fixed reads, one listing Query per 1 MB (a thousand entries or more), one "
        "BatchGetItem per 100 stories; never a Scan",
    )


# ---- the service finder (issue 20) ------------------------------------------------------------------

FINDER_TOP3 = Budget(
    ">=",
    95,
    "issue 20: the service a person means is among the finder's first three answers for at least 95% of the "
    "held-out labelled queries (bench/data/finder_report.json)",
)
FINDER_CALLS = Budget(
    "<=",
    5,
    "docs/data-model.md (the finder): the finder item (GetItem, once per warm process every five minutes), one "
    "prefix-index Query for each of the three rarest words, one more within the place named when a partition "
    "was cut short; at any size of directory",
)
