/* The queue page: row selection for bulk actions, and live updates of rows and the list. */
(function () {
  "use strict";

  var results = document.getElementById("queue-results");
  var bulkForm = document.getElementById("bulk-form");
  if (!results || !window.Helpdesk) {
    return;
  }
  var Helpdesk = window.Helpdesk;

  /* ------------------------------------------------------------ selection */
  function rowChecks() {
    return Array.prototype.slice.call(results.querySelectorAll("input[data-row-check]"));
  }

  function selectedNumbers() {
    return rowChecks().filter(function (box) { return box.checked; }).map(function (box) { return box.value; });
  }

  function updateSelection() {
    var boxes = rowChecks();
    var selected = 0;
    boxes.forEach(function (box) {
      var row = box.closest("tr");
      if (row) {
        row.classList.toggle("is-selected", box.checked);
      }
      if (box.checked) {
        selected += 1;
      }
    });
    var all = results.querySelector("input[data-select-all]");
    if (all) {
      all.checked = boxes.length > 0 && selected === boxes.length;
      all.indeterminate = selected > 0 && selected < boxes.length;
    }
    if (bulkForm) {
      var count = bulkForm.querySelector("[data-selected-count]");
      if (count) {
        count.textContent = String(selected);
      }
      var submit = bulkForm.querySelector("[data-bulk-submit]");
      if (submit) {
        submit.disabled = selected === 0;
      }
      bulkForm.classList.toggle("is-empty", selected === 0);
    }
  }

  results.addEventListener("change", function (event) {
    if (event.target.matches("input[data-select-all]")) {
      rowChecks().forEach(function (box) { box.checked = event.target.checked; });
    }
    updateSelection();
  });
  updateSelection();

  /* ------------------------------------------------------------ live updates */
  var notice = document.querySelector("[data-live-notice]");
  var isFirstPage = results.dataset.firstPage === "true";
  var rowQuery = results.dataset.rowQuery || "";

  function rowUrl(number) {
    return results.dataset.rowUrlTemplate.replace("/0/", "/" + number + "/") + rowQuery;
  }

  function refreshRow(row, number) {
    var wasChecked = Boolean(row.querySelector("input[data-row-check]:checked"));
    window.htmx.ajax("GET", rowUrl(number), { target: row, swap: "outerHTML" }).then(function () {
      var fresh = document.getElementById("ticket-row-" + number);
      if (fresh) {
        var box = fresh.querySelector("input[data-row-check]");
        if (box) {
          box.checked = wasChecked;
        }
        fresh.classList.add("is-flash");
      }
      updateSelection();
    });
  }

  var refreshList = Helpdesk.debounce(function () {
    // Never pull the rows from under a selection in progress; offer a refresh instead.
    if (selectedNumbers().length > 0) {
      if (notice) {
        notice.hidden = false;
      }
      return;
    }
    window.htmx.ajax("GET", results.dataset.fragmentUrl, { target: "#queue-results", swap: "innerHTML" }).then(updateSelection);
  }, 800);

  document.addEventListener("hd:socket-open", function (event) {
    if (!event.detail || !event.detail.reconnected) {
      return;
    }
    if (isFirstPage) {
      refreshList();
    } else if (notice) {
      notice.hidden = false;
    }
  });

  document.addEventListener("hd:realtime", function (event) {
    var data = event.detail;
    if (!/^ticket\.(created|updated|message_added|merged)$/.test(data.type)) {
      return;
    }
    var number = Helpdesk.ticketNumberOf(data);
    if (!number) {
      return;
    }
    var row = document.getElementById("ticket-row-" + number);
    if (row) {
      refreshRow(row, number);
    } else if (isFirstPage) {
      refreshList();
    } else if (notice) {
      notice.hidden = false;
    }
  });
})();
