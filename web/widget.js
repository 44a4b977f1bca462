/*
 * Điện lực web chat widget. No build step, no CDN: served with its stylesheet and the socket.io-client v4
 * browser bundle by `python -m bot.web`.
 *
 *   <script src="http://HOST:PORT/widget.js" data-server="http://RASA_HOST:5005"
 *           data-title="Trợ lý CSKH" data-color="#0a58a8" data-greeting="Xin chào!" data-lang="vi"></script>
 *
 * Optional: data-path (socket.io path, default /socket.io), data-open="true" (open on load).
 * Elements with a `data-webchat-open` attribute open the panel; window.DienLucWebChat has open(), close(),
 * send(text).
 *
 * Protocol (see connectors/webchat.py): session_request/session_confirm, history, user_uttered (with
 * client_msg_id and an acknowledgement), bot_uttered, user_echo, bot_typing.
 * Security: all content is rendered with textContent / createTextNode; only http(s) URLs become links or
 * images; links get rel="noopener noreferrer".
 */
(function () {
  "use strict";

  if (window.DienLucWebChat && window.DienLucWebChat.__loaded) {
    return; // embedded twice: keep the first
  }

  var script = document.currentScript ||
    (function () {
      var all = document.querySelectorAll("script[src*='widget.js']");
      return all[all.length - 1];
    })();
  var scriptUrl = new URL(script.getAttribute("src"), document.baseURI);
  var ASSET_BASE = scriptUrl.href.replace(/[^/]*$/, "");

  function attr(name, fallback) {
    var v = script.getAttribute("data-" + name);
    return v === null || v === "" ? fallback : v;
  }

  var STRINGS = {
    vi: {
      title: "Trợ lý Chăm sóc khách hàng",
      openChat: "Mở cửa sổ trò chuyện",
      unread: function (n) { return " (" + n + " tin nhắn mới)"; },
      close: "Thu nhỏ cửa sổ trò chuyện",
      online: "Đang trực tuyến",
      connecting: "Đang kết nối…",
      offline: "Mất kết nối",
      bannerConnecting: "Đang kết nối tới máy chủ…",
      bannerOffline: "Mất kết nối. Đang thử kết nối lại… Tin nhắn của bạn sẽ được gửi khi có kết nối.",
      bannerBack: "Đã kết nối lại.",
      log: "Nội dung cuộc trò chuyện",
      input: "Nhập tin nhắn",
      placeholder: "Nhập tin nhắn…",
      send: "Gửi tin nhắn",
      quick: "Gợi ý trả lời",
      you: "Bạn",
      bot: "Trợ lý ảo",
      agent: "Nhân viên CSKH",
      system: "Thông báo",
      typingBot: "Trợ lý đang soạn tin…",
      typingAgent: "Nhân viên đang soạn tin…",
      pending: "Đang chờ gửi",
      sent: "Đã gửi",
      failed: "Không gửi được",
      requestCode: "Mã yêu cầu",
      summary: "Thông tin yêu cầu",
      image: "Hình ảnh",
      footer: "Trợ lý ảo có thể nhầm lẫn. Cần hỗ trợ gấp, vui lòng gọi tổng đài.",
      locale: "vi-VN"
    },
    en: {
      title: "Customer care assistant",
      openChat: "Open chat",
      unread: function (n) { return " (" + n + " new messages)"; },
      close: "Minimise chat",
      online: "Online",
      connecting: "Connecting…",
      offline: "Offline",
      bannerConnecting: "Connecting to the server…",
      bannerOffline: "Connection lost. Reconnecting… Your messages will be sent once back online.",
      bannerBack: "Reconnected.",
      log: "Conversation",
      input: "Type a message",
      placeholder: "Type a message…",
      send: "Send message",
      quick: "Suggested replies",
      you: "You",
      bot: "Virtual assistant",
      agent: "Customer care agent",
      system: "Notice",
      typingBot: "The assistant is typing…",
      typingAgent: "The agent is typing…",
      pending: "Waiting to send",
      sent: "Sent",
      failed: "Not sent",
      requestCode: "Request code",
      summary: "Request details",
      image: "Image",
      footer: "The virtual assistant can make mistakes. For urgent help, call the hotline.",
      locale: "en-GB"
    }
  };

  var LANG = STRINGS[attr("lang", "vi")] ? attr("lang", "vi") : "vi";
  var T = STRINGS[LANG];
  var CONFIG = {
    server: attr("server", scriptUrl.origin),
    path: attr("path", "/socket.io"),
    title: attr("title", T.title),
    color: attr("color", "#0a58a8"),
    greeting: attr("greeting", ""),
    openOnLoad: attr("open", "false") === "true"
  };
  var STORE_KEY = "dlwebchat:" + CONFIG.server;
  var MAX_CHARS = 1000;
  var ACK_TIMEOUT_MS = 8000;
  var TYPING_TIMEOUT_MS = 30000;

  // ------------------------------------------------------------------ storage (never throws)
  var memoryStore = {};
  function storageGet(area, key) {
    try { return window[area].getItem(key); } catch (e) { return memoryStore[area + key] || null; }
  }
  function storageSet(area, key, value) {
    try {
      if (value === null) { window[area].removeItem(key); } else { window[area].setItem(key, value); }
    } catch (e) {
      memoryStore[area + key] = value;
    }
  }

  // ------------------------------------------------------------------ small helpers
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function svg(pathD, viewBox) {
    var ns = "http://www.w3.org/2000/svg";
    var s = document.createElementNS(ns, "svg");
    s.setAttribute("viewBox", viewBox || "0 0 24 24");
    s.setAttribute("aria-hidden", "true");
    s.setAttribute("focusable", "false");
    var p = document.createElementNS(ns, "path");
    p.setAttribute("d", pathD);
    s.appendChild(p);
    return s;
  }

  var ICON_CHAT = "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8.4L4 21.5V18H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z";
  var ICON_CLOSE = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z";
  var ICON_SEND = "M3 20.5V14l9-2-9-2V3.5L22 12z";
  var ICON_BOLT = "M13 2 4 14h6l-1 8 9-12h-6z";

  function randomId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    var hex = "";
    for (var i = 0; i < bytes.length; i++) { hex += ("0" + bytes[i].toString(16)).slice(-2); }
    return "c-" + hex;
  }

  function safeUrl(value) {
    if (typeof value !== "string" || !value) { return null; }
    try {
      var u = new URL(value, document.baseURI);
      return (u.protocol === "http:" || u.protocol === "https:") ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function parseColor(value) {
    var m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec((value || "").trim());
    if (!m) { return null; }
    var h = m[1].length === 3 ? m[1].replace(/(.)/g, "$1$1") : m[1];
    return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
  }

  function luminance(rgb) {
    var c = rgb.map(function (v) {
      v = v / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }

  function contrast(a, b) {
    var l1 = luminance(a), l2 = luminance(b);
    return (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
  }

  // Append `text` to `parent` as text nodes; http(s) URLs become safe links.
  var URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  function appendRichText(parent, text) {
    text = String(text);
    var last = 0;
    var match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      var raw = match[0].replace(/[.,;:!?)\]}]+$/, "");
      var href = safeUrl(raw);
      if (!href) { continue; }
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = el("a", null, raw);
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      parent.appendChild(a);
      last = match.index + raw.length;
      URL_RE.lastIndex = last;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  var timeFormat = new Intl.DateTimeFormat(T.locale, { hour: "2-digit", minute: "2-digit" });
  var dateTimeFormat = new Intl.DateTimeFormat(T.locale, {
    day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit"
  });
  function formatTime(ms) {
    var d = new Date(ms);
    var today = new Date();
    return d.toDateString() === today.toDateString() ? timeFormat.format(d) : dateTimeFormat.format(d);
  }

  // ------------------------------------------------------------------ state
  var state = {
    socket: null,
    io: null,
    sessionId: storageGet("localStorage", STORE_KEY + ":session"),
    connected: false,
    confirmed: false,
    everConnected: false,
    flushing: false,
    open: false,
    unread: 0,
    messages: {},       // id -> message
    outbox: [],         // [{id, text, display, metadata, ts}]
    typingTimer: null,
    bannerTimer: null
  };

  function outboxKey() { return STORE_KEY + ":outbox"; }
  function saveOutbox() {
    storageSet("localStorage", outboxKey(), state.outbox.length ? JSON.stringify(state.outbox) : null);
  }
  function loadOutbox() {
    try {
      var items = JSON.parse(storageGet("localStorage", outboxKey()) || "[]");
      return Array.isArray(items) ? items.filter(function (i) { return i && typeof i.id === "string"; }) : [];
    } catch (e) {
      return [];
    }
  }

  // ------------------------------------------------------------------ DOM
  var host = el("div");
  host.id = "dienluc-webchat";
  var shadow = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var root = el("div", "ew-root");
  root.style.visibility = "hidden"; // until the stylesheet has loaded
  root.setAttribute("lang", LANG);

  var rgb = parseColor(CONFIG.color) || parseColor("#0a58a8");
  var onColor = contrast(rgb, [255, 255, 255]) >= 4.5 ? "#ffffff" : "#111111";
  root.style.setProperty("--ew-color", "rgb(" + rgb.join(",") + ")");
  root.style.setProperty("--ew-on-color", onColor);

  var link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = ASSET_BASE + "widget.css";
  link.onload = link.onerror = function () { root.style.visibility = ""; };
  shadow.appendChild(link);
  shadow.appendChild(root);

  var launcher = el("button", "ew-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "ew-panel");
  launcher.appendChild(svg(ICON_CHAT));
  var badge = el("span", "ew-badge");
  badge.hidden = true;
  badge.setAttribute("aria-hidden", "true");
  launcher.appendChild(badge);

  var panel = el("section", "ew-panel");
  panel.id = "ew-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-modal", "false");
  panel.setAttribute("aria-labelledby", "ew-title");

  var header = el("div", "ew-header");
  var avatar = el("div", "ew-avatar");
  avatar.appendChild(svg(ICON_BOLT));
  var heading = el("div", "ew-heading");
  var title = el("h2", "ew-title", CONFIG.title);
  title.id = "ew-title";
  var status = el("p", "ew-status");
  var statusDot = el("span", "ew-dot");
  statusDot.setAttribute("aria-hidden", "true");
  var statusText = el("span", null, T.connecting);
  status.appendChild(statusDot);
  status.appendChild(statusText);
  heading.appendChild(title);
  heading.appendChild(status);
  var closeBtn = el("button", "ew-close");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", T.close);
  closeBtn.appendChild(svg(ICON_CLOSE));
  header.appendChild(avatar);
  header.appendChild(heading);
  header.appendChild(closeBtn);

  var banner = el("div", "ew-banner");
  banner.setAttribute("role", "status");
  banner.hidden = true;

  var log = el("div", "ew-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-relevant", "additions");
  log.setAttribute("aria-label", T.log);
  log.tabIndex = 0;

  var typing = el("div", "ew-typing");
  typing.setAttribute("role", "status");
  typing.hidden = true;
  var dots = el("span", "ew-dots");
  dots.setAttribute("aria-hidden", "true");
  dots.appendChild(el("span"));
  dots.appendChild(el("span"));
  dots.appendChild(el("span"));
  var typingText = el("span", null, T.typingBot);
  typing.appendChild(dots);
  typing.appendChild(typingText);

  var quick = el("div", "ew-quick");
  quick.setAttribute("role", "group");
  quick.setAttribute("aria-label", T.quick);

  var form = el("form", "ew-composer");
  form.setAttribute("novalidate", "");
  var inputLabel = el("label", "ew-sr", T.input);
  inputLabel.htmlFor = "ew-input";
  var input = el("textarea", "ew-input");
  input.id = "ew-input";
  input.rows = 1;
  input.maxLength = MAX_CHARS;
  input.placeholder = T.placeholder;
  input.setAttribute("enterkeyhint", "send");
  input.setAttribute("autocomplete", "off");
  var sendBtn = el("button", "ew-send");
  sendBtn.type = "submit";
  sendBtn.setAttribute("aria-label", T.send);
  sendBtn.appendChild(svg(ICON_SEND));
  form.appendChild(inputLabel);
  form.appendChild(input);
  form.appendChild(sendBtn);

  var footer = el("div", "ew-footer", T.footer);

  panel.appendChild(header);
  panel.appendChild(banner);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(quick);
  panel.appendChild(form);
  panel.appendChild(footer);
  root.appendChild(panel);
  root.appendChild(launcher);

  // ------------------------------------------------------------------ rendering
  function senderLabel(msg) {
    if (msg.sender === "user") { return T.you; }
    if (msg.sender === "agent") { return msg.sender_name ? T.agent + " · " + msg.sender_name : T.agent; }
    if (msg.sender === "system") { return T.system; }
    return T.bot;
  }

  function renderCard(custom) {
    if (!custom || typeof custom !== "object") { return null; }
    var card;
    if (custom.type === "request_summary") {
      card = el("div", "ew-card");
      card.setAttribute("role", "group");
      card.setAttribute("aria-label", custom.title ? String(custom.title) : T.summary);
      card.appendChild(el("p", "ew-card-title", custom.title || T.summary));
      if (Array.isArray(custom.fields) && custom.fields.length) {
        var dl = el("dl");
        custom.fields.forEach(function (f) {
          if (!f || typeof f !== "object") { return; }
          dl.appendChild(el("dt", null, f.label));
          var dd = el("dd");
          appendRichText(dd, f.value === undefined || f.value === null ? "" : f.value);
          dl.appendChild(dd);
        });
        card.appendChild(dl);
      }
      if (custom.request_code) {
        var code = el("div", "ew-code");
        code.appendChild(el("span", null, T.requestCode));
        code.appendChild(el("strong", null, custom.request_code));
        card.appendChild(code);
      }
      if (custom.note) {
        var note = el("p", "ew-card-note");
        appendRichText(note, custom.note);
        card.appendChild(note);
      }
      return card;
    }
    if (custom.type === "link") {
      var href = safeUrl(custom.url);
      if (!href) { return null; }
      card = el("div", "ew-card");
      var a = el("a", "ew-link", custom.title || custom.url);
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      card.appendChild(a);
      if (custom.description) { card.appendChild(el("p", "ew-card-note", custom.description)); }
      return card;
    }
    if (custom.type === "image") {
      return renderImage(custom.url, custom.alt);
    }
    if (typeof custom.text === "string" && custom.text) {
      card = el("div", "ew-card");
      appendRichText(card, custom.text);
      return card;
    }
    return null;
  }

  function renderImage(url, alt) {
    var src = safeUrl(url);
    if (!src) { return null; }
    var img = el("img", "ew-image");
    img.src = src;
    img.alt = alt ? String(alt) : T.image;
    img.loading = "lazy";
    img.referrerPolicy = "no-referrer";
    return img;
  }

  function renderElements(elements) {
    if (!Array.isArray(elements)) { elements = [elements]; }
    var box = el("div");
    elements.forEach(function (item) {
      if (!item || typeof item !== "object") { return; }
      var card = el("div", "ew-card");
      if (item.title) { card.appendChild(el("p", "ew-card-title", item.title)); }
      var img = renderImage(item.image_url, item.title);
      if (img) { card.appendChild(img); }
      if (item.subtitle) {
        var sub = el("p", "ew-card-note");
        appendRichText(sub, item.subtitle);
        card.appendChild(sub);
      }
      box.appendChild(card);
    });
    return box.childNodes.length ? box : null;
  }

  function messageNode(msg) {
    var sender = msg.sender === "user" || msg.sender === "agent" || msg.sender === "system" ? msg.sender : "bot";
    var node = el("div", "ew-msg ew-" + sender);
    node.setAttribute("data-id", msg.id);
    if (sender === "agent" || sender === "system") {
      node.appendChild(el("div", "ew-who", senderLabel(msg)));
    }
    if (msg.text) {
      var bubble = el("div", "ew-bubble");
      if (sender !== "agent" && sender !== "system") {
        bubble.appendChild(el("span", "ew-sr", senderLabel(msg) + ": "));
      }
      var body = el("span", "ew-text");
      appendRichText(body, msg.text);
      bubble.appendChild(body);
      node.appendChild(bubble);
    }
    var extras = [];
    if (msg.custom) { extras.push(renderCard(msg.custom)); }
    if (msg.image) { extras.push(renderImage(msg.image)); }
    if (msg.attachment && typeof msg.attachment === "object") {
      var att = msg.attachment;
      if (att.type === "image" && att.payload) {
        extras.push(renderImage(att.payload.src || att.payload.url, att.payload.title));
      } else if (att.type === "template" && att.payload && att.payload.elements) {
        extras.push(renderElements(att.payload.elements));
      }
    }
    if (msg.elements) { extras.push(renderElements(msg.elements)); }
    extras.forEach(function (x) { if (x) { node.appendChild(x); } });
    if (!node.querySelector(".ew-bubble, .ew-card, .ew-image")) { return null; }

    var meta = el("div", "ew-meta");
    if (msg.ts) {
      var time = el("time", null, formatTime(msg.ts));
      time.dateTime = new Date(msg.ts).toISOString();
      meta.appendChild(time);
    }
    if (sender === "user" && msg.state) {
      var st = el("span", "ew-state ew-state-" + msg.state,
        msg.state === "pending" ? T.pending : msg.state === "failed" ? T.failed : T.sent);
      meta.appendChild(st);
      if (msg.state === "pending") { node.className += " ew-pending"; }
    }
    node.appendChild(meta);
    return node;
  }

  function sortedMessages() {
    var list = Object.keys(state.messages).map(function (k) { return state.messages[k]; });
    var delivered = list.filter(function (m) { return m.state !== "pending"; });
    var pending = list.filter(function (m) { return m.state === "pending"; });
    delivered.sort(function (a, b) { return (a.ts || 0) - (b.ts || 0) || (a.seq || 0) - (b.seq || 0); });
    pending.sort(function (a, b) { return (a.seq || 0) - (b.seq || 0); });
    return delivered.concat(pending);
  }

  function greetingNode() {
    if (!CONFIG.greeting) { return null; }
    var node = messageNode({ id: "greeting", sender: "bot", text: CONFIG.greeting });
    if (node) { node.classList.add("ew-greeting"); }
    return node;
  }

  function scrollToBottom() {
    log.scrollTop = log.scrollHeight;
  }

  function renderAll() {
    log.setAttribute("aria-busy", "true");
    while (log.firstChild) { log.removeChild(log.firstChild); }
    var g = greetingNode();
    if (g) { log.appendChild(g); }
    sortedMessages().forEach(function (m) {
      var node = messageNode(m);
      if (node) { log.appendChild(node); }
    });
    log.setAttribute("aria-busy", "false");
    renderQuickReplies();
    scrollToBottom();
  }

  var seq = 0;
  // Add or update one message without re-rendering the whole log.
  function upsert(msg) {
    if (!msg || typeof msg.id !== "string") { return; }
    var existing = state.messages[msg.id];
    msg.seq = existing ? existing.seq : ++seq;
    state.messages[msg.id] = msg;
    var node = messageNode(msg);
    var old = log.querySelector('[data-id="' + cssEscape(msg.id) + '"]');
    if (old) {
      if (node) { log.replaceChild(node, old); } else { log.removeChild(old); }
    } else if (node) {
      var firstPending = msg.state === "pending" ? null : log.querySelector(".ew-pending");
      log.insertBefore(node, firstPending);
    }
    renderQuickReplies();
    scrollToBottom();
  }

  function cssEscape(s) {
    return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, "\\$&");
  }

  function markLatestUser() {
    var users = log.querySelectorAll(".ew-user");
    for (var i = 0; i < users.length; i++) {
      users[i].classList.toggle("ew-latest", i === users.length - 1);
    }
  }

  function renderQuickReplies() {
    markLatestUser();
    while (quick.firstChild) { quick.removeChild(quick.firstChild); }
    var list = sortedMessages();
    var last = list[list.length - 1];
    if (!last || last.sender === "user" || !Array.isArray(last.quick_replies)) { return; }
    last.quick_replies.forEach(function (qr) {
      if (!qr || typeof qr.title !== "string") { return; }
      var b = el("button", "ew-reply", qr.title);
      b.type = "button";
      b.addEventListener("click", function () {
        send(typeof qr.payload === "string" ? qr.payload : qr.title, qr.title);
        input.focus();
      });
      quick.appendChild(b);
    });
  }

  // ------------------------------------------------------------------ typing, banner, status, unread
  function showTyping(on, sender) {
    clearTimeout(state.typingTimer);
    typing.hidden = !on;
    typingText.textContent = sender === "agent" ? T.typingAgent : T.typingBot;
    if (on) {
      state.typingTimer = setTimeout(function () { typing.hidden = true; }, TYPING_TIMEOUT_MS);
      scrollToBottom();
    }
  }

  function setBanner(text, ok) {
    clearTimeout(state.bannerTimer);
    if (!text) {
      banner.hidden = true;
      banner.textContent = "";
      return;
    }
    banner.textContent = text;
    banner.classList.toggle("ew-ok", !!ok);
    banner.hidden = false;
    if (ok) {
      state.bannerTimer = setTimeout(function () { setBanner(null); }, 2500);
    }
  }

  function setOnline(online) {
    root.classList.toggle("ew-offline", !online);
    statusText.textContent = online ? T.online : (state.everConnected ? T.offline : T.connecting);
    root.setAttribute("data-connection", online ? "online" : "offline");
  }

  function updateLauncherLabel() {
    launcher.setAttribute("aria-label", CONFIG.title + " – " + T.openChat +
      (state.unread ? T.unread(state.unread) : ""));
    badge.textContent = state.unread ? String(state.unread) : "";
    badge.hidden = !state.unread;
  }

  // ------------------------------------------------------------------ open / close
  function openPanel() {
    state.open = true;
    panel.hidden = false;
    root.classList.add("ew-open");
    launcher.setAttribute("aria-expanded", "true");
    state.unread = 0;
    updateLauncherLabel();
    storageSet("sessionStorage", STORE_KEY + ":open", "1");
    ensureConnected();
    scrollToBottom();
    input.focus();
  }

  function closePanel() {
    state.open = false;
    panel.hidden = true;
    root.classList.remove("ew-open");
    launcher.setAttribute("aria-expanded", "false");
    storageSet("sessionStorage", STORE_KEY + ":open", null);
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (state.open) { closePanel(); } else { openPanel(); }
  });
  closeBtn.addEventListener("click", closePanel);
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { e.preventDefault(); closePanel(); }
  });

  // ------------------------------------------------------------------ composer
  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
  }
  input.addEventListener("input", autosize);
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    submit();
  });

  function submit() {
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    autosize();
    send(text);
  }

  // Queue a customer message; it is sent now if online, otherwise once the connection is back.
  function send(payload, display) {
    payload = String(payload).slice(0, MAX_CHARS);
    var item = { id: randomId(), text: payload, display: display || null, ts: Date.now() };
    state.outbox.push(item);
    saveOutbox();
    upsert({ id: item.id, sender: "user", text: display || payload, ts: item.ts, state: "pending" });
    while (quick.firstChild) { quick.removeChild(quick.firstChild); }
    ensureConnected();
    flush();
  }

  function flush() {
    if (state.flushing || !state.connected || !state.confirmed || !state.outbox.length) { return; }
    state.flushing = true;
    var item = state.outbox[0];
    var socket = state.socket;
    var metadata = { lang: LANG, page: location.pathname };
    if (item.display) { metadata.display_text = item.display; }
    showTyping(true, "bot");
    socket.timeout(ACK_TIMEOUT_MS).emit("user_uttered", {
      message: item.text,
      session_id: state.sessionId,
      client_msg_id: item.id,
      metadata: metadata
    }, function (err, ack) {
      state.flushing = false;
      if (err) {
        // no acknowledgement: keep it queued; it is re-sent (same id, the server drops duplicates)
        showTyping(false);
        if (state.connected) { setTimeout(flush, 1000); }
        return;
      }
      state.outbox = state.outbox.filter(function (x) { return x.id !== item.id; });
      saveOutbox();
      var msg = state.messages[item.id];
      if (msg) {
        var ok = ack && (ack.status === "ok" || ack.status === "duplicate");
        var updated = Object.assign({}, msg, { state: ok ? "sent" : "failed" });
        if (ok && ack.ts && msg.state === "pending") { updated.ts = ack.ts; }
        if (!ok || ack.status === "duplicate") { showTyping(false); }
        upsert(updated);
      }
      flush();
    });
  }

  // ------------------------------------------------------------------ socket
  function onHistory(data) {
    if (!data || !Array.isArray(data.messages)) { return; }
    var pendingIds = {};
    state.outbox.forEach(function (x) { pendingIds[x.id] = true; });
    var inHistory = {};
    data.messages.forEach(function (m) {
      if (!m || typeof m.id !== "string") { return; }
      inHistory[m.id] = true;
      var old = state.messages[m.id];
      m.seq = old ? old.seq : ++seq;
      if (m.sender === "user") { m.state = "sent"; }
      state.messages[m.id] = m;
    });
    // a queued message the server already has (its acknowledgement was lost) is not sent again
    var before = state.outbox.length;
    state.outbox = state.outbox.filter(function (x) { return !inHistory[x.id]; });
    if (state.outbox.length !== before) { saveOutbox(); }
    renderAll();
  }

  function connectSocket(io) {
    var socket = io(CONFIG.server, {
      path: CONFIG.path,
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnection: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 5000,
      timeout: 10000,
      autoConnect: true
    });
    state.socket = socket;

    socket.on("connect", function () {
      state.connected = true;
      state.confirmed = false;
      socket.emit("session_request", { session_id: state.sessionId });
    });

    socket.on("session_confirm", function (sessionId) {
      if (typeof sessionId === "string" && sessionId) {
        state.sessionId = sessionId;
        storageSet("localStorage", STORE_KEY + ":session", sessionId);
      }
      state.confirmed = true;
      var wasOffline = state.everConnected && root.getAttribute("data-connection") !== "online";
      state.everConnected = true;
      setOnline(true);
      setBanner(wasOffline ? T.bannerBack : null, true);
      flush();
    });

    socket.on("history", onHistory);

    socket.on("bot_uttered", function (msg) {
      if (!msg || typeof msg !== "object") { return; }
      if (typeof msg.id !== "string") { msg.id = "b" + (++seq) + "-" + Date.now(); }
      if (!msg.ts) { msg.ts = Date.now(); }
      var isNew = !state.messages[msg.id];
      upsert(msg);
      if (isNew && !state.open) {
        state.unread += 1;
        updateLauncherLabel();
      }
    });

    socket.on("user_echo", function (msg) {
      if (msg && typeof msg.id === "string" && !state.messages[msg.id]) {
        msg.state = "sent";
        upsert(msg);
      }
    });

    socket.on("bot_typing", function (data) {
      showTyping(!!(data && data.on), data && data.sender);
    });

    socket.on("disconnect", function (reason) {
      state.connected = false;
      state.confirmed = false;
      state.flushing = false;
      socket.sendBuffer = []; // never replay buffered emits: the outbox re-sends with the same ids
      showTyping(false);
      setOnline(false);
      setBanner(T.bannerOffline);
      if (reason === "io server disconnect") { socket.connect(); }
    });

    socket.on("connect_error", function () {
      setOnline(false);
      setBanner(state.everConnected ? T.bannerOffline : T.bannerConnecting);
    });
  }

  var loading = null;
  // socket.io-client v4 bundle from our own server, without clobbering a page's own window.io
  function loadSocketIo() {
    if (loading) { return loading; }
    loading = new Promise(function (resolve, reject) {
      var previous = window.io;
      var s = document.createElement("script");
      s.src = ASSET_BASE + "vendor/socket.io.min.js";
      s.async = true;
      s.onload = function () {
        var ours = window.io;
        if (previous !== undefined) { window.io = previous; } else { try { delete window.io; } catch (e) { window.io = undefined; } }
        if (typeof ours === "function") { resolve(ours); } else { reject(new Error("socket.io missing")); }
      };
      s.onerror = function () { reject(new Error("socket.io bundle failed to load")); };
      document.head.appendChild(s);
    });
    return loading;
  }

  function ensureConnected() {
    if (state.socket) { return; }
    setOnline(false);
    loadSocketIo().then(function (io) {
      if (!state.socket) { connectSocket(io); }
    }, function () {
      loading = null;
      setBanner(T.bannerOffline);
    });
  }

  // ------------------------------------------------------------------ start
  function start() {
    document.body.appendChild(host);
    state.outbox = loadOutbox();
    state.outbox.forEach(function (item) {
      state.messages[item.id] = { id: item.id, sender: "user", text: item.display || item.text, ts: item.ts,
        state: "pending", seq: ++seq };
    });
    updateLauncherLabel();
    setOnline(false);
    renderAll();
    document.addEventListener("click", function (e) {
      var target = e.target && e.target.closest ? e.target.closest("[data-webchat-open]") : null;
      if (target) { e.preventDefault(); openPanel(); }
    });
    // an existing conversation reconnects at once (server push, unread badge); a new visitor on first open
    if (state.sessionId || state.outbox.length) { ensureConnected(); }
    if (CONFIG.openOnLoad || storageGet("sessionStorage", STORE_KEY + ":open")) { openPanel(); }
  }

  window.DienLucWebChat = {
    __loaded: true,
    open: openPanel,
    close: closePanel,
    send: function (text) { if (text) { send(String(text)); } },
    sessionId: function () { return state.sessionId; }
  };

  if (document.body) {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
