/* The ticket page's collaboration card (followers, links) and the composer's @-autocomplete.
 *
 * The card reloads from its own role-scoped URL when the socket says followers or links changed;
 * nothing from the socket payload is shown. The autocomplete lists the staff who may see the ticket
 * (read once from the server) and inserts "@username" where the caret is. No inline handlers (CSP).
 */
(function () {
  "use strict";

  var page = document.getElementById("ticket");
  if (!page || !window.Helpdesk) {
    return;
  }
  var number = Number(page.dataset.number);

  /* ------------------------------------------------------------ live card */
  function card() {
    return document.getElementById("ticket-collaboration");
  }

  var reloadCard = window.Helpdesk.debounce(function () {
    var element = card();
    if (element && element.dataset.collaborationUrl && window.htmx) {
      window.htmx.ajax("GET", element.dataset.collaborationUrl, { target: "#ticket-collaboration", swap: "outerHTML" });
    }
  }, 300);

  document.addEventListener("hd:realtime", function (event) {
    var data = event.detail;
    if (data && data.type === "ticket.collaboration_changed" && window.Helpdesk.ticketNumberOf(data) === number) {
      reloadCard();
    }
  });
  document.addEventListener("hd:socket-open", function (event) {
    if (event.detail && event.detail.reconnected) {
      reloadCard();
    }
  });

  /* ------------------------------------------------------------ @-autocomplete */
  var composer = document.getElementById("composer");
  var textarea = composer ? composer.querySelector("textarea[name=body]") : null;
  if (!textarea) {
    return;
  }
  var candidates = null;
  var loading = false;
  var list = null;
  var matches = [];
  var active = 0;

  function mentionUrl() {
    var element = card();
    return element ? element.dataset.mentionUrl : null;
  }

  function isInternal() {
    var checked = composer.querySelector("input[name=visibility]:checked");
    return checked && checked.value === "internal";
  }

  function load() {
    var url = mentionUrl();
    if (candidates || loading || !url) {
      return;
    }
    loading = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { users: [] }; })
      .then(function (data) {
        candidates = Array.isArray(data.users) ? data.users : [];
        update();
      })
      .catch(function () { candidates = []; })
      .then(function () { loading = false; });
  }

  // The "@word" right before the caret, if the caret is in one.
  function currentQuery() {
    var before = textarea.value.slice(0, textarea.selectionStart);
    var match = /(^|[^\w@])@([\w.+-]*)$/.exec(before);
    return match ? { query: match[2].toLowerCase(), start: before.length - match[2].length - 1 } : null;
  }

  function close() {
    if (list) {
      list.hidden = true;
    }
    matches = [];
    textarea.removeAttribute("aria-activedescendant");
  }

  function ensureList() {
    if (!list) {
      list = document.createElement("ul");
      list.id = "mention-suggestions";
      list.className = "dropdown__menu mention-suggestions";
      list.setAttribute("role", "listbox");
      list.hidden = true;
      // In the composer's flow, under the text (the menu class positions dropdowns of <details>).
      list.style.position = "static";
      textarea.insertAdjacentElement("afterend", list);
      textarea.setAttribute("aria-controls", list.id);
      list.addEventListener("mousedown", function (event) {
        var item = event.target.closest("[data-username]");
        if (item) {
          event.preventDefault();
          choose(item.dataset.username);
        }
      });
    }
    return list;
  }

  function render() {
    var element = ensureList();
    element.textContent = "";
    matches.forEach(function (user, index) {
      var item = document.createElement("li");
      item.id = "mention-option-" + index;
      item.className = "dropdown__item";
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", index === active ? "true" : "false");
      item.dataset.username = user.username;
      item.textContent = user.name + " (@" + user.username + ")";
      element.appendChild(item);
    });
    element.hidden = matches.length === 0;
    if (matches.length) {
      textarea.setAttribute("aria-activedescendant", "mention-option-" + active);
    }
  }

  function update() {
    var found = isInternal() ? currentQuery() : null;
    if (!found) {
      close();
      return;
    }
    if (!candidates) {
      load();
      return;
    }
    matches = candidates.filter(function (user) {
      return user.username.toLowerCase().indexOf(found.query) === 0 || user.name.toLowerCase().indexOf(found.query) !== -1;
    }).slice(0, 8);
    active = 0;
    render();
  }

  function choose(username) {
    var found = currentQuery();
    if (!found) {
      return;
    }
    var caret = textarea.selectionStart;
    var insert = "@" + username + " ";
    textarea.value = textarea.value.slice(0, found.start) + insert + textarea.value.slice(caret);
    var position = found.start + insert.length;
    textarea.setSelectionRange(position, position);
    textarea.focus();
    close();
  }

  textarea.addEventListener("input", update);
  textarea.addEventListener("blur", function () { setTimeout(close, 150); });
  textarea.addEventListener("keydown", function (event) {
    if (!matches.length || !list || list.hidden) {
      return;
    }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      active = (active + (event.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
      render();
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      choose(matches[active].username);
    } else if (event.key === "Escape") {
      close();
    }
  });
})();
