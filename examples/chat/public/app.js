// app.js: the chat page. Plain JavaScript, no build step.
//
// It opens a WebSocket to the host that served the page (so it works behind
// any address or proxy), speaks the JSON protocol of chat.lua, and
// reconnects on its own with capped exponential backoff and jitter when the
// connection drops: server restart (1001), service restart (1012), network
// loss (1006). The name and room go in the URL's query, so a reconnect
// lands in the same room under the same name.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  // Backoff: the n-th retry waits a random time between half and all of
  // min(MAX_DELAY, BASE_DELAY * 2^n).
  const BASE_DELAY = 500;
  const MAX_DELAY = 10000;
  // Closes that mean "this client did something wrong" or "goodbye on
  // purpose": retrying would get the same answer.
  const NO_RETRY = new Set([1000, 1002, 1003, 1007, 1009, 1010]);

  const socketPath = document.querySelector('meta[name="luaws-socket"]')?.content || "/ws";

  const chat = {
    name: "",
    room: "",
    id: 0,
    ws: null,
    attempt: 0,     // retries since the last welcome
    timer: 0,       // pending reconnect
    countdown: 0,   // interval updating "reconnecting in N s"
    people: new Map(), // id → name, for the current room
    connects: 0,    // sockets opened by this page (tests read it)
    leaving: false,
  };
  window.chat = chat;

  // ---- connection --------------------------------------------------------

  function socketURL() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const q = new URLSearchParams({ name: chat.name, room: chat.room });
    return `${scheme}//${location.host}${socketPath}?${q}`;
  }

  function connect() {
    clearTimeout(chat.timer);
    clearInterval(chat.countdown);
    setStatus("connecting", chat.connects === 0 ? "connecting…" : "reconnecting…");
    const ws = new WebSocket(socketURL());
    chat.ws = ws;
    ws.onopen = () => {
      if (chat.ws !== ws) return;
      chat.connects++;
    };
    ws.onmessage = (ev) => {
      if (chat.ws !== ws) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return notice(`unreadable message from the server: ${ev.data}`, "error");
      }
      handle(msg);
    };
    ws.onclose = (ev) => {
      if (chat.ws !== ws) return;
      chat.ws = null;
      setComposer(false);
      if (chat.leaving) return;
      const why = ev.reason ? `${ev.code} ${ev.reason}` : `${ev.code}`;
      if (NO_RETRY.has(ev.code)) {
        setStatus("closed", `disconnected (${why})`, true);
        notice(`disconnected by the server (${why})`, "error");
        return;
      }
      if (chat.id) notice(`connection lost (${why}), reconnecting…`, "warn");
      chat.id = 0;
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    const ceiling = Math.min(MAX_DELAY, BASE_DELAY * 2 ** chat.attempt);
    const delay = ceiling / 2 + Math.random() * ceiling / 2;
    chat.attempt++;
    const due = Date.now() + delay;
    const tick = () => {
      const s = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      setStatus("reconnecting", `reconnecting in ${s} s (attempt ${chat.attempt})`, true);
    };
    tick();
    chat.countdown = setInterval(tick, 250);
    chat.timer = setTimeout(connect, delay);
  }

  function send(msg) {
    if (chat.ws && chat.ws.readyState === WebSocket.OPEN) {
      chat.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  // ---- protocol (see chat.lua) ---------------------------------------------

  function handle(msg) {
    switch (msg.type) {
      case "welcome": {
        chat.attempt = 0;
        chat.id = msg.id;
        chat.name = msg.name;
        enterRoom(msg.room, msg.people);
        setStatus("open", `connected as ${msg.name}`);
        setComposer(true);
        const back = chat.connects > 1;
        notice(back ? `reconnected to #${msg.room}` : `you joined #${msg.room} as ${msg.name}`);
        break;
      }
      case "presence":
        if (msg.room !== chat.room) notice(`you moved to #${msg.room}`);
        enterRoom(msg.room, msg.people);
        break;
      case "joined":
        if (msg.room !== chat.room || msg.id === chat.id) break;
        chat.people.set(msg.id, msg.name);
        renderPeople();
        notice(`${msg.name} joined`);
        break;
      case "left":
        if (msg.room !== chat.room || msg.id === chat.id) break;
        chat.people.delete(msg.id);
        renderPeople();
        notice(`${msg.name} left`);
        break;
      case "renamed":
        chat.people.set(msg.id, msg.name);
        renderPeople();
        notice(`${msg.from} is now ${msg.name}`);
        if (msg.id === chat.id) {
          chat.name = msg.name;
          rememberInURL();
          setStatus("open", `connected as ${msg.name}`);
        }
        break;
      case "said":
        said(msg);
        break;
      case "error":
        notice(msg.error, "error");
        break;
      case "notice":
        notice(msg.text);
        break;
    }
  }

  function enterRoom(room, people) {
    chat.room = room;
    chat.people = new Map((people || []).map((p) => [p.id, p.name]));
    renderPeople();
    $("where").textContent = `#${room}`;
    $("where").hidden = false;
    document.title = `#${room} · luaws chat`;
    rememberInURL();
  }

  // rememberInURL puts the name and room in the address bar, so a page
  // reload or a shared link lands in the same room.
  function rememberInURL() {
    const q = new URLSearchParams(location.search);
    q.set("room", chat.room);
    q.set("name", chat.name);
    history.replaceState(null, "", `?${q}`);
  }

  // ---- rendering -----------------------------------------------------------

  function setStatus(state, text, retry = false) {
    $("status").dataset.state = state;
    $("status-text").textContent = text;
    $("retry").hidden = !retry;
  }

  function setComposer(on) {
    $("text").disabled = !on;
    $("send").disabled = !on;
    if (on) $("text").focus();
  }

  // colour gives each name a steady hue: a string hash spread around the
  // colour wheel by the golden angle, so similar names differ.
  function colour(name) {
    let h = 2166136261;
    for (const ch of name) h = Math.imul(h ^ ch.codePointAt(0), 16777619) >>> 0;
    return `hsl(${Math.round((h % 1000) * 137.508) % 360} 55% 40%)`;
  }

  function clock() {
    return new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function append(li) {
    const list = $("messages");
    const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(li);
    while (list.children.length > 500) list.firstElementChild.remove();
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function said(msg) {
    const li = document.createElement("li");
    li.className = msg.id === chat.id ? "said mine" : "said";
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = msg.from;
    who.style.color = colour(msg.from);
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = msg.text;
    const time = document.createElement("time");
    time.textContent = clock();
    li.append(who, text, time);
    append(li);
  }

  function notice(text, kind = "info") {
    const li = document.createElement("li");
    li.className = `notice ${kind}`;
    li.textContent = text;
    append(li);
  }

  function renderPeople() {
    const ul = $("people");
    ul.replaceChildren();
    const sorted = [...chat.people].sort((a, b) => a[0] - b[0]);
    for (const [id, name] of sorted) {
      const li = document.createElement("li");
      li.textContent = name;
      li.dataset.id = id;
      li.style.setProperty("--c", colour(name));
      if (id === chat.id) li.classList.add("me");
      ul.append(li);
    }
    $("count").textContent = sorted.length;
  }

  // ---- forms ---------------------------------------------------------------

  function start(name, room) {
    chat.name = name;
    chat.room = room || "lobby";
    chat.leaving = false;
    chat.attempt = 0;
    $("lobby").hidden = true;
    $("chat").hidden = false;
    connect();
  }

  $("join-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = $("name").value.trim();
    if (!name) return;
    localStorage.setItem("luaws-chat-name", name);
    start(name, $("room").value.trim().toLowerCase());
  });

  $("composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("text").value.trim();
    if (text && send({ type: "say", text })) $("text").value = "";
  });

  $("room-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const room = $("new-room").value.trim().toLowerCase();
    if (room && send({ type: "join", room })) $("new-room").value = "";
  });

  $("name-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = $("new-name").value.trim();
    if (name && send({ type: "name", name })) $("new-name").value = "";
  });

  $("retry").addEventListener("click", () => {
    chat.attempt = 0;
    connect();
  });

  $("leave").addEventListener("click", () => {
    chat.leaving = true;
    clearTimeout(chat.timer);
    clearInterval(chat.countdown);
    if (chat.ws) chat.ws.close(1000, "left");
    chat.ws = null;
    chat.id = 0;
    setStatus("idle", "not connected");
    $("where").hidden = true;
    $("messages").replaceChildren();
    $("chat").hidden = true;
    $("lobby").hidden = false;
    history.replaceState(null, "", location.pathname);
    document.title = "luaws chat";
  });

  // ?name=ann&room=games joins straight away; otherwise prefill the form.
  const q = new URLSearchParams(location.search);
  $("name").value = q.get("name") || localStorage.getItem("luaws-chat-name") || "";
  $("room").value = q.get("room") || "lobby";
  if (q.get("name")) start(q.get("name"), q.get("room"));
})();
