"""Listings (published stories per service, tag and month, newest first), the names the site
lists, the figure counters of each listing, and the pages the public API and the search index read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, cast

from ..core import figures as figure_rules
from .records import ListingEntry, Story
from .table import Table, _public, from_item, request_token, staff_list, to_item


class ListingStore(Protocol):
    """What the flows and the renderer may ask of listings, names and figures."""

    def delete_listing(self, slugs: Iterable[str], story_id: str, published_at: str) -> None: ...
    def listing(self, slug: str, limit: int) -> list[ListingEntry]: ...
    def listing_month(
        self, listing: str, month: str, limit: int | None = None, newest_first: bool = True
    ) -> list[ListingEntry]: ...
    def listing_keys(self, name: str, limit: int) -> list[ListingEntry]: ...
    def listing_page(
        self,
        name: str,
        limit: int,
        lo: str = "0",
        hi: str = "~",
        after: str | None = None,
        tag: str | None = None,
        max_queries: int = 5,
        responded: bool | None = None,
    ) -> tuple[list[ListingEntry], str | None]: ...
    def get_stories(self, story_ids: Iterable[str]) -> dict[str, Story]: ...
    def published_stories(self, listing: str, lo: str, hi: str, most: int) -> tuple[list[Story], bool]: ...
    def register_names(self, kind: str, names: Iterable[str]) -> None: ...
    def registered_names(self, kind: str, limit: int | None = None) -> list[str]: ...
    def figures(self, listing: str, consistent: bool = False) -> dict[str, Any]: ...
    def story_facts(self, story_id: str) -> dict[str, Any]: ...
    def apply_facts(
        self,
        story_id: str,
        applied: dict[str, Any],
        facts: dict[str, Any],
        listings: Iterable[str],
        deltas: dict[str, dict[str, Any]],
        seq: str = "",
    ) -> bool: ...
    def put_published(self, stories: Iterable[tuple[dict[str, Any], dict[str, Any], Iterable[str]]]) -> int: ...
    def put_listing(
        self, slugs: Iterable[str], entry: dict[str, Any], names: Mapping[str, Iterable[str]] | None = None
    ) -> None: ...


def _name_writes(kind: str, names: Iterable[str]) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": to_item({"PK": f"NAMES#{kind}", "SK": n})}} for n in sorted(set(names))]


class ListingsPart(Table):
    """Items in the LIST#, NAMES#, FIGURES# and FACTS# partitions."""

    # ---- listings (published stories per service, newest first) ---------------------------

    def put_listing(
        self, slugs: Iterable[str], entry: dict[str, Any], names: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        """A story's entry on each listing, and with them (`names`: kind -> names) the tags or months it
        is the first of, as register_names: one BatchWriteItem for up to 25 items (issue 17)."""
        sk = f"{entry['published_at']}#{entry['id']}"
        writes = [{"PutRequest": {"Item": to_item({"PK": f"LIST#{s}", "SK": sk, **entry})}} for s in slugs]
        for kind, kept in (names or {}).items():
            writes += _name_writes(kind, kept)
        self._batch_write(writes)

    def delete_listing(self, slugs: Iterable[str], story_id: str, published_at: str) -> None:
        sk = f"{published_at}#{story_id}"
        self._batch_write([{"DeleteRequest": {"Key": to_item({"PK": f"LIST#{s}", "SK": sk})}} for s in slugs])

    def listing(self, slug: str, limit: int) -> list[ListingEntry]:
        items = self._query(
            limit=limit,
            forward=False,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"LIST#{slug}"}),
        )
        return cast(list[ListingEntry], [_public(i) for i in items])

    def listing_month(
        self, listing: str, month: str, limit: int | None = None, newest_first: bool = True
    ) -> list[ListingEntry]:
        """A listing's entries published in one month (YYYY-MM): a Query with SK between the
        month's bounds; newest first with a Limit for the month's latest archive pages."""
        items = self._query(
            limit=limit,
            forward=not newest_first,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :lo AND :hi",
            ExpressionAttributeValues=to_item({":pk": f"LIST#{listing}", ":lo": f"{month}-", ":hi": f"{month}-~"}),
        )
        return cast(list[ListingEntry], [_public(i) for i in items])

    def listing_keys(self, name: str, limit: int) -> list[ListingEntry]:
        """A listing's ids, publication dates, services and tags only (a month's child sitemap, with
        the month's archive pages): small items, so one Query page holds thousands."""
        items = self._query(
            limit=limit,
            forward=False,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"LIST#{name}"}),
            ProjectionExpression="#i, #p, #s, #t",
            ExpressionAttributeNames={"#i": "id", "#p": "published_at", "#s": "services", "#t": "tags"},
        )
        return cast(list[ListingEntry], [_public(i) for i in items])

    # ---- the public API and the search index -------------------------------------------------

    def listing_page(
        self,
        name: str,
        limit: int,
        lo: str = "0",
        hi: str = "~",
        after: str | None = None,
        tag: str | None = None,
        max_queries: int = 5,
        responded: bool | None = None,
    ) -> tuple[list[ListingEntry], str | None]:
        """One page of a listing, newest first: entries whose sort key ("<published_at>#<id>") is
        between lo and hi, after the sort key `after`. With `tag`, only entries carrying it; with
        `responded`, only those staff have (or have not) responded to (issue 20). Either is a
        filter, so at most max_queries Query calls; the page may then hold fewer than `limit`.
        Returns the entries (each with its sort key as "sk") and the sort key to go on after, or None."""
        args: dict[str, Any] = {
            "TableName": self._table,
            "ScanIndexForward": False,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": to_item(
                {":pk": f"LIST#{name}", ":lo": lo, ":hi": hi} | ({":tag": tag} if tag else {})
            ),
        }
        filters, names = [], {}
        if tag:
            filters.append("contains(#tags, :tag)")
            names["#tags"] = "tags"
        if responded is not None:
            filters.append(f"attribute_{'' if responded else 'not_'}exists(#responded)")
            names["#responded"] = "first_response_at"
        if filters:
            args |= {"FilterExpression": " AND ".join(filters), "ExpressionAttributeNames": names}
        if after:
            args["ExclusiveStartKey"] = to_item({"PK": f"LIST#{name}", "SK": after})
        items: list[dict[str, Any]] = []
        for _ in range(max_queries):
            # One more than asked, to know whether there is a next page without another call.
            args["Limit"] = 100 if filters else limit + 1 - len(items)
            resp = self._db.query(**args)
            items.extend(from_item(i) for i in resp.get("Items", []))
            if len(items) > limit:
                page = items[:limit]
                return cast(list[ListingEntry], [_public(i) | {"sk": i["SK"]} for i in page]), page[-1]["SK"]
            last = resp.get("LastEvaluatedKey")
            if not last:
                return cast(list[ListingEntry], [_public(i) | {"sk": i["SK"]} for i in items]), None
            args["ExclusiveStartKey"] = last
        return cast(list[ListingEntry], [_public(i) | {"sk": i["SK"]} for i in items]), from_item(last)["SK"]

    def get_stories(self, story_ids: Iterable[str]) -> dict[str, Story]:
        """Many stories by id: one BatchGetItem per 100 (the search index job, not a request)."""
        wanted = sorted(set(story_ids))
        found: dict[str, Story] = {}
        for i in range(0, len(wanted), 100):
            request: dict[str, Any] | None = {
                self._table: {"Keys": [to_item({"PK": f"STORY#{s}", "SK": "STORY"}) for s in wanted[i : i + 100]]}
            }
            while request:
                resp = self._db.batch_get_item(RequestItems=request)
                for item in resp.get("Responses", {}).get(self._table, []):
                    story = cast(Story, _public(from_item(item)))
                    found[story["id"]] = story
                request = resp.get("UnprocessedKeys") or None
        return found

    def published_stories(self, listing: str, lo: str, hi: str, most: int) -> tuple[list[Story], bool]:
        """Reports: the stories of a listing published in [lo, hi), newest first, with their staff-only
        fields (criticality, progress, overdue): the listing's entries by sort key range (1 Query per
        1 MB), then the stories, 100 a BatchGetItem. Never a Scan. As staff see them: those kept for
        staff only (issue 21) too, from the listing's staff-only twin (one Query more). At most `most`
        stories; the flag is False when there were more (the caller says the report is cut short)."""
        pages = max(5, most // 1000 + 5)  # entries are under 1 kB: a Query page holds a thousand or more
        entries, more = self.listing_page(listing, most, lo=lo, hi=hi + "#", max_queries=pages)
        kept, more_kept = self.listing_page(staff_list(listing), most, lo=lo, hi=hi + "#", max_queries=pages)
        found = self.get_stories(e["id"] for e in entries + kept if lo <= e.get("published_at", "") < hi)
        stories = sorted(found.values(), key=lambda s: (s.get("published_at", ""), s.get("id", "")), reverse=True)
        return stories[:most], more is None and more_kept is None and len(stories) <= most

    # ---- names the site lists: every tag and month that ever had a published story ---------

    def register_names(self, kind: str, names: Iterable[str]) -> None:
        """Remember tags ("tags") or months ("months") for the sitemap and the full rebuild.
        Never removed: a tag's page and feeds stay (empty) once it had a story."""
        self._batch_write(_name_writes(kind, names))

    def registered_names(self, kind: str, limit: int | None = None) -> list[str]:
        items = self._query(
            limit=limit,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues=to_item({":pk": f"NAMES#{kind}"}),
            ProjectionExpression="SK",
        )
        return [i["SK"] for i in items]

    # ---- figures ---------------------------------------------------------------------------------
    # A counter item per listing (a service, "_all", a tag list): the counts of figures.COUNTS, a
    # histogram of response times in whole hours ("h:<hours>") and stories per month ("m:<YYYY-MM>"),
    # all top-level numbers so that one ADD creates or moves each. A facts item per story holds what
    # was last applied to which listings, and a revision that the next application is conditioned on.

    def figures(self, listing: str, consistent: bool = False) -> dict[str, Any]:
        """A listing's counter: {count: n, "hours": {h: n}, "months": {YYYY-MM: n}}; zeros left out."""
        item = self._get(f"FIGURES#{listing}", "COUNTER", consistent=consistent) or {}
        out: dict[str, Any] = {"hours": {}, "months": {}}
        for name, value in _public(item).items():
            kind, sep, ref = name.partition(":")
            if sep and kind == "h" and value:
                out["hours"][int(ref)] = value
            elif sep and kind == "m" and value:
                out["months"][ref] = value
            elif not sep:
                out[name] = value
        return out

    def story_facts(self, story_id: str) -> dict[str, Any]:
        """The facts last applied for a story, the listings they went to, their revision, and the
        stream position (`seq`) of the story state they reflect ("" if none was given)."""
        item = self._get(f"FACTS#{story_id}", "FACTS", consistent=True)
        if not item:
            return {"facts": {}, "listings": [], "rev": 0, "seq": ""}
        return {
            "facts": item.get("facts") or {},
            "listings": item.get("listings") or [],
            "rev": item["rev"],
            "seq": item.get("seq") or "",
        }

    def apply_facts(
        self,
        story_id: str,
        applied: dict[str, Any],
        facts: dict[str, Any],
        listings: Iterable[str],
        deltas: dict[str, dict[str, Any]],
        seq: str = "",
    ) -> bool:
        """Move each listing's counter by its delta (figures.delta) and record the new facts, in one
        TransactWriteItems conditioned on the revision read (`applied`, from story_facts) and, with
        `seq` (the stream position of the story state, figures.stream_order), on the stored one being
        older: a replayed older record never steps a figure back. False, with nothing written, if
        another application came first."""
        rev = applied["rev"]
        facts_key = {"PK": f"FACTS#{story_id}", "SK": "FACTS"}
        condition: tuple[str, dict[str, Any]] = (
            ("attribute_not_exists(PK)", {}) if not rev else ("#rev = :rev", {":rev": rev})
        )
        if rev and seq:
            condition = (
                f"{condition[0]} AND (attribute_not_exists(#seq) OR #seq < :seq)",
                {**condition[1], ":seq": seq},
            )
        items: list[dict[str, Any]] = []
        for listing, d in sorted(deltas.items()):
            adds = {
                **d["counts"],
                **{f"h:{h}": n for h, n in d["hours"].items()},
                **{f"m:{m}": n for m, n in d["months"].items()},
            }
            if not adds:
                continue
            names = {f"#a{i}": k for i, k in enumerate(adds)}
            values = {f":a{i}": v for i, v in enumerate(adds.values())}
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": to_item({"PK": f"FIGURES#{listing}", "SK": "COUNTER"}),
                        "UpdateExpression": "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(adds))),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": to_item(values),
                    }
                }
            )
        cond: dict[str, Any] = {"ConditionExpression": condition[0]}
        if rev:
            names = {"#rev": "rev"} | ({"#seq": "seq"} if seq else {})
            cond |= {"ExpressionAttributeNames": names, "ExpressionAttributeValues": to_item(condition[1])}
        if facts or (rev and seq):
            # With a stream position, a story that stops counting keeps its (empty) facts and that
            # position, so an older record replayed after it cannot count it again.
            record = {**facts_key, "facts": facts, "listings": sorted(set(listings)) if facts else [], "rev": rev + 1}
            items.append(
                {"Put": {"TableName": self._table, "Item": to_item(record | ({"seq": seq} if seq else {})), **cond}}
            )
        elif rev:
            items.append({"Delete": {"TableName": self._table, "Key": to_item(facts_key), **cond}})
        if not items:
            return True
        if len(items) > 100:
            raise ValueError(f"a story on {len(deltas)} listings is more than one transaction holds")
        try:
            # The facts' revision makes each application unique: a retry of this one is a no-op.
            self._db.transact_write_items(
                TransactItems=items, ClientRequestToken=request_token("facts", story_id, rev, repr(items))
            )
            return True
        except self._db.exceptions.TransactionCanceledException:
            return False

    # ---- bulk loading (make bench, and tests of big listings: sites without the API) ------------

    def put_published(self, stories: Iterable[tuple[dict[str, Any], dict[str, Any], Iterable[str]]]) -> int:
        """Write published stories and their listing entries straight to the table, 25 items per
        BatchWriteItem: each is (story, listing entry, listing slugs). Not a request path: it
        seeds sites of 10,000 stories for bench/ in seconds. Returns the items written.
        Also the stories' facts and their listings' counters (what the stream would give them):
        one UpdateItem per listing per call, the facts items in the same batches."""
        writes = []
        deltas: dict[str, dict[str, Any]] = {}
        for story, entry, slugs in stories:
            writes.append({"PutRequest": {"Item": to_item({"PK": f"STORY#{story['id']}", "SK": "STORY", **story})}})
            sk = f"{entry['published_at']}#{entry['id']}"
            writes += [{"PutRequest": {"Item": to_item({"PK": f"LIST#{s}", "SK": sk, **entry})}} for s in slugs]
            facts = figure_rules.facts(story)
            counted = sorted({s for s in slugs if not s.startswith("month:")})
            if facts:
                record = {"PK": f"FACTS#{story['id']}", "SK": "FACTS", "facts": facts, "listings": counted, "rev": 1}
                writes.append({"PutRequest": {"Item": to_item(record)}})
                for s in counted:
                    deltas[s] = figure_rules.add(deltas.get(s), figure_rules.delta({}, facts))
        self._batch_write(writes)
        self._add_to_counters(deltas)
        return len(writes)

    def _add_to_counters(self, deltas: dict[str, dict[str, Any]]) -> None:
        """Bulk loading only: one UpdateItem (ADD) per listing, no facts condition."""
        for listing, d in sorted(deltas.items()):
            adds = {
                **d["counts"],
                **{f"h:{h}": n for h, n in d["hours"].items()},
                **{f"m:{m}": n for m, n in d["months"].items()},
            }
            if adds:
                self._db.update_item(
                    TableName=self._table,
                    Key=to_item({"PK": f"FIGURES#{listing}", "SK": "COUNTER"}),
                    UpdateExpression="ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(adds))),
                    ExpressionAttributeNames={f"#a{i}": k for i, k in enumerate(adds)},
                    ExpressionAttributeValues=to_item({f":a{i}": v for i, v in enumerate(adds.values())}),
                )
