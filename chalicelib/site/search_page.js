// The search page: Pagefind's JS API, from this host only. Without JavaScript the page says
// where else to look; with it, the form (a plain GET to this page) shows results for ?q=.
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  var input = document.getElementById("search-q");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var nojs = document.getElementById("search-nojs");
  if (!form || !input || !status || !list) return;
  if (nojs) nojs.hidden = true;
  form.hidden = false;

  // Pagefind's excerpts are HTML with <mark> around the words found: keep only text and <mark>.
  function excerpt(html) {
    var out = document.createElement("p");
    var doc = new DOMParser().parseFromString("<p>" + html + "</p>", "text/html");
    doc.body.firstChild.childNodes.forEach(function (node) {
      if (node.nodeType === 3) out.appendChild(document.createTextNode(node.textContent));
      else if (node.nodeName === "MARK") {
        var m = document.createElement("mark");
        m.textContent = node.textContent;
        out.appendChild(m);
      } else out.appendChild(document.createTextNode(node.textContent || ""));
    });
    return out;
  }

  function show(results, q) {
    list.textContent = "";
    results.forEach(function (r) {
      var li = document.createElement("li");
      var h = document.createElement("h2");
      h.className = "story-card__title";
      var a = document.createElement("a");
      a.href = r.url;
      a.textContent = (r.meta && r.meta.title) || r.url;
      h.appendChild(a);
      li.appendChild(h);
      if (r.meta && (r.meta.date || r.meta.services)) {
        var meta = document.createElement("p");
        meta.className = "story-card__meta";
        meta.textContent = [r.meta.services, r.meta.date ? "published " + r.meta.date : ""].filter(Boolean).join(" · ");
        li.appendChild(meta);
      }
      li.appendChild(excerpt(r.excerpt || ""));
      list.appendChild(li);
    });
    status.textContent = results.length
      ? (results.length === 1 ? "1 story" : results.length + " stories") + " found for \u201c" + q + "\u201d"
      : "No stories found for \u201c" + q + "\u201d. Try other words.";
  }

  // The shards (pagefind/shards.json, newest first): Pagefind's bundle of the newest is the main
  // one, and older shards are merged in (mergeIndex). NEWEST shards are searched at first; "Search
  // older stories too" merges OLDER more each time, so a query downloads only the shards it needs.
  var NEWEST = 2, OLDER = 2;
  var more = document.getElementById("search-more");
  var q = (new URLSearchParams(window.location.search).get("q") || "").trim().slice(0, 200);
  input.value = q;
  if (!q) return;
  status.textContent = "Searching\u2026";
  var pagefind = null, bundles = [], merged = 0;

  function unavailable() {
    status.textContent = "Search is not available just now. You can browse the services instead.";
  }

  function run() {
    return pagefind.search(q)
      .then(function (search) {
        // A story that left the site a moment ago has lost its fragment before its shard was
        // rebuilt: its result cannot load, and is left out.
        return Promise.all(search.results.slice(0, 20).map(function (r) {
          return r.data().catch(function () { return null; });
        }));
      })
      .then(function (results) {
        show(results.filter(Boolean), q);
        if (more) more.hidden = merged >= bundles.length;
      });
  }

  function merge(n) {
    var next = bundles.slice(merged, merged + n);
    merged += next.length;
    return next.reduce(function (done, b) {
      return done.then(function () { return pagefind.mergeIndex(b.bundle); });
    }, Promise.resolve());
  }

  fetch("/pagefind/shards.json", { cache: "no-cache" })
    .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
    .then(function (manifest) {
      bundles = (manifest.shards || []).filter(function (s) { return s.bundle; });
      if (!bundles.length) { show([], q); return null; }
      merged = 1;
      return import(bundles[0].bundle + "pagefind.js").then(function (pf) {
        pagefind = pf;
        return pagefind.init();
      })
        .then(function () { return merge(NEWEST - 1); })
        .then(run);
    })
    .catch(unavailable);

  if (more) {
    more.querySelector("button").addEventListener("click", function () {
      if (!pagefind) return;
      more.hidden = true;
      status.textContent = "Searching older stories\u2026";
      merge(OLDER).then(run).catch(unavailable);
    });
  }
})();
