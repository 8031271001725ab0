/* helpdesk live chat: the visitor widget, embedded on any website with one tag.
 *
 *   <script src="https://support.example.com/chat/widget.js" data-key="<widget key>"
 *           data-team="<optional team slug>" async></script>
 *
 * The script talks only to the origin it was loaded from (HTTP API and websocket), never sends
 * cookies (the visitor token travels as a Bearer header) and builds its DOM without innerHTML, so
 * host pages with strict CSPs or Trusted Types keep working.
 *
 * Isolation: everything lives in an OPEN shadow root on a custom element. Closed would add no
 * security (host page scripts run in the same realm and could wrap attachShadow before we run) but
 * would hide the widget from browser extensions, assistive tooling and our browser tests; the style
 * isolation is the same either way. Host page rules still reach the custom element itself and the
 * properties it passes on by inheritance, so :host resets them with !important (important rules
 * of a shadow tree beat important rules of the page), and sizes are in px, never rem.
 * The stylesheet is a constructable sheet (not subject to the host's style-src) with a <style>
 * fallback for older browsers.
 *
 * Texts: the widget cannot use Django's catalogs, so it carries its own small dictionary for the
 * three product languages (en, zh-hans, zh-hant); a `strings` object in the widget configuration
 * response, if the server sends one, takes precedence.
 *
 * Reliability: every visitor message has a client id (crypto.randomUUID); it stays in an outbox,
 * shown as "Sending…", until the server acknowledges it (after commit), is resent after every
 * reconnect (the server ignores a client id it already stored) and survives a refresh (the outbox
 * is kept in localStorage with the chat id and visitor token). The widget (re)connects with the last
 * message id it has (`after`): the socket opens with the chat's state (rendered at once) and replays
 * what followed; any message id already shown is dropped. Files come as signed download links.
 */
