// The advocate's page: opt in, opt out, connect and disconnect accounts. It calls this node's own API
// with the advisor's session (the CSRF token in a header on every change), as inbox.js does; its
// words come from the page (#advocacy-strings), never from the code. The app password goes once, in
// the body of one request to the node, which seals it at once; the field is emptied right after.
"use strict";
(function () {
  const T = JSON.parse(document.getElementById("advocacy-strings").textContent);
  const DATA = JSON.parse(document.getElementById("advocacy-data").textContent);
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const message = document.getElementById("advocacy-message");

  async function api(method, path, body) {
    const init = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": CSRF },
    };
    if (body !== undefined) init.body = JSON.stringify(body);
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      return { status: 0, body: null };
    }
    const json = await response.json().catch(() => null);
    return { status: response.status, body: json };
  }

  function say(answer) {
    let words = T.noAnswer;
    if (answer.status === 401) words = T.signedOut;
    else if (answer.body && answer.body.error) {
      const error = answer.body.error;
      words = T.errors[error.code] || error.message || error.code;
    }
    message.textContent = words;
  }

  async function act(button) {
    const action = button.dataset.action, network = button.dataset.network;
    let answer;
    if (action === "consent") {
      answer = await api("POST", "/v1/advocacy/consent", { language: DATA.lang, accepted: true });
    } else if (action === "opt-out") {
      if (!window.confirm(T.confirmOptOut)) return;
      answer = await api("DELETE", "/v1/advocacy/consent");
    } else if (action === "disconnect") {
      answer = await api("DELETE", "/v1/advocacy/accounts/" + encodeURIComponent(network));
    } else if (action === "connect") {
      const instance = document.getElementById("mastodon-instance");
      const body = network === "mastodon" && instance ? { instance: instance.value.trim() } : {};
      answer = await api("POST", "/v1/advocacy/accounts/" + encodeURIComponent(network) + "/connect", body);
      if (answer.status === 200 && answer.body && answer.body.authorization_url) {
        window.location.assign(answer.body.authorization_url); // the network's consent page
        return;
      }
    } else {
      return;
    }
    if (answer.status >= 200 && answer.status < 300) window.location.reload();
    else say(answer);
  }

  document.querySelectorAll("button[data-action]").forEach((button) => {
    button.addEventListener("click", () => act(button));
  });

  const bluesky = document.getElementById("bluesky-form");
  if (bluesky) {
    bluesky.addEventListener("submit", async (event) => {
      event.preventDefault();
      const password = document.getElementById("bluesky-password");
      const body = {
        identifier: document.getElementById("bluesky-identifier").value.trim(),
        app_password: password.value,
      };
      password.value = "";
      const answer = await api("POST", "/v1/advocacy/accounts/bluesky", body);
      if (answer.status === 202) window.location.reload();
      else say(answer);
    });
  }
})();
