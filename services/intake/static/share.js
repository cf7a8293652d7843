// The "Share a story" page's script: picking a story fills in its suggested text, each network's
// preview follows the text as it is written (POST /v1/shares/preview: the links tagged as they will
// be sent), and the share is sent with POST /v1/shares, now or at a time. It calls this node's own
// API through node_page.js (the advisor's session, the CSRF token in a header); its words come
// from the page (#share-strings), never from the code.
"use strict";
(function () {
  const form = document.getElementById("share");
  if (!form) return;
  const T = JSON.parse(document.getElementById("share-strings").textContent);
  const DATA = JSON.parse(document.getElementById("share-data").textContent);
  const { newKey, setError } = window.NodePage;
  const api = (path, body, headers) => window.NodePage.api("POST", path, body, headers);
  const problem = (answer) => window.NodePage.problem(T, answer);
  const clearErrors = () => window.NodePage.clearErrors(form);
  const $ = (id) => document.getElementById(id);
  const text = $("text"), previews = $("share-previews"), live = $("preview-live"), message = $("share-message");
  const scheduleAt = $("schedule-at");
  let idempotencyKey = newKey();
  let previewSeq = 0;
  let sending = false;

  const story = () => (form.querySelector('input[name="story"]:checked') || {}).value;
  const networks = () => Array.from(form.querySelectorAll('input[name="networks"]:checked'), (n) => n.value);
  const later = () => $("when-later").checked;

  function fieldOf(name) {
    if (!name) return null;
    if (name === "story") return $("stories");
    if (name.startsWith("networks")) return $("networks");
    if (name === "schedule_at") return scheduleAt;
    return text;
  }

  // --- Live preview ---------------------------------------------------------------------------------
  let previewTimer = null;
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(refreshPreview, 250);
  }

  function card(variant) {
    const li = document.createElement("li");
    li.className = "card";
    const title = document.createElement("h3");
    title.textContent = form.querySelector(`label[for="network-${variant.network}"]`).textContent;
    const fit = document.createElement("p");
    fit.className = "fit " + (variant.errors.length ? "is-refused" : "is-fitting");
    fit.textContent = variant.errors.length ? T.refused : T.fits;
    li.append(title, fit);
    variant.parts.forEach((part) => {
      const p = document.createElement("p");
      p.className = "part";
      p.dir = "auto";
      p.textContent = part.text;
      li.append(p);
    });
    const errors = document.createElement("ul");
    errors.className = "errors";
    variant.errors.forEach((e) => {
      const item = document.createElement("li");
      item.textContent = T.errors[e.code] || e.message || e.code;
      errors.append(item);
    });
    li.append(errors);
    return li;
  }

  async function refreshPreview() {
    const chosen = networks();
    if (!text.value.trim() || !chosen.length || !story()) {
      previews.replaceChildren();
      return;
    }
    const seq = ++previewSeq;
    const answer = await api("/v1/shares/preview", { story: story(), networks: chosen, text: text.value });
    if (seq !== previewSeq) return; // a newer text is on its way
    if (answer.status !== 200) {
      const p = document.createElement("li");
      p.textContent = answer.body ? problem(answer) : T.previewFailed;
      previews.replaceChildren(p);
      return;
    }
    previews.replaceChildren(...answer.body.variants.map(card));
    const said = answer.body.variants.some((v) => v.errors.length) ? T.refused : T.fits;
    if (live.textContent !== said) live.textContent = said; // spoken when the state changes, not per key
  }

  // --- Sending ----------------------------------------------------------------------------------------
  async function send(event) {
    event.preventDefault();
    if (sending) return;
    clearErrors();
    message.textContent = "";
    if (!text.value.trim()) { setError(text, T.needText); text.focus(); return; }
    if (!networks().length) { setError($("networks"), T.needNetwork); $("network-" + form.querySelector('input[name="networks"]').value).focus(); return; }
    if (later() && !scheduleAt.value) { setError(scheduleAt, T.needSchedule); scheduleAt.focus(); return; }
    const body = { story: story(), networks: networks(), text: text.value };
    if (later()) body.schedule_at = new Date(scheduleAt.value).toISOString(); // this browser's wall clock
    sending = true;
    $("send-share").disabled = true;
    const answer = await api("/v1/shares", body, { "Idempotency-Key": idempotencyKey });
    sending = false;
    $("send-share").disabled = false;
    if (answer.status === 202) {
      idempotencyKey = newKey(); // the next share is another request
      message.textContent = T.shared;
      message.classList.remove("is-error");
      return;
    }
    const field = fieldOf(answer.body && answer.body.error && answer.body.error.field);
    if (answer.status === 0 || !field) {
      message.textContent = problem(answer);
      message.classList.add("is-error");
      return;
    }
    if (answer.status !== 409) idempotencyKey = newKey(); // a corrected body is a new request
    setError(field, problem(answer));
    (field.tagName === "FIELDSET" ? field.querySelector("input") : field).focus();
  }

  form.querySelectorAll('input[name="story"]').forEach((radio) => radio.addEventListener("change", () => {
    text.value = DATA.texts[radio.value] || "";
    schedulePreview();
  }));
  form.querySelectorAll('input[name="networks"]').forEach((box) => box.addEventListener("change", schedulePreview));
  text.addEventListener("input", schedulePreview);
  form.addEventListener("submit", send);
  schedulePreview();
})();
