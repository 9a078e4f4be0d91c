/* FeedForward: small progressive enhancements for the tell-your-story form.
   The form works without this script; it only helps. */
(function () {
  "use strict";
  var form = document.getElementById("story-form");
  if (!form) { return; }

  // 1. A fresh submission id per visit, so a form sent twice makes one story.
  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") { return window.crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  var sid = form.querySelector('input[name="submission_id"]');
  if (sid && !sid.value) { sid.value = uuid(); }

  var selects = Array.prototype.slice.call(form.querySelectorAll('select[name="services"]'));

  function hasOption(select, value) {
    return Array.prototype.some.call(select.options, function (o) { return o.value === value; });
  }
  function choose(slug) {
    var already = selects.filter(function (s) { return s.value === slug; })[0];
    if (already) { return already; }
    var target = selects.filter(function (s) { return !s.value; })[0] || selects[selects.length - 1];
    if (target && hasOption(target, slug)) { target.value = slug; return target; }
    return null;
  }

  // 2. "Tell your story about this service" links pass ?service=<slug>.
  var match = /[?&]service=([a-z0-9-]+)/.exec(window.location.search);
  if (match && selects.length && !selects[0].value) { choose(match[1]); }

  // 3. Type-ahead: find a service by name instead of scrolling a long list.
  var finder = form.querySelector(".service-finder");
  if (!finder || !window.fetch || !selects.length) { return; }
  var api = finder.getAttribute("data-api");
  var label = document.createElement("label");
  label.className = "label";
  label.htmlFor = "service-search";
  label.textContent = "Search for a service (optional)";
  var input = document.createElement("input");
  input.className = "input";
  input.id = "service-search";
  input.type = "search";
  input.autocomplete = "off";
  input.setAttribute("aria-describedby", "service-search-status");
  var results = document.createElement("ul");
  results.className = "service-finder__results";
  var status = document.createElement("p");
  status.id = "service-search-status";
  status.className = "hint";
  status.setAttribute("aria-live", "polite");
  finder.appendChild(label);
  finder.appendChild(input);
  finder.appendChild(results);
  finder.appendChild(status);
  finder.hidden = false;

  var timer = null;
  var latest = 0;
  function show(services) {
    results.textContent = "";
    services.forEach(function (svc) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = svc.name;
      if (svc.within) {
        var within = document.createElement("span");
        within.className = "service-finder__within";
        within.textContent = svc.within;
        button.appendChild(within);
      }
      button.addEventListener("click", function () {
        var select = choose(svc.slug);
        results.textContent = "";
        status.textContent = select ? "Chosen: " + svc.name + "." : "Could not choose " + svc.name + ".";
        if (select) { select.focus(); }
      });
      li.appendChild(button);
      results.appendChild(li);
    });
    status.textContent = services.length ? services.length + " services found." : "No services found.";
  }
  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    var q = input.value.trim();
    if (q.length < 2) { results.textContent = ""; status.textContent = ""; return; }
    timer = window.setTimeout(function () {
      var mine = ++latest;
      window.fetch(api + "/api/services?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { services: [] }; })
        .then(function (data) { if (mine === latest) { show(data.services || []); } })
        .catch(function () { if (mine === latest) { status.textContent = "Search is not working. Choose from the lists below."; } });
    }, 250);
  });
}());
