"""The service finder's language: how a service's name and a person's query become words, what
people mean by the words they type (synonyms and abbreviations, kept as data next to the directory:
data/service_synonyms.json), how a typo or a split word is forgiven, and how candidates are ranked.

Pure logic. The directory flow computes each service's search fields here when it loads the
directory; the store writes them into the prefix index; a search reads a few index partitions and
ranks what they hold here.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MIN_PREFIX = 2
MAX_PREFIX = 20
# Words that name nothing on their own: never a partition to read, never required to match.
STOPWORDS = frozenset({"a", "an", "and", "at", "by", "for", "in", "my", "of", "on", "the", "to", "with"})
CANON = "="  # a synonym group's own token ("=ae"): never typed, since typed words are [a-z0-9]
MAX_PHRASE = 6  # words in the longest synonym phrase looked for in a query
MAX_WORDS = 12  # of a query: no one names a service in more, and each may cost a typo correction

_APOSTROPHES = re.compile("['\u2018\u2019\u201b`\u00b4\u02bc\u02b9]")
_LETTERS_AMP = re.compile(r"\b([a-z])\s*&\s*([a-z])\b")  # A&E, T & O: one word ("ae"), as people say it
_TOKEN = re.compile(r"[a-z0-9]+(?:[-./][a-z0-9]+)*")  # x-ray, st., out-of-hours: one token in parts
_PART = re.compile(r"[a-z]+|[0-9]+")  # ward7 is "ward" and "7"
_LIGATURES = str.maketrans({"æ": "ae", "œ": "oe", "ß": "ss", "ø": "o", "ł": "l", "đ": "d"})


def fold(text: str) -> str:
    """Lower case, accents and apostrophes gone ("Children’s" and "childrens" are one word), A&E as "ae"."""
    text = unicodedata.normalize("NFKD", text.lower().translate(_LIGATURES))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _APOSTROPHES.sub("", text)
    return _LETTERS_AMP.sub(r"\1\2", text).replace("&", " and ")


def tokens(text: str) -> list[list[str]]:
    """The text's tokens, each as its parts: "X-ray, Ward7" is [["x", "ray"], ["ward", "7"]]."""
    return [_PART.findall(t) for t in _TOKEN.findall(fold(text))]


def sequence(text: str) -> list[str]:
    """Every part in order: what a synonym phrase is looked for in."""
    return [p for t in tokens(text) for p in t]


def name_words(text: str) -> list[str]:
    """The words a name is found by: each part, and a split token joined too ("x-ray": x, ray, xray)."""
    out: list[str] = []
    for parts in tokens(text):
        out.extend(parts)
        if len(parts) > 1:
            out.append("".join(parts))
    return list(dict.fromkeys(out))


def _contains(seq: Sequence[str], phrase: Sequence[str]) -> bool:
    n = len(phrase)
    return any(tuple(seq[i : i + n]) == tuple(phrase) for i in range(len(seq) - n + 1))


# ---- synonyms ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    canon: str
    same: tuple[tuple[str, ...], ...]  # each phrase as its parts
    also: tuple[tuple[str, ...], ...]
    words: frozenset[str]  # what a member is found by, word for word

    @staticmethod
    def words_of(phrases: Iterable[str]) -> frozenset[str]:
        """The phrases of one token, joined ("x-ray" is xray, "A&E" ae). The words of longer phrases are
        not: "general practice" must not make every GP "general" (a query holding the whole phrase
        finds the group by its token)."""
        return frozenset("".join(t[0]) for t in (tokens(p) for p in phrases) if len(t) == 1)


