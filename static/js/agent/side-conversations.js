/* The ticket page's side-conversations panel: form errors swap in, and the panel (and the timeline,
   which shows their audit events) follow the ticket's `side_conversation.updated` realtime events. */
(function () {
  "use strict";

  var page = document.getElementById("ticket");
  var panel = document.getElementById("side-conversations");
  if (!page || !panel || !window.Helpdesk || !window.htmx) {
    return;
  }
  var Helpdesk = window.Helpdesk;
  var number = Number(page.dataset.number);

  // The views answer a refused form with the panel and status 400; htmx swaps only 2xx by default.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 400 && panel.contains(event.detail.target)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  function isTyping() {
    var fields = panel.querySelectorAll("textarea, input[type=text], input[type=email]");
    for (var i = 0; i < fields.length; i += 1) {
      if (fields[i].value.trim() && fields[i].value !== fields[i].defaultValue) {
        return true;
      }
    }
    return false;
  }

  var refreshPanel = Helpdesk.debounce(function () {
    if (isTyping()) {
      return; // never wipe what the agent is writing; the next event (or their own send) refreshes
    }
    var opened = panel.querySelector("[data-side-conversation]");
    var url = opened ? opened.dataset.url : panel.dataset.url;
    window.htmx.ajax("GET", url, { target: "#side-conversations", swap: "innerHTML" });
  }, 300);
  var refreshTimeline = Helpdesk.debounce(function () {
    window.htmx.ajax("GET", page.dataset.timelineUrl, { target: "#timeline", swap: "innerHTML" });
  }, 300);

  document.addEventListener("hd:realtime", function (event) {
    var data = event.detail;
    if (data.type !== "side_conversation.updated" || Helpdesk.ticketNumberOf(data) !== number) {
      return;
    }
    refreshPanel();
    if (data.side_conversation && data.side_conversation.change !== "delivery") {
      refreshTimeline();
    }
  });
  document.addEventListener("hd:socket-open", function (event) {
    if (event.detail && event.detail.reconnected) {
      refreshPanel();
    }
  });
})();
