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
