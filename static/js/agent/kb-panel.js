/* The knowledge base in the ticket's reply box.
 *
 * "Knowledge base" opens a panel under the composer that searches the KB (agents see internal
 * articles too, marked as such). Each result can be inserted at the cursor of the message:
 * "Insert link" puts the article's title and absolute public URL, "Insert snippet" its summary
 * (or first paragraph) and the URL. What is inserted is the article in the customer's language
 * when that translation is published, as the server says (/kb/deflection/agent/tickets/<n>/articles/).
 * Internal articles go into internal notes only: a public reply refuses them, since the
 * customer could not open the link.
 */
(function () {
  "use strict";

  var SEARCH_DELAY_MS = 300;
  var MAX_RESULTS = 8;

  var panel = document.getElementById("kb-panel");
  var composer = document.getElementById("composer");
  var toggle = composer && composer.querySelector("[data-kb-panel-toggle]");
  if (!panel || !composer || !toggle || !window.fetch) return;

  var textarea = composer.querySelector("textarea[name=body]");
  var searchForm = panel.querySelector("[data-kb-panel-form]");
  var input = panel.querySelector("input[type=search]");
  var status = panel.querySelector("[data-kb-panel-status]");
  var list = panel.querySelector("[data-kb-panel-results]");
  var texts = panel.dataset;
  var controller = null;
  var timer = null;
  var lastQuery = null;
  var byArticle = {}; // article id -> what to insert

  toggle.hidden = false;

  function say(text, isWarning) {
    status.textContent = text || "";
    status.classList.toggle("kb-panel__status--warning", Boolean(isWarning));
  }

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (match, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : match;
    });
  }

  function mode() {
    var checked = composer.querySelector("input[name=visibility]:checked");
    return checked ? checked.value : "public";
  }

  function openPanel(open) {
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      if (!input.value) input.value = texts.subject || "";
      input.focus();
      input.select();
      search(true);
    }
  }

  toggle.addEventListener("click", function () { openPanel(panel.hidden); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      openPanel(false);
      toggle.focus();
    }
  });

  /* ------------------------------------------------------------ searching */
  function getJson(url, signal) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, signal: signal })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
  }

  function search(now) {
    var query = input.value.trim();
    if (!now && query === lastQuery) return;
    lastQuery = query;
    if (controller) controller.abort();
    list.textContent = "";
    if (!query) {
      say("");
      return;
    }
    controller = window.AbortController ? new AbortController() : null;
    var signal = controller ? controller.signal : undefined;
    say(texts.searching);
    var params = new URLSearchParams({ q: query, source: "agent", limit: String(MAX_RESULTS * 2) });
    getJson(texts.searchUrl + "?" + params.toString(), signal).then(function (data) {
      // One entry per article: the best-ranked translation that matched.
      var seen = {};
      var hits = (data.results || []).filter(function (hit) {
        if (seen[hit.article_id]) return false;
        seen[hit.article_id] = true;
        return true;
      }).slice(0, MAX_RESULTS);
      if (!hits.length) return { hits: hits, articles: [] };
      var ids = hits.map(function (hit) { return hit.article_id; }).join(",");
      return getJson(texts.articlesUrl + "?ids=" + encodeURIComponent(ids), signal).then(function (details) {
        return { hits: hits, articles: details.articles || [] };
      });
    }).then(function (found) {
      if (query !== lastQuery) return;
      render(found.hits, found.articles);
    }).catch(function (error) {
      if (error && error.name === "AbortError") return;
      say(texts.failed, true);
    });
  }

  input.addEventListener("input", function (event) {
    if (event.isComposing) return; // an input method is still choosing the characters
    clearTimeout(timer);
    timer = setTimeout(function () { search(false); }, SEARCH_DELAY_MS);
  });
  input.addEventListener("compositionend", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { search(false); }, SEARCH_DELAY_MS);
  });
  searchForm.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(timer);
    search(true);
  });

  /* ------------------------------------------------------------ rendering */
  function button(label, action, articleId) {
    var element = document.createElement("button");
    element.type = "button";
    element.className = "btn btn--sm";
    element.textContent = label;
    element.dataset.kbInsert = action;
    element.dataset.article = articleId;
    return element;
  }

  function render(hits, articles) {
    byArticle = {};
    articles.forEach(function (article) { byArticle[article.article_id] = article; });
    list.textContent = "";
    var shown = hits.filter(function (hit) { return byArticle[hit.article_id]; });
    shown.forEach(function (hit) {
      var article = byArticle[hit.article_id];
      var item = document.createElement("li");
      item.className = "kb-panel__result";
      if (article.is_internal) item.classList.add("kb-panel__result--internal");

      var title = document.createElement("div");
      title.className = "kb-panel__title";
      var link = document.createElement("a");
      link.href = article.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.lang = article.language;
      link.textContent = article.title;
      var newTab = document.createElement("span");
      newTab.className = "visually-hidden";
      newTab.textContent = " " + texts.newTab;
      link.appendChild(newTab);
      title.appendChild(link);
      if (article.is_internal) {
        var badge = document.createElement("span");
        badge.className = "badge badge--internal";
        badge.textContent = texts.internalLabel;
        title.appendChild(badge);
      }
      item.appendChild(title);

      var meta = document.createElement("div");
      meta.className = "kb-panel__meta";
      var parts = [];
      if (hit.category) parts.push(hit.category);
      parts.push(format(texts.languageLabel, { language: article.language }));
      if (article.is_internal) parts.push(texts.internalHint);
      meta.textContent = parts.join(" · ");
      item.appendChild(meta);

      if (article.snippet) {
        var snippet = document.createElement("p");
        snippet.className = "kb-panel__snippet";
        snippet.lang = article.language;
        snippet.textContent = article.snippet;
        item.appendChild(snippet);
      }
      var actions = document.createElement("div");
      actions.className = "kb-panel__actions";
      actions.appendChild(button(texts.insertLinkLabel, "link", article.article_id));
      actions.appendChild(button(texts.insertSnippetLabel, "snippet", article.article_id));
      item.appendChild(actions);
      list.appendChild(item);
    });
    say(shown.length ? format(texts.found, { count: shown.length }) : texts.noResults);
  }

  /* ------------------------------------------------------------ inserting */
  function insertAtCursor(text, asBlock) {
    var start = textarea.selectionStart;
    var end = textarea.selectionEnd;
    var before = textarea.value.slice(0, start);
    var after = textarea.value.slice(end);
    if (asBlock) {
      if (before && !/\n$/.test(before)) text = "\n" + text;
      if (after && !/^\n/.test(after)) text += "\n";
    } else {
      if (before && !/\s$/.test(before)) text = " " + text;
      if (after && !/^\s/.test(after)) text += " ";
    }
    textarea.focus();
    textarea.setRangeText(text, start, end, "end");
    // Presence ("typing…") and anything else that listens to the composer hears the change.
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  list.addEventListener("click", function (event) {
    var target = event.target.closest("[data-kb-insert]");
    if (!target || !textarea) return;
    var article = byArticle[target.dataset.article];
    if (!article) return;
    if (article.is_internal && mode() !== "internal") {
      say(texts.internalRefused, true);
      return;
    }
    if (target.dataset.kbInsert === "snippet") {
      insertAtCursor((article.snippet ? article.snippet + "\n" : "") + article.url, true);
    } else {
      insertAtCursor(article.title + ": " + article.url, false);
    }
    say(texts.inserted);
  });
})();
