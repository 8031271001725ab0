/* SLA countdowns (queue column, ticket badge and SLA panel): the server renders each one; this
   keeps the text and colour current every 30 s without a request. The texts come translated from
   the page (#sla-texts, written by the `sla_texts` tag) and match tickets/templatetags/workspace.py. */
(function () {
  "use strict";

  var texts = document.getElementById("sla-texts");
  if (!texts) {
    return;
  }
  var TONES = ["sla--ok", "sla--warning", "sla--breached"];

  function fill(format, values) {
    return format.replace(/%\((\w+)\)s/g, function (_match, name) { return String(values[name]); });
  }

  function countdown(seconds) {
    var minutes = Math.ceil(Math.abs(seconds) / 60);
    var text;
    if (minutes < 60) {
      text = fill(texts.dataset.minutes, { minutes: minutes });
    } else if (minutes < 24 * 60) {
      text = fill(texts.dataset.hours, { hours: Math.floor(minutes / 60), minutes: minutes % 60 });
    } else {
      text = fill(texts.dataset.days, { days: Math.floor(minutes / (24 * 60)), hours: Math.floor(minutes % (24 * 60) / 60) });
    }
    return seconds < 0 ? fill(texts.dataset.overdue, { time: text }) : text;
  }

  var pending = null;

  function update() {
    var now = Date.now();
    var nextChange = Infinity;
    document.querySelectorAll("time[data-sla-countdown]").forEach(function (element) {
      var due = Date.parse(element.getAttribute("datetime"));
      if (isNaN(due)) {
        return;
      }
      var warning = element.dataset.slaWarning ? Date.parse(element.dataset.slaWarning) : NaN;
      [due, warning].forEach(function (instant) {
        if (instant > now) {
          nextChange = Math.min(nextChange, instant - now);
        }
      });
      var tone = "sla--ok";
      // A breached timer was rendered red; it stays red.
      if (element.classList.contains("sla--breached") || due <= now) {
        tone = "sla--breached";
      } else if (!isNaN(warning) && warning <= now) {
        tone = "sla--warning";
      }
      TONES.forEach(function (name) { element.classList.toggle(name, name === tone); });
      var text = countdown((due - now) / 1000);
      if (element.textContent !== text) {
        element.textContent = text;
      }
    });
    // Change colour the moment a warning point or due time passes, not up to 30 s later.
    if (pending !== null) {
      window.clearTimeout(pending);
      pending = null;
    }
    if (nextChange < 30000) {
      pending = window.setTimeout(update, nextChange + 50);
    }
  }

  window.setInterval(update, 30000);
  update();
  // Rows and panels swapped in later (live updates) are rendered current; a new due time among
  // them is picked up by the next tick.
  document.body.addEventListener("htmx:afterSwap", update);
  window.HelpdeskSla = { update: update };
})();