class Synonyms:
    """Groups of words and phrases that mean one service: from data/service_synonyms.json."""

    def __init__(self, groups: Iterable[Group] = ()):
        self.groups = tuple(groups)

    @classmethod
    def parse(cls, doc: Mapping[str, Any] | None) -> Synonyms:
        """The file's groups, checked: a bad file stops the load with the group it is about."""
        if not doc:
            return cls()
        raw = doc.get("groups")
        if not isinstance(raw, list):
            raise ValueError("Synonyms: groups must be a list.")
        groups: list[Group] = []
        seen: set[str] = set()
        for n, g in enumerate(raw, 1):
            same: Any = g.get("same") if isinstance(g, dict) else None
            also: Any = g.get("also", []) if isinstance(g, dict) else None
            if not (_phrases_ok(same) and _phrases_ok(also)) or len(same) < 2:
                raise ValueError(
                    f"Synonyms group {n}: same must list at least two words or phrases, and also a list of them "
                    "(each 1 to 60 characters, with a letter or digit)."
                )
            parsed_same = tuple(tuple(sequence(p)) for p in same)
            canon = CANON + "".join(parsed_same[0])
            if canon in seen:
                raise ValueError(f"Synonyms group {n}: another group starts with {same[0]!r}.")
            seen.add(canon)
            groups.append(Group(canon, parsed_same, tuple(tuple(sequence(p)) for p in also), Group.words_of(same)))
        return cls(groups)

    def expand(self, text: str) -> set[str]:
        """The words and group tokens that a name (or kind) holding any group's phrase is also found by."""
        seq = sequence(text)
        out: set[str] = set()
        for g in self.groups:
            if any(_contains(seq, phrase) for phrase in g.same):
                out |= g.words | {g.canon}
        return out

    def query_data(self) -> dict[str, Any]:
        """What a query needs of the synonyms: the phrases of more than one word (as "a and e" is one
        term), and the `also` words, each to its group's token."""
        phrases: dict[str, str] = {}
        aliases: dict[str, str] = {}
        for g in self.groups:
            for phrase in g.same + g.also:
                if len(phrase) > 1:
                    phrases.setdefault(" ".join(phrase), g.canon)
            for phrase in g.also:
                if len(phrase) == 1:
                    aliases.setdefault(phrase[0], g.canon)
        return {"phrases": phrases, "aliases": aliases}


def _phrases_ok(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(p, str) and 1 <= len(p) <= 60 and sequence(p) and len(sequence(p)) <= MAX_PHRASE for p in value
    )


# ---- what the index holds of a service ------------------------------------------------------------


def search_fields(service: Mapping[str, Any], synonyms: Synonyms) -> dict[str, list[str]]:
    """A service's words, as the finder ranks them: `nw` its name's, `sw` what its name and kind
    also mean (synonyms, group tokens, the kind), `tw` its ancestors' names and what they mean."""
    nw = name_words(service["name"])
    sw = (
        synonyms.expand(service["name"])
        | synonyms.expand(service.get("kind", ""))
        | set(sequence(service.get("kind", "")))
    ) - set(nw)
    tw: set[str] = set()
    for ancestor in service.get("trail", []):
        tw |= set(name_words(ancestor["name"])) | synonyms.expand(ancestor["name"])
    return {"nw": nw, "sw": sorted(sw), "tw": sorted(tw - set(nw) - sw)}


def index_keys(fields: Mapping[str, Sequence[str]]) -> set[str]:
    """The prefix-index partitions a service is written to: every 2–20 letter prefix of its own words
    (name and synonyms, not stopwords), and its synonym groups' tokens whole."""
    keys: set[str] = set()
    for w in list(fields["nw"]) + list(fields["sw"]):
        if w.startswith(CANON):
            keys.add(w)
        elif w not in STOPWORDS:
            keys.update(w[:n] for n in range(MIN_PREFIX, min(len(w), MAX_PREFIX) + 1))
    return keys


def vocabulary(all_fields: Iterable[Mapping[str, Sequence[str]]], synonyms: Synonyms) -> dict[str, Any]:
    """The finder's one small item: every word services are found by with how many services hold it
    (which partitions are small), and the synonyms' query phrases and `also` words."""
    df: dict[str, int] = {}
    for f in all_fields:
        for w in set(f["nw"]) | set(f["sw"]):
            df[w] = df.get(w, 0) + 1
    return {"v": 1, "df": dict(sorted(df.items()))} | synonyms.query_data()


# ---- a query ---------------------------------------------------------------------------------------


@dataclass
class Term:
    text: str
    words: tuple[str, ...] = ()  # matched as word starts: what was typed, or its corrections
    canon: str = ""  # a synonym group this term names (a phrase, or an `also` word)
    literal: tuple[str, ...] = ()  # a phrase's own words
    optional: bool = False  # a stopword, a single letter, or a word nothing holds
    fuzzy: bool = False  # words are corrections of a typo
    alias: bool = False  # canon came from an `also` word

    @property
    def key(self) -> str:
        """The prefix-index partition this term reads ("" for none)."""
        if self.literal:
            return self.canon
        word = self.words[0][:MAX_PREFIX] if self.words else ""
        return word if len(word) >= MIN_PREFIX else ""


