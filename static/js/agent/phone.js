/* Phone screen-pops: a `phone.ringing` event on the workspace socket (workspace.js dispatches every
 * socket event as `hd:realtime`) pops up the call's card: the caller, their open tickets and the
 * "log this call" form. The socket gives only the call id (a number); the card itself is fetched
 * from /agent/phone/calls/<id>/pop/, which checks that this agent may see the call.
 *
 * Calls still ringing or in progress come back on every page (calls/waiting/), so following a link
 * in a pop-up does not lose the call; a pop-up the agent dismissed stays dismissed for the tab.
 */
(function () {
  "use strict";

  var region = document.getElementById("phone-pops");
  if (!region || !region.dataset.popUrl) {
    return;
  }
  var MAX_POPS = 3;
  var DISMISSED_KEY = "helpdesk.phone.dismissed";

  function popUrl(callId) {
    return region.dataset.popUrl.replace(/0\/pop\/$/, String(callId) + "/pop/");
  }

  function isCallId(value) {
    return typeof value === "number" && Math.floor(value) === value && value > 0;
  }

  function dismissed() {
    try {
      return JSON.parse(window.sessionStorage.getItem(DISMISSED_KEY) || "[]");
    } catch (error) {
      return [];
    }
  }

  function dismiss(callId) {
    var ids = dismissed().filter(function (id) { return id !== callId; });
    ids.push(callId);
    try {
      window.sessionStorage.setItem(DISMISSED_KEY, JSON.stringify(ids.slice(-50)));
    } catch (error) { /* private mode: dismissed for this page only */ }
  }

  function getHtml(url) {
    return fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) {
        return response.ok ? response.text() : null;
      });
  }

  function existing(callId) {
    return region.querySelector('[data-phone-pop="' + callId + '"]');
  }

  /* Adds the pop-ups in `html` (server-rendered cards) that are not shown or dismissed yet. */
  function addPops(html) {
    if (!html) {
      return;
    }
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var skip = dismissed();
    Array.prototype.slice.call(holder.querySelectorAll("[data-phone-pop]")).forEach(function (pop) {
      var callId = Number(pop.dataset.phonePop);
      if (existing(callId) || skip.indexOf(callId) !== -1) {
        return;
      }
      while (region.children.length >= MAX_POPS) {
        region.removeChild(region.firstElementChild);
      }
      region.appendChild(pop);
      if (window.htmx) {
        window.htmx.process(pop);
      }
    });
  }

  function showPop(callId) {
    if (!existing(callId)) {
      getHtml(popUrl(callId)).then(addPops).catch(function () { /* the next page load shows it */ });
    }
  }

  function showWaiting() {
    if (region.dataset.waitingUrl) {
      getHtml(region.dataset.waitingUrl).then(addPops).catch(function () { /* nothing waiting shown */ });
    }
  }

  /* The call was answered, ended or missed: only the state line of its open pop-up is refreshed
   * (from the server's card, translated there), so notes being typed into the form stay. */
  function refreshState(callId) {
    var pop = existing(callId);
    if (!pop) {
      return;
    }
    getHtml(popUrl(callId))
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

  document.addEventListener("hd:socket-open", function (event) {
    // After a reconnect, calls that rang while the socket was down.
    if (event.detail && event.detail.reconnected) {
      showWaiting();
    }
  });

  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-phone-pop-close]");
    if (close) {
      var pop = close.closest("[data-phone-pop]");
      if (pop) {
        dismiss(Number(pop.dataset.phonePop));
        pop.remove();
      }
    }
  });

  showWaiting();
})();
