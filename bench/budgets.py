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
FIRST_CALL_RATIO = Budget(
    "<=",
    1.3,
    "issue 17: the first invocation of each handler (API request, stream batch, render job, mail job) on Python "
    "3.13 costs at most 1.3× `import boto3, chalice` plus the clients it needs, in CPU time",
)

# ---- AWS calls per operation (botocore before-call events on chalicelib's own clients) -------------
# The demo directory is up to five levels deep; the benchmark story is about a ward three levels down
# (trust › hospital › ward), so it is listed on four listings (three services and everything).

AWS_CALLS: dict[str, Budget] = {
    "submit": Budget(
        "<=",
        3,
        "the request: the sender's rate limit (1 UpdateItem, limits.py: one ADD per hit), check the services "
        "(1 BatchGetItem; none in a process that read them in the last minute), the story with its private "
        "contact and the submission's idempotency record (1 TransactWriteItems: issue 17 moved the record into "
        "the story's transaction, so a second send meets its condition and gets the first answer back; it was 5)",
    ),
    "submit_stream": Budget(
        "<=",
        1,
        "the stream handler for a new story: the author's confirmation job (1 SendMessageBatch); the private "
        "contact item itself never leaves the store",
    ),
    "author_confirmation": Budget(
        "<=",
        9,
        "one email, in fixed words (issue 18): idempotency in progress and done (PutItem, UpdateItem), the story "
        "and the contact together (1 BatchGetItem, issue 17), a fresh confirm link (PutItem), the answer kept for "
        "this email read first (GetItem: a retried delivery must not spend the address's day again, issue 22), "
        "the address's daily count and the answer kept (UpdateItem, PutItem), the suppression check (GetItem), "
        "SES (SendRawEmail); it was 10",
    ),
    "moderate_publish": Budget(
        "<=",
        12,
        "decide: read the story (GetItem), its services' promise (BatchGetItem, kept a minute), the publication "
        "with its promise and its ladder (1 TransactWriteItems, issue 17: one write to the story, so one stream "
        "record and one render of its page). The stream, in its own process: the audit record (PutItem), the "
        "services' paths (BatchGetItem), the listings with the tag and month names they bring (1 BatchWriteItem "
        "for up to 25), the figures (the story's applied facts, GetItem consistent, and the listings' counters, "
        "1 TransactWriteItems), the jobs (one SendMessageBatch per queue: mail, the search FIFO queue, and render "
        "twice, its twelve jobs being more than ten). A moderator's edit adds one PutItem (the kept original). "
        "It was 16: the promise's own transaction, its services read again, two more BatchWriteItems and the "
        "story page's second render job; 12 after issue 17. Issue 21's partners cost nothing here: the one item of "
        "watched services rides along with the services' BatchGetItem, and no Query is made for a level nobody "
        "watches (none here; it was 15, a Query per level, before that item)",
    ),
    "render_story_pages": Budget(
        "<=",
        74,
        "the pages one publication touches for a ward three levels down with one tag (twelve, and its town), each job in a "
        "process that keeps the directory's items a minute (the bench starts it empty): story = Query (the "
        "story and its conversation) + PutObject (2, its services kept from the first archive job); home = Query "
        "(listing) + Query (the top of the tree) + GetItem (counter) + 2 Query (tag and month names, sitemap index) "
        "+ 4 PutObject (page, Atom, JSON feed, sitemap index) (9); each service = Query (children) + Query "
        "(listing) + GetItem (counter) + 4 PutObject (page, feeds, widget) (7 × 3); the tag = Query (listing) + "
        "GetItem (counter) + Query (tag names) + 4 PutObject (page, feeds, tags sitemap) (7); the month's sitemap "
        "= Query + PutObject (2); the newest month-archive page of each listing (three services, everything, the "
        "tag) = GetItem (counter) + Query (the month) + PutObject, with one BatchGetItem for services not yet "
        "kept (18). Each further level or tag adds about 10. It was 74 for 13 jobs: 15 reads of directory items "
        "and a second story job. The search shard's rebuild runs in its own function and is counted apart. Issue "
        "19 adds one PutObject per HTML page for its Welsh copy under cy/ (story, home, three services, the tag "
        "and five archive pages: 11), read from the same items: 59 before. Issue 20 adds the page of the ward's town "
        "(a place job: the places summary in the finder's item, GetItem; the town's listing, Query; the page in "
        "English and Welsh, 2 PutObject: 4; its stories' services are kept from the jobs before): 70 before",
    ),
    "author_published": Budget(
        "<=",
        7,
        "every letter to an author whose address is confirmed: idempotency (PutItem, UpdateItem), the story and "
        "the contact together (1 BatchGetItem, issue 17), a fresh private link (PutItem) and the story's one "
        "working author link (PutItem, issue 18), the suppression check (GetItem), SES (SendRawEmail)",
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
        9,
        "one alert: idempotency (PutItem, UpdateItem), the story, the subscriber (2 GetItem), the services "
        "(BatchGetItem; none for the next recipients in the same process within a minute), the person's "
        "subscriptions (Query), three links: read-and-respond, unsubscribe, manage (1 BatchWriteItem, issue 17; "
        "it was 3 PutItem), the suppression check (GetItem), SES (SendRawEmail); it was 11",
    ),
    "staff_read": Budget(
        "<=",
        5,
        "the request: the link (GetItem), its holder and the subscription it came with, still active (1 "
        "BatchGetItem, issue 17; it was 2 GetItem), the story (GetItem), the receipt (PutItem, conditional: a "
        "second read gets the first receipt back with the refusal), the person's last activity (UpdateItem); "
        "a working link neither spends nor checks the bad-link budget (issue 18)",
    ),
    "staff_read_effects": Budget(
        "<=",
        69,
        "what follows a first read: the story's progress (UpdateItem) and its render job (SendMessageBatch); "
        "that change re-lists the story with its new progress (services BatchGetItem, 1 BatchWriteItem, the "
        "figures' GetItem) and renders the pages that show progress: story, home, three services and the tag "
        "(as after a publication, but no archive, sitemap or search job: their contents do not change, issue 17), "
        "and the author's 'read' letter (as author_published, with the thread's Query). It was 71; 58 after issue "
        "17. Issue 19 adds one PutObject for the Welsh copy of each of the seven pages, under cy/ (measured: 65). "
        "Issue 20 adds the town's page, which shows progress as the home page does (4, as after a publication)",
    ),
    "staff_response": Budget(
        "<=",
        8,
        "the request: the link (GetItem), its holder and subscription (1 BatchGetItem), the story (GetItem), the "
        "link's and the person's response budgets (2 UpdateItem), the receipt (PutItem: refused when they had read "
        "it, the earlier receipt coming back with the refusal, issue 17: no read after), the response (PutItem, "
        "conditional), the person's count of responses with their last activity (1 UpdateItem); it was 12",
    ),
    "staff_response_effects": Budget(
        "<=",
        76,
        "what follows a published response: progress (2 UpdateItem: responded, change planned), the ladder's end "
        "(DeleteItem), the re-listing and figures (as after a read, with the counters' TransactWriteItems, for "
        "each of the two records), the pages that show progress (as after a read), and the author's letter about "
        "the response (as author_published, with the response's GetItem). It was 79; 64 after issue 17. Issue 21 "
        "adds the partners' event: with no partner, the one item of watched services (GetItem), which a fresh "
        "stream process reads before anything else that could bring it along, and a warm one holds a minute "
        "(so 64 warm). It was 68: the story (GetItem) and a Query per level of the tree, before that item. "
        "Issue 19 adds one PutObject for the Welsh copy of each of the seven pages (measured: 72). Issue 20 adds "
        "the town's page (4, as after a read)",
    ),
    "author_reply": Budget(
        "<=",
        5,
        "the request: the author's link (GetItem), the story's working author links (Query, issue 18), the "
        "story (GetItem), a reply with the same id already there? (GetItem: a double submit makes one reply), the "
        "reply (PutItem, conditional)",
    ),
    # Issue 21: the importer, per run of 20 items (bench/calls.py IMPORT_ITEMS).
    "import_first": Budget(
        "<=",
        24,
        "the source (GetItem), the window's pointers (1 BatchGetItem per 100 items), each new item's story and "
        "pointer (1 TransactWriteItems each: 20), the item's service (1 BatchGetItem, once per run), where the "
        "run stopped (UpdateItem): 1 + 1 + 20 + 1 + 1",
    ),
    "import_again": Budget(
        "<=",
        4,
        "the source (GetItem), the window's pointers (1 BatchGetItem), the items' service (1 BatchGetItem, as "
        "each item is checked before its digest is compared; none in a process that read it in the last minute), "
        "where the run stopped (UpdateItem): an unchanged item costs nothing of its own, up to 100 a BatchGetItem "
        "(measured: 4, and 23 for the first run)",
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
