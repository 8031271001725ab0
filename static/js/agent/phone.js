/* Phone screen-pops: a `phone.ringing` event on the workspace socket (workspace.js dispatches every
 * socket event as `hd:realtime`) pops up the call's card: the caller, their open tickets and the
 * "log this call" form. The socket gives only the call id (a number); the card itself is fetched
 * from /agent/phone/calls/<id>/pop/, which checks that this agent may see the call.
 */
(function () {
  "use strict";

  var region = document.getElementById("phone-pops");
  if (!region || !region.dataset.popUrl) {
    return;
  }
  var MAX_POPS = 3;

  function popUrl(callId) {
    return region.dataset.popUrl.replace(/0\/pop\/$/, String(callId) + "/pop/");
  }

  function isCallId(value) {
    return typeof value === "number" && Math.floor(value) === value && value > 0;
  }

  function showPop(callId) {
    if (region.querySelector('[data-phone-pop="' + callId + '"]')) {
      return;
    }
    fetch(popUrl(callId), { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (!html || region.querySelector('[data-phone-pop="' + callId + '"]')) {
          return;
        }
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var pop = holder.firstElementChild;
        if (!pop) {
          return;
        }
        while (region.children.length >= MAX_POPS) {
          region.removeChild(region.firstElementChild);
        }
        region.appendChild(pop);
        if (window.htmx) {
          window.htmx.process(pop);
        }
        region.classList.add("is-ringing");
      })
      .catch(function () { /* the next event or a reload shows it */ });
  }

  /* The call was answered, ended or missed: only the state line of its open pop-up is refreshed
   * (from the server's card, translated there), so notes being typed into the form stay. */
  function refreshState(callId) {
    var pop = region.querySelector('[data-phone-pop="' + callId + '"]');
    if (!pop) {
      return;
    }
    fetch(popUrl(callId), { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (!html) {
          return;
        }
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("[data-call-state]");
        var current = pop.querySelector("[data-call-state]");
        if (fresh && current) {
          current.replaceWith(fresh);
        }
      })
      .catch(function () { /* the state line stays as it was */ });
  }

  document.addEventListener("hd:realtime", function (event) {
    var data = event.detail;
    if (!data || !data.call || !isCallId(data.call.id)) {
      return;
    }
    if (data.type === "phone.ringing") {
      showPop(data.call.id);
    } else if (data.type === "phone.updated") {
      refreshState(data.call.id);
    }
  });

  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-phone-pop-close]");
    if (close) {
      var pop = close.closest("[data-phone-pop]");
      if (pop) {
        pop.remove();
      }
      if (!region.children.length) {
        region.classList.remove("is-ringing");
      }
    }
  });
})();