(() => {
  "use strict";

  const script = document.currentScript;
  if (!script || !script.src || !window.fetch || !window.WebSocket || !Element.prototype.attachShadow) return;
  const ORIGIN = new URL(script.src, location.href).origin;
  const KEY = (script.dataset.key || "").trim();
  const TEAM = (script.dataset.team || "").trim();
  if (!KEY) {
    console.warn("helpdesk chat: the script tag needs a data-key attribute");
    return;
  }
  // One widget per key, even when a single-page app inserts the tag twice.
  const loaded = (window.__helpdeskChatWidgets = window.__helpdeskChatWidgets || {});
  if (loaded[KEY]) return;
  loaded[KEY] = true;

  const STORAGE_KEY = `helpdesk-chat:${ORIGIN}:${KEY}`;
  const SEARCH_DELAY_MS = 300;
  const MIN_QUERY_CHARS = 3;
  const TYPING_IDLE_MS = 3000;
  const AGENT_TYPING_MAX_MS = 15000;
  const PING_INTERVAL_MS = 25000;
  const RECONNECT_MAX_MS = 30000;
  const REPLAY_CHECK_MS = 3000;
  const ENDED_STATES = new Set(["ended"]);

  /* ------------------------------------------------------------------ texts */
  const TEXTS = {
    en: {
      launcher: "Chat with us", launcherClose: "Close chat", title: "Chat with us", close: "Close",
      name: "Name", email: "Email", question: "How can we help?", optional: "optional",
      start: "Start chat", suggestions: "These articles might answer your question",
      answered: "This answered my question", human: "Talk to a person",
      deflected: "Glad we could help! This chat is closed.",
      queue: "You are number {position} in the queue.", wait: "Estimated wait: {minutes} min.",
      waitShort: "Estimated wait: under a minute.", waiting: "Waiting for an agent…",
      chattingWith: "You are chatting with {name}.", typing: "{name} is typing…", agent: "Agent",
      connecting: "Connecting…", reconnecting: "Connection lost. Reconnecting…",
      sending: "Sending…", sent: "Sent", read: "Read", you: "You",
      message: "Message", send: "Send", attach: "Attach a file", uploading: "Uploading {name}…",
      tooLarge: "{name} is larger than {size} and was not sent.", uploadFailed: "{name} could not be sent.",
      endChat: "End chat", ended: "The chat has ended.", rate: "How was this chat?",
      endedTimeout: "The chat ended after a long silence. We can still answer by email.",
      endedUnanswered: "Sorry, nobody could take your chat in time. The team will answer by email.",
      file: "Download {name}",
      stars: "{count} out of 5", comment: "Comment (optional)", sendRating: "Send rating",
      rated: "Thank you for your feedback!", transcript: "Email me the transcript",
      transcriptSend: "Send transcript", transcriptSent: "The transcript is on its way to {email}.",
      newChat: "Start a new chat", offlineTitle: "We're away right now",
      offlineIntro: "Leave a message and we'll reply by email.", offlineSend: "Send message",
      offlineSent: "Thanks! We received your message and will reply to {email}.",
      required: "Please fill in {field}.", invalidEmail: "Please enter a valid email address.",
      error: "Something went wrong. Please try again.", expired: "This chat has expired. Please start a new one.",
      unavailable: "Chat is not available on this website.", rateLimited: "You are sending messages too quickly. Please wait a moment.",
      tooLong: "This message is too long.", unreadOne: "1 new message", unreadMany: "{count} new messages",
      soundOn: "Sound on", soundOff: "Sound off", log: "Chat messages", loading: "Loading…",
    },
    "zh-hans": {
      launcher: "与我们聊天", launcherClose: "关闭聊天", title: "与我们聊天", close: "关闭",
      name: "姓名", email: "电子邮件", question: "有什么可以帮您？", optional: "可选",
      start: "开始聊天", suggestions: "这些文章或许能解答您的问题",
      answered: "这解答了我的问题", human: "联系人工客服",
      deflected: "很高兴能帮到您！本次聊天已结束。",
      queue: "您在队列中排第 {position} 位。", wait: "预计等待 {minutes} 分钟。",
      waitShort: "预计等待不到一分钟。", waiting: "正在等待客服…",
      chattingWith: "您正在与 {name} 聊天。", typing: "{name} 正在输入…", agent: "客服",
      connecting: "正在连接…", reconnecting: "连接已断开，正在重新连接…",
      sending: "发送中…", sent: "已发送", read: "已读", you: "您",
      message: "消息", send: "发送", attach: "附加文件", uploading: "正在上传 {name}…",
      tooLarge: "{name} 超过 {size}，未发送。", uploadFailed: "{name} 发送失败。",
      endChat: "结束聊天", ended: "聊天已结束。", rate: "您对本次聊天满意吗？",
      endedTimeout: "由于长时间没有活动，聊天已结束。我们仍可通过电子邮件回复您。",
      endedUnanswered: "抱歉，暂时没有客服能接待您的聊天。团队会通过电子邮件回复您。",
      file: "下载 {name}",
      stars: "{count} 分（满分 5 分）", comment: "意见（可选）", sendRating: "提交评分",
      rated: "感谢您的反馈！", transcript: "通过电子邮件发送聊天记录",
      transcriptSend: "发送聊天记录", transcriptSent: "聊天记录将发送至 {email}。",
      newChat: "开始新的聊天", offlineTitle: "我们暂时不在线",
      offlineIntro: "请留言，我们会通过电子邮件回复您。", offlineSend: "发送留言",
      offlineSent: "谢谢！我们已收到您的留言，将回复至 {email}。",
      required: "请填写{field}。", invalidEmail: "请输入有效的电子邮件地址。",
      error: "出错了，请重试。", expired: "此聊天已过期，请开始新的聊天。",
      unavailable: "此网站未启用聊天。", rateLimited: "您发送消息过快，请稍候。",
      tooLong: "消息过长。", unreadOne: "1 条新消息", unreadMany: "{count} 条新消息",
      soundOn: "声音：开", soundOff: "声音：关", log: "聊天消息", loading: "加载中…",
    },
    "zh-hant": {
      launcher: "與我們聊天", launcherClose: "關閉聊天", title: "與我們聊天", close: "關閉",
      name: "姓名", email: "電子郵件", question: "有什麼可以幫您？", optional: "選填",
      start: "開始聊天", suggestions: "這些文章或許能解答您的問題",
      answered: "這解答了我的問題", human: "聯絡真人客服",
      deflected: "很高興能幫到您！本次對話已結束。",
      queue: "您在佇列中排第 {position} 位。", wait: "預計等待 {minutes} 分鐘。",
      waitShort: "預計等待不到一分鐘。", waiting: "正在等待客服…",
      chattingWith: "您正在與 {name} 對話。", typing: "{name} 正在輸入…", agent: "客服",
      connecting: "正在連線…", reconnecting: "連線中斷，正在重新連線…",
      sending: "傳送中…", sent: "已傳送", read: "已讀", you: "您",
      message: "訊息", send: "傳送", attach: "附加檔案", uploading: "正在上傳 {name}…",
      tooLarge: "{name} 超過 {size}，未傳送。", uploadFailed: "{name} 傳送失敗。",
      endChat: "結束對話", ended: "對話已結束。", rate: "您對本次對話滿意嗎？",
      endedTimeout: "由於長時間沒有活動，對話已結束。我們仍可透過電子郵件回覆您。",
      endedUnanswered: "抱歉，暫時沒有客服能接待您的對話。團隊會透過電子郵件回覆您。",
      file: "下載 {name}",
      stars: "{count} 分（滿分 5 分）", comment: "意見（選填）", sendRating: "送出評分",
      rated: "感謝您的回饋！", transcript: "以電子郵件寄送對話紀錄",
      transcriptSend: "寄送對話紀錄", transcriptSent: "對話紀錄將寄送至 {email}。",
      newChat: "開始新的對話", offlineTitle: "我們暫時不在線上",
      offlineIntro: "請留言，我們會以電子郵件回覆您。", offlineSend: "送出留言",
      offlineSent: "謝謝！我們已收到您的留言，將回覆至 {email}。",
      required: "請填寫{field}。", invalidEmail: "請輸入有效的電子郵件地址。",
      error: "發生錯誤，請再試一次。", expired: "此對話已過期，請開始新的對話。",
      unavailable: "此網站未啟用聊天。", rateLimited: "您傳送訊息過快，請稍候。",
      tooLong: "訊息過長。", unreadOne: "1 則新訊息", unreadMany: "{count} 則新訊息",
      soundOn: "聲音：開", soundOff: "聲音：關", log: "聊天訊息", loading: "載入中…",
    },
  };

  /** The first of the browser's languages we speak: zh-TW/HK/MO and zh-Hant are Traditional. */
  function detectLanguage(languages) {
    for (const raw of languages || []) {
      const tag = String(raw).toLowerCase();
      if (tag === "zh" || tag.startsWith("zh-")) {
        return /^zh-(hant|tw|hk|mo)\b/.test(tag) ? "zh-hant" : "zh-hans";
      }
      if (tag === "en" || tag.startsWith("en-")) return "en";
    }
    return "en";
  }

  const LANGUAGE = detectLanguage(navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]);
  let serverTexts = {};

  function t(name, values) {
    const text = (serverTexts[name] || TEXTS[LANGUAGE][name] || TEXTS.en[name] || name);
    return text.replace(/\{(\w+)\}/g, (match, key) => (values && key in values ? String(values[key]) : match));
  }

  function formatBytes(bytes) {
    if (bytes >= 1024 * 1024) return `${Math.round(bytes / (1024 * 1024))} MB`;
    if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${bytes} B`;
  }

  /* ------------------------------------------------------------------ storage */
  function loadStored() {
    try {
      return JSON.parse(localStorage.getItem(STORAGE_KEY) || "null") || {};
    } catch (error) {
      return {};
    }
  }

  let stored = loadStored();

  function save() {
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(stored));
    } catch (error) {
      // Storage full or blocked: the chat works, it just will not survive a refresh.
    }
  }

  function forgetChat() {
    stored = { visitorId: stored.visitorId, sound: stored.sound };
    save();
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // Non-secure contexts (http:// host pages) have no randomUUID; getRandomValues is enough here.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  if (!stored.visitorId) {
    stored.visitorId = uuid();
    save();
  }

  /* ------------------------------------------------------------------ HTTP */
  class ApiError extends Error {
    constructor(status, data) {
      super(`HTTP ${status}`);
      this.status = status;
      this.data = data;
    }
  }

  async function api(path, { method = "GET", json, form, auth = false } = {}) {
    const headers = { Accept: "application/json" };
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form) {
      body = form;
    }
    if (auth && stored.token) headers.Authorization = `Bearer ${stored.token}`;
    const response = await fetch(ORIGIN + path, { method, headers, body, mode: "cors", credentials: "omit" });
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function chatPath(action) {
    return `/api/v1/chat/chats/${encodeURIComponent(stored.chat)}/${action ? `${action}/` : ""}`;
  }

  function isOffline(error) {
    return Boolean(error && error.status === 409 && error.data && error.data.error && error.data.error.code === "offline");
  }

  /** The first message of an API error, else a generic one. */
  function errorText(error) {
    const data = error && error.data;
    if (error && error.status === 429) return t("rateLimited");
    // The API's errors: {"error": {"code", "message", "fields": {name: [messages]}}}.
    const body = data && typeof data === "object" ? data.error || data : null;
    if (body && typeof body === "object") {
      for (const value of Object.values(body.fields || {})) {
        if (Array.isArray(value) && typeof value[0] === "string") return value[0];
      }
      if (typeof body.message === "string" && body.message) return body.message;
      if (typeof body.detail === "string") return body.detail;
    }
    return t("error");
  }

  /* ------------------------------------------------------------------ DOM helpers */
  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
      else if (name === "class") element.className = value;
      else element.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  let idCounter = 0;
  function uid(prefix) {
    idCounter += 1;
    return `hdc-${prefix}-${idCounter}`;
  }

  /** Plain text with links (http/https only) made clickable, without parsing any HTML. */
  function linkified(text) {
    const parts = [];
    const pattern = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)]/g;
    let last = 0;
    for (const match of String(text).matchAll(pattern)) {
      parts.push(text.slice(last, match.index));
      parts.push(h("a", { href: match[0], target: "_blank", rel: "noopener noreferrer" }, match[0]));
      last = match.index + match[0].length;
    }
    parts.push(text.slice(last));
    return parts;
  }

  /** The search API's snippet is escaped text with <mark> around matches: rebuilt as nodes, not parsed. */
  function snippetNodes(snippet) {
    const unescape = (text) => text.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (match, name) => (
      { amp: "&", lt: "<", gt: ">", quot: '"', "#x27": "'", "#39": "'" }[name]));
    return String(snippet || "").split(/(<mark>.*?<\/mark>)/g).map((part) => {
      const marked = /^<mark>(.*)<\/mark>$/.exec(part);
      return marked ? h("mark", null, unescape(marked[1])) : unescape(part.replace(/<[^>]*>/g, ""));
    });
  }

  /* ------------------------------------------------------------------ styles */
  const CSS = `
:host { all: initial !important; display: block !important; position: fixed !important; z-index: 2147483000 !important;
  right: 20px !important; bottom: 20px !important; left: auto !important; top: auto !important; width: auto !important;
  height: auto !important; margin: 0 !important; padding: 0 !important; transform: none !important; visibility: visible !important;
  opacity: 1 !important; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "PingFang SC",
  "Hiragino Sans GB", "Microsoft YaHei", "PingFang TC", "Microsoft JhengHei", sans-serif !important;
  color: #1f2933 !important; direction: ltr !important; text-align: left !important; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.launcher { display: flex; align-items: center; gap: 8px; margin: 0 0 0 auto; padding: 12px 18px; border: 0; border-radius: 999px;
  background: #2459be; color: #fff; font-family: inherit; font-weight: 600; font-size: 15px; line-height: 1.2; cursor: pointer;
  box-shadow: 0 6px 20px rgba(22, 27, 34, .25); position: relative; }
.launcher:hover { background: #1d4799; }
.launcher svg { width: 20px; height: 20px; fill: currentColor; }
.badge { position: absolute; top: -6px; right: -6px; min-width: 22px; height: 22px; padding: 0 6px; border-radius: 11px;
  background: #d64545; color: #fff; font-family: inherit; font-weight: 700; font-size: 12px; line-height: 22px; text-align: center; }
.panel { position: fixed; right: 20px; bottom: 84px; width: 370px; height: 580px; max-height: calc(100vh - 104px);
  display: flex; flex-direction: column; background: #fff; border-radius: 14px; overflow: hidden;
  box-shadow: 0 12px 40px rgba(22, 27, 34, .28); border: 1px solid #e1e4e9; }
@media (max-width: 480px) { .panel { right: 0; bottom: 0; width: 100vw; height: 100vh; max-height: none; border-radius: 0; } }
.header { display: flex; align-items: center; gap: 8px; padding: 12px 14px; background: #2459be; color: #fff; }
.header h2 { flex: 1; margin: 0; font-size: 16px; font-weight: 650; line-height: 1.3; }
.icon-button { border: 0; background: transparent; color: inherit; padding: 4px 8px; border-radius: 6px; cursor: pointer;
  font-family: inherit; font-weight: 600; font-size: 13px; line-height: 1.2; }
.icon-button:hover { background: rgba(255, 255, 255, .18); }
.body { flex: 1; overflow-y: auto; padding: 14px; display: flex; flex-direction: column; gap: 12px; min-height: 0; }
.body--chat { padding: 0; overflow: hidden; }
.chat { display: flex; flex-direction: column; flex: 1; min-height: 0; }
.greeting { margin: 0; color: #3e4753; }
form { display: flex; flex-direction: column; gap: 10px; margin: 0; }
label { display: flex; flex-direction: column; gap: 4px; font-weight: 600; font-size: 13px; color: #262d36; }
.hint { font-weight: 400; color: #5b6573; }
input[type=text], input[type=email], textarea { width: 100%; padding: 8px 10px; border: 1px solid #a3abb6; border-radius: 8px;
  font-family: inherit; font-size: 14px; line-height: 1.4; color: #161b22; background: #fff; }
textarea { resize: vertical; min-height: 72px; }
input:focus-visible, textarea:focus-visible, button:focus-visible, a:focus-visible, .stars input:focus-visible + span {
  outline: 3px solid #7aa7f5; outline-offset: 1px; }
.button { padding: 9px 14px; border-radius: 8px; border: 1px solid #2459be; background: #2459be; color: #fff; cursor: pointer;
  font-family: inherit; font-weight: 600; font-size: 14px; line-height: 1.2; }
.button:hover { background: #1d4799; }
.button:disabled { opacity: .6; cursor: default; }
.button--secondary { background: #fff; color: #2459be; }
.button--secondary:hover { background: #eef5ff; }
.actions { display: flex; gap: 8px; flex-wrap: wrap; }
.error { margin: 0; color: #b42318; font-size: 13px; }
.error:empty { display: none; }
.notice { margin: 0; padding: 10px 12px; border-radius: 8px; background: #ecfaf1; color: #14703b; }
.suggestions { padding: 10px 12px; border: 1px solid #d9e8ff; border-radius: 8px; background: #eef5ff; }
.suggestions:empty { display: none; }
.suggestions h3 { margin: 0 0 6px; font-size: 13px; }
.suggestions ul { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }
.suggestions a { color: #1d4799; font-weight: 600; }
.suggestions p { margin: 2px 0 0; font-size: 12.5px; color: #5b6573; }
mark { background: #fff1a8; color: inherit; }
.status { margin: 0; padding: 8px 14px; font-size: 13px; color: #3e4753; background: #f6f7f9; border-bottom: 1px solid #e1e4e9; }
.status:empty { display: none; }
.log { flex: 1; overflow-y: auto; padding: 14px; display: flex; flex-direction: column; gap: 8px; }
.message { max-width: 85%; padding: 8px 11px; border-radius: 12px; background: #eef0f3; align-self: flex-start;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.message--visitor { align-self: flex-end; background: #2459be; color: #fff; }
.message--visitor a { color: #fff; }
.message--system { align-self: center; background: transparent; color: #5b6573; font-size: 12.5px; text-align: center; }
.message .author { display: block; font-size: 12px; font-weight: 650; color: #3e4753; margin-bottom: 2px; }
.message--visitor .author { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
.message .receipt { display: block; font-size: 11.5px; opacity: .85; text-align: right; margin-top: 2px; }
.message.is-sending { opacity: .7; }
.typing { min-height: 20px; margin: 0; padding: 0 14px; font-size: 12.5px; color: #5b6573; font-style: italic; }
.composer { display: flex; flex-direction: row; gap: 6px; align-items: flex-end; padding: 10px; border-top: 1px solid #e1e4e9; }
.composer textarea { min-height: 40px; max-height: 120px; resize: none; }
.composer .icon-button { color: #2459be; padding: 8px; line-height: 0; }
.composer .icon-button svg { width: 20px; height: 20px; }
.composer .icon-button:hover { background: #eef5ff; }
.toolbar { display: flex; gap: 4px; padding: 6px 10px; border-top: 1px solid #eef0f3; flex-wrap: wrap; }
.toolbar .icon-button { color: #2459be; font-weight: 600; font-size: 12.5px; padding: 4px 6px; }
.toolbar .icon-button:hover { background: #eef5ff; }
.after { display: flex; flex-direction: column; gap: 12px; padding: 12px 14px; border-top: 1px solid #e1e4e9; background: #fbfcfd; overflow-y: auto; max-height: 60%; }
fieldset { border: 0; margin: 0; padding: 0; }
legend { font-weight: 650; padding: 0; margin-bottom: 6px; }
.stars { display: flex; gap: 4px; }
.stars label { position: relative; }
.stars input { position: absolute; inset: 0; width: 100%; height: 100%; margin: 0; opacity: 0; cursor: pointer; }
.stars span { display: inline-block; font-size: 26px; line-height: 1; color: #cdd2d9; cursor: pointer; padding: 2px; border-radius: 4px; }
.stars input:checked + span, .stars label.is-lit span { color: #f5a524; }
.visually-hidden { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

  /* ------------------------------------------------------------------ state */
  let config = null;
  let root = null;
  let launcher = null;
  let badge = null;
  let panel = null;
  let body = null;
  let isOpen = false;
  let socket = null;
  let socketOpen = false;
  let reconnectAttempts = 0;
  let reconnectTimer = null;
  let pingTimer = null;
  let replayCheckTimer = null;
  let typingTimer = null;
  let typingSent = false;
  let unread = 0;
  let originalTitle = document.title;
  let audioContext = null;
  let chatView = null; // the chat screen's elements while it is shown
  let lastSeenId = 0; // the highest message id on screen; resume asks for what follows it
  const shownIds = new Set();
  const pendingBubbles = new Map(); // client id -> bubble of a message not yet acknowledged

  function outbox() {
    if (!Array.isArray(stored.outbox)) stored.outbox = [];
    return stored.outbox;
  }

  /* ------------------------------------------------------------------ shell */
  function buildShell() {
    const host = document.createElement("helpdesk-chat-widget");
    root = host.attachShadow({ mode: "open" });
    if ("adoptedStyleSheets" in root && window.CSSStyleSheet && "replaceSync" in CSSStyleSheet.prototype) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.append(h("style", null, CSS));
    }
    const panelId = uid("panel");
    const titleId = uid("title");
    badge = h("span", { class: "badge", hidden: true, "aria-hidden": "true" });
    launcher = h("button", {
      type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": panelId, onclick: toggle,
    }, svgIcon(BUBBLE), h("span", { class: "launcher-label" }, t("launcher")), badge);
    body = h("div", { class: "body" });
    panel = h("section", {
      id: panelId, class: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": titleId, hidden: true,
      lang: LANGUAGE === "en" ? "en" : LANGUAGE === "zh-hans" ? "zh-Hans" : "zh-Hant",
    },
    h("div", { class: "header" },
      h("h2", { id: titleId }, t("title")),
      h("button", { type: "button", class: "icon-button", "aria-label": t("close"), onclick: () => close(true) }, "×")),
    body);
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        close(true);
      }
    });
    root.append(panel, launcher);
    // Any click in the widget is a gesture that may unlock sound (after a refresh the panel reopens by itself).
    root.addEventListener("pointerdown", unlockSound);
    document.body.append(host);
  }

  const BUBBLE = "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z";
  const PAPERCLIP = "M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5";

  /** An icon (no emoji: not every system has a font for them). */
  function svgIcon(d, { stroke = false } = {}) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    if (stroke) {
      path.setAttribute("fill", "none");
      path.setAttribute("stroke", "currentColor");
      path.setAttribute("stroke-width", "2");
      path.setAttribute("stroke-linecap", "round");
    }
    svg.append(path);
    return svg;
  }

  function toggle() {
    unlockSound();
    if (isOpen) close(false);
    else open();
  }

  function open() {
    isOpen = true;
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    launcher.querySelector(".launcher-label").textContent = t("launcherClose");
    stored.open = true;
    save();
    clearUnread();
    sendRead();
    focusFirst();
  }

  function close(returnFocus) {
    isOpen = false;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.querySelector(".launcher-label").textContent = t("launcher");
    stored.open = false;
    save();
    if (returnFocus) launcher.focus();
  }

  function focusFirst() {
    const target = body.querySelector("[data-autofocus]") ||
      body.querySelector("input:not([type=hidden]):not([type=radio]), textarea, button");
    if (target) target.focus();
  }

  /** Replace the panel's content; `screen` is a node (or nodes). */
  function show(...nodes) {
    if (chatView && !nodes.includes(chatView.container)) chatView = null;
    body.replaceChildren(...nodes);
    body.classList.toggle("body--chat", Boolean(chatView));
    if (isOpen) focusFirst();
  }

  /* ------------------------------------------------------------------ configuration */
  /** The pre-chat fields as [{name, label, required, type}], whatever shape the server sends. */
  function prechatFields() {
    const raw = config && config.prechat_fields;
    const builtIn = { name: ["name", "text"], email: ["email", "email"], question: ["question", "textarea"] };
    const fields = [];
    const labelOf = (name, label) => {
      if (label && typeof label === "object") return label[LANGUAGE] || label.en || Object.values(label)[0] || name;
      return label || (builtIn[name] ? t(builtIn[name][0]) : name);
    };
    const add = (name, spec) => {
      if (spec === false || spec === "hidden" || (spec && typeof spec === "object" && (spec.shown === false || spec.show === false || spec.visible === false))) return;
      const required = spec === "required" || spec === true || Boolean(spec && typeof spec === "object" && spec.required);
      const type = (spec && spec.type) || (builtIn[name] ? builtIn[name][1] : "text");
      const maxLength = spec && Number.isInteger(spec.max_length) && spec.max_length > 0 ? spec.max_length : undefined;
      fields.push({ name, label: labelOf(name, spec && spec.label), required, type, maxLength, custom: !builtIn[name] });
    };
    if (Array.isArray(raw)) {
      raw.forEach((spec) => spec && (spec.key || spec.name) && add(spec.key || spec.name, spec));
    } else if (raw && typeof raw === "object") {
      // As the server reads them: a built-in field without a rule is shown and optional.
      for (const name of Object.keys(builtIn)) add(name, name in raw ? raw[name] : { required: false });
      for (const spec of Array.isArray(raw.custom) ? raw.custom : []) {
        if (spec && (spec.key || spec.name)) add(spec.key || spec.name, spec);
      }
    } else {
      add("name", { required: true });
      add("email", { required: true });
      add("question", { required: true });
    }
    return fields;
  }

  function greeting() {
    const value = config && config.greeting;
    if (!value) return "";
    if (typeof value === "string") return value;
    return value[LANGUAGE] || value.en || "";
  }

  async function loadConfig() {
    const query = new URLSearchParams({ lang: LANGUAGE });
    if (TEAM) query.set("team", TEAM);
    config = await api(`/api/v1/chat/widgets/${encodeURIComponent(KEY)}/?${query}`);
    if (config && config.strings && typeof config.strings === "object") serverTexts = config.strings;
  }

  /* ------------------------------------------------------------------ forms */
  function field({ name, label, required, type, value, autocomplete, maxLength, optionalHint = true }) {
    const id = uid(name);
    const attributes = { id, name, required: required || undefined, autocomplete, maxlength: maxLength || undefined };
    const control = type === "textarea"
      ? h("textarea", { ...attributes, rows: 3 }, value || "")
      : h("input", { ...attributes, type: type === "email" ? "email" : "text", value: value || "" });
    return h("label", { for: id }, h("span", null, label, required || !optionalHint ? "" : h("span", { class: "hint" }, ` (${t("optional")})`)), control);
  }

  const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

  /** The form's values, or null after showing the first problem (and focusing its field). */
  function validated(form, fields, errorLine) {
    const values = {};
    for (const spec of fields) {
      const control = form.elements[spec.name];
      const value = control.value.trim();
      let problem = "";
      if (spec.required && !value) problem = t("required", { field: spec.label });
      else if (value && spec.type === "email" && !EMAIL_PATTERN.test(value)) problem = t("invalidEmail");
      control.setAttribute("aria-invalid", problem ? "true" : "false");
      if (problem) {
        errorLine.textContent = problem;
        control.focus();
        return null;
      }
      values[spec.name] = value;
    }
    errorLine.textContent = "";
    return values;
  }

  function errorLineFor(form) {
    const line = h("p", { class: "error", role: "alert" });
    form.append(line);
    return line;
  }

  /* ------------------------------------------------------------------ KB suggestions */
  async function searchArticles(query) {
    const params = new URLSearchParams({ q: query, lang: LANGUAGE, source: "chat_widget", limit: "3" });
    try {
      const data = await api(`/api/v1/kb/search?${params}`);
      return (data && data.results) || [];
    } catch (error) {
      return [];
    }
  }

  function renderSuggestions(region, results) {
    if (!results.length) {
      region.replaceChildren();
      return;
    }
    const headingId = uid("suggestions");
    region.replaceChildren(
      h("h3", { id: headingId }, t("suggestions")),
      h("ul", { "aria-labelledby": headingId }, results.map((result) => h("li", null,
        h("a", { href: new URL(result.url, ORIGIN).href, target: "_blank", rel: "noopener" }, result.title),
        result.snippet ? h("p", null, snippetNodes(result.snippet)) : null))),
    );
  }

  /* ------------------------------------------------------------------ screens */
  function showMessage(text, { withNewChat = false } = {}) {
    show(h("p", { class: "notice", role: "status", "data-autofocus": true, tabindex: "-1" }, text),
      withNewChat ? h("div", { class: "actions" }, h("button", { type: "button", class: "button", onclick: startOver }, t("newChat"))) : null);
  }

  function showPrechat() {
    const fields = prechatFields();
    const suggestions = h("div", { class: "suggestions", "aria-live": "polite" });
    const form = h("form", { novalidate: true },
      fields.map((spec) => field({ ...spec, autocomplete: spec.name === "name" ? "name" : spec.name === "email" ? "email" : undefined })));
    const submit = h("button", { type: "submit", class: "button" }, t("start"));
    const question = form.elements.question;
    let latest = [];
    if (question) {
      question.after(suggestions);
      let timer = null;
      let asked = "";
      question.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(async () => {
          const query = question.value.trim();
          if (query === asked) return;
          asked = query;
          latest = query.length >= MIN_QUERY_CHARS ? await searchArticles(query) : [];
          if (asked === query) renderSuggestions(suggestions, latest);
        }, SEARCH_DELAY_MS);
      });
    }
    form.append(h("div", { class: "actions" }, submit));
    const errorLine = errorLineFor(form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = validated(form, fields, errorLine);
      if (!values) return;
      submit.disabled = true;
      try {
        const question = values.question || "";
        // Offer articles before a person only when some match the question.
        const articles = question.length >= MIN_QUERY_CHARS ? await searchArticles(question) : [];
        const custom = {};
        fields.filter((spec) => spec.custom).forEach((spec) => { custom[spec.name] = values[spec.name]; });
        const started = await api(`/api/v1/chat/widgets/${encodeURIComponent(KEY)}/chats/`, {
          method: "POST",
          json: {
            name: values.name || "", email: values.email || "", question, language: LANGUAGE,
            deflect: articles.length > 0, visitor_id: stored.visitorId, team: TEAM || undefined, fields: custom,
          },
        });
        Object.assign(stored, {
          chat: started.chat, token: started.token, wsUrl: started.ws_url || "", state: started.state,
          visitorId: started.visitor_id || stored.visitorId, name: values.name || "", email: values.email || "",
          question, outbox: [], seenUpTo: 0, readSent: 0, agentReadUpTo: 0,
        });
        applyStateData(started);
        save();
        if (started.state === "deflecting" && articles.length) showDeflection(articles);
        else enterChat();
      } catch (error) {
        // Everyone went offline while the form was filled in: the question becomes a message.
        if (isOffline(error)) {
          showOffline({ name: values.name, email: values.email, message: values.question });
          return;
        }
        errorLine.textContent = errorText(error);
        submit.disabled = false;
      }
    });
    const intro = greeting();
    show(intro ? h("p", { class: "greeting" }, intro) : null, form);
  }

  async function showDeflection(articles) {
    const results = articles || (stored.question ? await searchArticles(stored.question) : []);
    const region = h("div", { class: "suggestions" });
    renderSuggestions(region, results);
    const errorLine = h("p", { class: "error", role: "alert" });
    const answered = h("button", { type: "button", class: "button button--secondary", "data-autofocus": true }, t("answered"));
    const human = h("button", { type: "button", class: "button" }, t("human"));
    answered.addEventListener("click", async () => {
      answered.disabled = human.disabled = true;
      try {
        await api(chatPath("deflected"), { method: "POST", json: {}, auth: true });
        forgetChat();
        showMessage(t("deflected"), { withNewChat: true });
      } catch (error) {
        errorLine.textContent = errorText(error);
        answered.disabled = human.disabled = false;
      }
    });
    human.addEventListener("click", async () => {
      answered.disabled = human.disabled = true;
      try {
        const data = await api(chatPath("human"), { method: "POST", json: {}, auth: true });
        stored.state = (data && data.state) || "queued";
        applyStateData(data);
        save();
        enterChat();
      } catch (error) {
        if (isOffline(error)) {
          const values = { name: stored.name, email: stored.email, message: stored.question };
          forgetChat();
          showOffline(values);
          return;
        }
        errorLine.textContent = errorText(error);
        answered.disabled = human.disabled = false;
      }
    });
    show(region, h("div", { class: "actions" }, answered, human), errorLine);
  }

  function showOffline(prefill = {}) {
    const fields = [
      { name: "name", label: t("name"), required: true, type: "text" },
      { name: "email", label: t("email"), required: true, type: "email" },
      { name: "message", label: t("message"), required: true, type: "textarea" },
    ];
    const form = h("form", { novalidate: true },
      fields.map((spec) => field({ ...spec, autocomplete: spec.name === "message" ? undefined : spec.name, value: prefill[spec.name] || "" })));
    const submit = h("button", { type: "submit", class: "button" }, t("offlineSend"));
    form.append(h("div", { class: "actions" }, submit));
    const errorLine = errorLineFor(form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = validated(form, fields, errorLine);
      if (!values) return;
      submit.disabled = true;
      try {
        await api(`/api/v1/chat/widgets/${encodeURIComponent(KEY)}/offline/`, {
          method: "POST", json: { ...values, language: LANGUAGE, team: TEAM || undefined },
        });
        showMessage(t("offlineSent", { email: values.email }));
      } catch (error) {
        errorLine.textContent = errorText(error);
        submit.disabled = false;
      }
    });
    show(h("h3", { class: "greeting" }, t("offlineTitle")), h("p", { class: "greeting" }, t("offlineIntro")), form);
  }

  /* ------------------------------------------------------------------ chat screen */
  function enterChat() {
    buildChatView();
    for (const item of outbox()) addPendingBubble(item);
    renderState();
    if (ENDED_STATES.has(stored.state)) showEnded();
    connect();
    refreshState();
  }

  /** The chat's state from the server: what changed while the page was away (a refresh). */
  async function refreshState() {
    try {
      const data = await api(chatPath(""), { auth: true });
      if (!chatView) return;
      applyStateData(data);
      save();
      renderState();
      if (ENDED_STATES.has(stored.state)) {
        disconnect();
        showEnded();
      }
    } catch (error) {
      if (error.status === 401 || error.status === 404) onClosed(error.status === 401 ? 4401 : 4404);
    }
  }

  function buildChatView() {
    const log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": t("log"), tabindex: "0" });
    const status = h("p", { class: "status", role: "status" });
    const typing = h("p", { class: "typing", "aria-live": "polite" });
    const composerId = uid("composer");
    const textarea = h("textarea", { id: composerId, rows: 1, maxlength: String((config && config.max_message_chars) || 4000), "data-autofocus": true });
    const fileInput = h("input", { type: "file", class: "visually-hidden", tabindex: "-1", "aria-hidden": "true" });
    const attach = h("button", { type: "button", class: "icon-button", "aria-label": t("attach"), title: t("attach"), onclick: () => fileInput.click() }, svgIcon(PAPERCLIP, { stroke: true }));
    const send = h("button", { type: "submit", class: "button" }, t("send"));
    const composer = h("form", { class: "composer" },
      h("label", { for: composerId, class: "visually-hidden" }, t("message")), textarea, fileInput, attach, send);
    const problems = h("p", { class: "error", role: "alert" });
    const sound = h("button", { type: "button", class: "icon-button", "aria-pressed": String(stored.sound !== false) },
      stored.sound !== false ? t("soundOn") : t("soundOff"));
    const transcriptButton = h("button", { type: "button", class: "icon-button", "aria-expanded": "false" }, t("transcript"));
    const end = h("button", { type: "button", class: "icon-button" }, t("endChat"));
    const toolbar = h("div", { class: "toolbar" }, transcriptButton, sound, end);
    const transcriptSlot = h("div", { hidden: true });
    const after = h("div", { class: "after", hidden: true });
    const container = h("div", { class: "chat" });
    container.append(status, log, typing, problems, composer, toolbar, transcriptSlot, after);

    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });
    textarea.addEventListener("input", onComposerInput);
    composer.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = textarea.value.trim();
      if (!text) return;
      const limit = (config && config.max_message_chars) || 4000;
      if (text.length > limit) {
        problems.textContent = t("tooLong");
        return;
      }
      problems.textContent = "";
      textarea.value = "";
      stopTyping();
      queueMessage(text);
      textarea.focus();
    });
    fileInput.addEventListener("change", () => {
      const files = Array.from(fileInput.files || []);
      fileInput.value = "";
      files.forEach(uploadFile);
    });
    sound.addEventListener("click", () => {
      stored.sound = stored.sound === false;
      save();
      if (stored.sound) unlockSound();
      sound.setAttribute("aria-pressed", String(stored.sound));
      sound.textContent = stored.sound ? t("soundOn") : t("soundOff");
    });
    transcriptButton.addEventListener("click", () => {
      const opening = transcriptSlot.hidden;
      transcriptSlot.replaceChildren(...(opening ? [transcriptForm()] : []));
      transcriptSlot.hidden = !opening;
      transcriptButton.setAttribute("aria-expanded", String(opening));
      if (opening) transcriptSlot.querySelector("input").focus();
    });
    end.addEventListener("click", async () => {
      end.disabled = true;
      try {
        await api(chatPath("end"), { method: "POST", json: {}, auth: true });
        stored.state = "ended";
        save();
        showEnded();
      } catch (error) {
        problems.textContent = errorText(error);
        end.disabled = false;
      }
    });
    chatView = { container, log, status, typing, textarea, composer, problems, toolbar, after, transcriptSlot, transcriptButton };
    lastSeenId = 0;
    shownIds.clear();
    pendingBubbles.clear();
    show(container);
  }

  function transcriptForm() {
    const form = h("form", { novalidate: true, class: "transcript" });
    const fields = [{ name: "email", label: t("transcript"), required: true, type: "email" }];
    form.append(field({ ...fields[0], value: stored.email, autocomplete: "email" }));
    const submit = h("button", { type: "submit", class: "button button--secondary" }, t("transcriptSend"));
    form.append(h("div", { class: "actions" }, submit));
    const errorLine = errorLineFor(form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = validated(form, fields, errorLine);
      if (!values) return;
      submit.disabled = true;
      try {
        await api(chatPath("transcript"), { method: "POST", json: { email: values.email }, auth: true });
        form.replaceWith(h("p", { class: "notice", role: "status" }, t("transcriptSent", { email: values.email })));
      } catch (error) {
        errorLine.textContent = errorText(error);
        submit.disabled = false;
      }
    });
    return form;
  }

  function showEnded() {
    if (!chatView) return;
    stopTyping();
    clearTimeout(reconnectTimer);
    chatView.composer.hidden = true;
    chatView.toolbar.hidden = true;
    chatView.transcriptSlot.hidden = true;
    chatView.typing.textContent = "";
    // Ended by the server's sweeps: say why, and that the question is not lost.
    const reasonTexts = { timeout: "endedTimeout", offline: "endedUnanswered" };
    chatView.status.textContent = t(reasonTexts[stored.endReason] || "ended");
    if (!chatView.after.hidden) return;
    const ratingForm = h("form", { novalidate: true });
    const legendId = uid("rate");
    const stars = h("div", { class: "stars" });
    for (let count = 1; count <= 5; count += 1) {
      stars.append(h("label", { title: t("stars", { count }) },
        h("input", { type: "radio", name: "rating", value: String(count), "aria-label": t("stars", { count }) }),
        h("span", { "aria-hidden": "true" }, "★")));
    }
    stars.addEventListener("change", () => {
      const value = Number(ratingForm.elements.rating.value || 0);
      stars.querySelectorAll("label").forEach((label, index) => label.classList.toggle("is-lit", index < value));
    });
    ratingForm.append(
      h("fieldset", { "aria-labelledby": legendId }, h("legend", { id: legendId }, t("rate")), stars),
      field({ name: "comment", label: t("comment"), required: false, type: "textarea", optionalHint: false }),
    );
    const submit = h("button", { type: "submit", class: "button" }, t("sendRating"));
    ratingForm.append(h("div", { class: "actions" }, submit));
    const errorLine = errorLineFor(ratingForm);
    ratingForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const rating = Number(ratingForm.elements.rating.value || 0);
      if (!rating) {
        errorLine.textContent = t("required", { field: t("rate") });
        stars.querySelector("input").focus();
        return;
      }
      submit.disabled = true;
      try {
        await api(chatPath("rating"), {
          method: "POST", json: { rating, comment: ratingForm.elements.comment.value.trim() }, auth: true,
        });
        ratingForm.replaceWith(h("p", { class: "notice", role: "status" }, t("rated")));
      } catch (error) {
        errorLine.textContent = errorText(error);
        submit.disabled = false;
      }
    });
    chatView.after.replaceChildren(
      ratingForm,
      transcriptForm(),
      h("div", { class: "actions" }, h("button", { type: "button", class: "button button--secondary", onclick: startOver }, t("newChat"))),
    );
    chatView.after.hidden = false;
    // The composer the focus was in is gone: the rating is what comes next.
    if (isOpen) stars.querySelector("input").focus();
  }

  async function startOver() {
    disconnect();
    forgetChat();
    chatView = null;
    await showStart({ reload: true });
  }

  function applyStateData(data) {
    if (!data || typeof data !== "object") return;
    if (data.state) stored.state = data.state;
    if ("agent_name" in data) stored.agentName = data.agent_name || "";
    if ("position" in data) stored.position = data.position;
    if ("estimated_wait" in data) stored.estimatedWait = data.estimated_wait;
    if (data.end_reason) stored.endReason = data.end_reason;
  }

  function renderState() {
    if (!chatView) return;
    const parts = [];
    if (!socketOpen && reconnectAttempts > 0) parts.push(t("reconnecting"));
    else if (!socketOpen) parts.push(t("connecting"));
    if (stored.state === "active" && stored.agentName) {
      parts.push(t("chattingWith", { name: stored.agentName }));
    } else if (stored.state === "queued" || stored.state === "offered" || stored.state === "deflecting") {
      if (stored.position) parts.push(t("queue", { position: stored.position }));
      else parts.push(t("waiting"));
      if (typeof stored.estimatedWait === "number") {
        const minutes = Math.ceil(stored.estimatedWait / 60);
        parts.push(stored.estimatedWait < 60 ? t("waitShort") : t("wait", { minutes }));
      }
    } else if (ENDED_STATES.has(stored.state)) {
      parts.push(t("ended"));
    }
    chatView.status.textContent = parts.join(" ");
  }

  /* ------------------------------------------------------------------ messages */
  function bubble({ author, authorName, text, attachments }) {
    const kind = author === "visitor" ? "visitor" : author === "system" ? "system" : "agent";
    const element = h("div", { class: `message message--${kind}` });
    if (kind !== "system") element.append(h("span", { class: "author" }, kind === "visitor" ? t("you") : (authorName || t("agent"))));
    element.append(...linkified(text || ""));
    for (const file of attachments || []) {
      const href = file.url ? new URL(file.url, ORIGIN).href : null;
      // A signed link of our origin (the visitor has no account): it downloads, it never opens in our page.
      const name = file.name || file.filename;
      element.append(h("span", { class: "author file" }, href
        ? h("a", { href, target: "_blank", rel: "noopener noreferrer", download: name, title: t("file", { name }) }, name)
        : name));
    }
    if (kind === "visitor") element.append(h("span", { class: "receipt" }));
    return element;
  }

  function setReceipt(element, text, sending) {
    const receipt = element.querySelector(".receipt");
    if (receipt) receipt.textContent = text;
    element.classList.toggle("is-sending", Boolean(sending));
  }

  function addPendingBubble(item) {
    if (!chatView || pendingBubbles.has(item.client_id)) return;
    const element = bubble({ author: "visitor", text: item.body });
    element.dataset.clientId = item.client_id;
    setReceipt(element, t("sending"), true);
    pendingBubbles.set(item.client_id, element);
    chatView.log.append(element);
    scrollToEnd();
  }

  /** Put a stored message in id order, before the unacknowledged ones. */
  function placeConfirmed(element, id) {
    const log = chatView.log;
    const later = Array.from(log.children).find((child) => (
      child.dataset.clientId && !child.dataset.id) || (child.dataset.id && Number(child.dataset.id) > id));
    if (later) log.insertBefore(element, later);
    else log.append(element);
  }

  function queueMessage(text) {
    const item = { client_id: uuid(), body: text };
    outbox().push(item);
    save();
    addPendingBubble(item);
    sendFrame({ type: "message", client_id: item.client_id, body: item.body });
  }

  function confirmOutboxItem(clientId, id) {
    const items = outbox();
    const index = items.findIndex((item) => item.client_id === clientId);
    if (index >= 0) {
      items.splice(index, 1);
      save();
    }
    const pending = pendingBubbles.get(clientId);
    if (!pending) return;
    pendingBubbles.delete(clientId);
    if (id && !shownIds.has(id)) {
      shownIds.add(id);
      lastSeenId = Math.max(lastSeenId, id);
      pending.dataset.id = String(id);
      delete pending.dataset.clientId;
      setReceipt(pending, readUpTo() >= id ? t("read") : t("sent"), false);
      placeConfirmed(pending, id);
    } else {
      pending.remove();
    }
  }

  function dropOutboxItem(clientId) {
    stored.outbox = outbox().filter((item) => item.client_id !== clientId);
    save();
    const pending = pendingBubbles.get(clientId);
    pendingBubbles.delete(clientId);
    if (pending) pending.remove();
  }

  function readUpTo() {
    return Number(stored.agentReadUpTo || 0);
  }

  function onMessage(data) {
    if (!chatView || data.is_internal) return;
    const id = Number(data.id);
    if (!id) return;
    if (data.client_id && pendingBubbles.has(data.client_id)) confirmOutboxItem(data.client_id, id);
    else if (data.client_id) confirmOutboxItem(data.client_id, 0);
    if (shownIds.has(id)) {
      // A resend, a resume overlap or a message on two paths; the upload's answer names its files.
      const existing = chatView.log.querySelector(`.message[data-id="${id}"]`);
      if (existing && data.attachments && data.attachments.length && !existing.querySelector(".file")) {
        const fresh = bubble({ author: data.author, authorName: data.author_name, text: data.body, attachments: data.attachments });
        fresh.dataset.id = String(id);
        if (data.author === "visitor") setReceipt(fresh, readUpTo() >= id ? t("read") : t("sent"), false);
        existing.replaceWith(fresh);
      }
      return;
    }
    shownIds.add(id);
    lastSeenId = Math.max(lastSeenId, id);
    const element = bubble({ author: data.author, authorName: data.author_name, text: data.body, attachments: data.attachments });
    element.dataset.id = String(id);
    if (data.author === "visitor") setReceipt(element, readUpTo() >= id ? t("read") : t("sent"), false);
    placeConfirmed(element, id);
    scrollToEnd();
    if (data.author === "agent") {
      if (data.author_name) stored.agentName = data.author_name;
      // A state change missed while away (a refresh): an agent answering means the chat is theirs.
      if (stored.state !== "active" && !ENDED_STATES.has(stored.state)) {
        stored.state = "active";
        save();
        renderState();
      }
      chatView.typing.textContent = "";
      // Only what arrived since the visitor last looked counts as new (a refresh replays the rest).
      if (id > Number(stored.seenUpTo || 0)) notify();
      sendRead();
    }
  }

  function onRead(data) {
    if (!chatView || data.by !== "agent") return;
    stored.agentReadUpTo = Math.max(readUpTo(), Number(data.up_to) || 0);
    save();
    chatView.log.querySelectorAll(".message--visitor[data-id]").forEach((element) => {
      if (Number(element.dataset.id) <= stored.agentReadUpTo) setReceipt(element, t("read"), false);
    });
  }

  function scrollToEnd() {
    if (chatView) chatView.log.scrollTop = chatView.log.scrollHeight;
  }

  function isSeen() {
    return isOpen && document.visibilityState === "visible";
  }

  /** Tell the agent the visitor has seen everything on screen (read receipts). */
  function sendRead() {
    if (!chatView || !isSeen()) return;
    const agentIds = Array.from(chatView.log.querySelectorAll(".message--agent[data-id]"), (element) => Number(element.dataset.id));
    const upTo = Math.max(0, ...agentIds);
    if (upTo > Number(stored.seenUpTo || 0)) {
      stored.seenUpTo = upTo;
      save();
    }
    if (upTo && upTo > (stored.readSent || 0) && sendFrame({ type: "read", up_to: upTo })) {
      stored.readSent = upTo;
      save();
    }
  }

  /* ------------------------------------------------------------------ notifications */
  function unlockSound() {
    // Browsers let a page play sound only after a user gesture: the launcher click is ours.
    if (audioContext || stored.sound === false) return;
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      audioContext = new Context();
    } catch (error) {
      audioContext = null;
    }
  }

  function beep() {
    if (!audioContext || stored.sound === false || audioContext.state !== "running") return;
    const oscillator = audioContext.createOscillator();
    const gain = audioContext.createGain();
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, audioContext.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.15, audioContext.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, audioContext.currentTime + 0.25);
    oscillator.connect(gain).connect(audioContext.destination);
    oscillator.start();
    oscillator.stop(audioContext.currentTime + 0.3);
  }

  function notify() {
    // Only for messages the visitor is not looking at: a sound while reading along is noise.
    if (isSeen()) return;
    beep();
    unread += 1;
    badge.textContent = String(unread);
    badge.hidden = false;
    launcher.setAttribute("aria-label", `${t("launcher")} (${unread === 1 ? t("unreadOne") : t("unreadMany", { count: unread })})`);
    if (!document.title.startsWith("(")) originalTitle = document.title;
    document.title = `(${unread}) ${originalTitle}`;
  }

  function clearUnread() {
    if (!unread) return;
    unread = 0;
    badge.hidden = true;
    launcher.removeAttribute("aria-label");
    document.title = originalTitle;
  }

  document.addEventListener("visibilitychange", () => {
    if (isSeen()) {
      clearUnread();
      sendRead();
    }
  });

  /* ------------------------------------------------------------------ typing */
  function onComposerInput() {
    if (!typingSent) {
      if (sendFrame({ type: "typing", is_typing: true })) typingSent = true;
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingSent) sendFrame({ type: "typing", is_typing: false });
    typingSent = false;
  }

  let agentTypingTimer = null;

  function onTyping(data) {
    if (!chatView || data.who !== "agent") return;
    chatView.typing.textContent = data.is_typing ? t("typing", { name: data.name || stored.agentName || t("agent") }) : "";
    // Typing notices are not stored: if the "stopped" one is lost, the indicator goes by itself.
    clearTimeout(agentTypingTimer);
    if (data.is_typing) agentTypingTimer = setTimeout(() => { if (chatView) chatView.typing.textContent = ""; }, AGENT_TYPING_MAX_MS);
  }

  /* ------------------------------------------------------------------ files */
  async function uploadFile(file) {
    const limit = Number((config && config.max_upload_bytes) || 0);
    if (limit && file.size > limit) {
      chatView.problems.textContent = t("tooLarge", { name: file.name, size: formatBytes(limit) });
      return;
    }
    chatView.problems.textContent = "";
    const note = h("p", { class: "message message--system", role: "status" }, t("uploading", { name: file.name }));
    chatView.log.append(note);
    scrollToEnd();
    const form = new FormData();
    form.append("files", file, file.name);
    form.append("client_id", uuid());
    try {
      const data = await api(chatPath("files"), { method: "POST", form, auth: true });
      note.remove();
      // The upload's message also comes over the socket; whichever arrives second is dropped by id.
      if (data && data.id) onMessage({ author: "visitor", ...data });
    } catch (error) {
      note.textContent = error.status === 413 ? t("tooLarge", { name: file.name, size: formatBytes(limit) }) : t("uploadFailed", { name: file.name });
    }
  }

  /* ------------------------------------------------------------------ websocket */
  function socketUrl() {
    const base = stored.wsUrl || "/ws/chat/visitor/";
    const url = new URL(base, ORIGIN);
    if (url.protocol === "http:") url.protocol = "ws:";
    if (url.protocol === "https:") url.protocol = "wss:";
    if (!url.searchParams.has("token")) url.searchParams.set("token", stored.token);
    // The server replays what came after this right behind the opening `state` frame: no round trip.
    url.searchParams.set("after", String(lastSeenId));
    return url.href;
  }

  function sendFrame(frame) {
    if (!socket || !socketOpen) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
    if (socket || !stored.chat || !stored.token || ENDED_STATES.has(stored.state)) return;
    clearTimeout(reconnectTimer);
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (error) {
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.addEventListener("open", () => {
      if (socket !== ws) return;
      socketOpen = true;
      reconnectAttempts = 0;
      renderState();
      // Unacknowledged messages again, in order; the server stores each client id once.
      for (const item of outbox()) sendFrame({ type: "message", client_id: item.client_id, body: item.body });
      clearInterval(pingTimer);
      pingTimer = setInterval(() => sendFrame({ type: "ping" }), PING_INTERVAL_MS);
    });
    ws.addEventListener("message", (event) => {
      if (socket !== ws) return;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      handleFrame(data);
    });
    ws.addEventListener("close", (event) => {
      if (socket !== ws) return;
      socket = null;
      socketOpen = false;
      typingSent = false;
      clearInterval(pingTimer);
      onClosed(event.code);
    });
  }

  /** The opening state names a newer message than the log shows: the replay brings it; should
   * that not happen (an old server, a lost frame), ask for it once. */
  function expectReplayUpTo(id) {
    clearTimeout(replayCheckTimer);
    replayCheckTimer = setTimeout(() => {
      if (lastSeenId < id) sendFrame({ type: "resume", after: lastSeenId });
    }, REPLAY_CHECK_MS);
  }

  function disconnect() {
    const ws = socket;
    socket = null;
    socketOpen = false;
    clearInterval(pingTimer);
    clearTimeout(reconnectTimer);
    if (ws) ws.close(1000);
  }

  function onClosed(code) {
    if (!chatView) return;
    if (code === 4401) {
      forgetChat();
      chatView.status.textContent = "";
      show(h("p", { class: "notice", role: "status" }, t("expired")),
        h("div", { class: "actions" }, h("button", { type: "button", class: "button", onclick: startOver }, t("newChat"))));
      return;
    }
    if (code === 4403) {
      chatView.status.textContent = t("unavailable");
      return;
    }
    if (code === 4404) {
      stored.state = "ended";
      save();
      showEnded();
      return;
    }
    if (code === 4429 && chatView) chatView.problems.textContent = t("rateLimited");
    scheduleReconnect(code === 4429 ? 10000 : 0);
  }

  function scheduleReconnect(minimum = 0) {
    reconnectAttempts += 1;
    renderState();
    clearTimeout(reconnectTimer);
    // 0.5 s, 1 s, 2 s … up to 30 s, with jitter so a server restart is not met by every visitor at once.
    const delay = Math.max(minimum, Math.min(RECONNECT_MAX_MS, 500 * 2 ** (reconnectAttempts - 1)) * (0.75 + Math.random() / 2));
    reconnectTimer = setTimeout(connect, delay);
  }

  window.addEventListener("online", () => {
    if (!socket && chatView && !ENDED_STATES.has(stored.state)) {
      reconnectAttempts = 0;
      connect();
    }
  });

  function handleFrame(data) {
    const type = String(data.type || "").replace(/^chat\./, "");
    if (type === "ack") {
      confirmOutboxItem(data.client_id, Number(data.id) || 0);
    } else if (type === "message") {
      onMessage(data);
    } else if (type === "state") {
      // Also the frame every connection opens with (state, queue place, agent, last message id).
      applyStateData(data);
      if (Number(data.last_message_id) > lastSeenId) expectReplayUpTo(Number(data.last_message_id));
      save();
      renderState();
      if (ENDED_STATES.has(stored.state)) showEnded();
    } else if (type === "typing") {
      onTyping(data);
    } else if (type === "read") {
      onRead(data);
    } else if (type === "ended") {
      stored.state = "ended";
      stored.endReason = data.reason || "";
      save();
      disconnect();
      showEnded();
    } else if (type === "error" && chatView) {
      // A message the server refused for good (too long, empty, refused): resending cannot help.
      if (data.client_id) dropOutboxItem(data.client_id);
      chatView.problems.textContent = data.code === "too_long" ? t("tooLong") : (data.detail || t("error"));
    }
  }

  /* ------------------------------------------------------------------ start */
  async function showStart({ reload = false } = {}) {
    // An ended chat is not brought back after a refresh: its rating was offered when it ended.
    if (stored.chat && ENDED_STATES.has(stored.state)) forgetChat();
    if (stored.chat && stored.token) {
      if (stored.state === "deflecting") showDeflection();
      else enterChat();
      return;
    }
    if (reload || !config || config.online === undefined) {
      show(h("p", { role: "status" }, t("loading")));
      try {
        // Online or not changes while a page is open: asked again for every new chat.
        await loadConfig();
      } catch (error) {
        show(h("p", { class: "error", role: "alert" }, t("error")));
        return;
      }
    }
    if (config.online) showPrechat();
    else showOffline();
  }

  async function boot() {
    try {
      await loadConfig();
    } catch (error) {
      // Unknown key, inactive widget, or a site not among its allowed origins (the browser then
      // refuses the answer itself: no status). A visitor in the middle of a chat still gets it back.
      if (error.status === 400 && TEAM) {
        console.warn(`helpdesk chat: the widget "${KEY}" does not answer for the team "${TEAM}" (data-team)`);
        return;
      }
      if (!stored.chat || error.status === 404) {
        console.warn(`helpdesk chat: the widget "${KEY}" is unknown, inactive or not allowed on ${location.origin}`);
        return;
      }
      config = {};
    }
    buildShell();
    await showStart().catch(() => undefined);
    if (stored.open) open();
  }

  if (document.body) boot();
  else document.addEventListener("DOMContentLoaded", boot, { once: true });
})();
