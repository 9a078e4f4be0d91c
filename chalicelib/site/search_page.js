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

  var q = (new URLSearchParams(window.location.search).get("q") || "").trim().slice(0, 200);
  input.value = q;
  if (!q) return;
  status.textContent = "Searching\u2026";
  import("/pagefind/pagefind.js")
    .then(function (pagefind) {
      return pagefind.init().then(function () { return pagefind.search(q); });
    })
    .then(function (search) {
      return Promise.all(search.results.slice(0, 20).map(function (r) { return r.data(); }));
    })
    .then(function (results) { show(results, q); })
    .catch(function () {
      status.textContent = "Search is not available just now. You can browse the services instead.";
    });
})();
