// The composer's script: live previews, media, publishing, drafts and « Mes publications ».
// It calls this node's own API through node_page.js (the advisor's session, the CSRF token on every
// change); its words come from the page (#composer-strings), never from the code.
"use strict";
(function () {
  const form = document.getElementById("compose");
  if (!form) return;
  const T = JSON.parse(document.getElementById("composer-strings").textContent);
  const DATA = JSON.parse(document.getElementById("composer-data").textContent);
  const { newKey, setError, clearError } = window.NodePage;
  const NUMBER = new Intl.NumberFormat(DATA.lang + "-u-nu-latn");
  const clock = (zone) => new Intl.DateTimeFormat(DATA.lang + "-u-nu-latn", {
    timeZone: zone, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  });
  const PARIS = clock("Europe/Paris"); // the lists' times, as every screen of Relais gives them
  const $ = (id) => document.getElementById(id);
  const text = $("text"), link = $("link"), warning = $("content-warning"), title = $("post-title"), tags = $("post-tags");
  const schedule = $("schedule-at"), live = $("live"), message = $("form-message");
  const networkBoxes = Array.from(form.querySelectorAll('input[name="networks"]'));
  const pageBoxes = Array.from(form.querySelectorAll('input[name="pages"]'));
  const everyPage = $("selector-agency"); // the agency's selector: all its pages on the chosen networks
  const NETWORKS = Object.fromEntries(DATA.networks.map((n) => [n.network, n]));
  let media = []; // {id, name, type, row, alt}
  let draftId = null;
  let idempotencyKey = newKey();
  let previewSeq = 0;
  let previewError = null; // the field a refused preview marked, cleared by the next good one
  let lastSaid = "";
  let sending = false;

  function say(template, values) {
    return template.replace(/%\((\w+)\)s/g, (_, key) => (values && key in values ? values[key] : ""));
  }

  async function api(method, path, body, headers) {
    const answer = await window.NodePage.api(method, path, body, headers);
    if (answer.status === 401) showMessage(T.signedOut, true);
    return answer;
  }

  function problem(error) {
    if (!error) return T.noAnswer;
    return T.errors[error.code] || error.message || say(T.refusedStatus, { status: error.code });
  }

  function showMessage(words, isError) {
    message.textContent = words;
    message.classList.toggle("is-error", Boolean(isError));
  }

  // --- Errors tied to their fields -------------------------------------------------------------
  function fieldFor(name) {
    if (!name) return null;
    const alt = /^media\[(\d+)\]/.exec(name);
    if (alt && media[Number(alt[1])]) return media[Number(alt[1])].alt;
    const root = name.replace(/\[.*$/, "");
    const ids = { text: "text", link: "link", networks: "networks", pages: "pages", selectors: "pages",
      schedule_at: "schedule-at", content_warning: "content-warning", title: "post-title", tags: "post-tags", policy: "networks" };
    return ids[root] ? $(ids[root]) : null;
  }

  const clearErrors = () => window.NodePage.clearErrors(form);

  // --- The post as the form holds it -----------------------------------------------------------
  function chosenNetworks() {
    return networkBoxes.filter((box) => box.checked).map((box) => box.value);
  }

  function chosenPages() {
    return pageBoxes.filter((box) => !box.disabled && box.checked);
  }

  function postBody() {
    const networks = chosenNetworks();
    const body = { text: text.value, networks };
    if (link.value.trim()) body.link = link.value.trim();
    if (warning.value.trim()) body.content_warning = warning.value.trim();
    if (!title.closest(".field").hidden && title.value.trim()) body.title = title.value.trim();
    const keywords = tags.value.split(",").map((tag) => tag.trim()).filter((tag) => tag);
    if (!tags.closest(".field").hidden && keywords.length) body.tags = keywords;
    const policy = {};
    networks.forEach((n) => {
      const select = $("policy-" + n);
      if (select && select.value !== NETWORKS[n].default_policy) policy[n] = select.value;
    });
    if (Object.keys(policy).length) body.policy = policy;
    if (media.length) body.media = media.map((m) => ({ id: m.id, alt: m.alt.value.trim() }));
    if (everyPage && everyPage.checked) body.selectors = [everyPage.value];
    else body.pages = chosenPages().map((box) => box.value);
    return body;
  }

  // --- Networks and pages ----------------------------------------------------------------------
  function syncChoices() {
    const networks = chosenNetworks();
    pageBoxes.forEach((box) => {
      const on = networks.includes(box.dataset.network);
      // A network's pages come ticked when it is chosen: posting to all the agency's pages is the rule.
      if (on && box.disabled) box.checked = !everyPage || everyPage.checked;
      box.disabled = !on;
      box.closest("li").hidden = !on; // only the chosen networks' pages are offered
    });
    syncSelector();
    DATA.networks.forEach((n) => { $("card-" + n.network).hidden = !networks.includes(n.network); });
    $("preview-empty").hidden = networks.length > 0 && text.value.trim() !== "";
    $("title-field").hidden = !networks.some((n) => NETWORKS[n].takes_title);
    $("tags-field").hidden = !networks.some((n) => NETWORKS[n].takes_tags);
    syncZone();
  }

  function syncSelector() {
    if (everyPage) everyPage.checked = pageBoxes.every((box) => box.disabled || box.checked);
  }

  function syncZone() {
    const zones = [...new Set(chosenPages().map((box) => box.dataset.zoneWords))];
    const all = [...new Set(pageBoxes.map((box) => box.dataset.zoneWords))];
    const shown = zones.length ? zones : all.slice(0, 1);
    $("schedule-zone").textContent = zones.length > 1 ? say(T.zoneMixed, { zone: zones[0] }) : shown[0] || "";
  }

  function chosenZone() {
    const box = chosenPages()[0] || pageBoxes[0];
    return box ? box.dataset.zone : "Europe/Paris";
  }

  // A wall-clock time in `zone` to UTC (ISO): two passes over the zone's offset, as at a DST change.
  function zoneOffset(ms, zone) {
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(new Date(ms));
    const v = Object.fromEntries(parts.map((p) => [p.type, Number(p.value)]));
    return Date.UTC(v.year, v.month - 1, v.day, v.hour, v.minute, v.second) - ms;
  }

  function toUtc(local, zone) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
    if (!m) return null;
    const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
    let utc = wall - zoneOffset(wall, zone);
    utc = wall - zoneOffset(utc, zone);
    return new Date(utc).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  // A UTC moment as the wall-clock time of `zone`, as a datetime-local field holds it.
  function fromUtc(iso, zone) {
    const ms = Date.parse(iso);
    if (Number.isNaN(ms)) return "";
    const local = new Date(ms + zoneOffset(ms, zone)).toISOString();
    return local.slice(0, 16);
  }

  // --- Live preview ----------------------------------------------------------------------------
  let previewTimer = null;
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(refreshPreview, 250);
  }

  async function refreshPreview() {
    syncChoices();
    const body = postBody();
    delete body.pages;
    delete body.selectors;
    if (!body.networks.length || !body.text.trim()) return;
    if (body.media) body.media = body.media.map((m) => ({ id: m.id, alt: m.alt }));
    const seq = ++previewSeq;
    const answer = await api("POST", "/v1/preview", body);
    if (seq !== previewSeq) return; // a newer text is on its way
    if (answer.status !== 200) {
      const error = answer.body && answer.body.error;
      DATA.networks.forEach((n) => {
        $("card-" + n.network).querySelector(".fit").textContent = error ? problem(error) : T.previewFailed;
      });
      const field = error && fieldFor(error.field);
      if (field) { // what the preview refuses (a text over 10,000 characters…) is said at its field
        setError(field, problem(error));
        previewError = field;
      }
      return;
    }
    if (previewError) {
      clearError(previewError);
      previewError = null;
    }
    const summary = answer.body.variants.map(drawCard);
    const said = summary.join(" · ");
    if (said !== lastSaid) { // the live region speaks when a network's state changes, not per key
      lastSaid = said;
      live.textContent = said;
    }
  }

  function fitWords(v) {
    if (v.errors.length) return T.refused;
    if (v.fits) return T.fits;
    if (v.policy === "thread" && v.parts.length > 1) return T.parts[String(v.parts.length)] || `${v.parts.length}`;
    return T.truncated;
  }

  function drawCard(v) {
    const card = $("card-" + v.network);
    if (!card) return "";
    card.querySelector(".length").textContent = NUMBER.format(v.length);
    card.classList.toggle("over", v.length > v.limit);
    const fit = fitWords(v);
    const state = card.querySelector(".fit");
    state.textContent = fit;
    state.className = "fit " + (v.errors.length ? "is-refused" : v.fits ? "is-fitting" : "is-fitted");
    const parts = card.querySelector(".parts");
    parts.replaceChildren(...v.parts.map((part, i) => {
      const li = document.createElement("li");
      li.setAttribute("aria-label", say(T.partLabel, { i: i + 1, n: v.parts.length }));
      li.dir = "auto"; // the advisor's text keeps its own direction on an Arabic page
      highlight(li, shown(v.network, part.text));
      return li;
    }));
    shortenLinks(card);
    list(card.querySelector(".errors"), v.errors.map(problem));
    list(card.querySelector(".notices"), v.notices.map(problem));
    return `${NETWORKS[v.network] ? NETWORKS[v.network].name : v.network} : ${fit}`;
  }

  function list(ul, items) {
    ul.replaceChildren(...items.map((words) => {
      const li = document.createElement("li");
      li.textContent = words;
      return li;
    }));
  }

  // What the network shows of a sent part: LinkedIn's little-text escapes are invisible there.
  function shown(network, sent) {
    return network === "linkedin" ? sent.replace(/\\([\\|{}@[\]()<>#*_~])/g, "$1") : sent;
  }

  // Links shortened as the network shows them (without the scheme, cut with an ellipsis),
  // hashtags and mentions highlighted; built as text nodes, never as HTML.
  const LINK_SHOWN = { x: 23, mastodon: 30, bluesky: 28, threads: 30 };
  const TOKENS = /(https?:\/\/[^\s]+)|((?:^|(?<=[^\p{L}\p{N}_]))[#@][\p{L}\p{N}_][\p{L}\p{N}_.-]*)/gu;
  function highlight(parent, value) {
    let at = 0;
    for (const match of value.matchAll(TOKENS)) {
      if (match.index > at) parent.append(value.slice(at, match.index));
      const span = document.createElement("span");
      if (match[1]) {
        span.className = "link";
        span.title = match[1];
        span.textContent = match[1];
      } else {
        span.className = "tag";
        span.textContent = match[2];
      }
      parent.append(span);
      at = match.index + match[0].length;
    }
    if (at < value.length) parent.append(value.slice(at));
  }

  function shortenLinks(card) {
    const cap = LINK_SHOWN[card.dataset.network];
    if (!cap) return;
    card.querySelectorAll(".parts .link").forEach((span) => {
      const bare = span.title.replace(/^https?:\/\/(www\.)?/, "");
      span.textContent = bare.length > cap ? bare.slice(0, cap - 1) + "…" : bare;
    });
  }

  // --- Media -----------------------------------------------------------------------------------
  $("media-file").addEventListener("change", async (event) => {
    const input = event.target;
    const files = Array.from(input.files || []);
    const slot = $("media-error");
    slot.hidden = true;
    input.removeAttribute("aria-invalid");
    for (const file of files) {
      showMessage(say(T.uploading, { name: file.name }));
      const data = new FormData();
      data.append("file", file, file.name);
      const answer = await api("POST", "/v1/media", data);
      if (answer.status !== 201) {
        setError(input, `${file.name} : ${problem(answer.body && answer.body.error)}`);
        showMessage("");
        continue;
      }
      addMedium(answer.body.id, file.name, answer.body.content_type, "");
      showMessage(say(T.uploaded, { name: file.name }));
    }
    input.value = "";
    schedulePreview();
  });

  function addMedium(id, name, type, alt) {
    const row = $("media-row").content.firstElementChild.cloneNode(true);
    const field = row.querySelector(".alt");
    const label = row.querySelector("label");
    const slot = row.querySelector(".error");
    const n = media.length ? Math.max(...media.map((m) => m.n)) + 1 : 0;
    field.id = "alt-" + n;
    label.htmlFor = field.id;
    slot.id = field.id + "-error";
    field.setAttribute("aria-describedby", slot.id);
    field.required = type.startsWith("image/");
    field.value = alt || "";
    row.querySelector(".medium-name").textContent = name;
    const remove = row.querySelector(".remove");
    remove.textContent = say(T.remove, { name });
    const item = { id, name, type, row, alt: field, n };
    remove.addEventListener("click", () => {
      media = media.filter((m) => m !== item);
      row.remove();
      $("media-file").focus();
      schedulePreview();
    });
    field.addEventListener("input", schedulePreview);
    $("media-list").append(row);
    media.push(item);
    return item;
  }

  // --- Publishing ------------------------------------------------------------------------------
  function check(later) {
    clearErrors();
    const problems = [];
    if (!text.value.trim()) problems.push([text, T.needText]);
    if (!chosenNetworks().length) problems.push([$("networks"), T.needNetwork]);
    else {
      const ticked = new Set(chosenPages().map((box) => box.dataset.network));
      const bare = chosenNetworks().find((n) => pageBoxes.length && !ticked.has(n));
      if (bare) problems.push([$("pages"), say(T.needPage, { network: NETWORKS[bare].name })]);
    }
    media.forEach((m) => {
      if (m.alt.required && !m.alt.value.trim()) problems.push([m.alt, T.needAlt]);
    });
    if (later && !schedule.value) problems.push([schedule, T.needSchedule]);
    if (schedule.value) {
      const at = toUtc(schedule.value, chosenZone());
      if (at && Date.parse(at) < Date.now()) problems.push([schedule, T.scheduleInPast]);
    }
    problems.forEach(([field, words]) => setError(field, words));
    if (problems.length) {
      showMessage("");
      focusField(problems[0][0]);
    }
    return !problems.length;
  }

  function focusField(field) {
    const target = field.tagName === "FIELDSET" ? field.querySelector("input:not([disabled])") : field;
    if (target) target.focus();
  }

  async function publish(later) {
    if (sending || !check(later)) return;
    const body = postBody();
    if (schedule.value) body.schedule_at = toUtc(schedule.value, chosenZone());
    sending = true;
    setBusy(true);
    const answer = await api("POST", "/v1/posts", body, { "Idempotency-Key": idempotencyKey });
    sending = false;
    setBusy(false);
    if (answer.status === 202) {
      const words = say(T.sent, { status: T.statuses[answer.body.status] || answer.body.status });
      const when = body.schedule_at
        ? " " + say(T.scheduledFor, {
          when: clock(chosenZone()).format(new Date(body.schedule_at)), zone: $("schedule-zone").textContent,
        })
        : "";
      if (draftId) await api("DELETE", "/v1/drafts/" + encodeURIComponent(draftId));
      resetForm();
      showMessage(words + when);
      refreshPosts();
      refreshDrafts();
      return;
    }
    const error = answer.body && answer.body.error;
    const field = error && fieldFor(error.field);
    if (field) {
      setError(field, problem(error));
      focusField(field);
    }
    showMessage(answer.status ? problem(error) : T.noAnswer, true);
  }

  function setBusy(busy) {
    ["publish", "publish-later", "save-draft"].forEach((id) => { $(id).disabled = busy; });
    form.setAttribute("aria-busy", String(busy));
  }

  function resetForm() {
    form.reset();
    media.forEach((m) => m.row.remove());
    media = [];
    draftId = null;
    idempotencyKey = newKey();
    lastSaid = "";
    clearErrors();
    syncChoices();
    DATA.networks.forEach((n) => {
      const card = $("card-" + n.network);
      card.querySelector(".length").textContent = NUMBER.format(0);
      ["fit", "parts", "errors", "notices"].forEach((c) => card.querySelector("." + c).replaceChildren());
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    publish(false);
  });
  $("publish-later").addEventListener("click", () => publish(true));

  // --- Drafts ----------------------------------------------------------------------------------
  function draftBody() {
    const body = postBody();
    if (schedule.value) body.schedule_at = toUtc(schedule.value, chosenZone());
    if (media.length) body.media = media.map((m) => ({ id: m.id, alt: m.alt.value, name: m.name, type: m.type }));
    return body;
  }

  $("save-draft").addEventListener("click", async () => {
    const path = draftId ? "/v1/drafts/" + encodeURIComponent(draftId) : "/v1/drafts";
    const answer = await api(draftId ? "PUT" : "POST", path, { body: draftBody() });
    if (answer.status === 200 || answer.status === 201) {
      draftId = answer.body.id;
      showMessage(T.draftSaved);
      refreshDrafts();
    } else {
      showMessage(answer.status ? problem(answer.body && answer.body.error) : T.noAnswer, true);
    }
  });

  async function refreshDrafts() {
    const answer = await api("GET", "/v1/drafts");
    if (answer.status !== 200) return;
    const ul = $("draft-list");
    const drafts = answer.body.drafts || [];
    if (!drafts.length) return list(ul, [T.noDrafts]);
    ul.replaceChildren(...drafts.map((draft) => {
      const li = document.createElement("li");
      const words = document.createElement("p");
      words.id = "draft-" + draft.id;
      words.dir = "auto";
      const body = draft.body || {};
      words.textContent = (body.text || "").slice(0, 140) || T.untitled;
      const when = document.createElement("time");
      when.dateTime = draft.updated_at;
      when.textContent = PARIS.format(new Date(draft.updated_at));
      const resume = button(T.resume, () => resumeDraft(draft));
      const remove = button(T.delete, async () => {
        const gone = await api("DELETE", "/v1/drafts/" + encodeURIComponent(draft.id));
        if (gone.status === 204) {
          if (draftId === draft.id) draftId = null;
          showMessage(T.draftDeleted);
          await refreshDrafts();
          $("save-draft").focus();
        }
      });
      resume.setAttribute("aria-describedby", words.id);
      remove.setAttribute("aria-describedby", words.id);
      li.append(words, when, " ", resume, " ", remove);
      return li;
    }));
  }

  function button(words, action) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = words;
    b.addEventListener("click", action);
    return b;
  }

  function resumeDraft(draft) {
    resetForm();
    const body = draft.body || {};
    draftId = draft.id;
    text.value = body.text || "";
    link.value = body.link || "";
    warning.value = body.content_warning || "";
    title.value = body.title || "";
    tags.value = (body.tags || []).join(", ");
    schedule.value = "";
    networkBoxes.forEach((box) => { box.checked = (body.networks || []).includes(box.value); });
    syncChoices();
    if (body.pages) {
      pageBoxes.forEach((box) => { if (!box.disabled) box.checked = body.pages.includes(box.value); });
      syncSelector();
    }
    Object.entries(body.policy || {}).forEach(([n, p]) => { if ($("policy-" + n)) $("policy-" + n).value = p; });
    (body.media || []).forEach((m) => addMedium(m.id, m.name || m.id, m.type || "", m.alt));
    if (body.schedule_at) schedule.value = fromUtc(body.schedule_at, chosenZone());
    showMessage(T.draftResumed);
    text.focus();
    schedulePreview();
  }

  // --- « Mes publications » --------------------------------------------------------------------
  // post id → {key, view}: a final post's view, asked again only when its summary changes (a
  // moderator's edit can reach the node after the publication it led to).
  const details = new Map();
  const summaryKey = (p) => JSON.stringify([p.status, p.text, p.edited, p.reason]);
  const seen = new Map(); // post id → the status last shown
  const FINAL = new Set(["published", "partially_published", "failed", "rejected", "expired", "invalid"]);

  async function refreshPosts() {
    const answer = await api("GET", "/v1/posts?author=me");
    if (answer.status !== 200) return;
    const posts = (answer.body.posts || []).filter((p) => !p.author || p.author === DATA.advisor).slice(0, 20);
    const views = await Promise.all(posts.map(async (p) => {
      const known = details.get(p.id);
      if (known && known.key === summaryKey(p)) return known.view;
      const view = await api("GET", "/v1/posts/" + encodeURIComponent(p.id));
      if (view.status !== 200) return Object.assign({ deliveries: [] }, p);
      if (FINAL.has(view.body.status)) details.set(p.id, { key: summaryKey(p), view: view.body });
      return view.body;
    }));
    const ul = $("post-list");
    if (!views.length) return list(ul, [T.noPosts]);
    ul.replaceChildren(...views.map(drawPost));
    // A post whose status changed since the last look is told once in the live region.
    const changed = views.filter((v) => seen.has(v.id) && seen.get(v.id) !== v.status);
    views.forEach((v) => seen.set(v.id, v.status));
    if (changed.length) {
      live.textContent = changed.map((v) => say(T.postStatus, {
        text: (v.text || "").slice(0, 60), status: T.statuses[v.status] || v.status,
      })).join(" · ");
    }
    const waiting = views.some((v) => v.status === "waiting_for_hub");
    if (waiting) $("link-banner").hidden = false;
  }

  function drawPost(post) {
    const li = document.createElement("li");
    li.dataset.postId = post.id;
    const status = document.createElement("p");
    status.className = "status status-" + post.status;
    status.textContent = T.statuses[post.status] || post.status;
    const when = document.createElement("time");
    when.dateTime = post.created_at;
    when.textContent = PARIS.format(new Date(post.created_at));
    const body = document.createElement("p");
    body.className = "post-text";
    body.dir = "auto";
    body.textContent = post.text || "";
    li.append(status, when, body);
    if (post.reason) li.append(paragraph(say(T.reason, { reason: post.reason }), "reason"));
    if (post.original_text) li.append(paragraph(say(T.edited, { text: post.original_text }), "edited"));
    else if (post.edited) li.append(paragraph(T.editedShort, "edited"));
    // Only web addresses become links: a network's answer could hold a javascript: URL.
    const links = (post.deliveries || []).filter((d) => d.url && /^https?:/i.test(d.url));
    if (links.length) {
      const ul = document.createElement("ul");
      ul.className = "deliveries";
      links.forEach((d) => {
        const item = document.createElement("li");
        const a = document.createElement("a");
        a.href = d.url;
        a.rel = "noopener noreferrer";
        const name = NETWORKS[d.network] ? NETWORKS[d.network].name : d.network;
        a.textContent = say(T.viewOn, { network: name }) + " (" + d.page + ")";
        item.append(a);
        ul.append(item);
      });
      li.append(ul);
    }
    return li;
  }

  function paragraph(words, className) {
    const p = document.createElement("p");
    p.className = className;
    p.textContent = words;
    return p;
  }

  async function refreshLink() {
    const answer = await api("GET", "/v1/composer");
    if (answer.status === 200 && typeof answer.body.link_up === "boolean") {
      $("link-banner").hidden = answer.body.link_up;
    }
  }

  // --- Wiring ----------------------------------------------------------------------------------
  [text, link, warning, title, tags].forEach((field) => field.addEventListener("input", schedulePreview));
  networkBoxes.forEach((box) => box.addEventListener("change", () => {
    syncChoices(); // at once: the pages, cards and zone follow the networks before any click
    schedulePreview();
  }));
  pageBoxes.forEach((box) => box.addEventListener("change", syncZone));
  // « All the agency's pages » ticks or unticks every offered page; unticking one page unticks it.
  if (everyPage) {
    everyPage.addEventListener("change", () => {
      pageBoxes.forEach((box) => { if (!box.disabled) box.checked = everyPage.checked; });
      syncZone();
    });
  }
  pageBoxes.forEach((box) => box.addEventListener("change", syncSelector));
  DATA.networks.forEach((n) => $("policy-" + n.network).addEventListener("change", schedulePreview));
  syncChoices();
  refreshPosts();
  refreshDrafts();
  setInterval(() => { refreshPosts(); refreshLink(); }, DATA.refresh_seconds * 1000);
})();
