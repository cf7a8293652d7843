// The advocate's page: opt in, opt out, connect and disconnect accounts. It calls this node's own API
// through node_page.js (the advisor's session, the CSRF token in a header on every change); its
// words come from the page (#advocacy-strings), never from the code. The app password goes once, in
// the body of one request to the node, which seals it at once; the field is emptied right after.
"use strict";
(function () {
  const T = JSON.parse(document.getElementById("advocacy-strings").textContent);
  const DATA = JSON.parse(document.getElementById("advocacy-data").textContent);
  const api = window.NodePage.api;
  const message = document.getElementById("advocacy-message");

  function say(answer) {
    message.textContent = window.NodePage.problem(T, answer);
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