class Vocabulary:
    """The finder item, ready to ask: is a word known, how common, what did a typo mean."""

    def __init__(self, data: Mapping[str, Any] | None):
        data = data or {}
        self.df: dict[str, int] = dict(data.get("df", {}))
        self.words = sorted(w for w in self.df if not w.startswith(CANON))
        self.phrases: dict[str, str] = dict(data.get("phrases", {}))
        self.aliases: dict[str, str] = dict(data.get("aliases", {}))
        self.known = bool(self.words)
        self._starts: dict[int, list[str]] = {}

    def has_prefix(self, term: str) -> bool:
        if not self.known:
            return True  # no vocabulary loaded: every word may be in the index
        i = bisect_left(self.words, term)
        return i < len(self.words) and self.words[i].startswith(term)

    def prefix_df(self, key: str) -> int:
        """About how many services a partition holds (the sum over words with this start)."""
        if key.startswith(CANON):
            return self.df.get(key, 0)
        i, total = bisect_left(self.words, key), 0
        for w in self.words[i : i + 500]:
            if not w.startswith(key):
                break
            total += self.df[w]
        return total

    def correct(self, term: str) -> tuple[str, ...]:
        """The known words nearest a word nothing starts with: within one edit (a swap counts one) for
        4–5 letters, two from 6; the start of a longer word counts too, for a typo typed half-way.
        Nothing for shorter words or numbers: too many near neighbours."""
        if len(term) < 4 or term.isdigit() or not self.words:
            return ()
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        k = 1 if len(term) < 6 else 2
        found: dict[str, tuple[int, int]] = {}
        for word, dist, _ in process.extract(term, self.words, scorer=OSA.distance, score_cutoff=k, limit=None):
            found[word] = (dist, 0)
        if len(term) not in self._starts:  # kept with the vocabulary: one list per length asked
            self._starts[len(term)] = sorted({w[: len(term)] for w in self.words if len(w) > len(term)})
        starts = self._starts[len(term)]
        for start, dist, _ in process.extract(term, starts, scorer=OSA.distance, score_cutoff=k, limit=None):
            for w in self.words[bisect_left(self.words, start) :]:
                if not w.startswith(start):
                    break
                if len(w) > len(term):
                    found.setdefault(w, (dist, 1))
        if not found:
            return ()
        best = min(found.values())
        near = [w for w, d in found.items() if d == best]
        return tuple(sorted(near, key=lambda w: (-self.df.get(w, 0), w))[:4])


def parse(q: str, vocab: Vocabulary) -> list[Term]:
    """A query as terms: synonym phrases as one term ("a and e"), split tokens joined when that is a
    known word ("x-ray"), a word split in two put back ("river bank"), typos corrected."""
    toks = tokens(q)
    flat = [(p, n) for n, parts in enumerate(toks) for p in parts][:MAX_WORDS]
    terms: list[Term] = []
    i = 0
    while i < len(flat):
        for size in range(min(MAX_PHRASE, len(flat) - i), 1, -1):
            phrase = " ".join(p for p, _ in flat[i : i + size])
            if phrase in vocab.phrases:
                terms.append(Term(phrase, canon=vocab.phrases[phrase], literal=tuple(phrase.split())))
                i += size
                break
        else:
            tok = flat[i][1]
            parts = [p for p, n in flat[i:] if n == tok]
            joined = "".join(parts)
            if len(parts) > 1 and vocab.known and vocab.has_prefix(joined):
                terms.append(Term(joined, words=(joined,)))
            else:
                terms += [Term(p, words=(p,)) for p in parts]
            i += len(parts)
    return _understood(terms, vocab)


def _understood(terms: list[Term], vocab: Vocabulary) -> list[Term]:
    out: list[Term] = []
    skip = False
    for n, t in enumerate(terms):
        if skip:
            skip = False
            continue
        if t.literal:
            out.append(t)
            continue
        word = t.text
        if word in STOPWORDS or (len(word) == 1 and not word.isdigit()):
            out.append(Term(word, words=(word,), optional=True))
            continue
        if word in vocab.aliases:
            t = Term(word, words=(word,), canon=vocab.aliases[word], alias=True)
        if vocab.has_prefix(word):
            out.append(t)
            continue
        # A word split in two ("river bank", "ante natal"): joined with the next, or the one before.
        after = terms[n + 1] if n + 1 < len(terms) and not terms[n + 1].literal else None
        if after and vocab.has_prefix(word + after.text):
            out.append(Term(word + after.text, words=(word + after.text,)))
            skip = True
            continue
        if out and not out[-1].literal and not out[-1].fuzzy and vocab.has_prefix(out[-1].text + word):
            joined = out[-1].text + word
            out[-1] = Term(joined, words=(joined,))
            continue
        near = vocab.correct(word)
        if near:
            out.append(Term(word, words=near, fuzzy=True))
        elif not t.canon:
            out.append(Term(word, words=(word,), optional=True))  # nothing holds it: it cannot narrow
        else:
            out.append(t)
    return out


