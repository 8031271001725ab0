/* Macros: the reply box's picker (ticket page) and the macro form's action rows (macro pages).

   Picker: the "Macros" button or Alt+M opens a list of the macros the agent may use, most used
   first; typing filters it, ↑/↓ move, Enter (or a click) applies the chosen one. Applying posts to
   the server, which changes the ticket's fields at once and answers with the reply rendered for
   this ticket; the reply goes into the composer for the agent to review and send (as an internal
   note when the macro is one). Alt+M: ticket.js uses Ctrl/⌘+Enter, workspace.js "/" and Escape;
   event.code is read so that macOS's Option+M (which types "µ") works too. */
(function () {
  "use strict";

  function format(template, values) {
    return String(template || "").replace(/%\((\w+)\)s/g, function (match, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    });
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  /* ------------------------------------------------------------ the reply box's picker */
  function setUpPicker(root) {
    var toggle = root.querySelector("[data-macro-picker-toggle]");
    var panel = root.querySelector(".macro-picker__panel");
    var search = root.querySelector("[data-macro-picker-search]");
    var list = root.querySelector("[data-macro-picker-list]");
    var empty = root.querySelector("[data-macro-picker-empty]");
    var loading = root.querySelector("[data-macro-picker-loading]");
    var result = document.querySelector("[data-macro-picker-result]");
    var composer = document.getElementById("composer");
    var textarea = document.getElementById("reply-body");
    var page = document.getElementById("ticket");
    var macros = null;
    var shown = [];
    var active = 0;
    var busy = false;

    function isOpen() {
      return !panel.hidden;
    }

    function open() {
      if (isOpen()) {
        search.focus();
        return;
      }
      panel.hidden = false;
      toggle.setAttribute("aria-expanded", "true");
      search.value = "";
      search.focus();
      if (macros === null) {
        load();
      } else {
        filter();
      }
    }

    function close(returnFocus) {
      if (!isOpen()) {
        return;
      }
      panel.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      if (returnFocus && textarea) {
        textarea.focus();
      }
    }

    function load() {
      loading.hidden = false;
      fetch(root.dataset.pickerUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          macros = data.results || [];
          loading.hidden = true;
          filter();
        })
        .catch(function () {
          loading.hidden = true;
          showResult(root.dataset.textLoadFailed, [], true);
        });
    }

    function matches(macro, words) {
      var title = macro.title.toLowerCase();
      return words.every(function (word) { return title.indexOf(word) !== -1; });
    }

    function filter() {
      var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      shown = (macros || []).filter(function (macro) { return matches(macro, words); });
      active = 0;
      draw();
    }

    function draw() {
      list.textContent = "";
      shown.forEach(function (macro, index) {
        var option = document.createElement("li");
        option.className = "macro-picker__option";
        option.id = "macro-option-" + macro.id;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", index === active ? "true" : "false");
        option.dataset.index = String(index);
        var title = document.createElement("span");
        title.className = "truncate";
        title.textContent = macro.title;
        option.appendChild(title);
        var meta = document.createElement("span");
        meta.className = "macro-picker__meta";
        if (macro.is_internal) {
          var badge = document.createElement("span");
          badge.className = "badge badge--internal";
          badge.textContent = root.dataset.textInternal;
          meta.appendChild(badge);
        }
        if (macro.team) {
          var team = document.createElement("span");
          team.className = "badge badge--outline";
          team.textContent = macro.team;
          meta.appendChild(team);
        }
        var uses = document.createElement("span");
        uses.className = "muted small";
        uses.textContent = format(root.dataset.textUses, { count: macro.usage_count });
        meta.appendChild(uses);
        option.appendChild(meta);
        list.appendChild(option);
      });
      empty.hidden = macros === null || shown.length > 0;
      var current = list.children[active];
      search.setAttribute("aria-activedescendant", current ? current.id : "");
      if (current && current.scrollIntoView) {
        current.scrollIntoView({ block: "nearest" });
      }
    }

    function move(step) {
      if (!shown.length) {
        return;
      }
      active = (active + step + shown.length) % shown.length;
      draw();
    }

    function insert(text) {
      if (!textarea || !text) {
        return;
      }
      var start = textarea.selectionStart;
      var end = textarea.selectionEnd;
      var value = textarea.value;
      if (!value.trim()) {
        textarea.value = text;
        textarea.setSelectionRange(text.length, text.length);
      } else {
        // Replace the selection (or add at the cursor), keeping what the agent already wrote.
        if (typeof start !== "number") {
          start = end = value.length;
        }
        textarea.value = value.slice(0, start) + text + value.slice(end);
        textarea.setSelectionRange(start + text.length, start + text.length);
      }
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
      textarea.focus();
    }

    function switchToInternal() {
      var radio = composer && composer.querySelector("input[name=visibility][value=internal]");
      if (radio && !radio.checked) {
        radio.checked = true;
        radio.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }

    function showResult(text, lines, isError) {
      if (!result) {
        return;
      }
      result.textContent = "";
      result.hidden = false;
      result.classList.toggle("field__error", Boolean(isError));
      var head = document.createElement("div");
      head.textContent = text;
      result.appendChild(head);
      if (lines && lines.length) {
        var ul = document.createElement("ul");
        lines.forEach(function (line) {
          var li = document.createElement("li");
          li.textContent = line;
          ul.appendChild(li);
        });
        result.appendChild(ul);
      }
    }

    function refreshTicket(data) {
      if (!page || !window.htmx) {
        return;
      }
      if (page.dataset.fieldsUrl) {
        window.htmx.ajax("GET", page.dataset.fieldsUrl, { target: "#ticket-fields", swap: "innerHTML" });
      }
      if (page.dataset.timelineUrl) {
        window.htmx.ajax("GET", page.dataset.timelineUrl, { target: "#timeline", swap: "innerHTML" });
      }
      // The reply's "keep status" choice names the status the macro may just have changed.
      var keep = document.querySelector("#reply-status option[value='']");
      if (keep && data.ticket && data.ticket.status_label) {
        keep.textContent = format(root.dataset.textKeepStatus, { status: data.ticket.status_label });
      }
    }

    function choose(index) {
      var macro = shown[index];
      if (!macro || busy) {
        return;
      }
      busy = true;
      close(false);
      var body = new FormData();
      fetch(macro.apply_url, {
        method: "POST", credentials: "same-origin", body: body,
        headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
      })
        .then(function (response) {
          return response.json().catch(function () { return {}; }).then(function (data) {
            return { ok: response.ok, data: data };
          });
        })
        .then(function (answer) {
          busy = false;
          var data = answer.data;
          if (!answer.ok) {
            showResult(root.dataset.textFailed, data.errors || [], true);
            return;
          }
          macro.usage_count += 1;
          if (data.is_internal) {
            switchToInternal();
          }
          insert(data.body);
          var changes = data.changes && data.changes.length ? data.changes : [root.dataset.textNoChanges];
          showResult(format(data.body ? root.dataset.textApplied : root.dataset.textAppliedNoReply,
                            { title: data.title }), changes, false);
          refreshTicket(data);
        })
        .catch(function () {
          busy = false;
          showResult(root.dataset.textFailed, [], true);
        });
    }

    toggle.addEventListener("click", function () {
      if (isOpen()) {
        close(true);
      } else {
        open();
      }
    });
    search.addEventListener("input", filter);
    search.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") {
        event.preventDefault();
        move(1);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        move(-1);
      } else if (event.key === "Enter") {
        event.preventDefault();
        choose(active);
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        close(true);
      }
    });
    list.addEventListener("mousedown", function (event) {
      // Keep the focus in the search box while clicking an option.
      event.preventDefault();
    });
    list.addEventListener("click", function (event) {
      var option = event.target.closest("[role=option]");
      if (option) {
        choose(Number(option.dataset.index));
      }
    });
    document.addEventListener("click", function (event) {
      if (isOpen() && !root.contains(event.target)) {
        close(false);
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.altKey && !event.ctrlKey && !event.metaKey && !event.shiftKey && event.code === "KeyM") {
        event.preventDefault();
        open();
      }
    });
  }

  /* ------------------------------------------------------------ the macro form's action rows */
  function setUpForm(form) {
    var rows = form.querySelector("[data-macro-action-rows]");
    var template = form.querySelector("template[data-macro-action-template]");
    var add = form.querySelector("[data-macro-action-add]");

    function sync(row) {
      var type = row.querySelector("[data-macro-action-type]").value;
      row.querySelectorAll("[data-macro-action-for]").forEach(function (widget) {
        var wanted = widget.dataset.macroActionFor.split(" ").indexOf(type) !== -1;
        widget.hidden = !wanted;
        widget.querySelectorAll("input, select").forEach(function (input) { input.disabled = !wanted; });
      });
    }

    function nextIndex() {
      var highest = -1;
      rows.querySelectorAll("[data-macro-action-row]").forEach(function (row) {
        highest = Math.max(highest, Number(row.dataset.index));
      });
      return highest + 1;
    }

    rows.querySelectorAll("[data-macro-action-row]").forEach(sync);
    rows.addEventListener("change", function (event) {
      if (event.target.matches("[data-macro-action-type]")) {
        sync(event.target.closest("[data-macro-action-row]"));
      }
    });
    rows.addEventListener("click", function (event) {
      var remove = event.target.closest("[data-macro-action-remove]");
      if (remove) {
        remove.closest("[data-macro-action-row]").remove();
        form.dispatchEvent(new Event("macro:changed"));
      }
    });
    if (add && template) {
      add.hidden = false;
      add.addEventListener("click", function () {
        var index = nextIndex();
        var html = template.innerHTML.replace(/__index__/g, String(index));
        var holder = document.createElement("tbody");
        holder.innerHTML = html;
        var row = holder.firstElementChild;
        rows.appendChild(row);
        sync(row);
        row.querySelector("[data-macro-action-type]").focus();
      });
    }

    // The sharing choice decides whether the team list matters.
    var teamField = form.querySelector("[data-macro-team-field]");
    function syncSharing() {
      var checked = form.querySelector("input[name=sharing]:checked");
      if (teamField) {
        teamField.hidden = !checked || checked.value !== "team";
      }
    }
    form.addEventListener("change", function (event) {
      if (event.target.name === "sharing") {
        syncSharing();
      }
    });
    syncSharing();

    // The live preview is an htmx request fired by "macro:changed" (see form.html).
    var fire = window.Helpdesk && window.Helpdesk.debounce ? window.Helpdesk.debounce(function () {
      form.dispatchEvent(new Event("macro:changed"));
    }, 400) : function () { form.dispatchEvent(new Event("macro:changed")); };
    form.addEventListener("input", fire);
    form.addEventListener("change", fire);
  }

  var picker = document.querySelector("[data-macro-picker]");
  if (picker) {
    setUpPicker(picker);
  }
  var form = document.querySelector("[data-macro-form]");
  if (form) {
    setUpForm(form);
  }
})();
