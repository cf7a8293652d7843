// The conversation page's script: the reply form (live preview on the conversation's network, saved
// replies with their variables), the assignment form and the Hide buttons. It calls this node's own
// API through node_page.js (the advisor's session, the CSRF token in a header on every change);
// its words come from the page (#inbox-strings), never from the code.
"use strict";
(function () {
  const form = document.getElementById("reply-form");
  if (!form) return;
  const T = JSON.parse(document.getElementById("inbox-strings").textContent);
  const DATA = JSON.parse(document.getElementById("inbox-data").textContent);
  const { newKey, setError, clearErrors, errorSlot } = window.NodePage;
  const api = (path, body, headers) => window.NodePage.api("POST", path, body, headers);
  const problem = (answer) => window.NodePage.problem(T, answer);
  const NUMBER = new Intl.NumberFormat(DATA.lang + "-u-nu-latn");
  const $ = (id) => document.getElementById(id);
  const text = $("reply-text"), picker = $("saved-reply"), variables = $("variables");
  const card = $("reply-card"), live = $("reply-live"), message = $("reply-message");
  const SAVED = Object.fromEntries(DATA.saved.map((s) => [s.id, s]));
  let idempotencyKey = newKey();
  let previewSeq = 0;
  let sending = false;

  function replyField(name) {
    if (!name) return null;
    if (name === "saved_reply") return picker;
    if (name.startsWith("values")) {
      const input = variables.querySelector("input");
      return input || picker;
    }
    return text; // text, item_id, conversation: said at the text
  }

  // --- Saved replies ------------------------------------------------------------------------------
  const TOKEN = /\{\{|\}\}|\{([^{}]*)\}/g;
  function filled(reply, values) {
    return reply.body.replace(TOKEN, (token, name) => {
      if (token === "{{" || token === "}}") return token[0];
      const value = (values[name] || "").trim();
      return value || token; // a variable left empty stays visible: the API refuses to send it
    });
  }

  function values() {
    return Object.fromEntries(
      Array.from(variables.querySelectorAll("input"), (input) => [input.dataset.variable, input.value]),
    );
  }

  function chooseSaved() {
    const reply = SAVED[picker.value];
    const row = $("variable-row");
    variables.replaceChildren();
    text.readOnly = Boolean(reply);
    if (!reply) {
      text.value = "";
      schedulePreview();
      return;
    }
    reply.variables.forEach((v) => {
      const p = row.content.firstElementChild.cloneNode(true);
      const input = p.querySelector("input"), label = p.querySelector("label");
      input.id = "variable-" + v.name;
      input.dataset.variable = v.name;
      input.value = DATA.defaults[v.name] || "";
      input.addEventListener("input", () => { text.value = filled(reply, values()); schedulePreview(); });
      label.htmlFor = input.id;
      label.textContent = v.label;
      variables.append(p);
    });
    text.value = filled(reply, values());
    schedulePreview();
  }

  // --- Live preview (POST /v1/preview, the composer's API) ----------------------------------------
  let previewTimer = null;
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(refreshPreview, 250);
  }

  async function refreshPreview() {
    if (!card || !text.value.trim()) return;
    const seq = ++previewSeq;
    const body = { text: text.value, networks: [DATA.network], policy: { [DATA.network]: "reject" } };
    const answer = await api("/v1/preview", body);
    if (seq !== previewSeq) return; // a newer text is on its way
    const fit = card.querySelector(".fit");
    if (answer.status !== 200) {
      fit.textContent = answer.body ? problem(answer) : T.previewFailed;
      return;
    }
    const v = answer.body.variants.find((x) => x.network === DATA.network);
    if (!v) return;
    card.querySelector(".length").textContent = NUMBER.format(v.length);
    const said = v.errors.length ? T.refused : T.fits;
    fit.textContent = said;
    fit.className = "fit " + (v.errors.length ? "is-refused" : "is-fitting");
    card.querySelector(".part").textContent = v.parts.length ? v.parts[0].text : "";
    card.querySelector(".errors").replaceChildren(...v.errors.map((e) => {
      const li = document.createElement("li");
      li.textContent = T.errors[e.code] || e.message || e.code;
      return li;
    }));
    if (live.textContent !== said) live.textContent = said; // spoken when the state changes, not per key
  }

  // --- Sending the reply ----------------------------------------------------------------------------
  async function sendReply(event) {
    event.preventDefault();
    if (sending) return;
    clearErrors(form);
    message.textContent = "";
    const reply = SAVED[picker.value];
    if (!reply && !text.value.trim()) {
      setError(text, T.needText);
      text.focus();
      return;
    }
    const body = reply ? { saved_reply: reply.id, values: values() } : { text: text.value };
    const item = $("reply-item").value;
    if (item) body.item_id = item;
    sending = true;
    $("send-reply").disabled = true;
    const answer = await api(DATA.replies, body, { "Idempotency-Key": idempotencyKey });
    sending = false;
    $("send-reply").disabled = false;
    if (answer.status === 202) {
      idempotencyKey = newKey(); // the next reply is another request
      message.textContent = T.replySent;
      message.classList.remove("is-error");
      picker.value = "";
      chooseSaved();
      return;
    }
    const field = replyField(answer.body && answer.body.error && answer.body.error.field);
    if (answer.status === 0 || !field) {
      message.textContent = problem(answer);
      message.classList.add("is-error");
      return;
    }
    if (answer.status !== 409) idempotencyKey = newKey(); // a corrected body is a new request
    setError(field, problem(answer));
    field.focus();
  }

  // --- Assignment and hiding ------------------------------------------------------------------------
  async function assign(event) {
    event.preventDefault();
    const box = event.currentTarget, select = $("assignee"), said = $("assign-message");
    clearErrors(box);
    const answer = await api(DATA.assign, { assignee: select.value });
    if (answer.status === 200) {
      said.textContent = T.assigned;
      return;
    }
    setError(select, problem(answer));
  }

  async function hide(event) {
    event.preventDefault();
    const box = event.currentTarget;
    clearErrors(box);
    const answer = await api(box.getAttribute("action"), {});
    const slot = errorSlot(box);
    if (answer.status >= 200 && answer.status < 300) {
      box.querySelector("button").disabled = true;
      slot.textContent = T.hideSent;
      slot.hidden = false;
      return;
    }
    slot.textContent = problem(answer);
    slot.hidden = false;
  }

  text.addEventListener("input", schedulePreview);
  picker.addEventListener("change", chooseSaved);
  form.addEventListener("submit", sendReply);
  $("assign").addEventListener("submit", assign);
  document.querySelectorAll("form.hide").forEach((box) => box.addEventListener("submit", hide));
})();
