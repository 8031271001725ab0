/* The ticket page: composer behaviour, live timeline, and presence (who else is viewing or typing). */
(function () {
  "use strict";

  var page = document.getElementById("ticket");
  if (!page || !window.Helpdesk) {
    return;
  }
  var Helpdesk = window.Helpdesk;
  var number = Number(page.dataset.number);
  var composer = document.getElementById("composer");

  /* ------------------------------------------------------------ composer */
  function syncComposer() {
    if (!composer) {
      return;
    }
    var checked = composer.querySelector("input[name=visibility]:checked");
    var mode = checked ? checked.value : "public";
    composer.classList.toggle("composer--internal", mode === "internal");
    composer.querySelectorAll("[data-when]").forEach(function (element) {
      element.hidden = element.dataset.when !== mode;
    });
    var submit = composer.querySelector("[data-submit]");
    if (submit) {
      submit.textContent = mode === "internal" ? submit.dataset.labelInternal : submit.dataset.labelPublic;
    }
  }

  if (composer) {
    composer.addEventListener("change", function (event) {
      if (event.target.name === "visibility") {
        syncComposer();
      }
      if (event.target.type === "file") {
        var limit = Number(composer.dataset.maxUpload || 0);
        var files = Array.prototype.slice.call(event.target.files || []);
        var tooLarge = files.filter(function (file) { return limit && file.size > limit; });
        if (tooLarge.length) {
          window.alert(tooLarge[0].name + " " + composer.dataset.tooLarge);
          event.target.value = "";
        }
      }
    });
    composer.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });
    composer.addEventListener("submit", function () {
      var submit = composer.querySelector("[data-submit]");
      if (submit) {
        // Keep the value in the request, but prevent a double post.
        setTimeout(function () { submit.disabled = true; }, 0);
      }
    });
    syncComposer();
  }

  /* ------------------------------------------------------------ fields form: remember edits */
  var fieldsDirty = false;
  document.addEventListener("input", function (event) {
    if (event.target.closest("[data-fields-form]")) {
      fieldsDirty = true;
    }
  });
  document.addEventListener("change", function (event) {
    if (event.target.closest("[data-fields-form]")) {
      fieldsDirty = true;
    }
  });

  /* ------------------------------------------------------------ presence */
  var realtime = Helpdesk.realtime;
  var state = "viewing";
  var typingTimer = null;
  var lastTypingSent = 0;

  function announce(newState) {
    state = newState;
    realtime.send({ type: "presence", number: number, state: newState });
  }

  realtime.subscribeTicket(number);
  document.addEventListener("hd:realtime", function (event) {
    var data = event.detail;
    if (data.type === "subscribed" && Number(data.number) === number) {
      announce(state);
    }
  });
  setInterval(function () {
    if (realtime.isOpen() && document.visibilityState !== "hidden") {
      announce(state);
    }
  }, 15000);

  var textarea = composer ? composer.querySelector("textarea[data-typing]") : null;
  if (textarea) {
    textarea.addEventListener("input", function () {
      var now = Date.now();
      if (state !== "typing" || now - lastTypingSent > 3000) {
        lastTypingSent = now;
        announce("typing");
      }
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { announce("viewing"); }, 6000);
    });
  }
  window.addEventListener("pagehide", function () {
    realtime.send({ type: "presence", number: number, state: "left" });
  });

  /* ------------------------------------------------------------ live fragments */
  var refreshTimeline = Helpdesk.debounce(function () {
    window.htmx.ajax("GET", page.dataset.timelineUrl, { target: "#timeline", swap: "innerHTML" });
  }, 300);
  var refreshPresence = Helpdesk.debounce(function () {
    window.htmx.ajax("GET", page.dataset.presenceUrl, { target: "#presence", swap: "innerHTML" });
  }, 200);
  var refreshFields = Helpdesk.debounce(function () {
    if (fieldsDirty) {
      var stale = document.querySelector("[data-fields-stale]");
      if (stale) {
        stale.hidden = false;
      }
      return;
    }
    window.htmx.ajax("GET", page.dataset.fieldsUrl, { target: "#ticket-fields", swap: "innerHTML" });
  }, 300);

  document.addEventListener("hd:realtime", function (event) {
    var data = event.detail;
    if (data.type === "presence") {
      if (Number(data.number) === number) {
        refreshPresence();
      }
      return;
    }
    if (Helpdesk.ticketNumberOf(data) !== number) {
      return;
    }
    if (/^ticket\.(updated|message_added|merged)$/.test(data.type)) {
      refreshTimeline();
    }
    if (/^ticket\.(updated|merged)$/.test(data.type) || (data.changes && Object.keys(data.changes).length)) {
      refreshFields();
    }
  });
  document.addEventListener("hd:socket-open", function (event) {
    if (event.detail && event.detail.reconnected) {
      refreshTimeline();
      refreshFields();
      refreshPresence();
    } else if (document.querySelector('#timeline [data-delivery-state="queued"]')) {
      // A reply mailed right after it was sent usually leaves "queued" before this page's socket
      // is subscribed (the worker takes well under a second); its "sent" event went unheard.
      refreshTimeline();
    }
  });
  // A presence entry expires on its own; re-read the banner now and then so stale names disappear.
  setInterval(function () {
    if (document.querySelector("#presence [data-presence-user]")) {
      refreshPresence();
    }
  }, 20000);
})();
