/* Live chat in the agent workspace.
 *
 * On every agent page: the chat status toggle (online / away / offline) with its heartbeat, and the
 * chats offered to this agent (accept / decline before the countdown ends), announced by a toast,
 * an optional sound and a count in the window title. Offers arrive as `chat.offered` on the
 * workspace socket (workspace.js dispatches them as `hd:realtime`).
 *
 * On the console (/agent/chat/): the agent's chats in tabs over the chat socket (ws/chat/agent/):
 * live transcripts, typing both ways, read receipts, Enter to send, a knowledge-base search.
 *
 * As everywhere in the workspace, a socket event only says *that* something changed; what is shown
 * comes from the server as HTML fragments (console_views.py), and names come from the page.
 */
(function () {
  "use strict";

  var presenceForm = document.querySelector("[data-chat-presence]");
  if (!presenceForm || !window.fetch) return;

  var HEARTBEAT_MS = 15000;
  var TYPING_IDLE_MS = 4000;
  var TYPING_RESEND_MS = 3000;
  var SOUND_KEY = "helpdesk.chat.sound";

  var texts = presenceForm.dataset;
  var select = presenceForm.querySelector("[data-chat-presence-select]");
  var status = presenceForm.dataset.status || "offline";
  var consoleRoot = document.getElementById("chat-console");
  var baseTitle = document.title;
  var offerCount = 0;
  var unreadChats = {};
  var knownOffers = {};
  var chatSocket = null;

  /* ------------------------------------------------------------ helpers */
  function csrfToken() {
    var input = presenceForm.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" }
    });
  }

  function getHtml(url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text();
    });
  }

  function format(template, values) {
    return String(template || "").replace(/%\((\w+)\)s/g, function (match, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : match;
    });
  }

  function chatIdOf(data) {
    var id = data ? Number(data.chat) : NaN;
    return Number.isInteger(id) && id > 0 ? id : null;
  }

  function updateTitle() {
    var count = offerCount + Object.keys(unreadChats).length;
    document.title = (count ? "(" + count + ") " : "") + baseTitle;
    document.querySelectorAll("[data-chat-badge]").forEach(function (badge) {
      badge.textContent = count ? String(count) : "";
      badge.hidden = !count;
    });
  }

  function socketUrl(path) {
    var app = document.getElementById("app");
    var base = app && app.dataset.wsUrl;
    if (base) return base.replace(/\/$/, "") + path;
    return (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + path;
  }

  /* ------------------------------------------------------------ notifications */
  var soundBox = presenceForm.querySelector("[data-chat-sound]");
  var soundLabel = presenceForm.querySelector("[data-chat-sound-label]");
  var audio = null;
  if (soundBox && soundLabel) {
    soundLabel.hidden = false;
    try { soundBox.checked = window.localStorage.getItem(SOUND_KEY) === "1"; } catch (error) { /* private mode */ }
    soundBox.addEventListener("change", function () {
      try { window.localStorage.setItem(SOUND_KEY, soundBox.checked ? "1" : "0"); } catch (error) { /* private mode */ }
      if (soundBox.checked) beep(); // lets the browser allow sound from now on (a user gesture)
    });
  }

  function beep() {
    if (!soundBox || !soundBox.checked) return;
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      audio = audio || new Context();
      var oscillator = audio.createOscillator();
      var gain = audio.createGain();
      oscillator.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
      oscillator.connect(gain);
      gain.connect(audio.destination);
      oscillator.start();
      oscillator.stop(audio.currentTime + 0.4);
    } catch (error) { /* no sound is fine */ }
  }

  function toast(text, href) {
    var region = document.getElementById("toasts");
    if (!region) {
      region = document.createElement("div");
      region.id = "toasts";
      region.className = "toasts";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      document.body.appendChild(region);
    }
    var item = document.createElement("div");
    item.className = "toast toast--chat";
    item.dataset.chatToast = "";
    var link = document.createElement("a");
    link.className = "toast__link";
    link.href = href;
    link.textContent = text;
    item.appendChild(link);
    region.appendChild(item);
    setTimeout(function () { item.remove(); }, 15000);
  }

  /* ------------------------------------------------------------ offers (every page) */
  var offersRegion = document.createElement("div");
  offersRegion.className = "chat-offers";
  offersRegion.id = "chat-offers";
  offersRegion.setAttribute("aria-live", "assertive");
  document.body.appendChild(offersRegion);

  function refreshOffers(announce) {
    if (status === "offline" && !announce) {
      offersRegion.textContent = "";
      offerCount = 0;
      updateTitle();
      return;
    }
    getHtml(texts.offersUrl).then(function (html) {
      offersRegion.innerHTML = html;
      var list = offersRegion.querySelector("[data-chat-offers-list]");
      offerCount = list ? Number(list.dataset.count || 0) : 0;
      var fresh = false;
      var seen = {};
      offersRegion.querySelectorAll("[data-chat-offer]").forEach(function (offer) {
        seen[offer.dataset.chatOffer] = true;
        if (!knownOffers[offer.dataset.chatOffer]) fresh = true;
      });
      knownOffers = seen;
      if (fresh && announce) {
        beep();
        toast(texts.offerToastText, texts.consoleUrl);
      }
      tickCountdowns();
      updateTitle();
    }).catch(function () { /* the next event or heartbeat tries again */ });
  }

  function tickCountdowns() {
    var now = Date.now();
    offersRegion.querySelectorAll("[data-chat-offer]").forEach(function (offer) {
      var left = Math.ceil((Date.parse(offer.dataset.expiresAt) - now) / 1000);
      var label = offer.querySelector("[data-countdown]");
      if (left <= 0) {
        offer.remove();
        offerCount = Math.max(0, offerCount - 1);
        updateTitle();
      } else if (label) {
        label.textContent = format(texts.countdownText, { seconds: left });
      }
    });
  }
  setInterval(tickCountdowns, 1000);

  offersRegion.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-chat-async")) return; // Accept navigates to the console
    event.preventDefault();
    var offer = form.closest("[data-chat-offer]");
    post(form.action, new FormData(form)).then(function () {
      if (offer) offer.remove();
      refreshOffers(false);
    });
  });

  /* ------------------------------------------------------------ presence */
  function showStatus(next) {
    status = next;
    presenceForm.dataset.status = next;
    if (select.value !== next) select.value = next;
    if (next === "offline") {
      refreshOffers(false);
    }
  }

  function setStatus(next) {
    var body = new FormData();
    body.append("status", next);
    return post(presenceForm.action, body).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }).then(function (data) {
      showStatus(data.status);
      if (data.status !== "offline") refreshOffers(false);
    }).catch(function () { select.value = status; });
  }

  select.addEventListener("change", function () { setStatus(select.value); });
  presenceForm.addEventListener("submit", function (event) {
    event.preventDefault();
    setStatus(select.value);
  });

  function heartbeat() {
    if (status === "offline") return;
    if (chatSocket && chatSocket.readyState === WebSocket.OPEN) {
      chatSocket.send(JSON.stringify({ type: "heartbeat" }));
      return;
    }
    var body = new FormData();
    body.append("heartbeat", "1");
    post(presenceForm.action, body).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (data && data.status) showStatus(data.status);
    }).catch(function () { /* the next beat tries again */ });
  }
  setInterval(heartbeat, HEARTBEAT_MS);

  document.addEventListener("hd:realtime", function (event) {
    var data = event.detail || {};
    if (data.type === "chat.offered") {
      refreshOffers(true);
    } else if (data.type === "chat.offer_withdrawn") {
      refreshOffers(false);
    } else if (data.type === "chat.queue" && consoleRoot) {
      refreshQueue();
    }
  });
  document.addEventListener("hd:socket-open", function () {
    // Offers made while the socket was down (or before this page loaded) are shown now.
    if (status !== "offline") refreshOffers(false);
  });
  refreshOffers(false);

  /* ------------------------------------------------------------ my chats, away from the console */
  /* The console remembers (per browser tab) which chats the agent has open; on other agent pages
   * a visitor's new message in one of them is announced like an offer (toast, sound, title). */
  var OPEN_CHATS_KEY = "helpdesk.chat.open";

  function rememberOpenChats(ids) {
    try { window.sessionStorage.setItem(OPEN_CHATS_KEY, ids.join(",")); } catch (error) { /* private mode */ }
  }

  function watchChatsElsewhere() {
    var ids = [];
    try {
      ids = (window.sessionStorage.getItem(OPEN_CHATS_KEY) || "").split(",").map(Number).filter(function (id) {
        return Number.isInteger(id) && id > 0;
      });
    } catch (error) { /* private mode */ }
    if (!ids.length || status === "offline" || !("WebSocket" in window)) return;
    var retry = 1000;
    (function open() {
      var socket = new WebSocket(socketUrl(texts.chatWsPath));
      socket.addEventListener("open", function () {
        retry = 1000;
        chatSocket = socket;
        ids.forEach(function (id) { socket.send(JSON.stringify({ type: "join", chat: id })); });
      });
      socket.addEventListener("message", function (message) {
        var data;
        try { data = JSON.parse(message.data); } catch (error) { return; }
        var chatId = chatIdOf(data);
        if (data && data.type === "heartbeat" && data.status) {
          showStatus(data.status);
        } else if (data && data.type === "joined" && chatId) {
          presenceForm.dataset.watching = ((presenceForm.dataset.watching || "") + " " + chatId).trim();
        } else if (data && data.type === "message" && data.author === "visitor" && chatId) {
          unreadChats[chatId] = true;
          updateTitle();
          beep();
          toast(texts.messageToastText, texts.consoleUrl + "?chat=" + chatId);
        }
      });
      socket.addEventListener("close", function (event) {
        if (chatSocket === socket) chatSocket = null;
        if (event.code === 4401 || event.code === 4403) return;
        setTimeout(open, retry + Math.floor(Math.random() * 500));
        retry = Math.min(retry * 2, 30000);
      });
    })();
  }

  /* ============================================================ the console page */
  if (!consoleRoot) {
    watchChatsElsewhere();
    return;
  }

  var tabsNav = document.getElementById("chat-tabs");
  var panes = document.getElementById("chat-panes");
  var selected = Number(consoleRoot.dataset.selected) || null;
  var joined = {};
  var typingTimers = {};

  function refreshQueue() {
    getHtml(consoleRoot.dataset.queueUrl).then(function (html) {
      document.getElementById("chat-queue").innerHTML = html;
    }).catch(function () {});
  }
  var refreshQueueSoon = window.Helpdesk ? window.Helpdesk.debounce(refreshQueue, 300) : refreshQueue;

  function refreshTabs() {
    return getHtml(consoleRoot.dataset.tabsUrl + (selected ? "?chat=" + selected : "")).then(function (html) {
      tabsNav.innerHTML = html;
      // Keep the currently open chat as a tab even when it is no longer active (ended, transferred).
      if (selected && !tabsNav.querySelector('[data-chat-tab="' + selected + '"]')) {
        var pane = paneOf(selected);
        if (pane) pane.dataset.orphan = "1";
      }
      markUnreadTabs();
      rememberTabs();
      tabsNav.querySelectorAll("[data-chat-tab]").forEach(function (tab) { join(Number(tab.dataset.chatTab)); });
    }).catch(function () {});
  }

  function paneOf(chatId) {
    return panes.querySelector('[data-chat-pane="' + chatId + '"]');
  }

  function rememberTabs() {
    var ids = [];
    tabsNav.querySelectorAll("[data-chat-tab]:not(.chat-tab--ended)").forEach(function (tab) {
      ids.push(Number(tab.dataset.chatTab));
    });
    rememberOpenChats(ids);
  }

  function markUnreadTabs() {
    tabsNav.querySelectorAll("[data-chat-tab]").forEach(function (tab) {
      var id = tab.dataset.chatTab;
      var dot = tab.querySelector("[data-chat-unread]");
      if (dot) dot.hidden = !unreadChats[id];
      if (Number(id) === selected) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    });
    updateTitle();
  }

  function showPane(chatId) {
    selected = chatId;
    consoleRoot.dataset.selected = String(chatId);
    delete unreadChats[chatId];
    panes.querySelectorAll("[data-chat-pane]").forEach(function (pane) {
      pane.hidden = Number(pane.dataset.chatPane) !== chatId;
    });
    var empty = panes.querySelector("[data-chat-empty]");
    if (empty) empty.remove();
    markUnreadTabs();
    var pane = paneOf(chatId);
    if (pane) {
      scrollToEnd(pane);
      sendRead(pane);
      var textarea = pane.querySelector("[data-chat-composer] textarea");
      if (textarea) textarea.focus();
    }
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", "?chat=" + chatId);
    }
  }

  function loadPane(chatId, url) {
    return getHtml(url).then(function (html) {
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var pane = holder.querySelector("[data-chat-pane]");
      if (!pane) return;
      var old = paneOf(chatId);
      if (old) old.replaceWith(pane); else panes.appendChild(pane);
      setUpPane(pane);
      join(chatId);
    });
  }

  tabsNav.addEventListener("click", function (event) {
    var tab = event.target.closest("[data-chat-tab]");
    if (!tab || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    var chatId = Number(tab.dataset.chatTab);
    if (paneOf(chatId)) {
      showPane(chatId);
    } else {
      loadPane(chatId, tab.dataset.paneUrl).then(function () { showPane(chatId); });
    }
  });

  /* ------------------------------------------------------------ transcripts */
  function scrollToEnd(pane) {
    var transcript = pane.querySelector("[data-chat-transcript]");
    if (transcript) transcript.scrollTop = transcript.scrollHeight;
  }

  function lastMessageId(pane, author) {
    var items = pane.querySelectorAll("[data-message-id]" + (author ? '[data-author="' + author + '"]' : ""));
    return items.length ? Number(items[items.length - 1].dataset.messageId) : 0;
  }

  function refreshTranscript(chatId) {
    var pane = paneOf(chatId);
    if (!pane) return Promise.resolve();
    return getHtml(pane.dataset.transcriptUrl).then(function (html) {
      var transcript = pane.querySelector("[data-chat-transcript]");
      transcript.innerHTML = html;
      showSeen(pane);
      scrollToEnd(pane);
      if (chatId === selected && document.visibilityState !== "hidden") sendRead(pane);
    }).catch(function () {});
  }

  var transcriptTimers = {};
  function refreshTranscriptSoon(chatId) {
    clearTimeout(transcriptTimers[chatId]);
    transcriptTimers[chatId] = setTimeout(function () { refreshTranscript(chatId); }, 100);
  }

  /* ------------------------------------------------------------ read receipts */
  var readByVisitor = {};
  var readSent = {};

  function sendRead(pane) {
    var chatId = Number(pane.dataset.chatPane);
    var upTo = lastMessageId(pane, "customer");
    if (upTo && upTo !== readSent[chatId] && socketSend({ type: "read", chat: chatId, up_to: upTo })) {
      readSent[chatId] = upTo;
    }
  }

  function showSeen(pane) {
    var upTo = readByVisitor[pane.dataset.chatPane] || 0;
    var last = null;
    pane.querySelectorAll("[data-seen]").forEach(function (marker) {
      marker.hidden = true;
      var message = marker.closest("[data-message-id]");
      if (message && Number(message.dataset.messageId) <= upTo) last = marker;
    });
    if (last) last.hidden = false;
  }

  document.addEventListener("visibilitychange", function () {
    var pane = selected && paneOf(selected);
    if (pane && document.visibilityState === "visible") sendRead(pane);
  });

  /* ------------------------------------------------------------ composer */
  function setUpPane(pane) {
    var chatId = Number(pane.dataset.chatPane);
    var composer = pane.querySelector("[data-chat-composer]");
    scrollToEnd(pane);
    if (!composer) return;
    var textarea = composer.querySelector("textarea[name=body]");
    var internal = composer.querySelector("[data-chat-internal]");
    var errorBox = composer.querySelector("[data-chat-error]");
    var typing = false;
    var lastTypingSent = 0;

    function syncMode() {
      var mode = internal.checked ? "internal" : "public";
      composer.classList.toggle("composer--internal", mode === "internal");
      composer.querySelectorAll("[data-when]").forEach(function (element) {
        element.hidden = element.dataset.when !== mode;
      });
    }
    internal.addEventListener("change", syncMode);
    syncMode();

    function stopTyping() {
      clearTimeout(typingTimers[chatId]);
      if (typing) {
        typing = false;
        socketSend({ type: "typing", chat: chatId, is_typing: false });
      }
    }

    textarea.addEventListener("input", function () {
      // Internal notes are not the visitor's business: no "typing…" for them.
      if (internal.checked) return;
      var now = Date.now();
      if (!typing || now - lastTypingSent > TYPING_RESEND_MS) {
        typing = true;
        lastTypingSent = now;
        socketSend({ type: "typing", chat: chatId, is_typing: true });
      }
      clearTimeout(typingTimers[chatId]);
      typingTimers[chatId] = setTimeout(stopTyping, TYPING_IDLE_MS);
    });

    textarea.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });

    composer.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!textarea.value.trim()) return;
      var body = new FormData(composer);
      body.append("client_id", String(Date.now()) + "-" + Math.random().toString(16).slice(2));
      var submit = composer.querySelector("[data-submit]");
      submit.disabled = true;
      stopTyping();
      post(composer.action, body).then(function (response) {
        return response.text().then(function (html) { return { ok: response.ok, html: html }; });
      }).then(function (result) {
        if (result.ok) {
          textarea.value = "";
          errorBox.innerHTML = "";
          pane.querySelector("[data-chat-transcript]").innerHTML = result.html;
          showSeen(pane);
          scrollToEnd(pane);
        } else {
          errorBox.innerHTML = result.html;
        }
      }).catch(function () {
        errorBox.textContent = "";
      }).then(function () {
        submit.disabled = false;
        textarea.focus();
      });
    });

    setUpKnowledgeBase(pane, composer, textarea, internal);
  }

  /* ------------------------------------------------------------ knowledge base */
  function setUpKnowledgeBase(pane, composer, textarea, internal) {
    var panel = pane.querySelector("[data-chat-kb]");
    var toggle = composer.querySelector("[data-chat-kb-toggle]");
    if (!panel || !toggle) return;
    var kb = panel.dataset;
    var input = panel.querySelector("input[type=search]");
    var status = panel.querySelector("[data-chat-kb-status]");
    var list = panel.querySelector("[data-chat-kb-results]");
    var byArticle = {};

    toggle.addEventListener("click", function () {
      panel.hidden = !panel.hidden;
      toggle.setAttribute("aria-expanded", panel.hidden ? "false" : "true");
      if (!panel.hidden) {
        if (!input.value) input.value = kb.subject || "";
        input.focus();
        search();
      }
    });

    function getJson(url) {
      return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
    }

    function search() {
      var query = input.value.trim();
      list.textContent = "";
      if (!query) return;
      status.textContent = kb.searching;
      var params = new URLSearchParams({ q: query, source: "agent", limit: "10" });
      getJson(kb.searchUrl + "?" + params.toString()).then(function (data) {
        var ids = [];
        (data.results || []).forEach(function (hit) {
          if (ids.indexOf(hit.article_id) === -1 && ids.length < 5) ids.push(hit.article_id);
        });
        if (!ids.length) return [];
        return getJson(kb.articlesUrl + "?ids=" + encodeURIComponent(ids.join(","))).then(function (details) {
          return details.articles || [];
        });
      }).then(function (articles) {
        byArticle = {};
        list.textContent = "";
        articles.forEach(function (article) {
          byArticle[article.article_id] = article;
          var item = document.createElement("li");
          item.className = "kb-panel__result";
          var title = document.createElement("span");
          title.className = "kb-panel__title";
          title.lang = article.language;
          title.textContent = article.title;
          if (article.is_internal) {
            var badge = document.createElement("span");
            badge.className = "badge badge--internal";
            badge.textContent = kb.internalLabel;
            title.appendChild(document.createTextNode(" "));
            title.appendChild(badge);
          }
          var insert = document.createElement("button");
          insert.type = "button";
          insert.className = "btn btn--sm";
          insert.dataset.article = article.article_id;
          insert.textContent = kb.insertLinkLabel;
          item.appendChild(title);
          item.appendChild(insert);
          list.appendChild(item);
        });
        status.textContent = articles.length ? "" : kb.noResults;
      }).catch(function () {
        status.textContent = kb.failed;
      });
    }

    panel.querySelector("[data-chat-kb-form]").addEventListener("submit", function (event) {
      event.preventDefault();
      search();
    });

    list.addEventListener("click", function (event) {
      var button = event.target.closest("[data-article]");
      var article = button && byArticle[button.dataset.article];
      if (!article) return;
      if (article.is_internal && !internal.checked) {
        status.textContent = kb.internalRefused;
        return;
      }
      var text = article.title + ": " + article.url;
      var start = textarea.selectionStart;
      var before = textarea.value.slice(0, start);
      if (before && !/\s$/.test(before)) text = " " + text;
      textarea.setRangeText(text, start, textarea.selectionEnd, "end");
      textarea.focus();
    });
  }

  /* ------------------------------------------------------------ the chat socket */
  var retryDelay = 1000;

  function socketSend(message) {
    if (chatSocket && chatSocket.readyState === WebSocket.OPEN) {
      chatSocket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  function join(chatId) {
    if (!chatId || joined[chatId]) return;
    if (socketSend({ type: "join", chat: chatId })) joined[chatId] = true;
  }

  function showTyping(chatId, isTyping) {
    var pane = paneOf(chatId);
    var line = pane && pane.querySelector("[data-chat-typing]");
    if (!line) return;
    line.hidden = !isTyping;
    clearTimeout(typingTimers["visitor-" + chatId]);
    // A visitor whose "stopped typing" got lost does not type forever.
    if (isTyping) typingTimers["visitor-" + chatId] = setTimeout(function () { line.hidden = true; }, 8000);
  }

  function onChatEvent(data) {
    var chatId = chatIdOf(data);
    if (!chatId) return;
    if (data.type === "message") {
      if (data.author === "visitor") showTyping(chatId, false);
      if (paneOf(chatId)) refreshTranscriptSoon(chatId);
      if (data.author === "visitor" && (chatId !== selected || document.visibilityState === "hidden")) {
        unreadChats[chatId] = true;
        markUnreadTabs();
        beep();
      }
    } else if (data.type === "typing" && data.who === "visitor") {
      showTyping(chatId, data.is_typing === true);
    } else if (data.type === "read" && data.by === "visitor") {
      readByVisitor[chatId] = Math.max(readByVisitor[chatId] || 0, Number(data.up_to) || 0);
      var pane = paneOf(chatId);
      if (pane) showSeen(pane);
    } else if (data.type === "ended" || data.type === "state") {
      var tab = tabsNav.querySelector('[data-chat-tab="' + chatId + '"]');
      if (tab && paneOf(chatId)) loadPane(chatId, tab.dataset.paneUrl).then(function () {
        var pane = paneOf(chatId);
        if (pane) pane.hidden = chatId !== selected;
      });
      refreshTabs();
      refreshQueueSoon();
    }
  }

  function connect() {
    if (!("WebSocket" in window)) return;
    try {
      chatSocket = new WebSocket(socketUrl(texts.chatWsPath));
    } catch (error) {
      setTimeout(connect, retryDelay);
      return;
    }
    chatSocket.addEventListener("open", function () {
      retryDelay = 1000;
      joined = {};
      panes.querySelectorAll("[data-chat-pane]").forEach(function (pane) { join(Number(pane.dataset.chatPane)); });
      tabsNav.querySelectorAll("[data-chat-tab]").forEach(function (tab) { join(Number(tab.dataset.chatTab)); });
      consoleRoot.dataset.chatSocket = "open";
      heartbeat();
    });
    chatSocket.addEventListener("message", function (message) {
      var data;
      try { data = JSON.parse(message.data); } catch (error) { return; }
      if (!data || typeof data.type !== "string") return;
      if (data.type === "heartbeat" && data.status) {
        showStatus(data.status);
      } else if (data.type === "joined") {
        // Anything said while this page was not listening is in the transcript fragment.
        var chatId = chatIdOf(data);
        if (chatId) {
          refreshTranscriptSoon(chatId);
          consoleRoot.dataset.joined = Object.keys(joined).join(",");
        }
      } else {
        onChatEvent(data);
      }
    });
    chatSocket.addEventListener("close", function (event) {
      chatSocket = null;
      joined = {};
      consoleRoot.dataset.chatSocket = "closed";
      if (event.code === 4401 || event.code === 4403) return; // signed out or not staff
      setTimeout(connect, retryDelay + Math.floor(Math.random() * 500));
      retryDelay = Math.min(retryDelay * 2, 30000);
    });
  }

  rememberTabs();
  panes.querySelectorAll("[data-chat-pane]").forEach(setUpPane);
  if (selected) showPane(selected);
  connect();
})();
