// Relais hub dashboard: live updates over server-sent events, and forms that post without a reload.
// The page works without this script (plain forms, reload to see changes); with it, each change the
// hub records updates the affected rows at once, and the sections whose contents moved are fetched
// again as server-rendered HTML (the server applies the viewer's scope and escapes every text).
"use strict";

(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
  // The page's words, from the hub's catalog in the viewer's language (never hard-coded here).
  const words = JSON.parse(document.getElementById("strings")?.textContent ?? "{}");
  const statusWords = (key) => words.statuses?.[key] ?? key;
  const status = document.getElementById("live-status");
  const feed = document.getElementById("live-feed");
  const notice = document.getElementById("notice");
  const timers = new Map();
  let received = 0;
  let lost = false;

  function setStatus(text, state) {
    status.textContent = text;
    status.dataset.state = state;
  }

  function say(text, isError = false) {
    notice.textContent = text;
    notice.classList.toggle("error", isError);
  }

  // Fetch a section again, at most once per short burst of events.
  function refresh(name) {
    if (timers.has(name)) return;
    timers.set(name, setTimeout(async () => {
      timers.delete(name);
      const target = document.querySelector(`#s-${name} > .body`);
      if (!target) return;
      // The page's query (the agencies' search and filter) holds for the section fetched again.
      const url = `/dashboard/sections/${name}${window.location.search}`;
      const response = await fetch(url, { headers: { Accept: "text/html" } });
      if (response.status === 401) return signedOut();
      if (response.ok) target.innerHTML = await response.text();
    }, 300));
  }

  function refreshAll() {
    document.querySelectorAll("section[data-section]").forEach((s) => {
      if (s.dataset.section !== "live") refresh(s.dataset.section);
    });
  }

  function rowsOf(postId) {
    return document.querySelectorAll(`[data-post-id="${CSS.escape(postId)}"]`);
  }

  function onPost(event) {
    const change = JSON.parse(event.data);
    received += 1;
    document.body.dataset.liveEvents = String(received);
    const inQueue = document.querySelector(`#s-queue [data-post-id="${CSS.escape(change.post_id)}"]`);
    rowsOf(change.post_id).forEach((row) => {
      row.querySelectorAll('[data-field="status"]').forEach((cell) => {
        cell.textContent = change.status_words ?? statusWords(change.status);
        cell.dataset.status = change.status;
        cell.className = `status status-${change.status}`;
      });
    });
    const item = document.createElement("li");
    item.dataset.postId = change.post_id;
    item.dataset.status = change.status;
    // The hub's clock, in Paris time as everywhere on the page (not this browser's clock).
    const time = document.createElement("time");
    time.dateTime = change.at;
    time.textContent = change.time;
    const text = document.createTextNode(` ${change.post_id} (${change.agency}) → `);
    const state = document.createElement("span");
    state.className = `status status-${change.status}`;
    state.textContent = change.status_words ?? statusWords(change.status);
    const events = document.createElement("code");
    events.textContent = change.events.join(", ");
    item.append(time, text, state, " ", events);
    feed.prepend(item);
    while (feed.children.length > 50) feed.lastElementChild.remove();

    refresh("posts"); // new posts, reasons and deliveries
    const saw = (test) => change.events.some(test);
    if (inQueue || saw((e) => e === "queued")) refresh("queue");
    refresh("stats");
    if (saw((e) => e.startsWith("delivery.") || e.startsWith("page."))) {
      refresh("failures");
      refresh("reauth");
      refresh("throttled");
      refresh("chart");
    }
    if (saw((e) => ["scheduled", "approved", "expired"].includes(e))) refresh("calendar");
  }

  function signedOut() {
    source.close();
    setStatus(words.signedOut, "closed");
  }

  const source = new EventSource("/events");
  source.addEventListener("post", onPost);
  source.addEventListener("open", () => {
    setStatus(words.live, "open");
    if (lost) refreshAll(); // events may have been missed while the stream was down
    lost = false;
  });
  source.addEventListener("error", () => {
    lost = true;
    if (source.readyState === EventSource.CLOSED) signedOut();
    else setStatus(words.reconnecting, "connecting");
  });
  setStatus(words.connecting, "connecting");

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-enhance")) return;
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { Accept: "application/json", "X-CSRF-Token": csrf },
        credentials: "same-origin",
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok) {
        say(answer.message ?? words.done);
        form.closest("tr")?.classList.add("decided");
        refresh("queue");
        refresh("failures");
        return;
      }
      if (response.status === 401) signedOut();
      // An error is shown from its code, in the page's language; its English message otherwise.
      const code = answer.error?.code;
      const refused = words.refused.replace("%(status)s", String(response.status));
      say((code && words.errors?.[code]) || answer.error?.message || refused, true);
    } catch {
      say(words.noAnswer, true);
    }
    button.disabled = false;
  });
})();
