/* FeedForward: small progressive enhancements for the tell-your-story form.
   The form works without this script (a plain form post); this only helps:
   a submission id, when the form was opened, a draft kept in this tab, word counts, ?service= and a service finder. */
(function () {
  "use strict";
  var KEY = "feedforward:story-draft";
  // The submission id of the story being sent, and of the last one that arrived (the thank-you page says so):
  // a form brought back by the back button with that id was sent, so it is emptied, never sent or kept again.
  var SENDING = "feedforward:story-sending";
  var SENT = "feedforward:story-sent";
  // Never kept in the draft: contact details, the honeypot.
  var PRIVATE = { email: true, website: true };

  function store(action, value, key) {
    key = key || KEY;
    try {
      // sessionStorage, not localStorage: a draft lasts as long as this tab, so on a shared ward
      // computer the next person never sees the last person's story (issue 18).
      if (action === "get") { return JSON.parse(window.sessionStorage.getItem(key) || "null"); }
      if (action === "set") { window.sessionStorage.setItem(key, JSON.stringify(value)); }
      if (action === "clear") { window.sessionStorage.removeItem(key); }
    } catch (e) { /* private mode or full: the form still works */ }
    return null;
  }

  // The thank-you page: the story arrived, so the draft has done its job, and its id is remembered as sent.
  if (document.getElementById("story-sent")) {
    // The story's reference, from ?ref= (the API's redirect): grouped to be read out, as pages.reference does.
    var ref = /[?&]ref=([0-9a-hjkmnp-tv-z]{17})(?:&|$)/.exec(window.location.search);
    if (ref) {
      var groups = ref[1].toUpperCase().match(/.{1,4}/g);
      if (groups.length > 1 && groups[groups.length - 1].length === 1) { groups.splice(-2, 2, groups[groups.length - 2] + groups[groups.length - 1]); }
      document.getElementById("story-reference-code").textContent = groups.join(" ");
      document.getElementById("story-reference").hidden = false;
      document.getElementById("story-reference-use").hidden = false;
    }
    var arrived = store("get", null, SENDING);
    if (arrived) { store("set", arrived, SENT); }
    store("clear", null, SENDING);
    store("clear");
    return;
  }
  var form = document.getElementById("story-form");
  if (!form) { return; }
  // Issue 19: the words this script writes, in the page's language. The form carries them (data-words): each
  // a message with %(name)s places; a count's words with a form per plural category (Intl.PluralRules).
  var LANG = document.documentElement.lang || "en-GB";
  var WORDS = {};
  try { WORDS = JSON.parse(form.getAttribute("data-words") || "{}"); } catch (e) { WORDS = {}; }
  var PLURAL = window.Intl && window.Intl.PluralRules ? new window.Intl.PluralRules(LANG) : null;
  function fill(s, vars) {
    return s.replace(/%\((\w+)\)s/g, function (m, k) { return vars && k in vars ? String(vars[k]) : m; });
  }
  function t(key, vars) { return fill(typeof WORDS[key] === "string" ? WORDS[key] : key, vars); }
  function tn(one, many, n) {
    var forms = WORDS[one];
    var s = forms && typeof forms === "object"
      ? forms[PLURAL ? PLURAL.select(n) : (n === 1 ? "one" : "other")] || forms.other
      : (n === 1 ? one : many);
    return fill(s, { num: n.toLocaleString(LANG) });
  }

  function all(selector, root) { return Array.prototype.slice.call((root || form).querySelectorAll(selector)); }
  function fields() {
    return all("input[name], textarea[name], select[name]").filter(function (el) { return !PRIVATE[el.name]; });
  }

  // 1. A submission id per story, so a form sent twice (a double tap) makes one story.
  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") { return window.crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  var sid = form.querySelector('input[name="submission_id"]');
  // When the form was opened (ms since 1970): the API refuses a story sent within seconds of it, as a
  // script's. Kept in the draft, so a story finished after a reload counts from when it was begun.
  var started = form.querySelector('input[name="started"]');

  // 2. The draft: every answer but the email address, saved as the person types.
  function snapshot() {
    var values = {};
    fields().forEach(function (el) {
      var list = values[el.name] || (values[el.name] = []);
      if (el.type === "checkbox" || el.type === "radio") {
        if (el.checked) { list.push(el.value); }
      } else {
        list.push(el.value);
      }
    });
    return values;
  }
  function restore(values) {
    var seen = {};
    fields().forEach(function (el) {
      var list = values[el.name];
      if (!list) { return; }
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = list.indexOf(el.value) !== -1;
      } else {
        var i = seen[el.name] || 0;
        seen[el.name] = i + 1;
        if (i < list.length && !el.value) { el.value = list[i]; }
      }
    });
  }
  function blank(values) {
    return !Object.keys(values).some(function (name) {
      return name !== "submission_id" && name !== "started" && values[name].some(function (v) { return v && v.trim(); });
    });
  }
  var note = document.getElementById("draft-note");
  var noteStatus = document.getElementById("draft-status");
  var saveTimer = null;
  function save() {
    window.clearTimeout(saveTimer);
    var values = snapshot();
    if (blank(values)) { store("clear"); return; }
    store("set", { saved: new Date().toISOString(), values: values });
  }
  // Only what the person did is worth keeping (not a page merely opened from a ?service= link).
  var touched = false;
  function later() { touched = true; window.clearTimeout(saveTimer); saveTimer = window.setTimeout(save, 400); }

  function wasSent(id) { return !!id && id === store("get", null, SENT); }
  var draft = store("get");
  if (draft && draft.values && wasSent((draft.values.submission_id || [])[0])) { store("clear"); draft = null; }
  if (draft && draft.values && !blank(draft.values)) {
    restore(draft.values);
    if (noteStatus) {
      var when = new Date(draft.saved);
      noteStatus.textContent = isNaN(when) ? t("We have put back the answers you saved in this tab.")
        : t("We have put back the answers you saved in this tab on %(when)s.",
          { when: when.toLocaleString(LANG, { dateStyle: "long", timeStyle: "short" }) });
    }
  }
  if (sid && !sid.value) { sid.value = uuid(); }
  if (started && !started.value) { started.value = String(Date.now()); }
  // An empty form, a new story: after "Clear my saved answers", or when the back button brings back one sent.
  function wipe(message) {
    store("clear");
    touched = false;
    form.reset();
    fields().forEach(function (el) {
      if (el.type === "checkbox" || el.type === "radio") { el.checked = false; } else if (el !== sid) { el.value = ""; }
    });
    if (email) { email.value = ""; }
    if (sid) { sid.value = uuid(); }
    if (started) { started.value = String(Date.now()); }
    counts.forEach(function (c) { c(); });
    all('select[name="services"]').forEach(said);
    if (noteStatus) { noteStatus.textContent = message; }
  }
  var email = form.querySelector('input[name="email"]');
  var SENT_WORDS = t("Your story has been sent. This form is now empty, ready for a new story.");
  if (note) {
    note.hidden = false;
    var clear = document.getElementById("draft-clear");
    if (clear) {
      clear.addEventListener("click", function () { wipe(t("Your saved answers have been cleared.")); });
    }
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  window.addEventListener("pagehide", function () { if (touched) { save(); } });

  // 3. Counts on the long answers, after GOV.UK's character count: no maxlength (it would cut a pasted story
  //    without a word), a count that warns as the limit comes near, and says how much is over it.
  var announce = document.createElement("p");
  announce.className = "visually-hidden";
  announce.setAttribute("aria-live", "polite");
  form.appendChild(announce);
  var counts = [];
  var NEAR = 0.9; // warn once nine tenths of the limit are used
  all("textarea[data-maxlength]").forEach(function (area) {
    var out = document.createElement("p");
    out.className = "hint word-count";
    out.id = area.id + "-count";
    area.parentNode.insertBefore(out, area.nextSibling);
    var max = parseInt(area.getAttribute("data-maxlength"), 10);
    var marked = area.classList.contains("textarea--error"); // by the server's check, kept until sent again
    var quiet = null;
    function text() {
      var n = area.value.trim() ? area.value.trim().split(/\s+/).length : 0;
      var left = max - area.value.length;
      var words = tn("%(num)s word", "%(num)s words", n);
      var limit = max.toLocaleString(LANG);
      if (left < 0) {
        return t("%(words)s. You have %(chars)s too many: the limit is %(max)s. Shorten it before you send it.",
          { words: words, chars: tn("%(num)s character", "%(num)s characters", -left), max: limit });
      }
      var chars = tn("%(num)s character", "%(num)s characters", left);
      if (area.value.length >= max * NEAR) {
        return t("%(words)s. You have %(chars)s left, of %(max)s.", { words: words, chars: chars, max: limit });
      }
      return t("%(words)s, %(chars)s left", { words: words, chars: chars });
    }
    function update() {
      var over = area.value.length > max;
      var near = !over && area.value.length >= max * NEAR;
      out.textContent = text();
      out.className = over ? "error-message word-count" : near ? "hint word-count word-count--near" : "hint word-count";
      area.classList.toggle("textarea--error", over || marked);
      return { over: over, near: near };
    }
    var was = { over: false, near: false };
    area.addEventListener("input", function () {
      var now = update();
      window.clearTimeout(quiet);
      if (now.over !== was.over || now.near !== was.near) {
        // Crossing into the warning, or past the limit, is said at once; the count itself once the person pauses.
        announce.textContent = text();
      } else {
        quiet = window.setTimeout(function () { announce.textContent = text(); }, 1500);
      }
      was = now;
    });
    was = update();
    counts.push(update);
  });

  // 4. One story per tap: a second submit while the first is on its way does nothing.
  var sending = false;
  form.addEventListener("submit", function (e) {
    if (sending) { e.preventDefault(); return; }
    save();
    if (sid) { store("set", sid.value, SENDING); }
    sending = true;
  });
  window.addEventListener("pageshow", function () {
    sending = false;
    // Back from the thank-you page (the browser kept this page as it was): that story was sent.
    if (sid && wasSent(sid.value)) { wipe(SENT_WORDS); }
  });
  if (sid && wasSent(sid.value)) { wipe(SENT_WORDS); }

  // 5. "Tell your story about this service" links pass ?service=<slug>.
  var selects = all('select[name="services"]');
  function hasOption(select, value) {
    return Array.prototype.some.call(select.options, function (o) { return o.value === value; });
  }
  function choose(slug, quiet) {
    var already = selects.filter(function (s) { return s.value === slug; })[0];
    if (already) { return already; }
    var target = selects.filter(function (s) { return !s.value; })[0];
    if (target && hasOption(target, slug)) {
      target.value = slug;
      said(target);
      // A person's choice is saved in the draft; a link's preselection alone is not.
      if (!quiet) { target.dispatchEvent(new Event("change", { bubbles: true })); }
      return target;
    }
    return null;
  }
  // Each select's choice in full below it: a phone cuts "Northbridge General Hospital › Medicine › Ward 12" short.
  function said(select) {
    var out = document.getElementById(select.id + "-chosen");
    if (!out) { return; }
    var option = select.options[select.selectedIndex];
    out.textContent = select.value && option ? t("Chosen: %(service)s", { service: option.text }) : "";
    out.hidden = !select.value;
  }
  selects.forEach(function (select) {
    said(select); // as the draft left it
    select.addEventListener("change", function () { said(select); });
  });
  var match = /[?&]service=([a-z0-9-]{1,100})(?:&|$)/.exec(window.location.search);
  if (match && selects.length) { choose(match[1], true); }
  // "Me too — tell your own story" links pass ?related=<story id>: the two stories are linked.
  // Issue 19: a service's widget links with ?via=widget, so the story records how it came in.
  var viaInput = form.querySelector('input[name="via"]');
  if (viaInput && /[?&]via=widget(?:&|$)/.test(window.location.search)) { viaInput.value = "widget"; }
  var related = /[?&]related=([0-9a-z]{17})(?:&|$)/.exec(window.location.search);
  var relatedInput = form.querySelector('input[name="related_story"]');
  if (related && relatedInput) { relatedInput.value = related[1]; }
  var relatedNote = document.getElementById("related-note");
  if (relatedInput && relatedNote) {
    relatedNote.hidden = !relatedInput.value;
    var relatedLink = document.getElementById("related-link");
    // The story's page in the form's own language (issue 19: /cy/stories/ on the Welsh form).
    var stories = relatedInput.getAttribute("data-stories") || "/stories/";
    if (relatedLink && relatedInput.value) { relatedLink.href = stories + relatedInput.value + "/"; }
  }

  // 6. The service finder: a combobox (ARIA 1.2 pattern) over GET /api/services?q=.
  //    The lists stay underneath: they are how the form works without this script.
  var finder = form.querySelector(".service-finder");
  if (!finder || !window.fetch || !selects.length) { return; }
  var api = finder.getAttribute("data-api");
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; }
    return node;
  }
  var input = el("input", {
    id: "service-search", "class": "input", type: "text", role: "combobox", autocomplete: "off",
    spellcheck: "false", "aria-autocomplete": "list", "aria-expanded": "false",
    "aria-controls": "service-search-results", "aria-describedby": "service-search-hint"
  });
  var list = el("ul", { id: "service-search-results", role: "listbox", "class": "service-finder__results",
                        "aria-label": t("Services found") });
  list.hidden = true;
  var status = el("p", { id: "service-search-status", "class": "visually-hidden", "aria-live": "polite" });
  var chosen = el("p", { id: "service-search-chosen", "class": "service-finder__chosen" });
  // What to try when nothing is found: in the template, so the words live with the form's others.
  var none = document.getElementById("service-search-none") || el("p", { id: "service-search-none" },
    t("No services found. Try other words, or choose from the lists below."));
  none.hidden = true;
  finder.appendChild(el("label", { "class": "label", "for": "service-search" }, t("Find a service")));
  finder.appendChild(el("div", { id: "service-search-hint", "class": "hint" },
    t("Type at least 2 letters of its name, its town or hospital, or what it does (such as A&E or x-ray), " +
    "then choose it from the list. Or choose from the lists below.")));
  finder.appendChild(input);
  finder.appendChild(list);
  finder.appendChild(status);
  finder.appendChild(none);
  finder.appendChild(chosen);
  finder.hidden = false;

  var found = [];
  var active = -1;
  var timer = null;
  var latest = 0;
  function close() {
    list.hidden = true;
    list.textContent = "";
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }
  function highlight(i) {
    var options = all("[role=option]", list);
    if (!options.length) { return; }
    active = (i + options.length) % options.length;
    options.forEach(function (o, n) { o.setAttribute("aria-selected", n === active ? "true" : "false"); });
    input.setAttribute("aria-activedescendant", options[active].id);
    options[active].scrollIntoView({ block: "nearest" });
  }
  function pick(i) {
    var svc = found[i];
    if (!svc) { return; }
    var select = choose(svc.slug);
    close();
    none.hidden = true;
    input.value = "";
    var message = select
      ? t("Chosen: %(service)s. It is in the list below.", { service: svc.name + (svc.within ? " (" + svc.within + ")" : "") })
      : t("You have already chosen %(count)s services, or %(service)s is not in the list. Change the lists below.",
        { count: selects.length, service: svc.name });
    chosen.textContent = message;
    status.textContent = message;
  }
  function show(services) {
    found = services;
    list.textContent = "";
    active = -1;
    input.removeAttribute("aria-activedescendant");
    services.forEach(function (svc, i) {
      var option = el("li", { id: "service-search-option-" + i, role: "option", "aria-selected": "false",
                              "class": "service-finder__option" }, svc.name);
      if (svc.within) { option.appendChild(el("span", { "class": "service-finder__within" }, svc.within)); }
      // mousedown, not click: the input keeps focus, and the choice is made before blur.
      option.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
      list.appendChild(option);
    });
    list.hidden = !services.length;
    none.hidden = services.length > 0;
    input.setAttribute("aria-expanded", services.length ? "true" : "false");
    status.textContent = services.length
      ? tn("%(num)s service found", "%(num)s services found", services.length) + t(". Use the up and down arrows to move through them, and Enter to choose.")
      : t("No services found. Try other words, or choose from the lists below.");
  }
  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    var q = input.value.trim();
    if (q.length < 2) { close(); none.hidden = true; status.textContent = ""; return; }
    timer = window.setTimeout(function () {
      var mine = ++latest;
      window.fetch(api + "/api/services?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { services: [] }; })
        .then(function (data) { if (mine === latest) { show(data.services || []); } })
        .catch(function () {
          if (mine === latest) {
            close();
            none.hidden = true;
            status.textContent = t("Search is not working. Choose from the lists below.");
          }
        });
    }, 200);
  });
  input.addEventListener("keydown", function (e) {
    var open = !list.hidden;
    if (e.key === "ArrowDown" && open) { e.preventDefault(); highlight(active + 1); }
    else if (e.key === "ArrowUp" && open) { e.preventDefault(); highlight(active - 1); }
    else if (e.key === "Enter") {
      // Enter in the finder never sends the form.
      e.preventDefault();
      if (open) { pick(active >= 0 ? active : 0); }
    } else if (e.key === "Escape" && open) { e.preventDefault(); close(); }
  });
  input.addEventListener("blur", function () { window.setTimeout(close, 150); });
}());
