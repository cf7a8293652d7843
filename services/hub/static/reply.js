// The hub conversation page's reply form: a live preview of the reply on the conversation's network,
// asked of the hub (POST /inbox/{conversation}/preview, the session's CSRF token in a header) as the
// text, the saved reply or its variables change. Its words come from the page (#reply-strings). The
// form itself is sent without the script (a plain POST with its csrf field).
"use strict";
(function () {
  const card = document.getElementById("reply-card");
  if (!card) return;
  const form = card.closest("form");
  const T = JSON.parse(document.getElementById("reply-strings").textContent);
  const csrf = form.querySelector('input[name="csrf"]').value;
  const live = document.getElementById("reply-live");
  let timer = null;
  let seq = 0;

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }

  async function refresh() {
    const body = new URLSearchParams(new FormData(form));
    const text = body.get("text") || "";
    if (!body.get("saved_reply") && !text.trim()) return;
    const mine = ++seq;
    let answer = null;
    try {
      const response = await fetch(card.dataset.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": csrf },
        body,
      });
      answer = { status: response.status, body: await response.json().catch(() => null) };
    } catch (e) {
      answer = { status: 0, body: null };
    }
    if (mine !== seq) return; // a newer text is on its way
    const fit = card.querySelector(".fit");
    const errors = card.querySelector(".errors");
    if (answer.status !== 200 || !answer.body) {
      const error = answer.body && answer.body.error;
      fit.textContent = error ? (T.errors[error.code] || error.message) : T.failed;
      errors.replaceChildren();
      return;
    }
    const v = answer.body.variants[0];
    card.querySelector(".length").textContent = String(v.length);
    const said = v.errors.length ? T.refused : T.fits;
    fit.textContent = said;
    card.querySelector(".part").textContent = v.parts.length ? v.parts[0].text : "";
    errors.replaceChildren(...v.errors.map((e) => {
      const li = document.createElement("li");
      li.textContent = T.errors[e.code] || e.message || e.code;
      return li;
    }));
    if (live.textContent !== said) live.textContent = said; // spoken when the state changes
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
})();
