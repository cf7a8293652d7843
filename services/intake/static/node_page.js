// What every script of the node's pages shares (composer.js, inbox.js, share.js, advocacy.js): calls
// to this node's own API with the advisor's session (the CSRF token in a header on every change),
// idempotency keys, the words for a refusal, and errors shown at their fields. Loaded before the
// page's own script; it holds no words of its own: each page passes its strings (T).
"use strict";
window.NodePage = (function () {
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;

  function newKey() {
    // A UUID v4 from getRandomValues (randomUUID needs a secure context; a node may be plain http).
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // {status, body}: status 0 when the node could not be reached, body null when it sent no JSON.
  async function api(method, path, body, headers) {
    const init = { method, credentials: "same-origin", headers: Object.assign({ Accept: "application/json" }, headers || {}) };
    if (method !== "GET") init.headers["X-CSRF-Token"] = CSRF;
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      return { status: 0, body: null };
    }
    const json = response.status === 204 ? null : await response.json().catch(() => null);
    return { status: response.status, body: json };
  }

  // The words for a refused or failed call, from the page's strings: its own for a known code.
  function problem(T, answer) {
    if (answer.status === 401) return T.signedOut;
    const error = answer.body && answer.body.error;
    if (!error) return T.noAnswer;
    return T.errors[error.code] || error.message || error.code;
  }

  // The field's error slot: the element its aria-describedby names with an id ending in "-error".
  function errorSlot(field) {
    const id = (field.getAttribute("aria-describedby") || "").split(" ").find((d) => d.endsWith("-error"));
    return id ? document.getElementById(id) : null;
  }

  function setError(field, words) {
    const slot = errorSlot(field);
    if (!slot) return;
    slot.textContent = words;
    slot.hidden = false;
    if (field.tagName !== "FIELDSET") field.setAttribute("aria-invalid", "true"); // not a fieldset's role
  }

  function clearError(field) {
    const slot = errorSlot(field);
    if (slot) { slot.hidden = true; slot.textContent = ""; }
    field.removeAttribute("aria-invalid");
  }

  function clearErrors(scope) {
    scope.querySelectorAll(".error").forEach((slot) => { slot.hidden = true; slot.textContent = ""; });
    scope.querySelectorAll("[aria-invalid]").forEach((f) => f.removeAttribute("aria-invalid"));
  }

  return Object.freeze({ newKey, api, problem, errorSlot, setError, clearError, clearErrors });
})();
