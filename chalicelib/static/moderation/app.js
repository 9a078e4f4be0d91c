/* FeedForward moderation screen. Plain JavaScript, no framework.
 *
 * Every piece of story data is untrusted text: it only ever reaches the page through
 * textContent or form values, never parsed as markup. The ID token lives in sessionStorage,
 * so it is gone when the tab closes.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  // The page is at .../api/moderate and this file at .../api/moderate/app.js: the API is "../".
  var API = new URL("../", script ? script.src : window.location.href).href;
  var TOKEN_KEY = "ff-moderation-token";
  var EXPIRES_KEY = "ff-moderation-expires";
  var EDITABLE = ["title", "story", "good", "improve", "pseudonym"];
  var FIELD_NAMES = {
    title: "Title", story: "What happened", good: "What was good", improve: "What could be improved",
    pseudonym: "Name shown with the story", criticality: "Criticality", tags: "Tags", note: "Note", text: "Text",
    services: "Services", message: "Message to the author",
    action: "Decision", version: "Version", body: "Request", username: "Email address",
    password: "Password", answer: "Answer", session: "Sign-in", challenge: "Sign-in"
  };
  var CRITICALITY = ["not critical", "minimally critical", "mildly critical", "moderately critical",
    "strongly critical", "severely critical"];
  var QUEUE_HEADINGS = {
    pending: "Stories waiting", held: "Stories held for safeguarding", replies: "Replies and held responses"
  };
  var STATUS = { pending: "Pending", held: "Held for safeguarding", published: "Published", rejected: "Rejected", withdrawn: "Withdrawn",
    erasing: "Being erased" };

  var state = { queue: "pending", current: null, challenge: null, username: "", pendingAction: null, concern: null };

  function $(id) { return document.getElementById(id); }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  // ---- the token -------------------------------------------------------------------------

  function token() {
    var t = sessionStorage.getItem(TOKEN_KEY);
    var expires = Number(sessionStorage.getItem(EXPIRES_KEY) || 0);
    if (!t || (expires && Date.now() > expires)) return null;
    return t;
  }

  function keepToken(idToken, expiresIn) {
    sessionStorage.setItem(TOKEN_KEY, idToken);
    // Stop using it a little before Cognito says it expires.
    sessionStorage.setItem(EXPIRES_KEY, String(Date.now() + Math.max(0, (Number(expiresIn) || 3600) - 30) * 1000));
  }

  function forgetToken() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(EXPIRES_KEY);
  }

  // ---- talking to the API ----------------------------------------------------------------

  function api(method, path, body) {
    var headers = { Accept: "application/json" };
    var t = token();
    if (t) headers.Authorization = "Bearer " + t;
    var init = { method: method, headers: headers, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(API + path, init).then(function (resp) {
      return resp.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { status: resp.status, ok: resp.ok, data: data };
      });
    }, function () {
      return { status: 0, ok: false, data: null };
    });
  }

  function errorMessage(result, fallback) {
    var err = result.data && result.data.error;
    if (err && typeof err.message === "string") return err.message;
    if (result.status === 0) return "The server could not be reached. Check your connection and try again.";
    return fallback || "Something went wrong (" + result.status + "). Try again.";
  }

  // Answers every screen treats the same way. Returns true when it dealt with the answer.
  function handledCommon(result) {
    if (result.status === 401) {
      forgetToken();
      showSignIn("Your sign-in has ended. Sign in again.");
      return true;
    }
    if (result.status === 403) {
      showAlert(errorMessage(result, "Your account cannot moderate stories."));
      return true;
    }
    return false;
  }

  // ---- messages --------------------------------------------------------------------------

  function notice(text, link) {
    var n = $("notice");
    n.textContent = "";
    // A fresh text node so screen readers announce it even when it repeats.
    window.setTimeout(function () {
      n.textContent = text || "";
      if (text && link) {
        n.appendChild(document.createTextNode(". "));
        var a = el("a", "View it on the site");
        a.href = link;
        a.id = "published-link";
        n.appendChild(a);
        n.appendChild(document.createTextNode(" (its page appears within a minute)."));
      }
    }, 50);
  }

  // The published story's page on the public site (the screen's own page says where the site is).
  function publishedUrl(id) {
    var site = ($("main").getAttribute("data-site") || "").replace(/\/+$/, "");
    if (!/^https?:\/\//.test(site) || !/^[0-9a-z]+$/.test(id)) return "";
    return site + "/stories/" + id + "/";
  }

  function urgentWords(flags) {
    return flags.map(function (f) { return f.words + " (“" + f.found + "”)"; }).join("; ");
  }

  function showAlert(text, action) {
    var a = $("alert");
    clear(a);
    if (!text) { a.hidden = true; return; }
    a.appendChild(el("p", text));
    if (action) {
      var b = el("button", action.label, "button button-quiet");
      b.type = "button";
      b.addEventListener("click", action.run);
      a.appendChild(b);
    }
    a.hidden = false;
  }

  // ---- views -----------------------------------------------------------------------------

  function showView(name) {
    ["sign-in", "queue", "story", "concerns", "concern", "take"].forEach(function (v) { $("view-" + v).hidden = v !== name; });
    var signedIn = name !== "sign-in";
    $("who").hidden = !signedIn;
  }

  function focusHeading(id) {
    var h = $(id);
    if (h) h.focus();
  }

  function route() {
    if (!token()) { showSignIn(); return; }
    var hash = window.location.hash.replace(/^#/, "");
    var parts = hash.split("/");
    if (parts[0] === "story" && parts[1]) {
      openStory(decodeURIComponent(parts[1]));
    } else if (parts[0] === "concerns") {
      loadConcerns();
    } else if (parts[0] === "concern" && parts.length === 4) {
      openConcern(parts.slice(1).join("/"));
    } else if (parts[0] === "take") {
      showTake();
    } else {
      state.queue = parts[0] === "queue" && (parts[1] === "held" || parts[1] === "replies") ? parts[1] : "pending";
      loadQueue();
    }
  }

  // ---- signing in ------------------------------------------------------------------------

  function showSignIn(message) {
    showView("sign-in");
    showAlert(message || "");
    state.challenge = null;
    forgetMfaSetup();
    $("sign-in-heading").textContent = "Sign in to moderate";
    $("sign-in-form").hidden = false;
    $("challenge-form").hidden = true;
    $("password").value = "";
    $("answer").value = "";
    clearFieldErrors(["username", "password", "answer"]);
    focusHeading("sign-in-heading");
  }

  // The authenticator key is shown once, as text, and kept nowhere else: not in `state`, not in
  // storage, never logged. It leaves the page as soon as the sign-in ends either way.
  function showMfaSetup(secret, uri, qr) {
    $("mfa-secret").textContent = typeof secret === "string" ? secret : "";
    drawQr(qr);
    var link = $("mfa-uri");
    // Only an otpauth: address may become the link (never javascript: or anything else).
    if (typeof uri === "string" && /^otpauth:\/\/totp\//i.test(uri)) {
      link.setAttribute("href", uri);
      link.parentNode.hidden = false;
    } else {
      link.setAttribute("href", "#");
      link.parentNode.hidden = true;
    }
    $("mfa-setup").hidden = false;
  }

  // The QR code comes as one SVG path of whole-module moves and its size: only those two values are
  // used, each checked, so nothing from the answer is parsed as markup.
  function drawQr(qr) {
    var ok = qr && typeof qr.d === "string" && /^[MhvzZ0-9 -]+$/.test(qr.d) &&
      typeof qr.size === "number" && qr.size > 0 && qr.size < 200;
    var old = $("mfa-qr-path");
    if (old) old.parentNode.removeChild(old);
    if (ok) {
      var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
      path.id = "mfa-qr-path";
      path.setAttribute("fill", "#000");
      path.setAttribute("d", qr.d);
      $("mfa-qr").setAttribute("viewBox", "0 0 " + qr.size + " " + qr.size);
      $("mfa-qr").appendChild(path);
    }
    $("mfa-qr-box").hidden = !ok;
  }

  function forgetMfaSetup() {
    drawQr(null);
    $("mfa-secret").textContent = "";
    $("mfa-uri").setAttribute("href", "#");
    $("mfa-setup").hidden = true;
  }

  function isCodeStep(name) { return name === "SOFTWARE_TOKEN_MFA" || name === "MFA_SETUP"; }

  function showChallenge(data) {
    var name = data.challenge;
    state.challenge = { name: name, session: data.session };
    $("sign-in-form").hidden = true;
    $("challenge-form").hidden = false;
    clearFieldErrors(["answer"]);
    var answer = $("answer");
    answer.value = "";
    if (name === "MFA_SETUP") showMfaSetup(data.secret_code, data.otpauth_uri, data.qr);
    else forgetMfaSetup();
    if (name === "NEW_PASSWORD_REQUIRED") {
      $("sign-in-heading").textContent = "Choose a new password";
      $("answer-label").textContent = "New password";
      $("answer-hint").textContent = "At least 12 characters, with upper and lower case letters, a number and a symbol.";
      answer.type = "password";
      answer.setAttribute("autocomplete", "new-password");
      answer.removeAttribute("inputmode");
    } else {
      $("sign-in-heading").textContent = name === "MFA_SETUP" ? "Set up your authenticator app" : "Enter your security code";
      $("answer-label").textContent = "6-digit code";
      $("answer-hint").textContent = name === "MFA_SETUP"
        ? "The code your authenticator app shows for FeedForward, once you have added it."
        : "The code your authenticator app shows for FeedForward.";
      answer.type = "text";
      answer.setAttribute("autocomplete", "one-time-code");
      answer.setAttribute("inputmode", "numeric");
    }
    showAlert("");
    if (name === "MFA_SETUP") focusHeading("sign-in-heading");  // the steps come first, then the code
    else answer.focus();
  }

  function signedIn(data) {
    keepToken(data.id_token, data.expires_in);
    $("sign-in-heading").textContent = "Sign in to moderate";
    $("password").value = "";
    $("answer").value = "";
    state.challenge = null;
    forgetMfaSetup();
    showAlert("");
    notice("You are signed in.");
    if (!/^#(queue\/|story\/|take$)/.test(window.location.hash)) window.location.hash = "#queue/pending";
    else route();
  }

  function submitSignIn(body, fields) {
    clearFieldErrors(["username", "password", "answer"]);
    showAlert("");
    return api("POST", "moderation/sign-in", body).then(function (result) {
      if (result.ok && result.data && result.data.id_token) { signedIn(result.data); return; }
      if (result.ok && result.data && result.data.challenge) {
        showChallenge(result.data);
        return;
      }
      if (result.status === 422) {
        // A wrong code or a weak password: the same step again, with the same session.
        var errors = (result.data && result.data.error && result.data.error.fields) || [];
        var shown = showFieldErrors(errors, fields);
        if (!shown) showAlert(errorMessage(result));
        if (state.challenge) { $("answer").value = ""; $("answer").focus(); }
        return;
      }
      if (result.status === 401 && state.challenge) {
        // The session has gone: start again from the password.
        var message = errorMessage(result);
        showSignIn(message);
        return;
      }
      showAlert(errorMessage(result));
      if (result.status === 401) $("password").value = "";
    });
  }

  function onSignIn(event) {
    event.preventDefault();
    var username = $("username").value.trim();
    var password = $("password").value;
    var errors = [];
    if (!username) errors.push({ field: "username", message: "Enter your email address" });
    if (!password) errors.push({ field: "password", message: "Enter your password" });
    if (errors.length) { clearFieldErrors(["username", "password"]); showFieldErrors(errors, ["username", "password"]); return; }
    state.username = username;
    submitSignIn({ username: username, password: password }, ["username", "password"]);
  }

  function onChallenge(event) {
    event.preventDefault();
    if (!state.challenge) { showSignIn(); return; }
    var answer = $("answer").value;
    var code = isCodeStep(state.challenge.name);
    if (code) answer = answer.replace(/\s+/g, "");  // "123 456", as some apps show it
    var problem = "";
    if (!answer) problem = code ? "Enter the 6-digit code from your authenticator app" : "Enter a new password";
    else if (code && !/^[0-9]{6}$/.test(answer)) problem = "Enter the 6-digit code from your authenticator app";
    if (problem) {
      clearFieldErrors(["answer"]);
      showFieldErrors([{ field: "answer", message: problem }], ["answer"]);
      $("answer").focus();
      return;
    }
    submitSignIn({
      username: state.username, session: state.challenge.session, challenge: state.challenge.name, answer: answer
    }, ["answer"]);
  }

  function signOut() {
    forgetToken();
    state.current = null;
    window.location.hash = "";
    showSignIn();
    notice("You are signed out.");
  }

  // ---- field errors ----------------------------------------------------------------------

  function clearFieldErrors(names) {
    names.forEach(function (name) {
      var msg = $(name + "-error");
      var field = $("field-" + name);
      if (msg) { msg.textContent = ""; msg.hidden = true; }
      if (field) field.classList.remove("field-error");
      Array.prototype.forEach.call(document.querySelectorAll("[name='" + name + "']"), function (input) {
        input.removeAttribute("aria-invalid");
      });
    });
  }

  // Puts each error next to its field; returns how many it could place.
  function showFieldErrors(errors, names) {
    var placed = 0;
    errors.forEach(function (e) {
      if (names.indexOf(e.field) < 0) return;
      var msg = $(e.field + "-error");
      if (!msg) return;
      msg.textContent = "";
      msg.appendChild(el("span", "Error: ", "visually-hidden"));
      msg.appendChild(document.createTextNode(e.message));
      msg.hidden = false;
      var field = $("field-" + e.field);
      if (field) field.classList.add("field-error");
      var input = $(e.field) || document.querySelector("[name='" + e.field + "']");
      if (input) input.setAttribute("aria-invalid", "true");
      placed += 1;
    });
    return placed;
  }

  // ---- the queue -------------------------------------------------------------------------

  function formatDate(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.toLocaleString("en-GB", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  function formatMonth(experience) {
    if (!experience) return "";
    var m = /^(\d{4})-(\d{2})$/.exec(experience);
    if (!m) return String(experience);
    return new Date(Number(m[1]), Number(m[2]) - 1, 1).toLocaleString("en-GB", { month: "long", year: "numeric" });
  }

  function loadQueue() {
    showView("queue");
    ["pending", "held", "replies"].forEach(function (q) {
      var tab = $("tab-" + q);
      if (q === state.queue) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    });
    $("back-link").setAttribute("href", "#queue/" + state.queue);
    $("queue-heading").textContent = QUEUE_HEADINGS[state.queue] || QUEUE_HEADINGS.pending;
    $("queue-summary").textContent = "Loading…";
    clear($("queue-list"));
    clear($("items-list"));
    $("queue-list").hidden = state.queue === "replies";
    $("items-list").hidden = state.queue !== "replies";
    focusHeading("queue-heading");
    var asked = state.queue;
    return api("GET", "moderation/queue?status=" + encodeURIComponent(asked)).then(function (result) {
      // A moderator who switched tabs before this answer came: the later tab's answer shows, not this
      // one (it would empty the replies list with the pending queue's answer).
      if (asked !== state.queue) return;
      if (handledCommon(result)) return;
      if (!result.ok || !result.data) { $("queue-summary").textContent = ""; showAlert(errorMessage(result)); return; }
      if (result.data.moderator) $("who-name").textContent = "Signed in as " + result.data.moderator;
      if (state.queue === "replies") renderItems(result.data.items || []);
      else renderQueue(result.data.stories || []);
    });
  }

  function renderQueue(stories) {
    var list = $("queue-list");
    clear(list);
    var n = stories.length;
    var urgent = stories.filter(function (s) { return s.urgent && s.urgent.length; }).length;
    $("queue-summary").textContent = n === 0
      ? (state.queue === "held" ? "No stories are held." : "No stories are waiting. Well done.")
      : n + (n === 1 ? " story" : " stories") + (urgent ? ", " + urgent + " urgent first, then" : ",") + " oldest first.";
    stories.forEach(function (s) {
      var li = el("li", null, "queue-item");
      var h = el("h2", null, "queue-title");
      var a = el("a", s.title || "(no title)");
      a.href = "#story/" + encodeURIComponent(s.id);
      h.appendChild(a);
      li.appendChild(h);
      var meta = el("p", null, "queue-meta");
      meta.appendChild(el("span", "Sent " + formatDate(s.submitted_at)));
      if (s.pseudonym) meta.appendChild(el("span", "by " + s.pseudonym));
      if (s.experience) meta.appendChild(el("span", "about " + formatMonth(s.experience)));
      var names = s.service_names && s.service_names.length ? s.service_names : (s.services || []);
      if (names.length) meta.appendChild(el("span", names.join(", ")));
      li.appendChild(meta);
      if (s.urgent && s.urgent.length) {
        li.classList.add("queue-item-urgent");
        li.insertBefore(el("p", "Urgent: " + urgentWords(s.urgent), "urgent-flag"), h);
      }
      if (s.excerpt) li.appendChild(el("p", s.excerpt, "excerpt"));
      list.appendChild(li);
    });
  }

  // ---- replies and held responses -------------------------------------------------------
  //
  // Each item is a card: what it is and on which story, why it was held (the flags), its text in
  // an editable box, a note, and Publish / Reject. Ids are numbered per card so labels and
  // error messages stay tied to their own fields.

  var ITEM_FIELDS = ["text", "note", "action"];

  function renderItems(items) {
    var list = $("items-list");
    clear(list);
    var n = items.length;
    $("queue-summary").textContent = n === 0
      ? "No replies or responses are waiting."
      : n + (n === 1 ? " item" : " items") + ", oldest first.";
    items.forEach(function (item, i) { list.appendChild(itemCard(item, i)); });
  }

  // What a queue item is: a held staff response, an author's reply, or a comment on a change check.
  function itemWords(item, capital) {
    var words = item.item === "response" ? "staff response" : item.item === "check" ? "comment on whether the change made a difference" : "author’s reply";
    return capital ? words.charAt(0).toUpperCase() + words.slice(1) : words;
  }

  function itemCard(item, n) {
    var prefix = "item-" + n + "-";
    var isResponse = item.item === "response";
    var li = el("li", null, "queue-item item-card");
    li.id = prefix + "card";
    var story = item.story || {};
    var h = el("h2", itemWords(item, true) + " on “" + (story.title || item.story_id) + "”", "queue-title");
    h.id = prefix + "heading";
    h.tabIndex = -1;
    li.appendChild(h);

    var meta = el("p", null, "queue-meta");
    meta.appendChild(el("span", "Sent " + formatDate(item.created_at)));
    if (isResponse) {
      var who = [item.name, item.role, item.service_name].filter(Boolean).join(", ");
      if (item.organisation_name && item.organisation_name !== item.service_name) who += " (" + item.organisation_name + ")";
      if (who) meta.appendChild(el("span", "by " + who));
    } else {
      meta.appendChild(el("span", item.item === "check" && item.recipient !== "author" ? "by a reader this happened to too" : "by the story’s author"));
    }
    if (item.item === "check" && item.answer) {
      meta.appendChild(el("span", "answered " + ({ yes: "yes", partly: "partly", no: "no" }[item.answer] || item.answer)));
    }
    if (story.status && story.status !== "published") meta.appendChild(el("span", "story " + (STATUS[story.status] || story.status)));
    li.appendChild(meta);

    var storyLink = el("a", "Open the story");
    storyLink.href = "#story/" + encodeURIComponent(item.story_id);
    var p = el("p");
    p.appendChild(storyLink);
    li.appendChild(p);

    if (isResponse) {
      var words = item.flag_words && item.flag_words.length ? item.flag_words : (item.flags || []);
      var flags = el("div", null, "flags");
      if (words.length) {
        flags.appendChild(el("p", "Held because it seems to contain:", "flags-title"));
        var ul = el("ul", null, "flags-list");
        words.forEach(function (w) { ul.appendChild(el("li", w)); });
        flags.appendChild(ul);
      } else {
        flags.appendChild(el("p", "Held for a moderator to check.", "flags-title"));
      }
      li.appendChild(flags);
    }
    if (isResponse && item.change && item.change !== "none") {
      li.appendChild(el("p", (item.change === "made" ? "Marks a change as made: " : "Marks a change as planned: ") + (item.change_description || ""), "excerpt"));
    }

    var form = el("form", null, "item-form");
    form.action = "#";
    form.method = "post";
    form.noValidate = true;
    form.appendChild(itemField(prefix, "text", "Text as it will be published",
      "Edit to remove anything that identifies a person. Leave it as it is to publish the words as sent.", "textarea", item.text || "", 5000));
    form.appendChild(itemField(prefix, "note", "Reason",
      isResponse ? "Needed to reject. The member of staff is told this reason." : "Needed to reject. The author sees this reason on their page.",
      "textarea", "", 2000));
    var actions = el("div", null, "actions");
    var publishButton = el("button", "Publish", "button");
    publishButton.type = "submit";
    publishButton.name = "action";
    publishButton.value = "publish";
    var rejectButton = el("button", "Reject (with reason)", "button button-danger");
    rejectButton.type = "submit";
    rejectButton.name = "action";
    rejectButton.value = "reject";
    actions.appendChild(publishButton);
    actions.appendChild(rejectButton);
    form.appendChild(actions);
    var pressed = { action: null };
    [publishButton, rejectButton].forEach(function (b) {
      b.addEventListener("click", function () { pressed.action = b.value; });
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var submitter = event.submitter || document.activeElement;
      var action = (submitter && submitter.value) || pressed.action;
      decideItem(item, prefix, form, action);
    });
    li.appendChild(form);
    return li;
  }

  function itemField(prefix, name, label, hint, kind, value, max) {
    var wrap = el("div", null, "field");
    wrap.id = prefix + "field-" + name;
    var l = el("label", label);
    l.htmlFor = prefix + name;
    wrap.appendChild(l);
    var h = el("p", hint, "hint");
    h.id = prefix + name + "-hint";
    wrap.appendChild(h);
    var err = el("p", null, "error-message");
    err.id = prefix + name + "-error";
    err.hidden = true;
    wrap.appendChild(err);
    var input = el(kind, null, "input");
    input.id = prefix + name;
    input.name = name;
    input.rows = name === "text" ? 8 : 3;
    input.maxLength = max;
    input.value = value;
    input.setAttribute("aria-describedby", h.id + " " + err.id);
    wrap.appendChild(input);
    return wrap;
  }

  function clearItemErrors(prefix) {
    ITEM_FIELDS.forEach(function (name) {
      var err = $(prefix + name + "-error");
      var wrap = $(prefix + "field-" + name);
      var input = $(prefix + name);
      if (err) { err.textContent = ""; err.hidden = true; }
      if (wrap) wrap.classList.remove("field-error");
      if (input) input.removeAttribute("aria-invalid");
    });
  }

  function showItemErrors(prefix, errors) {
    var first = null;
    var unplaced = [];
    errors.forEach(function (e) {
      var err = $(prefix + e.field + "-error");
      if (!err) { unplaced.push((FIELD_NAMES[e.field] || e.field) + ": " + e.message); return; }
      err.textContent = "";
      err.appendChild(el("span", "Error: ", "visually-hidden"));
      err.appendChild(document.createTextNode(e.message));
      err.hidden = false;
      $(prefix + "field-" + e.field).classList.add("field-error");
      var input = $(prefix + e.field);
      input.setAttribute("aria-invalid", "true");
      if (!first) first = input;
    });
    if (unplaced.length) showAlert(unplaced.join(" "));
    if (first) first.focus();
  }

  function decideItem(item, prefix, form, action) {
    if (["publish", "reject"].indexOf(action) < 0) return;
    var kind = item.item === "response" ? "responses" : item.item === "check" ? "checks" : "replies";
    var text = $(prefix + "text").value;
    var body = { action: action, note: $(prefix + "note").value };
    // Only an edited text is sent, so an unedited one is published exactly as written.
    if (action === "publish" && text !== (item.text || "")) body.text = text;
    clearItemErrors(prefix);
    showAlert("");
    var buttons = form.querySelectorAll("button");
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    var path = "moderation/stories/" + encodeURIComponent(item.story_id) + "/" + kind + "/" + encodeURIComponent(item.id) + "/decision";
    api("POST", path, body).then(function (result) {
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
      if (handledCommon(result)) return;
      if (result.status === 422) {
        showItemErrors(prefix, (result.data && result.data.error && result.data.error.fields) || [{ field: "action", message: errorMessage(result) }]);
        return;
      }
      if (result.status === 409) {
        showAlert("Someone else has already decided on this — reload", { label: "Reload the list", run: function () { loadQueue(); } });
        $("alert").focus();
        return;
      }
      if (!result.ok) { showAlert(errorMessage(result)); return; }
      var card = $(prefix + "card");
      var next = card && card.nextElementSibling;
      if (card) card.parentNode.removeChild(card);
      var left = $("items-list").children.length;
      $("queue-summary").textContent = left === 0 ? "No replies or responses are waiting." : left + (left === 1 ? " item" : " items") + ", oldest first.";
      notice((action === "publish" ? "Published" : "Rejected") + ": " + itemWords(item, false) +
        " on “" + ((item.story && item.story.title) || item.story_id) + "”");
      var focusTo = next && next.querySelector("h2");
      if (focusTo) focusTo.focus(); else focusHeading("queue-heading");
    });
  }


  // ---- reports of concerns (issue 16) -----------------------------------------------------
  //
  // The queue (riskiest, then oldest) with the screen's counts; one reported item with every
  // report on it, its decisions and history; and one decision form. Plain form controls, so the
  // whole of it works from the keyboard. Every text reaches the page through textContent.

  var REASONS = {
    "identifies-someone": "Identifies someone", "untrue-or-defamatory": "Untrue or defamatory",
    offensive: "Offensive", safeguarding: "Safeguarding worry", other: "Something else"
  };
  var KIND_WORDS = { story: "Story", response: "Staff response", reply: "Author reply" };
  var URL_KINDS = { story: "story", response: "responses", reply: "replies" };
  var CONCERN_FIELDS = ["c-action", "c-title", "c-text", "c-asked_by", "c-reason", "c-note"];

  function hours(n) {
    if (n === null || n === undefined) return "none decided yet";
    return n < 1 ? "under an hour" : n + (n === 1 ? " hour" : " hours");
  }

  function reasonsText(reasons) {
    return Object.keys(reasons || {}).map(function (r) { return (REASONS[r] || r) + " × " + reasons[r]; }).join(", ");
  }

  function casePath(c) {
    var kind = URL_KINDS[c.kind] || "story";
    return encodeURIComponent(c.story_id) + "/" + kind + "/" + encodeURIComponent(c.item_id || "story");
  }

  function loadConcerns() {
    showView("concerns");
    showAlert("");
    $("concerns-summary").textContent = "Loading…";
    clear($("concern-list"));
    focusHeading("concerns-heading");
    return api("GET", "moderation/concerns").then(function (result) {
      if (handledCommon(result)) return;
      if (!result.ok || !result.data) { $("concerns-summary").textContent = ""; showAlert(errorMessage(result)); return; }
      if (result.data.moderator) $("who-name").textContent = "Signed in as " + result.data.moderator;
      var counts = result.data.counts || {};
      var dl = $("concern-counts");
      clear(dl);
      addMeta(dl, "Reports received", String(counts.received || 0));
      addMeta(dl, "Items hidden by the risk rules", String(counts.hidden || 0));
      addMeta(dl, "Decided", String(counts.decided || 0));
      addMeta(dl, "Time to decide (median)", hours(counts.median_hours));
      addMeta(dl, "Time to decide (90th percentile)", hours(counts.p90_hours));
      var cases = result.data.cases || [];
      $("concerns-summary").textContent = cases.length === 0 ? "No reports are waiting."
        : cases.length + (cases.length === 1 ? " reported item" : " reported items") + ", riskiest then oldest.";
      cases.forEach(function (c) {
        var li = el("li", null, "queue-item");
        var h = el("h2", null, "queue-title");
        var a = el("a", (KIND_WORDS[c.kind] || c.kind) + " on story " + c.story_id);
        a.href = "#concern/" + casePath(c);
        h.appendChild(a);
        li.appendChild(h);
        var meta = el("p", null, "queue-meta");
        if (c.hidden) meta.appendChild(el("span", "Hidden until decided", "stage"));
        if (c.from_service) meta.appendChild(el("span", "Asked for by the service"));
        meta.appendChild(el("span", "First reported " + formatDate(c.first_at)));
        meta.appendChild(el("span", c.open_reports + (c.open_reports === 1 ? " report" : " reports")));
        li.appendChild(meta);
        li.appendChild(el("p", reasonsText(c.reasons), "excerpt"));
        $("concern-list").appendChild(li);
      });
    });
  }

  function openConcern(path) {
    showView("concern");
    showAlert("");
    clearFieldErrors(CONCERN_FIELDS);
    $("concern-heading").textContent = "Loading the reported item…";
    return api("GET", "moderation/concerns/" + path).then(function (result) {
      if (handledCommon(result)) return;
      if (!result.ok || !result.data) { $("concern-heading").textContent = "Not found"; showAlert(errorMessage(result)); return; }
      renderConcern(result.data);
      focusHeading("concern-heading");
    });
  }

  function renderConcern(data) {
    var c = data.case;
    var item = data.item || {};
    state.concern = { path: casePath(c), version: c.version, kind: c.kind, item: item };
    $("concern-heading").textContent = (KIND_WORDS[c.kind] || c.kind) + " on “" + ((data.story || {}).title || c.story_id) + "”";
    var dl = $("concern-meta");
    clear(dl);
    addMeta(dl, "State", c.state === "open" ? "Waiting for a decision" : "Decided");
    addMeta(dl, "Status of the item", STATUS[item.status] || item.status);
    addMeta(dl, "Reports", c.reports + " in all, " + c.open_reports + " since the last decision");
    addMeta(dl, "Reasons", reasonsText(c.reasons));
    addMeta(dl, "Version", c.version);
    var box = $("concern-item");
    clear(box);
    if (item.placeholder) box.appendChild(el("p", "The public reads: " + item.placeholder, "flags-title"));
    if (c.kind === "story") box.appendChild(el("h3", item.title || ""));
    box.appendChild(el("p", c.kind === "story" ? item.story : item.text, "excerpt"));
    var reports = $("concern-reports");
    clear(reports);
    var correction = null;
    (data.reports || []).forEach(function (r) {
      var from = r.from === "service" ? " (from the service)" : r.from === "author" ? " (the author asks for a correction)" : "";
      var li = el("li", formatDate(r.created_at) + ": " + (REASONS[r.reason] || r.reason) + from);
      if (r.explanation) li.appendChild(el("p", r.explanation, "audit-note"));
      if (r.correction) {
        correction = r.correction;
        li.appendChild(el("p", "Asked to read: " + (r.correction.title || "") + " — " + (r.correction.story || ""), "audit-note"));
      }
      reports.appendChild(li);
    });
    var history = $("concern-history");
    clear(history);
    (c.decisions || []).forEach(function (d) {
      var li = el("li", formatDate(d.at) + ": " + d.action + ", by " + d.by);
      if (d.note) li.appendChild(el("p", "Why: " + d.note, "audit-note"));
      history.appendChild(li);
    });
    (data.history || []).forEach(function (e) {
      history.appendChild(el("li", formatDate(e.at) + ": " + (STATUS[e.from] || e.from) + " → " + (STATUS[e.to] || e.to) + ", by " + (e.by || "unknown")));
    });
    if (!history.children.length) history.appendChild(el("li", "No decisions yet."));
    Array.prototype.forEach.call(document.querySelectorAll("input[name='c-action']"), function (r) { r.checked = false; });
    $("c-hold-choice").hidden = c.kind !== "story";
    $("field-c-title").hidden = c.kind !== "story";
    // An author's correction fills the edit: the moderator checks it and publishes it as an edit.
    $("c-title").value = (correction && correction.title) || item.title || "";
    $("c-text").value = (correction && correction.story) || (c.kind === "story" ? item.story : item.text) || "";
    $("c-asked_by").value = "";
    $("c-reason").value = "";
    $("c-note").value = "";
  }

  function onConcernDecision(event) {
    event.preventDefault();
    var current = state.concern;
    if (!current) return;
    var checked = document.querySelector("input[name='c-action']:checked");
    clearFieldErrors(CONCERN_FIELDS);
    if (!checked) { showFieldErrors([{ field: "c-action", message: "Choose a decision" }], CONCERN_FIELDS); $("c-action").focus(); return; }
    var body = { action: checked.value, version: current.version, note: $("c-note").value };
    if (checked.value === "edit") {
      var text = $("c-text").value;
      if (current.kind === "story" && $("c-title").value !== (current.item.title || "")) body.title = $("c-title").value;
      if (text !== ((current.kind === "story" ? current.item.story : current.item.text) || "")) body.text = text;
      if (body.title === undefined && body.text === undefined) body.text = text;
    }
    if (checked.value === "restrict") {
      if ($("c-asked_by").value) body.asked_by = $("c-asked_by").value;
      if ($("c-reason").value) body.reason = $("c-reason").value;
    }
    showAlert("");
    api("POST", "moderation/concerns/" + current.path + "/decision", body).then(function (result) {
      if (handledCommon(result)) return;
      if (result.status === 422) {
        var errors = ((result.data && result.data.error && result.data.error.fields) || []).map(function (e) {
          return { field: "c-" + e.field, message: e.message };
        });
        if (!showFieldErrors(errors, CONCERN_FIELDS)) showAlert(errorMessage(result));
        var first = errors.length && $(errors[0].field);
        if (first) first.focus();
        return;
      }
      if (result.status === 409) {
        showAlert("Someone else has already decided on this — reload", { label: "Reload it", run: function () { openConcern(current.path); } });
        $("alert").focus();
        return;
      }
      if (!result.ok) { showAlert(errorMessage(result)); return; }
      state.concern = null;
      window.location.hash = "#concerns";
      notice("Decided: " + checked.value);
    });
  }

  // ---- one story -------------------------------------------------------------------------

  function openStory(id) {
    showView("story");
    showAlert("");
    $("notice").textContent = "";
    $("story-heading").textContent = "Loading the story…";
    clearDecisionErrors();
    return api("GET", "moderation/stories/" + encodeURIComponent(id)).then(function (result) {
      if (handledCommon(result)) return;
      if (result.status === 404) { $("story-heading").textContent = "Story not found"; showAlert(errorMessage(result)); return; }
      if (!result.ok || !result.data || !result.data.story) { showAlert(errorMessage(result)); return; }
      renderStory(result.data);
      focusHeading("story-heading");
    });
  }

  function addMeta(dl, term, value) {
    if (value === undefined || value === null || value === "") return;
    dl.appendChild(el("dt", term));
    dl.appendChild(el("dd", value));
  }

  var ROUTES = {
    web: "The website", invitation: "An invitation", widget: "A service's widget", phone: "A phone call",
    paper: "A letter or paper form", "staff-assisted": "A member of staff, in person",
    "import": "Another website or service"
  };

  function renderStory(data) {
    var story = data.story;
    var original = data.original || null;
    state.current = story;
    $("story-heading").textContent = story.title || "(no title)";

    var dl = $("story-meta");
    clear(dl);
    addMeta(dl, "Status", STATUS[story.status] || story.status);
    addMeta(dl, "Sent", formatDate(story.submitted_at));
    addMeta(dl, "Author is", story.role);
    addMeta(dl, "When it happened", formatMonth(story.experience));
    addMeta(dl, "How they felt", (story.feelings || []).join(", "));
    // How it came in (issue 19), and who wrote it down for its author.
    var came = ROUTES[story.route || "web"] || story.route;
    if (story.invitation) came += " (invitation " + story.invitation + ")";
    if (story.entered_by && story.entered_by.name) {
      came += ", entered by " + story.entered_by.name + (story.entered_by.role ? ", " + story.entered_by.role : "") +
        (story.entered_by.organisation ? ", " + story.entered_by.organisation : "") + ", with the person's agreement";
    }
    // Pulled in from a source (issue 21): which, its own id and link, and whether the public may ever read it.
    if (story.source && story.source.name) {
      came += ": " + story.source.name + ", item " + story.source.id + (story.source.url ? " (" + story.source.url + ")" : "") +
        ", written " + formatDate(story.source.date);
    }
    addMeta(dl, "How it came in", came);
    if (story.staff_only) addMeta(dl, "Public", "No: its source is not licensed for republication, so once published only staff see it");
    addMeta(dl, "Can be emailed", data.address === "confirmed" ? "Yes" : data.address === "unconfirmed" ? "Not yet: the author has not confirmed the address" : "No");
    addMeta(dl, "Version", story.version);
    if (story.decided_by) addMeta(dl, "Last decided by", story.decided_by + " at " + formatDate(story.decided_at));

    state.services = (data.services || []).map(function (s) {
      return { slug: s.slug, name: s.name || s.slug, within: s.path && s.path.length > 1 ? s.path.join(" › ") : "", kept: true };
    });
    renderServices();
    $("service-find").value = "";
    clear($("service-found"));

    var urgent = $("story-urgent");
    clear(urgent);
    urgent.hidden = !(data.urgent && data.urgent.length);
    if (!urgent.hidden) {
      urgent.appendChild(el("p", "Urgent: " + urgentWords(data.urgent), "urgent-flag"));
      urgent.appendChild(el("p", "Read it first. If someone may be at risk, follow the safeguarding procedure."));
    }
    state.tagsInUse = (data.tags_in_use || []).filter(function (t) { return typeof t === "string"; });
    renderMessages(data);

    EDITABLE.forEach(function (f) {
      $(f).value = story[f] || "";
      var box = $(f + "-original");
      clear(box);
      var before = original ? original[f] : undefined;
      if (original && before !== undefined && before !== (story[f] || "")) {
        box.appendChild(el("p", "Author's original", "original-label"));
        box.appendChild(el("p", before, "original-text"));
        box.hidden = false;
      } else {
        box.hidden = true;
      }
      box.parentNode.classList.toggle("pair-with-original", !box.hidden);
      showFindings(f, (data.highlights || {})[f]);
    });
    var found = Object.keys(data.highlights || {}).reduce(function (n, f) { return n + data.highlights[f].count; }, 0);
    addMeta(dl, "Possible identifying details", found ? found + " marked below" : "");

    var radios = document.querySelectorAll("input[name='criticality']");
    Array.prototype.forEach.call(radios, function (r) {
      r.checked = story.criticality !== undefined && story.criticality !== null && String(story.criticality) === r.value;
    });
    $("tags").value = (story.tags || []).map(tagWords).join(", ");
    suggestTags();
    $("note").value = "";

    var audit = $("story-audit");
    clear(audit);
    var trail = data.audit || [];
    if (!trail.length) audit.appendChild(el("li", "No decisions yet."));
    trail.forEach(function (e) {
      var text = formatDate(e.at) + ": " + (STATUS[e.from] || e.from || "new") + " → " + (STATUS[e.to] || e.to) + ", by " + (e.by || "unknown");
      var li = el("li", text);
      if (e.edited && e.edited.length) li.appendChild(el("span", ". Edited: " + e.edited.join(", ")));
      if (e.note) li.appendChild(el("p", "Note: " + e.note, "audit-note"));
      audit.appendChild(li);
    });
  }

  // Likely identifying details, marked in a copy of the saved text (segments built with textContent).
  function showFindings(field, found) {
    var id = field + "-findings";
    var box = $(id);
    if (!box) {
      box = el("div", null, "findings");
      box.id = id;
      var pair = $(field).parentNode;
      pair.parentNode.insertBefore(box, pair.nextSibling);
    }
    clear(box);
    box.hidden = !found;
    if (!found) return;
    box.appendChild(el("p", "Check before publishing: " + found.kinds.join(", ") + " (as the text is now)", "findings-label"));
    var text = el("p", null, "findings-text");
    found.segments.forEach(function (s) {
      if (!s.kind) { text.appendChild(document.createTextNode(s.text)); return; }
      var mark = el("mark", s.text, "finding finding-" + s.kind);
      mark.appendChild(el("span", " (" + s.words + ")", "visually-hidden"));
      text.appendChild(mark);
    });
    box.appendChild(text);
  }

  // ---- services the moderator can correct -------------------------------------------------

  function renderServices() {
    var list = $("story-services");
    clear(list);
    (state.services || []).forEach(function (s, i) {
      var li = el("li", null, "checkbox");
      var box = el("input");
      box.type = "checkbox";
      box.id = "service-" + i;
      box.checked = s.kept;
      box.addEventListener("change", function () { s.kept = box.checked; });
      var label = el("label", s.name);
      label.setAttribute("for", box.id);
      if (s.within) label.appendChild(el("span", " (" + s.within + ")", "hint-inline"));
      li.appendChild(box);
      li.appendChild(label);
      list.appendChild(li);
    });
  }

  var findTimer = null;
  function findServices() {
    window.clearTimeout(findTimer);
    var q = $("service-find").value.trim();
    var found = $("service-found");
    if (q.length < 2) { clear(found); return; }
    findTimer = window.setTimeout(function () {
      api("GET", "services?q=" + encodeURIComponent(q)).then(function (result) {
        if (q !== $("service-find").value.trim()) return;
        clear(found);
        var matches = (result.ok && result.data && result.data.services) || [];
        if (!matches.length) { found.appendChild(el("li", "No services found. Try another word.")); return; }
        matches.slice(0, 8).forEach(function (m) {
          var li = el("li");
          var b = el("button", "Add " + m.name + (m.within ? " (" + m.within + ")" : ""), "button button-quiet button-small");
          b.type = "button";
          b.addEventListener("click", function () { addService(m); });
          li.appendChild(b);
          found.appendChild(li);
        });
      });
    }, 250);
  }

  function addService(m) {
    var known = (state.services || []).filter(function (s) { return s.slug === m.slug; })[0];
    if (known) known.kept = true;
    else state.services.push({ slug: m.slug, name: m.name, within: m.within || "", kept: true });
    renderServices();
    $("service-find").value = "";
    clear($("service-found"));
    notice("Added " + m.name + ". It is saved with your decision.");
  }

  // ---- tags: suggestions from the tags in use --------------------------------------------

  function tagWords(slug) { return String(slug).replace(/-/g, " "); }

  function suggestTags() {
    var input = $("tags");
    var parts = input.value.split(",");
    var last = slugTags(parts[parts.length - 1])[0] || "";
    var chosen = slugTags(parts.slice(0, -1).join(","));
    var list = $("tag-suggestion-list");
    clear(list);
    var offered = (state.tagsInUse || []).filter(function (t) {
      return chosen.indexOf(t) < 0 && (!last || t.indexOf(last) === 0 || t.indexOf("-" + last) > 0);
    }).slice(0, 8);
    if (!last) offered = offered.slice(0, 0);
    offered.forEach(function (t) {
      var li = el("li");
      var b = el("button", tagWords(t), "button button-quiet button-small");
      b.type = "button";
      b.addEventListener("click", function () {
        parts[parts.length - 1] = (parts.length > 1 ? " " : "") + tagWords(t);
        input.value = parts.join(",") + ", ";
        input.focus();
        suggestTags();
      });
      li.appendChild(b);
      list.appendChild(li);
    });
    $("tag-suggestions").hidden = !offered.length;
  }

  // ---- live identifying-details marks: the server's check, on the text as it is now -------

  var checkTimer = null;
  var checkAsked = 0;
  function recheck() {
    window.clearTimeout(checkTimer);
    checkTimer = window.setTimeout(function () {
      var story = state.current;
      if (!story) return;
      var body = {};
      EDITABLE.forEach(function (f) { body[f] = $(f).value; });
      var asked = ++checkAsked;
      api("POST", "moderation/highlights", body).then(function (result) {
        if (asked !== checkAsked || state.current !== story) return;  // a newer check, or another story
        if (!result.ok || !result.data) return;  // the marks shown stay; the decision still checks nothing
        EDITABLE.forEach(function (f) { showFindings(f, (result.data.highlights || {})[f]); });
      });
    }, 400);
  }

  // ---- messages with the author ----------------------------------------------------------

  function renderMessages(data) {
    var story = data.story;
    state.messages = (data.messages || []).slice();
    var list = $("story-messages");
    clear(list);
    (data.messages || []).forEach(function (m) {
      var who = m.sender === "moderator" ? "You (" + (m.by || "a moderator") + ") wrote" : "The author answered";
      var li = el("li", null, "message message-" + (m.sender === "moderator" ? "moderator" : "author"));
      li.appendChild(el("p", who + " on " + formatDate(m.at), "message-who"));
      li.appendChild(el("p", m.text, "message-text"));
      list.appendChild(li);
    });
    var askable = story.status === "pending" || story.status === "held";
    var status = !askable ? "Messages can be sent only while a story is pending or held."
      : data.address !== "confirmed" ? "The author has not confirmed an email address, so we cannot write to them."
      : (data.messages || []).length ? "" : "No messages yet.";
    $("messages-status").textContent = status;
    $("message-form").hidden = !(askable && data.address === "confirmed");
    $("message").value = "";
    clearFieldErrors(["message"]);
  }

  function onMessage(event) {
    event.preventDefault();
    var story = state.current;
    if (!story) return;
    clearFieldErrors(["message"]);
    var button = document.querySelector("#message-form button");
    button.disabled = true;
    api("POST", "moderation/stories/" + encodeURIComponent(story.id) + "/messages", { text: $("message").value }).then(function (result) {
      button.disabled = false;
      if (handledCommon(result)) return;
      if (result.status === 422) {
        var fields = (result.data && result.data.error && result.data.error.fields) || [];
        showFieldErrors(fields.map(function (f) { return { field: "message", message: f.message }; }), ["message"]);
        $("message").focus();
        return;
      }
      if (!result.ok) { showAlert(errorMessage(result)); return; }
      // Only the messages change: the edits not yet saved stay as they are.
      state.messages = (state.messages || []).concat([result.data.message]);
      renderMessages({ story: story, messages: state.messages, address: "confirmed" });
      notice("Sent. We are emailing your message to the author.");
    });
  }

  function slugTags(text) {
    var seen = {};
    var out = [];
    String(text || "").split(",").forEach(function (raw) {
      var slug = raw.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
        .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/, "");
      if (slug && !seen[slug]) { seen[slug] = true; out.push(slug); }
    });
    return out;
  }

  function clearDecisionErrors() {
    clearFieldErrors(EDITABLE.concat(["criticality", "tags", "note", "services"]));
    $("error-summary").hidden = true;
    clear($("error-summary-list"));
  }

  function showDecisionErrors(errors) {
    var names = EDITABLE.concat(["criticality", "tags", "note", "services"]);
    showFieldErrors(errors, names);
    var list = $("error-summary-list");
    clear(list);
    errors.forEach(function (e) {
      var li = el("li");
      var target = e.field === "criticality" ? "criticality-0" : e.field === "services" ? "service-find" : e.field;
      if (names.indexOf(e.field) >= 0 && $(target)) {
        var a = el("a", (FIELD_NAMES[e.field] || e.field) + ": " + e.message);
        a.href = "#" + target;
        a.addEventListener("click", function (ev) { ev.preventDefault(); $(target).focus(); });
        li.appendChild(a);
      } else {
        li.textContent = (FIELD_NAMES[e.field] || e.field) + ": " + e.message;
      }
      list.appendChild(li);
    });
    var summary = $("error-summary");
    summary.hidden = false;
    summary.focus();
  }

  function onDecision(event) {
    event.preventDefault();
    var story = state.current;
    if (!story) return;
    var submitter = event.submitter || document.activeElement;
    var action = (submitter && submitter.value) || state.pendingAction;
    if (["publish", "hold", "reject"].indexOf(action) < 0) return;
    var checked = document.querySelector("input[name='criticality']:checked");
    var body = {
      action: action,
      version: story.version,
      title: $("title").value,
      story: $("story").value,
      good: $("good").value,
      improve: $("improve").value,
      pseudonym: $("pseudonym").value,
      criticality: checked ? Number(checked.value) : null,
      tags: slugTags($("tags").value),
      note: $("note").value,
      services: (state.services || []).filter(function (x) { return x.kept; }).map(function (x) { return x.slug; })
    };
    clearDecisionErrors();
    showAlert("");
    var buttons = document.querySelectorAll("#decision-form button");
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    api("POST", "moderation/stories/" + encodeURIComponent(story.id) + "/decision", body).then(function (result) {
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
      if (handledCommon(result)) return;
      if (result.status === 422) {
        showDecisionErrors((result.data && result.data.error && result.data.error.fields) || [{ field: "body", message: errorMessage(result) }]);
        return;
      }
      if (result.status === 409) {
        showAlert("Someone else has decided on this story — reload", {
          label: "Reload the story", run: function () { openStory(story.id); }
        });
        $("alert").focus();
        return;
      }
      if (result.status === 404) { showAlert(errorMessage(result)); return; }
      if (!result.ok) { showAlert(errorMessage(result)); return; }
      var done = { publish: "Published", hold: "Held for safeguarding", reject: "Rejected" }[action];
      var title = (result.data && result.data.story && result.data.story.title) || story.title;
      state.current = null;
      window.location.hash = "#queue/" + state.queue;
      // A story kept for staff only (issue 21) has no public page to link to.
      if (action === "publish" && story.staff_only) done = "Published for staff only";
      notice(done + ": " + title, action === "publish" && !story.staff_only ? publishedUrl(story.id) : "");
    });
  }

  // ---- a story taken for someone (issue 19) ------------------------------------------------

  var TAKE_FIELDS = ["route", "title", "story", "good", "improve", "pseudonym", "role", "experience_month",
    "experience_year", "services", "email", "consent"];
  var TAKE_NAMES = { route: "How it came in", role: "Who they are", experience_month: "Month",
    experience_year: "Year", services: "Service", email: "Email address", consent: "Agreement" };

  function takeNames() { return TAKE_FIELDS.map(function (f) { return "take-" + f; }); }

  function clearTakeErrors() {
    clearFieldErrors(takeNames());
    $("take-summary").hidden = true;
    clear($("take-summary-list"));
  }

  function showTake() {
    showView("take");
    showAlert("");
    clearTakeErrors();
    var today = new Date();
    if (!$("take-experience_month").value) $("take-experience_month").value = String(today.getMonth() + 1);
    if (!$("take-experience_year").value) $("take-experience_year").value = String(today.getFullYear());
    if (!state.takeId) state.takeId = "take-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
    focusHeading("take-heading");
  }

  function findTakeServices() {
    var q = $("take-find").value.trim();
    var select = $("take-services");
    if (!q) return;
    api("GET", "services?q=" + encodeURIComponent(q)).then(function (result) {
      clear(select);
      var found = (result.ok && result.data && result.data.services) || [];
      if (!found.length) select.appendChild(el("option", "Nothing found: try other words"));
      found.forEach(function (s) {
        var o = el("option", s.name + (s.within ? " (" + s.within + ")" : ""));
        o.value = s.slug;
        select.appendChild(o);
      });
      notice(found.length + " services found");
    });
  }

  function onTake(event) {
    event.preventDefault();
    var route = document.querySelector("input[name='take-route']:checked");
    var body = {
      submission_id: state.takeId,
      route: route ? route.value : "",
      title: $("take-title").value,
      story: $("take-story").value,
      good: $("take-good").value,
      improve: $("take-improve").value,
      pseudonym: $("take-pseudonym").value,
      role: $("take-role").value,
      experience_month: Number($("take-experience_month").value) || $("take-experience_month").value,
      experience_year: Number($("take-experience_year").value) || $("take-experience_year").value,
      services: $("take-services").value ? [$("take-services").value] : [],
      email: $("take-email").value,
      consent: $("take-consent").checked
    };
    clearTakeErrors();
    showAlert("");
    $("take-send").disabled = true;
    api("POST", "moderation/stories", body).then(function (result) {
      $("take-send").disabled = false;
      if (handledCommon(result)) return;
      if (result.status === 422) {
        var errors = (result.data && result.data.error && result.data.error.fields) || [];
        var shown = errors.map(function (e) { return { field: "take-" + e.field, message: e.message }; });
        showFieldErrors(shown, takeNames());
        var list = $("take-summary-list");
        clear(list);
        errors.forEach(function (e) {
          var li = el("li");
          var target = e.field === "route" ? "take-route-phone" : e.field === "services" ? "take-find" : "take-" + e.field;
          var words = (TAKE_NAMES[e.field] || FIELD_NAMES[e.field] || e.field) + ": " + e.message;
          if ($(target)) {
            var a = el("a", words);
            a.href = "#" + target;
            a.addEventListener("click", function (ev) { ev.preventDefault(); $(target).focus(); });
            li.appendChild(a);
          } else {
            li.textContent = words;
          }
          list.appendChild(li);
        });
        $("take-summary").hidden = false;
        $("take-summary").focus();
        return;
      }
      if (!result.ok) { showAlert(errorMessage(result)); return; }
      $("take-form").reset();
      state.takeId = null;
      window.location.hash = "#queue/pending";
      notice("Sent to the queue: " + body.title);
    });
  }

  // ---- start -----------------------------------------------------------------------------

  function start() {
    $("sign-in-form").addEventListener("submit", onSignIn);
    $("challenge-form").addEventListener("submit", onChallenge);
    $("challenge-cancel").addEventListener("click", function () { showSignIn(); });
    $("sign-out").addEventListener("click", signOut);
    $("queue-refresh").addEventListener("click", function () { loadQueue(); });
    // Older browsers have no event.submitter: remember which decision button was pressed.
    Array.prototype.forEach.call(document.querySelectorAll("#decision-form button[name='action']"), function (b) {
      b.addEventListener("click", function () { state.pendingAction = b.value; });
    });
    $("decision-form").addEventListener("submit", onDecision);
    $("concern-form").addEventListener("submit", onConcernDecision);
    $("concerns-refresh").addEventListener("click", function () { loadConcerns(); });
    $("message-form").addEventListener("submit", onMessage);
    $("service-find").addEventListener("input", findServices);
    $("service-find").addEventListener("keydown", function (e) { if (e.key === "Enter") e.preventDefault(); });
    $("tags").addEventListener("input", suggestTags);
    EDITABLE.forEach(function (f) { $(f).addEventListener("input", recheck); });
    $("take-form").addEventListener("submit", onTake);
    $("take-find-button").addEventListener("click", findTakeServices);
    $("take-find").addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); findTakeServices(); }
    });
    window.addEventListener("hashchange", route);
    route();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