def keys(terms: Sequence[Term], vocab: Vocabulary, most: int) -> list[str]:
    """The partitions to read: the required terms' keys, the smallest first, at most `most`."""
    wanted = list(dict.fromkeys(t.key for t in terms if not t.optional and t.key))
    return (
        sorted(wanted, key=lambda k: (vocab.prefix_df(k), -len(k), k))[:most]
        if vocab.known
        else sorted(wanted, key=lambda k: (-len(k), k))[:most]
    )


def relax(terms: Sequence[Term], vocab: Vocabulary) -> list[Term] | None:
    """When no service holds every word, the same terms with one made optional: a word taken for a typo
    ("please" read as "place"), else the commonest ("foot clinic": podiatry is not called a clinic).
    None when there is nothing to drop."""
    required = [t for t in terms if not t.optional]
    if len(required) < 2:
        return None
    common = max(required, key=lambda t: (t.fuzzy, vocab.prefix_df(t.key) if t.key else 0, len(t.text)))
    return [Term(t.text, t.words, t.canon, t.literal, True, t.fuzzy, t.alias) if t is common else t for t in terms]


# ---- ranking -----------------------------------------------------------------------------------------

NAME_EXACT, NAME_START = 1.0, 0.8
ALSO_EXACT, ALSO_START = 0.7, 0.6
TRAIL_EXACT, TRAIL_START = 0.45, 0.4
ALIAS = 0.6
FUZZY = 0.85
WHOLE_NAME = 2.0


def _hit(word: str, words: Sequence[str], exact: float, start: float) -> float:
    if word in words:
        return exact
    return start if any(w.startswith(word) for w in words) else 0.0


def quality(term: Term, entry: Mapping[str, Any]) -> float:
    """How well one term names a service: in its own name, what its name means, or its trail."""
    nw, sw, tw = entry["nw"], entry["sw"], entry["tw"]
    q = 0.0
    if term.literal and all(any(w.startswith(p) for w in nw) for p in term.literal):
        q = NAME_EXACT
    for word in term.words:
        q = max(
            q,
            _hit(word, nw, NAME_EXACT, NAME_START),
            _hit(word, sw, ALSO_EXACT, ALSO_START),
            _hit(word, tw, TRAIL_EXACT, TRAIL_START),
        )
    if term.canon:
        if term.canon in sw:
            q = max(q, ALIAS if term.alias else ALSO_EXACT)
        elif term.canon in tw:
            q = max(q, TRAIL_START)
    return q * FUZZY if term.fuzzy else q


def fields_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An index entry's search fields; an entry written before them gets them from its name and trail."""
    if "nw" in entry:
        return dict(entry)
    return dict(entry) | search_fields(entry, Synonyms())


def rank(entries: Iterable[Mapping[str, Any]], terms: Sequence[Term], q: str) -> list[dict[str, Any]]:
    """The entries every required term names, best first: the whole name typed, then the most terms in
    the name itself (whole words before word starts), then the most of the name covered, then shallower."""
    required = [t for t in terms if not t.optional]
    typed = " ".join(w for w in sequence(q) if w not in STOPWORDS)
    scored: dict[str, tuple[float, float, dict[str, Any]]] = {}
    for raw in entries:
        entry = fields_of(raw)
        if entry["slug"] in scored:
            continue
        qualities = [quality(t, entry) for t in required]
        if not required or not all(qualities):
            continue
        score = sum(qualities) + sum(0.1 * quality(t, entry) for t in terms if t.optional)
        seq = [w for w in sequence(entry["name"]) if w not in STOPWORDS]
        bare = [w for w in sequence(re.sub(r"\(.*?\)", " ", entry["name"])) if w not in STOPWORDS]
        if typed and typed in (" ".join(seq), " ".join(bare), "".join(seq)):
            score += WHOLE_NAME
        typed_words = [w for t in terms for w in (t.literal or t.words)]
        covered = sum(1 for w in seq if any(w.startswith(x) for x in typed_words))
        scored[entry["slug"]] = (round(score, 6), covered, entry)
    ordered = sorted(scored.values(), key=lambda s: (-s[0], -s[1], s[2]["depth"], len(s[2]["name"]), s[2]["name"]))
    return [e for _, _, e in ordered]
