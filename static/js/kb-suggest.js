/* Knowledge-base suggestions in the portal's new-request form.
 *
 * While the customer types the subject (or, with no subject yet, the start of the description),
 * the best matching articles appear under it in a polite live region. Links open in a new tab so
 * the form, its typed text and chosen files stay as they are.
 *
 * Deflection tracking: the first time suggestions appear the page reports a visit (one per form
 * visit; later query changes update it, debounced, never per keystroke) and keeps the visit's id
 * in the form's hidden kb_deflection field, so sending the request marks the visit as submitted.
 * Opening a suggestion reports it too (and counts as a click for the search analytics).
 * Everything here is an enhancement: the form works the same without it.
 */
(function () {
  "use strict";

  var SEARCH_DELAY_MS = 250;
  var REPORT_DELAY_MS = 1500;
  var MIN_QUERY_CHARS = 2;
  var MAX_RESULTS = 5;
  var DESCRIPTION_WORDS = 12;

  var region = document.querySelector("[data-kb-suggest]");
  if (!region || !window.fetch) return;
  var form = region.closest("form");
  var subject = document.querySelector(region.dataset.subject);
  var description = document.querySelector(region.dataset.description);
  var hiddenId = form && form.querySelector("[data-kb-deflection]");
  if (!form || !subject) return;

  var language = document.documentElement.lang || "";
  var csrfInput = form.querySelector("input[name=csrfmiddlewaretoken]");
  var csrfToken = csrfInput ? csrfInput.value : "";
  var listId = "kb-suggest-list";

  var searchTimer = null;
  var reportTimer = null;
  var controller = null;
  var lastQuery = "";
  var shownQuery = null; // the query last reported as shown
  var queryId = null; // the SearchQuery of the suggestions on screen (for click-through)
  var visitId = hiddenId && hiddenId.value ? hiddenId.value : "";
  var visitPromise = null; // pending report of the first showing, so an early click waits for its id

  function currentQuery() {
    var text = subject.value.trim();
    if (text.length >= MIN_QUERY_CHARS || !description) return text;
    var words = description.value.trim().split(/\s+/).slice(0, DESCRIPTION_WORDS).join(" ");
    return words.length >= MIN_QUERY_CHARS ? words.slice(0, 200) : text;
  }

  function post(url, fields) {
    var body = new URLSearchParams();
    Object.keys(fields).forEach(function (name) {
      if (fields[name] !== null && fields[name] !== undefined) body.append(name, fields[name]);
    });
    // keepalive: a report made as the customer follows a link still arrives.
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      keepalive: true,
      headers: { "X-CSRFToken": csrfToken, "X-Requested-With": "fetch" },
    });
  }

  function postJson(url, payload) {
    return fetch(url, {
      method: "POST",
      body: JSON.stringify(payload),
      credentials: "same-origin",
      keepalive: true,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
    });
  }

  /* ------------------------------------------------------------ deflection reports */
  function reportShown(query) {
    if (query === shownQuery) return visitPromise || Promise.resolve(visitId);
    shownQuery = query;
    visitPromise = post(region.dataset.shownUrl, {
      source: "portal_form", query: query, language: language, deflection: visitId || null,
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (data && data.deflection) {
        visitId = String(data.deflection);
        if (hiddenId) hiddenId.value = visitId;
      }
      return visitId;
    }).catch(function () { return visitId; });
    return visitPromise;
  }

  function scheduleReport(query) {
    clearTimeout(reportTimer);
    if (!visitId && !visitPromise) {
      // The first showing is reported at once: the customer may open an article right away.
      reportShown(query);
      return;
    }
    reportTimer = setTimeout(function () { reportShown(query); }, REPORT_DELAY_MS);
  }

  function reportOpened(link) {
    var translation = link.dataset.translation;
    var rank = link.dataset.rank;
    if (queryId && region.dataset.clickUrl) {
      postJson(region.dataset.clickUrl, { query_id: Number(queryId), translation_id: Number(translation), rank: Number(rank) })
        .catch(function () {});
    }
    (visitPromise || Promise.resolve(visitId)).then(function (id) {
      if (!id) return;
      post(region.dataset.openedUrl.replace("/0/", "/" + encodeURIComponent(id) + "/"), { translation: translation })
        .catch(function () {});
    });
  }

  /* ------------------------------------------------------------ rendering */
  // The API's snippet is escaped text with <mark> around matches; only text and <mark> are kept.
  function snippetNodes(html) {
    var fragment = document.createDocumentFragment();
    var parsed = new DOMParser().parseFromString("<div>" + (html || "") + "</div>", "text/html");
    Array.prototype.forEach.call(parsed.body.firstChild ? parsed.body.firstChild.childNodes : [], function (node) {
      if (node.nodeType === 1 && node.nodeName === "MARK") {
        var mark = document.createElement("mark");
        mark.textContent = node.textContent;
        fragment.appendChild(mark);
      } else {
        fragment.appendChild(document.createTextNode(node.textContent));
      }
    });
    return fragment;
  }

  function clear() {
    region.textContent = "";
    queryId = null;
  }

  function render(results) {
    region.textContent = "";
    if (!results.length) return;
    var heading = document.createElement("h2");
    heading.className = "kb-suggest__heading";
    heading.id = "kb-suggest-heading";
    heading.textContent = region.dataset.heading;
    var list = document.createElement("ul");
    list.className = "kb-suggest__list";
    list.id = listId;
    list.setAttribute("aria-labelledby", heading.id);
    results.slice(0, MAX_RESULTS).forEach(function (result, index) {
      var item = document.createElement("li");
      item.className = "kb-suggest__item";
      var link = document.createElement("a");
      link.className = "kb-suggest__link";
      link.href = result.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.dataset.translation = result.id;
      link.dataset.rank = String(index + 1);
      link.textContent = result.title;
      var newTab = document.createElement("span");
      newTab.className = "visually-hidden";
      newTab.textContent = " " + region.dataset.newTab;
      link.appendChild(newTab);
      item.appendChild(link);
      if (result.snippet) {
        var snippet = document.createElement("p");
        snippet.className = "kb-suggest__snippet";
        snippet.appendChild(snippetNodes(result.snippet));
        item.appendChild(snippet);
      }
      list.appendChild(item);
    });
    var hint = document.createElement("p");
    hint.className = "kb-suggest__hint";
    hint.textContent = region.dataset.hint;
    region.appendChild(heading);
    region.appendChild(list);
    region.appendChild(hint);
  }

  /* ------------------------------------------------------------ searching */
  function search() {
    var query = currentQuery();
    if (query === lastQuery) return;
    lastQuery = query;
    if (controller) controller.abort();
    if (query.length < MIN_QUERY_CHARS) {
      clear();
      return;
    }
    controller = window.AbortController ? new AbortController() : null;
    var params = new URLSearchParams({ q: query, lang: language, source: "portal_form", limit: String(MAX_RESULTS) });
    fetch(region.dataset.searchUrl + "?" + params.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      signal: controller ? controller.signal : undefined,
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (query !== lastQuery) return; // a later query is already on its way
      var results = data && Array.isArray(data.results) ? data.results : [];
      render(results);
      queryId = data ? data.query_id : null;
      if (results.length) scheduleReport(query);
    }).catch(function () { /* aborted or offline: the form works without suggestions */ });
  }

  function onType(event) {
    // While an input method composes (pinyin, zhuyin …) the value holds Latin keys, not words:
    // search once the characters are chosen.
    if (event && event.isComposing) return;
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, SEARCH_DELAY_MS);
  }

  [subject, description].forEach(function (field) {
    if (!field) return;
    field.addEventListener("input", onType);
    field.addEventListener("compositionend", function () { onType(null); });
  });

  // Keyboard: ArrowDown from the subject moves into the suggestions, arrows move between them,
  // Escape goes back to the subject (Tab works as everywhere else).
  function links() {
    return Array.prototype.slice.call(region.querySelectorAll(".kb-suggest__link"));
  }
  subject.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" && links().length) {
      event.preventDefault();
      links()[0].focus();
    }
  });
  region.addEventListener("keydown", function (event) {
    var all = links();
    var index = all.indexOf(document.activeElement);
    if (index === -1) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var next = index + (event.key === "ArrowDown" ? 1 : -1);
      if (next < 0) subject.focus();
      else all[Math.min(next, all.length - 1)].focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      subject.focus();
    }
  });

  function onOpen(event) {
    var link = event.target.closest && event.target.closest(".kb-suggest__link");
    if (!link || (event.type === "auxclick" && event.button !== 1)) return;
    reportOpened(link);
  }
  region.addEventListener("click", onOpen);
  region.addEventListener("auxclick", onOpen);

  // A form shown again (validation error, back button) with a subject already typed.
  if (currentQuery().length >= MIN_QUERY_CHARS) search();
})();
