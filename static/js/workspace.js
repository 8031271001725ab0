/* helpdesk: behaviour shared by every page (no inline handlers: the CSP forbids them), and the
 * workspace's realtime connection.
 *
 * Realtime rule: a socket message only says *that* something changed (a ticket number, an event
 * type). Pages then fetch HTML fragments from role-scoped HTTP endpoints; nothing from a socket
 * payload is ever inserted into the page.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  /* ------------------------------------------------------------ generic behaviour */
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
      if (typeof target.form.requestSubmit === "function") {
        target.form.requestSubmit();
      } else {
        target.form.submit();
      }
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-toggle-sidebar]");
    var app = document.getElementById("app");
    if (toggle && app) {
      var open = app.classList.toggle("is-sidebar-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      return;
    }
    // Close open dropdowns when clicking elsewhere.
    document.querySelectorAll("details.dropdown[open]").forEach(function (details) {
      if (!details.contains(event.target)) {
        details.removeAttribute("open");
      }
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll("details.dropdown[open]").forEach(function (details) {
        details.removeAttribute("open");
      });
      var app = document.getElementById("app");
      if (app) {
        app.classList.remove("is-sidebar-open");
      }
    }
    // "/" focuses the search box, as in most support tools.
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !isTyping(event.target)) {
      var search = document.getElementById("global-search");
      if (search) {
        event.preventDefault();
        search.focus();
      }
    }
  });

  function isTyping(element) {
    if (!element) {
      return false;
    }
    var tag = element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  /* ------------------------------------------------------------ helpers for pages */
  function debounce(fn, wait) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () {
        timer = null;
        fn.apply(null, args);
      }, wait);
    };
  }

  function ticketNumberOf(event) {
    var ticket = event && event.ticket;
    var number = ticket ? Number(ticket.number) : NaN;
    return Number.isInteger(number) && number > 0 ? number : null;
  }

  /* ------------------------------------------------------------ realtime connection */
  var app = document.getElementById("app");
  var socket = null;
  var retryDelay = 1000;
  var subscriptions = new Set();
  var pending = [];
  var everOpened = false;

  function socketUrl() {
    var base = app.dataset.wsUrl;
    var path = app.dataset.wsPath || "/ws/agent/";
    if (base) {
      return base.replace(/\/$/, "") + path;
    }
    return (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + path;
  }

  function setIndicator(state) {
    var dot = document.querySelector("[data-live-indicator]");
    if (dot) {
      dot.dataset.state = state;
    }
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
    } else {
      pending.push(message);
    }
  }

  function connect() {
    setIndicator("connecting");
    try {
      socket = new WebSocket(socketUrl());
    } catch (error) {
      scheduleReconnect();
      return;
    }
    socket.addEventListener("open", function () {
      retryDelay = 1000;
      setIndicator("open");
      subscriptions.forEach(function (number) {
        socket.send(JSON.stringify({ type: "subscribe_ticket", number: number }));
      });
      var queued = pending;
      pending = [];
      queued.forEach(send);
      // After a reconnect, pages re-read what may have changed while the socket was down.
      document.dispatchEvent(new CustomEvent("hd:socket-open", { detail: { reconnected: everOpened } }));
      everOpened = true;
    });
    socket.addEventListener("message", function (message) {
      var data;
      try {
        data = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (data && typeof data.type === "string") {
        document.dispatchEvent(new CustomEvent("hd:realtime", { detail: data }));
      }
    });
    socket.addEventListener("close", function (event) {
      setIndicator("closed");
      socket = null;
      // 4401/4403: not signed in or not staff; reconnecting will not help.
      if (event.code !== 4401 && event.code !== 4403) {
        scheduleReconnect();
      }
    });
  }

  function scheduleReconnect() {
    setTimeout(connect, retryDelay + Math.floor(Math.random() * 500));
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  window.Helpdesk = {
    debounce: debounce,
    ticketNumberOf: ticketNumberOf,
    realtime: {
      send: send,
      subscribeTicket: function (number) {
        subscriptions.add(number);
        if (socket && socket.readyState === WebSocket.OPEN) {
          socket.send(JSON.stringify({ type: "subscribe_ticket", number: number }));
        }
      },
      isOpen: function () {
        return Boolean(socket && socket.readyState === WebSocket.OPEN);
      }
    }
  };

  if (app && app.dataset.wsPath && "WebSocket" in window) {
    connect();
  }

  /* ------------------------------------------------------------ SLA notices */
  /* `sla.warning` / `sla.breached` reach the agents responsible for a ticket (its assignee, else its
   * team; a manager the policy names). The toast's words come from the page (data attributes on
   * #app, translated by the server); from the socket only the ticket number is used, as a number. */
  var MAX_TOASTS = 4;
  var TOAST_SECONDS = { "sla.warning": 15, "sla.breached": 60, "ticket.mentioned": 30 };

  function toastRegion() {
    var region = document.getElementById("toasts");
    if (!region) {
      region = document.createElement("div");
      region.id = "toasts";
      region.className = "toasts";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      document.body.appendChild(region);
    }
    return region;
  }

  function ticketUrl(number) {
    var pattern = (app && app.dataset.ticketUrl) || "/agent/tickets/0/";
    return pattern.replace(/\/0\/$/, "/" + number + "/");
  }

  function showSlaToast(data) {
    var number = ticketNumberOf(data);
    if (!number) {
      return;
    }
    var isBreach = data.type === "sla.breached";
    var isMention = data.type === "ticket.mentioned";
    var dataset = (app && app.dataset) || {};
    var template = isMention
      ? dataset.mentionText || "You were mentioned on #%(number)s"
      : isBreach
        ? dataset.slaBreachedText || "SLA breached on #%(number)s"
        : dataset.slaWarningText || "SLA warning on #%(number)s";
    var region = toastRegion();
    var toast = document.createElement("div");
    // A mention (tickets.collaboration) is news, not an alarm: the plain toast.
    toast.className = "toast" + (isMention ? "" : isBreach ? " toast--danger" : " toast--warning");
    toast.dataset[isMention ? "mentionToast" : "slaToast"] = data.type;
    var link = document.createElement("a");
    link.className = "toast__link";
    link.href = ticketUrl(number);
    link.textContent = template.replace("%(number)s", String(number));
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast__close";
    close.setAttribute("aria-label", dataset.toastDismissText || "Dismiss");
    close.textContent = "\u00d7";
    close.addEventListener("click", function () {
      toast.remove();
    });
    toast.appendChild(link);
    toast.appendChild(close);
    region.appendChild(toast);
    // A burst (a backlog fired at once) keeps only the newest few on screen.
    while (region.children.length > MAX_TOASTS) {
      region.removeChild(region.firstChild);
    }
    setTimeout(function () {
      toast.remove();
    }, TOAST_SECONDS[data.type] * 1000);
  }

  document.addEventListener("hd:realtime", function (event) {
    var data = event.detail;
    if (data && (data.type === "sla.warning" || data.type === "sla.breached" || data.type === "ticket.mentioned")) {
      showSlaToast(data);
    }
  });

  /* ------------------------------------------------------------ sidebar counts */
  if (app && app.dataset.sidebarUrl && window.htmx) {
    var refreshSidebar = debounce(function () {
      var params = new URLSearchParams(window.location.search);
      var view = params.get("view");
      var url = app.dataset.sidebarUrl + (view ? "?view=" + encodeURIComponent(view) : "");
      window.htmx.ajax("GET", url, { target: "#sidebar-views", swap: "innerHTML" });
    }, 3000);
    document.addEventListener("hd:realtime", function (event) {
      if (ticketNumberOf(event.detail) && /^ticket\./.test(event.detail.type)) {
        refreshSidebar();
      }
    });
    document.addEventListener("hd:socket-open", function (event) {
      if (event.detail && event.detail.reconnected) {
        refreshSidebar();
      }
    });
  }
})();
