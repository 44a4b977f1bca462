/* Agent console (bot/web/console_pages.py serves it; data from the JSON API under /api).
   No framework, no build step. Everything customers or agents typed is put on the page as text
   (textContent / createTextNode), never as markup. */
(function () {
  "use strict";

  var TZ = "Asia/Ho_Chi_Minh";
  var fmtTime = new Intl.DateTimeFormat("vi-VN", { hour: "2-digit", minute: "2-digit", timeZone: TZ });
  var fmtDateTime = new Intl.DateTimeFormat("vi-VN", { hour: "2-digit", minute: "2-digit", day: "2-digit",
                                                       month: "2-digit", timeZone: TZ });
  var fmtDate = new Intl.DateTimeFormat("vi-VN", { day: "2-digit", month: "2-digit", year: "numeric", timeZone: TZ });
  var fmtMoney = new Intl.NumberFormat("vi-VN");
  var CHANNEL = { webchat: ["Web", "ch-web"], zalo: ["Zalo", "ch-zalo"], messenger: ["Messenger", "ch-messenger"],
                  rest: ["REST", "ch-web"] };
  var STATE_VI = { bot: "Bot đang trả lời", waiting: "Đang chờ tư vấn viên", agent: "Tư vấn viên đang hỗ trợ",
                   closed: "Đã kết thúc" };
  var SENDER_VI = { user: "Khách hàng", bot: "Trợ lý ảo", agent: "Tư vấn viên", system: "Hệ thống" };
  var INTERNAL_SLOTS = ["service", "requested_slot", "session_started_metadata"];
  var DELIVERY_VI = { sent: "Đã gửi cho khách", failed: "Không gửi được cho khách", skipped: "Không gửi (không có kênh)" };

  var S = {
    me: null, csrf: "", meta: null, canned: [], agents: [], convs: {}, tab: "waiting", openPk: null,
    detail: null, mode: "reply", ws: null, wsRetry: 0, knownWaiting: {}, refreshTimer: null,
    typingAt: 0, typingTimer: null, cannedIndex: 0, baseTitle: document.title, requestCode: null
  };

  // ------------------------------------------------------------------------------------ helpers

  function $(id) { return document.getElementById(id); }

  /* h("div", {class: "x", dataset: {pk: 1}, onclick: fn}, "text", child) — strings become text nodes. */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) { return; }
      if (k === "class") { el.className = v; }
      else if (k === "dataset") { Object.keys(v).forEach(function (d) { el.dataset[d] = v[d]; }); }
      else if (k.slice(0, 2) === "on") { el.addEventListener(k.slice(2), v); }
      else if (k === "text") { el.textContent = v; }
      else { el.setAttribute(k, v === true ? "" : v); }
    });
    for (var i = 2; i < arguments.length; i++) { append(el, arguments[i]); }
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) { return; }
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }

  function clear(el) { while (el.firstChild) { el.removeChild(el.firstChild); } return el; }

  function when(iso, withDate) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    var sameDay = fmtDate.format(d) === fmtDate.format(new Date());
    return (withDate || !sameDay ? fmtDateTime : fmtTime).format(d);
  }

  function day(isoDate) {
    var p = (isoDate || "").split("-");
    return p.length === 3 ? p[2] + "/" + p[1] + "/" + p[0] : "";
  }

  function elapsed(iso) {
    var s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
    var m = Math.floor(s / 60), hrs = Math.floor(m / 60);
    if (hrs) { return hrs + " giờ " + (m % 60) + " phút"; }
    return m + ":" + String(s % 60).padStart(2, "0");
  }

  function toast(text, bad) {
    var t = $("toast");
    t.textContent = text;
    t.className = "toast" + (bad ? " bad" : "");
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { t.hidden = true; }, 4000);
  }

  function toLogin() {
    location.assign("/console/login?next=" + encodeURIComponent(location.pathname) + "&expired=1");
  }

  function api(path, body) {
    var opts = { credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = S.csrf;
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (resp) {
      if (resp.status === 401 && path !== "/api/login") { toLogin(); throw new Error("401"); }
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) {
          var err = new Error(data.error || ("Lỗi " + resp.status));
          err.status = resp.status;
          throw err;
        }
        return data;
      });
    });
  }

  function channelBadge(channel) {
    var c = CHANNEL[channel] || [channel || "?", "ch-web"];
    return h("span", { class: "ch " + c[1], title: c[0] }, c[0]);
  }

  // ------------------------------------------------------------------------------------- login

  function loginPage() {
    var params = new URLSearchParams(location.search);
    if (params.get("expired")) { $("login-expired").hidden = false; }
    $("login-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = $("login-error");
      err.hidden = true;
      api("/api/login", { username: $("login-user").value, password: $("login-password").value })
        .then(function () {
          var next = params.get("next") || "";
          location.assign(/^\/console\/[\w\-\/]*$/.test(next) && next !== "/console/login" ? next : "/console/");
        })
        .catch(function (e) { err.textContent = e.message; err.hidden = false; });
    });
  }

  // ------------------------------------------------------------------------------------ routing

  function screenOf(path) {
    var m;
    if ((m = path.match(/^\/console\/c\/(\d+)/))) { return { screen: "conv", pk: Number(m[1]) }; }
    if (path.indexOf("/console/callbacks") === 0) { return { screen: "callbacks" }; }
    if ((m = path.match(/^\/console\/requests(?:\/([A-Za-z0-9]+))?/))) { return { screen: "requests", code: m[1] || null }; }
    if (path.indexOf("/console/overview") === 0) { return { screen: "overview" }; }
    return { screen: "conv", pk: null };
  }

  function go(path) {
    if (location.pathname !== path) { history.pushState(null, "", path); }
    route();
  }

  function route() {
    var r = screenOf(location.pathname);
    ["conv", "callbacks", "requests", "overview"].forEach(function (name) {
      $("screen-" + name).hidden = name !== r.screen;
    });
    document.querySelectorAll(".nav-link").forEach(function (a) {
      a.classList.toggle("active", a.dataset.nav === r.screen);
    });
    if (r.screen === "conv") { openConversation(r.pk); }
    if (r.screen === "callbacks") { loadCallbacks(); }
    if (r.screen === "requests") { loadRequests(); showRequest(r.code); }
    if (r.screen === "overview") { loadOverview(); }
  }

  // --------------------------------------------------------------------------------- the queue

  function upsert(conv) {
    var before = S.convs[conv.id];
    S.convs[conv.id] = conv;
    if (conv.state === "waiting" && !S.knownWaiting[conv.id] && S.loaded) { alertEscalation(conv); }
    S.knownWaiting[conv.id] = conv.state === "waiting" ? conv.escalated_at || true : false;
    return before;
  }

  function alertEscalation(conv) {
    beep();
    toast("Khách hàng mới cần hỗ trợ: " + (conv.display_name || conv.reason || conv.conversation_id));
    document.body.classList.add("flash");
    setTimeout(function () { document.body.classList.remove("flash"); }, 1500);
  }

  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      S.audio = S.audio || new Ctx();
      var osc = S.audio.createOscillator(), gain = S.audio.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.08;
      osc.connect(gain); gain.connect(S.audio.destination);
      osc.start(); osc.stop(S.audio.currentTime + 0.25);
    } catch (e) { /* no sound available: the title badge and the toast still show */ }
  }

  function inTab(conv, tab) {
    if (tab === "agent") { return conv.state === "agent"; }
    return conv.state === tab;
  }

  function sorted(tab) {
    var list = Object.keys(S.convs).map(function (k) { return S.convs[k]; })
      .filter(function (c) { return inTab(c, tab); });
    if (tab === "waiting") {
      list.sort(function (a, b) {
        var pa = a.priority === "urgent" ? 0 : 1, pb = b.priority === "urgent" ? 0 : 1;
        return pa - pb || Date.parse(a.escalated_at || 0) - Date.parse(b.escalated_at || 0) || a.id - b.id;
      });
    } else {
      list.sort(function (a, b) { return Date.parse(b.updated_at || 0) - Date.parse(a.updated_at || 0); });
    }
    return list;
  }

  function renderQueue() {
    var list = $("conv-list");
    clear(list);
    ["waiting", "agent", "bot"].forEach(function (tab) {
      document.querySelector("[data-count='" + tab + "']").textContent = sorted(tab).length;
    });
    document.querySelectorAll(".tab").forEach(function (t) { t.classList.toggle("active", t.dataset.tab === S.tab); });
    var items = sorted(S.tab);
    items.forEach(function (c) { list.appendChild(queueItem(c)); });
    var empty = $("conv-empty");
    empty.hidden = items.length > 0;
    empty.textContent = { waiting: "Không có khách hàng nào đang chờ.", agent: "Chưa có cuộc trò chuyện nào đang được hỗ trợ.",
                          bot: "Không có cuộc trò chuyện nào với bot." }[S.tab];
    var waiting = sorted("waiting").length;
    var badge = $("badge-waiting");
    badge.hidden = !waiting;
    badge.textContent = waiting;
    document.title = (waiting ? "(" + waiting + ") " : "") + S.baseTitle;
  }

  function queueItem(c) {
    var name = c.display_name || c.customer_code || c.phone || ("Khách " + c.conversation_id.slice(-6));
    var meta = [];
    if (c.state === "waiting" && c.escalated_at) {
      meta.push(h("span", { class: "wait", dataset: { since: c.escalated_at }, title: "Thời gian chờ" }, elapsed(c.escalated_at)));
    } else if (c.updated_at) {
      meta.push(h("span", { class: "muted" }, when(c.updated_at)));
    }
    if (c.agent_name && c.state === "agent") { meta.push(h("span", { class: "muted" }, "· " + c.agent_name)); }
    return h("li", {},
      h("a", { href: "/console/c/" + c.id, class: "conv-item" + (c.id === S.openPk ? " open" : "") +
                 (c.priority === "urgent" && c.state === "waiting" ? " urgent" : ""),
               dataset: { pk: c.id, state: c.state, conversationId: c.conversation_id }, onclick: navClick },
        h("div", { class: "row" }, channelBadge(c.channel), h("strong", { class: "name" }, name),
          c.priority === "urgent" ? h("span", { class: "badge danger" }, "Khẩn cấp") : null),
        c.reason ? h("div", { class: "reason" }, c.reason) : null,
        h("div", { class: "row meta" }, meta)));
  }

  function tick() {
    document.querySelectorAll(".wait[data-since]").forEach(function (el) { el.textContent = elapsed(el.dataset.since); });
  }

  function loadQueues() {
    return Promise.all(["waiting", "agent", "bot"].map(function (state) {
      return api("/api/conversations?state=" + state);
    })).then(function (all) {
      var seen = {};
      all.forEach(function (r) { r.conversations.forEach(function (c) { seen[c.id] = true; upsert(c); }); });
      Object.keys(S.convs).forEach(function (k) {
        if (!seen[k] && S.convs[k].state !== "closed") { S.convs[k].state = "closed"; }
      });
      S.loaded = true;
      renderQueue();
    });
  }

  // ---------------------------------------------------------------------------- live stream

  function connect() {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/stream");
    S.ws = ws;
    setConnection("connecting");
    ws.onopen = function () { S.wsRetry = 0; setConnection("online"); loadQueues(); };
    ws.onmessage = function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (data.type === "conversation") { onConversation(data.conversation); }
      else if (data.type === "message") { onMessage(data.conversation, data.message); }
    };
    ws.onclose = function () {
      setConnection("offline");
      S.wsRetry = Math.min(S.wsRetry + 1, 5);
      setTimeout(function () {
        api("/api/me").then(function (me) { S.csrf = me.csrf; connect(); }).catch(function () {});
      }, 500 * S.wsRetry);
    };
  }

  function setConnection(state) {
    var el = $("connection");
    el.dataset.state = state;
    el.title = { online: "Đang cập nhật trực tiếp", connecting: "Đang kết nối…", offline: "Mất kết nối, đang thử lại…" }[state];
  }

  function onConversation(conv) {
    upsert(conv);
    renderQueue();
    if (conv.id === S.openPk) { scheduleRefresh(); }
  }

  function onMessage(pk, message) {
    if (pk !== S.openPk || !S.detail) { return; }
    if (S.detail.messages.some(function (m) { return m.id === message.id; })) { return; }
    S.detail.messages.push(message);
    appendEntry(messageEntry(message), true);
  }

  function scheduleRefresh() {
    clearTimeout(S.refreshTimer);
    S.refreshTimer = setTimeout(function () { if (S.openPk) { loadDetail(S.openPk); } }, 150);
  }

  // ------------------------------------------------------------------------ one conversation

  function openConversation(pk) {
    S.openPk = pk;
    renderQueue();
    $("conv-placeholder").hidden = !!pk;
    $("conv-view").hidden = !pk;
    $("side").hidden = !pk;
    if (pk) {
      if (S.openedPk !== pk) {  // nothing of the previous conversation stays on screen while this one loads
        S.detail = null; S.openedPk = pk;
        [$("transcript"), $("conv-sub"), $("conv-actions")].forEach(clear);
        $("conv-title").textContent = "Đang tải…";
      }
      loadDetail(pk);
    }
  }

  function loadDetail(pk) {
    return api("/api/conversations/" + pk).then(function (d) {
      if (pk !== S.openPk) { return; }
      var firstLoad = !S.detail || S.detail.conversation.id !== pk;
      S.detail = d;
      upsert(d.conversation);
      renderQueue();
      renderHeader();
      renderTranscript(firstLoad);
      renderSide(firstLoad);
      renderComposer();
    }).catch(function (e) {
      if (e.status) { showConvError(e.message); }
    });
  }

  function showConvError(text) {
    var el = $("conv-error");
    el.textContent = text;
    el.hidden = !text;
  }

  function mayAct(c) {
    return S.me.role === "supervisor" || !c.agent_id || c.agent_id === S.me.id;
  }

  function renderHeader() {
    var c = S.detail.conversation;
    $("conv-title").textContent = c.display_name || (S.detail.customer.customer && S.detail.customer.customer.full_name) ||
      c.customer_code || ("Khách " + c.conversation_id.slice(-6));
    var sub = clear($("conv-sub"));
    append(sub, [channelBadge(c.channel), " ", STATE_VI[c.state] || c.state]);
    if (c.agent_name) { append(sub, " · " + c.agent_name); }
    if (c.state === "waiting" && c.escalated_at) {
      append(sub, [" · chờ ", h("span", { class: "wait", dataset: { since: c.escalated_at } }, elapsed(c.escalated_at))]);
    }
    if (c.reason) { append(sub, [" · Lý do: ", h("span", { class: "reason-text" }, c.reason)]); }
    var actions = clear($("conv-actions"));
    var buttons = [];
    if (c.state === "waiting") { buttons.push(["claim", "Nhận hỗ trợ", "primary"]); }
    if (c.state === "bot" || c.state === "closed") { buttons.push(["take_over", "Tiếp quản", "primary"]); }
    if (c.state === "agent" && mayAct(c)) { buttons.push(["transfer", "Chuyển", ""]); }
    if ((c.state === "agent" || c.state === "waiting") && mayAct(c)) {
      buttons.push(["hand_back", "Trả cho bot", ""]);
      buttons.push(["resolve", "Kết thúc", "success"]);
    }
    buttons.forEach(function (b) {
      actions.appendChild(h("button", { type: "button", class: b[2], dataset: { action: b[0] },
                                        onclick: function () { act(b[0]); } }, b[1]));
    });
    showConvError("");
  }

  function act(action) {
    var c = S.detail.conversation;
    if (action === "transfer") { return transferDialog(c); }
    if (action === "resolve" && !confirm("Kết thúc cuộc trò chuyện và mời khách đánh giá?")) { return; }
    api("/api/conversations/" + c.id + "/" + action, {}).then(function (r) {
      onConversation(r.conversation);
      toast({ claim: "Đã nhận cuộc trò chuyện.", take_over: "Đã tiếp quản từ bot.", hand_back: "Đã trả cho bot.",
              resolve: "Đã kết thúc; khách được mời đánh giá." }[action]);
      if (action === "claim" || action === "take_over") { S.tab = "agent"; renderQueue(); setMode("reply"); $("composer-text").focus(); }
      loadDetail(c.id);
    }).catch(function (e) { showConvError(e.message); loadDetail(c.id); });
  }

  function transferDialog(c) {
    var actions = $("conv-actions");
    if (actions.querySelector(".transfer")) { return; }
    var select = h("select", { "aria-label": "Chuyển cho" });
    api("/api/agents").then(function (r) {
      r.agents.filter(function (a) { return a.id !== c.agent_id; }).forEach(function (a) {
        select.appendChild(h("option", { value: a.id }, a.display_name + (a.role === "supervisor" ? " (giám sát)" : "")));
      });
    });
    var box = h("span", { class: "transfer" }, select,
      h("button", { type: "button", class: "primary", onclick: function () {
        api("/api/conversations/" + c.id + "/transfer", { agent_id: Number(select.value) }).then(function (r) {
          toast("Đã chuyển cuộc trò chuyện.");
          onConversation(r.conversation);
        }).catch(function (e) { showConvError(e.message); });
      } }, "Chuyển"),
      h("button", { type: "button", class: "ghost", onclick: function () { box.remove(); } }, "Hủy"));
    actions.appendChild(box);
  }

  // transcript: messages and private notes, in time order
  function entries() {
    var list = S.detail.messages.map(function (m) { return { at: m.created_at, el: messageEntry(m) }; });
    S.detail.notes.forEach(function (n) { list.push({ at: n.created_at, el: noteEntry(n) }); });
    list.sort(function (a, b) { return Date.parse(a.at) - Date.parse(b.at); });
    return list.map(function (e) { return e.el; });
  }

  function renderTranscript(firstLoad) {
    var box = $("transcript");
    var atBottom = firstLoad || box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    clear(box);
    entries().forEach(function (el) { box.appendChild(el); });
    if (!S.detail.messages.length) { box.appendChild(h("p", { class: "empty" }, "Chưa có tin nhắn.")); }
    if (atBottom) { box.scrollTop = box.scrollHeight; }
  }

  function appendEntry(el, scroll) {
    var box = $("transcript");
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    var empty = box.querySelector(".empty");
    if (empty) { empty.remove(); }
    box.appendChild(el);
    if (scroll && atBottom) { box.scrollTop = box.scrollHeight; }
  }

  function messageEntry(m) {
    var sender = m.direction === "in" ? "user" : (SENDER_VI[m.sender] ? m.sender : "bot");
    var status = null;
    if (m.status === "failed") {
      status = h("div", { class: "delivery failed" }, (m.direction === "in" ? "⚠ Lỗi xử lý" : "⚠ Không gửi được") +
                 (m.error ? ": " + m.error : ""));
    } else if (m.status === "suppressed") {
      status = h("div", { class: "delivery muted" }, "Không gửi: tư vấn viên đang giữ cuộc trò chuyện");
    } else if (m.status === "held") {
      status = h("div", { class: "delivery muted" }, "Bot không trả lời: chờ tư vấn viên");
    }
    return h("div", { class: "msg msg-" + sender + (m.status === "failed" ? " msg-failed" : "") +
                              (m.status === "suppressed" ? " msg-suppressed" : ""), dataset: { id: m.id } },
      h("div", { class: "msg-head" }, h("span", { class: "who" },
        SENDER_VI[sender] + (m.sender_name && sender === "agent" ? " · " + m.sender_name : "")),
        h("time", { datetime: m.created_at }, when(m.created_at))),
      h("div", { class: "msg-text" }, m.text),
      status);
  }

  function noteEntry(n) {
    return h("div", { class: "msg msg-note" },
      h("div", { class: "msg-head" }, h("span", { class: "who" }, "Ghi chú nội bộ · " + (n.agent_name || "")),
        h("time", { datetime: n.created_at }, when(n.created_at))),
      h("div", { class: "msg-text" }, n.text));
  }

  // side panel
  function kv(label, value) {
    return h("div", { class: "kv" }, h("span", { class: "k" }, label), h("span", { class: "v" }, value === null || value === undefined || value === "" ? "—" : value));
  }

  function renderSide(firstLoad) {
    var d = S.detail, c = d.conversation, ctx = c.context || {}, meta = S.meta || { slots: {}, services: {}, corporations: {} };
    var box = clear($("side-context"));
    var slots = ctx.slots || {};
    if (!ctx.form && !Object.keys(slots).length && !ctx.intent) {
      box.appendChild(h("p", { class: "muted" }, "Bot chưa thu thập thông tin nào."));
    } else {
      var svc = slots.service && meta.services[slots.service];
      append(box, kv("Dịch vụ", svc ? svc.vi : slots.service));
      append(box, kv("Bước biểu mẫu", ctx.form ? (ctx.requested_slot ? "Đang hỏi: " + (meta.slots[ctx.requested_slot] || ctx.requested_slot) : "Đang điền") : "Không có biểu mẫu"));
      if (ctx.intent) { append(box, kv("Ý định gần nhất", ctx.intent)); }
      Object.keys(slots).filter(function (k) { return INTERNAL_SLOTS.indexOf(k) < 0; }).forEach(function (k) {
        append(box, h("div", { class: "kv slot", dataset: { slot: k } }, h("span", { class: "k" }, meta.slots[k] || k),
                      h("span", { class: "v" }, typeof slots[k] === "object" ? JSON.stringify(slots[k]) : String(slots[k]))));
      });
    }
    var record = d.customer || {}, cust = record.customer;
    box = clear($("side-customer"));
    if (cust) {
      append(box, [kv("Họ tên", cust.full_name), kv("Mã khách hàng", cust.customer_code),
                   kv("Tổng công ty", meta.corporations[cust.corporation] || cust.corporation),
                   kv("Địa chỉ", cust.address), kv("Điện thoại", cust.phone || c.phone)]);
    } else {
      append(box, [kv("Mã khách hàng", c.customer_code), kv("Điện thoại", c.phone),
                   h("p", { class: "muted" }, "Chưa xác định được hồ sơ khách hàng.")]);
    }
    box = clear($("side-requests"));
    if (!(record.requests || []).length) { box.appendChild(h("p", { class: "muted" }, "Không có yêu cầu nào.")); }
    (record.requests || []).forEach(function (r) {
      var svc = meta.services[r.service];
      box.appendChild(h("div", { class: "kv" },
        h("a", { href: "/console/requests/" + r.code, class: "k", onclick: navClick }, r.code),
        h("span", { class: "v" }, (svc ? svc.short : r.service) + " · ", h("span", { class: "status status-" + r.status }, r.status_vi))));
    });
    box = clear($("side-bills"));
    if (!(record.bills || []).length) { box.appendChild(h("p", { class: "muted" }, "Không có dữ liệu hóa đơn.")); }
    (record.bills || []).forEach(function (b) {
      box.appendChild(kv("Kỳ " + b.period, fmtMoney.format(b.amount) + " đ · " + b.kwh + " kWh · " + (b.paid ? "đã thanh toán" : "chưa thanh toán")));
    });
    if (record.unpaid !== null && record.unpaid !== undefined) {
      box.appendChild(h("div", { class: "kv total" + (record.unpaid ? " owe" : "") }, h("span", { class: "k" }, "Còn nợ"),
                        h("span", { class: "v" }, fmtMoney.format(record.unpaid) + " đ")));
    }
    if (firstLoad) { loadOutages(cust ? cust.customer_code : c.customer_code); }
    box = clear($("side-notes"));
    if (!d.notes.length) { box.appendChild(h("p", { class: "muted" }, "Chưa có ghi chú.")); }
    d.notes.forEach(function (n) {
      box.appendChild(h("div", { class: "note" }, h("div", { class: "muted" }, (n.agent_name || "") + " · " + when(n.created_at)),
                        h("div", { class: "note-text" }, n.text)));
    });
    box = clear($("side-csat"));
    if (c.csat_score) {
      box.appendChild(h("div", { class: "csat", dataset: { score: c.csat_score } },
        h("span", { class: "stars" }, "★★★★★".slice(0, c.csat_score) + "☆☆☆☆☆".slice(0, 5 - c.csat_score)),
        " " + c.csat_score + "/5"));
      if (c.csat_comment) { box.appendChild(h("p", {}, c.csat_comment)); }
    } else {
      box.appendChild(h("p", { class: "muted" }, c.state === "closed" ? "Khách chưa đánh giá." : "Chưa kết thúc."));
    }
  }

  function loadOutages(code) {
    var box = clear($("side-outages"));
    if (!code) { box.appendChild(h("p", { class: "muted" }, "Cần mã khách hàng để tra lịch.")); return; }
    api("/api/customers/" + encodeURIComponent(code) + "/outages").then(function (r) {
      clear(box);
      if (!r.outages.length) { box.appendChild(h("p", { class: "muted" }, "Không có lịch cắt điện trong " + r.days + " ngày tới.")); }
      r.outages.forEach(function (o) {
        box.appendChild(h("div", { class: "outage" }, h("strong", {}, when(o.start_at, true) + " – " + when(o.end_at, true)),
                          h("div", {}, o.area), o.reason ? h("div", { class: "muted" }, o.reason) : null));
      });
    }).catch(function () {});
  }

  // ------------------------------------------------------------------------------- composer

  function setMode(mode) {
    S.mode = mode;
    document.querySelectorAll(".mode").forEach(function (b) { b.classList.toggle("active", b.dataset.mode === mode); });
    $("composer").classList.toggle("note-mode", mode === "note");
    renderComposer();
  }

  function renderComposer() {
    if (!S.detail) { return; }
    var c = S.detail.conversation;
    var canReply = c.state === "agent" && mayAct(c);
    var hint = "";
    if (S.mode === "reply" && !canReply) {
      hint = c.state === "agent" ? "Cuộc trò chuyện do tư vấn viên khác phụ trách." : "Nhận hoặc tiếp quản cuộc trò chuyện để trả lời khách.";
    }
    if (S.mode === "note") { hint = "Ghi chú chỉ tư vấn viên thấy, không gửi cho khách."; }
    $("composer-hint").textContent = hint;
    $("send").disabled = S.mode === "reply" && !canReply;
    $("send").textContent = S.mode === "note" ? "Lưu ghi chú" : "Gửi";
  }

  function send() {
    var box = $("composer-text"), text = box.value.trim();
    if (!text || !S.detail) { return; }
    var c = S.detail.conversation;
    if (S.mode === "reply" && !(c.state === "agent" && mayAct(c))) { showConvError($("composer-hint").textContent); return; }
    var path = "/api/conversations/" + c.id + "/" + (S.mode === "note" ? "note" : "reply");
    $("send").disabled = true;
    api(path, { text: text }).then(function (r) {
      box.value = "";
      hideCanned();
      stopTyping();
      if (S.mode === "reply" && r.delivered === false) { toast("Tin nhắn chưa đến được khách (đã ghi nhận lỗi gửi).", true); }
      return loadDetail(c.id);
    }).catch(function (e) { showConvError(e.message); }).then(function () { renderComposer(); box.focus(); });
  }

  function typingInput() {
    var c = S.detail && S.detail.conversation;
    if (!c || S.mode !== "reply" || c.state !== "agent" || c.channel !== "webchat") { return; }
    if (Date.now() - S.typingAt > 3000) {
      S.typingAt = Date.now();
      api("/api/conversations/" + c.id + "/typing", { on: true }).catch(function () {});
    }
    clearTimeout(S.typingTimer);
    S.typingTimer = setTimeout(stopTyping, 4000);
  }

  function stopTyping() {
    clearTimeout(S.typingTimer);
    var c = S.detail && S.detail.conversation;
    if (!S.typingAt || !c) { return; }
    S.typingAt = 0;
    api("/api/conversations/" + c.id + "/typing", { on: false }).catch(function () {});
  }

  // canned replies: "/" + shortcut in the composer, or the "Mẫu câu" button
  function cannedMatches() {
    var m = $("composer-text").value.match(/^\/(\S*)$/);
    if (!m && !S.cannedOpen) { return null; }
    var q = m ? m[1].toLowerCase() : "";
    return S.canned.filter(function (r) {
      return r.shortcut.indexOf(q) === 0 || r.title.toLowerCase().indexOf(q) >= 0;
    });
  }

  function showCanned() {
    var matches = cannedMatches(), list = clear($("canned-list"));
    if (!matches || !matches.length) { list.hidden = true; return; }
    S.cannedIndex = Math.min(S.cannedIndex, matches.length - 1);
    matches.forEach(function (r, i) {
      list.appendChild(h("li", { role: "option", class: i === S.cannedIndex ? "selected" : "", "aria-selected": i === S.cannedIndex ? "true" : "false",
                                 onmousedown: function (ev) { ev.preventDefault(); insertCanned(r); } },
        h("span", { class: "shortcut" }, "/" + r.shortcut), h("strong", {}, r.title), h("span", { class: "muted" }, r.text)));
    });
    list.hidden = false;
  }

  function hideCanned() { S.cannedOpen = false; S.cannedIndex = 0; $("canned-list").hidden = true; }

  function insertCanned(r) {
    var box = $("composer-text");
    box.value = /^\/\S*$/.test(box.value) || !box.value ? r.text : box.value.replace(/\s*$/, " ") + r.text;
    hideCanned();
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }

  function composerKey(ev) {
    var list = $("canned-list"), open = !list.hidden, matches = open ? cannedMatches() : null;
    if (open && matches && matches.length) {
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        S.cannedIndex = (S.cannedIndex + (ev.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
        showCanned();
        return;
      }
      if (ev.key === "Enter" || ev.key === "Tab") { ev.preventDefault(); insertCanned(matches[S.cannedIndex]); return; }
      if (ev.key === "Escape") { ev.preventDefault(); hideCanned(); return; }
    }
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); send(); }
  }

  // ------------------------------------------------------------------------------- callbacks

  function loadCallbacks() {
    api("/api/callbacks?done=" + ($("callbacks-done").checked ? "1" : "0")).then(function (r) {
      var body = clear($("callbacks-body"));
      r.callbacks.forEach(function (cb) { body.appendChild(callbackRow(cb)); });
      $("callbacks-empty").hidden = r.callbacks.length > 0;
      if (!$("callbacks-done").checked) { setBadge("badge-callbacks", r.callbacks.length); }
    }).catch(function () {});
  }

  function setBadge(id, n) { var b = $(id); b.hidden = !n; b.textContent = n; }

  function callbackRow(cb) {
    var conv = Object.keys(S.convs).map(function (k) { return S.convs[k]; })
      .filter(function (c) { return c.conversation_id === cb.conversation_id; })[0];
    var done;
    if (cb.done_at) {
      done = h("span", {}, "Đã xử lý " + when(cb.done_at, true) + (cb.note ? ": " : ""), cb.note ? h("span", { class: "note-text" }, cb.note) : null);
    } else {
      var note = h("input", { type: "text", placeholder: "Ghi chú kết quả gọi", maxlength: "2000", "aria-label": "Ghi chú" });
      done = h("span", { class: "inline-form" }, note, h("button", { type: "button", class: "primary", onclick: function () {
        api("/api/callbacks/" + cb.id + "/done", { note: note.value }).then(function () { toast("Đã đánh dấu đã gọi."); loadCallbacks(); })
          .catch(function (e) { toast(e.message, true); });
      } }, "Đã gọi"));
    }
    return h("tr", { dataset: { id: cb.id } }, h("td", { class: "phone" }, cb.phone || "—"), h("td", {}, cb.topic),
      h("td", {}, when(cb.created_at, true)),
      h("td", {}, conv ? h("a", { href: "/console/c/" + conv.id, onclick: navClick }, "Mở") : h("span", { class: "muted" }, cb.conversation_id.slice(-8))),
      h("td", {}, done));
  }

  // -------------------------------------------------------------------------------- requests

  function fillSelect(select, entries) {
    entries.forEach(function (e) { select.appendChild(h("option", { value: e[0] }, e[1])); });
  }

  function setupFilters() {
    var f = $("request-filters"), meta = S.meta;
    fillSelect(f.elements.status, meta.statuses.map(function (s) { return [s.code, s.vi]; }));
    fillSelect(f.elements.service, Object.keys(meta.services).map(function (k) { return [k, meta.services[k].vi]; }));
    fillSelect(f.elements.corporation, Object.keys(meta.corporations).map(function (k) { return [k, meta.corporations[k]]; }));
    fillSelect(f.elements.channel, Object.keys(meta.channels).map(function (k) { return [k, meta.channels[k]]; }));
    f.addEventListener("change", loadRequests);
    f.addEventListener("input", function (ev) { if (ev.target.name === "q") { clearTimeout(S.qTimer); S.qTimer = setTimeout(loadRequests, 300); } });
    f.addEventListener("submit", function (ev) { ev.preventDefault(); loadRequests(); });
    $("requests-more").addEventListener("click", function () { loadRequests(true); });
  }

  // The list comes a page at a time, newest first; "Xem thêm" appends the next page (the filters are the same).
  function loadRequests(more) {
    var f = $("request-filters"), params = new URLSearchParams(), seq = (S.requestsSeq || 0) + 1;
    S.requestsSeq = seq;
    ["status", "service", "corporation", "channel", "from", "to", "q"].forEach(function (n) {
      if (f.elements[n].value) { params.set(n, f.elements[n].value); }
    });
    if (f.elements.overdue.checked) { params.set("overdue", "1"); }
    if (more === true && S.requestsNext) { params.set("before", S.requestsNext); }
    api("/api/requests?" + params.toString()).then(function (r) {
      if (seq !== S.requestsSeq) { return; }  // a newer filter change answered first
      var body = more === true ? $("requests-body") : clear($("requests-body"));
      r.requests.forEach(function (req) { body.appendChild(requestRow(req)); });
      var shown = body.children.length;
      S.requestsNext = r.next;
      $("requests-empty").hidden = shown > 0;
      $("requests-more").hidden = !r.next;
      $("requests-count").textContent = shown < r.total ? shown + " / " + r.total + " yêu cầu" : r.total + " yêu cầu";
    }).catch(function (e) { toast(e.message, true); });
  }

  function serviceName(code, short) {
    var s = S.meta.services[code];
    return s ? (short ? s.short : s.vi) : code;
  }

  function requestRow(r) {
    return h("tr", { dataset: { code: r.code }, class: (r.overdue ? "overdue" : "") + (r.code === S.requestCode ? " open" : "") },
      h("td", {}, h("a", { href: "/console/requests/" + r.code, onclick: navClick }, r.code)),
      h("td", {}, serviceName(r.service, true)),
      h("td", {}, r.customer_code || r.phone || "—"),
      h("td", {}, r.corporation || "—"),
      h("td", {}, channelBadge(r.channel)),
      h("td", {}, h("span", { class: "status status-" + r.status }, r.status_vi)),
      h("td", {}, when(r.created_at, true)),
      h("td", { class: r.overdue ? "danger-text" : "" }, day(r.due_date) + (r.overdue ? " (quá hạn)" : "")));
  }

  function showRequest(code) {
    S.requestCode = code;
    var box = $("request-detail");
    box.hidden = !code;
    document.querySelectorAll("#requests-body tr").forEach(function (tr) { tr.classList.toggle("open", tr.dataset.code === code); });
    if (!code) { return; }
    api("/api/requests/" + encodeURIComponent(code)).then(renderRequest).catch(function (e) {
      clear(box).appendChild(h("p", { class: "error" }, e.message));
    });
  }

  function renderRequest(r) {
    var box = clear($("request-detail"));
    append(box, [
      h("header", { class: "page-head" }, h("h3", {}, "Yêu cầu " + r.code),
        h("a", { href: "/console/requests", class: "ghost", onclick: navClick, "aria-label": "Đóng" }, "✕")),
      kv("Dịch vụ", serviceName(r.service)),
      h("div", { class: "kv" }, h("span", { class: "k" }, "Trạng thái"), h("span", { class: "v" }, h("span", { class: "status status-" + r.status, id: "request-status" }, r.status_vi))),
      kv("Kênh", (S.meta.channels[r.channel] || r.channel)),
      kv("Mã khách hàng", r.customer_code), kv("Điện thoại", r.phone),
      kv("Tổng công ty", S.meta.corporations[r.corporation] || r.corporation),
      kv("Tiếp nhận", when(r.created_at, true)),
      h("div", { class: "kv" + (r.overdue ? " owe" : "") }, h("span", { class: "k" }, "Hẹn hoàn thành"), h("span", { class: "v" }, day(r.due_date) + (r.overdue ? " (quá hạn)" : ""))),
      h("h4", {}, "Thông tin khách khai"),
      r.fields.map(function (f) { return kv(f.vi, typeof f.value === "object" ? JSON.stringify(f.value) : String(f.value)); }),
      (r.evidence || []).length ? h("h4", {}, "Ảnh, vị trí khách gửi") : null,
      h("ul", { class: "evidence" }, (r.evidence || []).map(function (e) {
        return h("li", {}, h("a", { href: e.url, target: "_blank", rel: "noopener noreferrer" }, e.label));
      })),
      h("h4", {}, "Đổi trạng thái"),
      statusForm(r),
      h("h4", {}, "Lịch sử"),
      h("ol", { class: "history" }, r.history.slice().reverse().map(historyItem))
    ]);
  }

  function statusForm(r) {
    var select = h("select", { name: "status", "aria-label": "Trạng thái mới" });
    fillSelect(select, S.meta.statuses.map(function (s) { return [s.code, s.vi]; }));
    select.value = r.status;
    var note = h("textarea", { name: "note", rows: "2", maxlength: "2000", placeholder: "Ghi chú gửi kèm cho khách (không bắt buộc)" });
    var result = h("p", { class: "muted", id: "status-result" });
    var form = h("form", { class: "status-form", id: "status-form", onsubmit: function (ev) {
      ev.preventDefault();
      var button = form.querySelector("button");
      button.disabled = true;
      api("/api/requests/" + encodeURIComponent(r.code) + "/status", { status: select.value, note: note.value }).then(function (resp) {
        renderRequest(resp.request);
        var last = resp.request.history[resp.request.history.length - 1];
        toast("Đã cập nhật trạng thái. " + (DELIVERY_VI[last.delivery] || ""), last.delivery === "failed");
        loadRequests();
      }).catch(function (e) { result.textContent = e.message; result.className = "error"; button.disabled = false; });
    } }, select, note, h("button", { type: "submit", class: "primary" }, "Cập nhật và báo khách"), result);
    return form;
  }

  function historyItem(hst) {
    var delivery = hst.delivery ? h("div", { class: "delivery " + hst.delivery }, (DELIVERY_VI[hst.delivery] || hst.delivery) +
                                   (hst.delivery_error ? ": " + hst.delivery_error : "")) : null;
    return h("li", {}, h("div", {}, h("span", { class: "status status-" + hst.status }, hst.status_vi), " · ", when(hst.changed_at, true),
                         hst.agent_name ? " · " + hst.agent_name : ""),
             hst.note ? h("div", { class: "note-text" }, hst.note) : null, delivery);
  }

  // -------------------------------------------------------------------------------- overview

  var SVGNS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    var el = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined) { el.textContent = text; }
    return el;
  }

  /* Horizontal bars: [{label, value}] -> <svg>, labels left, values right. */
  function barChart(rows, label) {
    var rowH = 24, width = 460, labelW = 170, max = Math.max.apply(null, rows.map(function (r) { return r.value; }).concat([1]));
    var root = svg("svg", { viewBox: "0 0 " + width + " " + Math.max(rowH, rows.length * rowH), role: "img", "aria-label": label, class: "chart" });
    rows.forEach(function (r, i) {
      var y = i * rowH, w = Math.round((width - labelW - 40) * r.value / max);
      root.appendChild(svg("text", { x: labelW - 6, y: y + 16, "text-anchor": "end", class: "chart-label" }, r.label));
      root.appendChild(svg("rect", { x: labelW, y: y + 4, width: Math.max(w, 2), height: rowH - 8, rx: 3, class: "bar " + (r.cls || "") }));
      root.appendChild(svg("text", { x: labelW + Math.max(w, 2) + 6, y: y + 16, class: "chart-value" }, String(r.value)));
    });
    if (!rows.length) { root.appendChild(svg("text", { x: 10, y: 16, class: "chart-label" }, "Chưa có dữ liệu")); }
    return root;
  }

  /* Columns for a time series: [{label, value}]. */
  function columnChart(rows, label) {
    var width = 460, height = 160, pad = 24, max = Math.max.apply(null, rows.map(function (r) { return r.value; }).concat([1]));
    var colW = (width - pad) / rows.length;
    var root = svg("svg", { viewBox: "0 0 " + width + " " + (height + 20), role: "img", "aria-label": label, class: "chart" });
    rows.forEach(function (r, i) {
      var hgt = Math.round((height - pad) * r.value / max), x = pad / 2 + i * colW;
      root.appendChild(svg("rect", { x: x + 6, y: height - hgt, width: colW - 12, height: Math.max(hgt, 1), rx: 3, class: "bar" }));
      root.appendChild(svg("text", { x: x + colW / 2, y: height - hgt - 4, "text-anchor": "middle", class: "chart-value" }, String(r.value)));
      root.appendChild(svg("text", { x: x + colW / 2, y: height + 16, "text-anchor": "middle", class: "chart-label" }, r.label));
    });
    return root;
  }

  function card(label, value, hint) {
    return h("div", { class: "card" }, h("div", { class: "card-value" }, value), h("div", { class: "card-label" }, label),
             hint ? h("div", { class: "muted" }, hint) : null);
  }

  function duration(sec) {
    if (sec === null || sec === undefined) { return "—"; }
    return sec < 60 ? sec + " giây" : Math.floor(sec / 60) + " phút " + (sec % 60) + " giây";
  }

  function loadOverview() {
    api("/api/overview").then(function (o) {
      var t = o.today, q = o.requests;
      $("overview-date").textContent = day(o.date);
      var cards = clear($("overview-cards"));
      append(cards, [card("Cuộc trò chuyện hôm nay", t.conversations), card("Chuyển tư vấn viên", t.escalations, t.waiting_now + " đang chờ"),
                     card("Thời gian chờ trung vị", duration(t.median_wait_seconds), t.answered + " lượt đã được trả lời"),
                     card("Đã kết thúc", t.resolved), card("Điểm hài lòng (CSAT)", t.csat_average === null ? "—" : t.csat_average + "/5", t.csat_count + " đánh giá"),
                     card("Yêu cầu quá hạn", q.overdue_count)]);
      clear($("chart-service")).appendChild(barChart(Object.keys(q.by_service).map(function (k) {
        return { label: serviceName(k, true), value: q.by_service[k] };
      }), "Yêu cầu theo dịch vụ"));
      clear($("chart-status")).appendChild(barChart(S.meta.statuses.map(function (s) {
        return { label: s.vi, value: q.by_status[s.code] || 0, cls: "status-" + s.code };
      }), "Yêu cầu theo trạng thái"));
      clear($("chart-days")).appendChild(columnChart(q.per_day.map(function (d) {
        return { label: d.date.slice(8, 10) + "/" + d.date.slice(5, 7), value: d.count };
      }), "Yêu cầu tiếp nhận 7 ngày qua"));
      $("overdue-count").textContent = q.overdue_count;
      var body = clear($("overdue-body"));
      q.overdue.forEach(function (r) {
        body.appendChild(h("tr", {}, h("td", {}, h("a", { href: "/console/requests/" + r.code, onclick: navClick }, r.code)),
          h("td", {}, serviceName(r.service, true)), h("td", {}, r.corporation || "—"),
          h("td", {}, h("span", { class: "status status-" + r.status }, r.status_vi)), h("td", { class: "danger-text" }, day(r.due_date))));
      });
    }).catch(function (e) { toast(e.message, true); });
  }

  // ------------------------------------------------------------------------------------ start

  function navClick(ev) {
    if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey) { return; }
    ev.preventDefault();
    go(ev.currentTarget.getAttribute("href"));
  }

  function consolePage() {
    Promise.all([api("/api/me"), api("/api/desk/meta"), api("/api/canned")]).then(function (r) {
      S.me = r[0].agent; S.csrf = r[0].csrf; S.meta = r[1]; S.canned = r[2].replies;
      $("me").textContent = S.me.display_name + (S.me.role === "supervisor" ? " · Giám sát viên" : " · Tư vấn viên");
      document.querySelectorAll(".supervisor-only").forEach(function (el) { el.hidden = S.me.role !== "supervisor"; });
      setupFilters();
      wire();
      route();
      return loadQueues();
    }).then(function () { connect(); loadCallbacks(); }).catch(function () {});
    setInterval(tick, 1000);
    setInterval(loadCallbacksBadge, 30000);
  }

  function loadCallbacksBadge() {
    api("/api/callbacks?done=0").then(function (r) { setBadge("badge-callbacks", r.callbacks.length); }).catch(function () {});
  }

  function wire() {
    document.querySelectorAll(".nav-link").forEach(function (a) { a.addEventListener("click", navClick); });
    window.addEventListener("popstate", route);
    document.querySelectorAll(".tab").forEach(function (t) {
      t.addEventListener("click", function () { S.tab = t.dataset.tab; renderQueue(); });
    });
    document.querySelectorAll(".mode").forEach(function (b) {
      b.addEventListener("click", function () { setMode(b.dataset.mode); $("composer-text").focus(); });
    });
    var box = $("composer-text");
    box.addEventListener("keydown", composerKey);
    box.addEventListener("input", function () { S.cannedIndex = 0; showCanned(); typingInput(); });
    box.addEventListener("blur", function () {  // a click elsewhere closes the list; a quick refocus keeps it
      setTimeout(function () { if (document.activeElement !== box) { hideCanned(); } }, 150);
    });
    $("send").addEventListener("click", send);
    $("canned-button").addEventListener("mousedown", function (ev) { ev.preventDefault(); });  // keep the text box focused
    $("canned-button").addEventListener("click", function () {
      S.cannedOpen = $("canned-list").hidden;
      if (S.cannedOpen) { showCanned(); box.focus(); } else { hideCanned(); }
    });
    $("callbacks-done").addEventListener("change", loadCallbacks);
    $("logout").addEventListener("click", function () {
      api("/api/logout", {}).catch(function () {}).then(function () { location.assign("/console/login"); });
    });
    setMode("reply");
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (document.body.dataset.page === "login") { loginPage(); } else { consolePage(); }
  });
})();
