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

  document.addEventListener("hd:realtime", function (event) {
    var data = event.detail;
    if (data && data.type === "phone.ringing" && data.call && isCallId(data.call.id)) {
      showPop(data.call.id);
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
