// Chat "as a platform user" against a simulator sub-app (API: bot/simulators/__init__.py).
// Everything shown is set with textContent: what the bot sends is data, never markup.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var userInput = document.getElementById("user");
  var status = document.getElementById("status");
  var after = 0;
  var polling = null;
  var EVENT_LABELS = { follow: "Quan tâm OA", location: "Gửi vị trí", image: "Gửi ảnh", sticker: "Gửi sticker",
                       get_started: "Bắt đầu", referral: "Mở link m.me" };

  function randomUser() { return String(Math.floor(1e15 + Math.random() * 9e15)); }
  function userId() { return userInput.value.trim(); }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function show(node) { log.appendChild(node); log.scrollTop = log.scrollHeight; }

  function post(path, body) {
    status.textContent = "";
    return fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                         body: JSON.stringify(Object.assign({ user_id: userId() }, body)) })
      .then(function (r) { return r.json().then(function (data) {
        if (!r.ok || data.ok === false) status.textContent = "Webhook: " + (data.error || data.webhook_status || r.status);
        return data;
      }); })
      .catch(function (e) { status.textContent = "Lỗi: " + e; });
  }

  function renderBot(m) {
    var box = el("div", "msg " + (m.sender === "agent" ? "agent" : "bot"));
    if (m.sender_name) box.appendChild(el("span", "who", m.sender_name));
    if (m.text) box.appendChild(el("span", "", m.text));
    if (m.image) { var img = el("img"); img.src = m.image; img.alt = ""; box.appendChild(img); }
    if (m.buttons && m.buttons.length) {
      var row = el("div", "buttons");
      m.buttons.forEach(function (b) {
        var node;
        if (b.url) { node = el("a", "", b.title); node.href = b.url; node.target = "_blank"; node.rel = "noopener"; }
        else if (b.phone) { node = el("a", "", b.title + " (" + b.phone + ")"); node.href = "tel:" + b.phone; }
        else {
          node = el("button", "", b.title); node.type = "button";
          node.addEventListener("click", function () {
            show(el("div", "msg user", b.title));
            post("api/tap", { payload: b.payload, title: b.title });
          });
        }
        row.appendChild(node);
      });
      box.appendChild(row);
    }
    show(box);
  }

  function poll() {
    if (!userId()) return;
    fetch("api/messages?user_id=" + encodeURIComponent(userId()) + "&after=" + after)
      .then(function (r) { return r.json(); })
      .then(function (data) {
        (data.messages || []).forEach(function (m) { after = Math.max(after, m.n); renderBot(m); });
      })
      .catch(function () {});
  }

  function switchUser(id) {
    userInput.value = id;
    localStorage.setItem("sim-user:" + location.pathname, id);
    log.textContent = "";
    after = 0;
    show(el("p", "note", "Người dùng " + id));
    poll();
  }

  document.getElementById("composer").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = document.getElementById("text");
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    show(el("div", "msg user", text));
    post("api/say", { text: text });
  });
  document.getElementById("new-user").addEventListener("click", function () { switchUser(randomUser()); });
  userInput.addEventListener("change", function () { switchUser(userId() || randomUser()); });

  var events = document.body.getAttribute("data-events");
  (events ? events.split(",") : []).forEach(function (kind) {
    var b = el("button", "", EVENT_LABELS[kind] || kind);
    b.type = "button";
    b.addEventListener("click", function () {
      show(el("p", "note", "(" + (EVENT_LABELS[kind] || kind) + ")"));
      post("api/event", { kind: kind });
    });
    document.getElementById("events").appendChild(b);
  });

  switchUser(localStorage.getItem("sim-user:" + location.pathname) || randomUser());
  polling = setInterval(poll, 700);
})();
