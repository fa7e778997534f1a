// Flurfunk's pages work without this file; it adds the live character count, confirmation
// before deleting, the composer's preview in place, and live timelines, notifications and
// conversations through the node's event stream (/web/streaming).
"use strict";

function countCharacters(textarea) {
  const limit = Number(textarea.dataset.limit);
  const counter = document.getElementById(textarea.getAttribute("aria-describedby"));
  if (!counter) return;
  const update = () => {
    const used = Array.from(textarea.value).length;
    counter.querySelector(".used").textContent = String(used);
    counter.classList.toggle("over", used > limit);
  };
  textarea.addEventListener("input", update);
  update();
}

function confirmBeforeSubmit(form) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

// The Preview button without leaving the page: the same preview the page would show, under
// the composer. Without this script (or when the request fails) the button opens that page.
function previewInPlace(form) {
  const button = form.querySelector("button[name=preview]");
  const slot = form.querySelector(".preview-slot");
  if (!button || !slot) return;
  let fallback = false;
  button.addEventListener("click", async (event) => {
    if (fallback) return;
    event.preventDefault();
    const fields = new FormData(form);
    fields.delete("file"); // a preview uploads nothing
    const answer = await fetch("/web/preview", {
      method: "POST",
      body: fields,
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    }).catch(() => null);
    if (!answer || !answer.ok) {
      fallback = true;
      button.click();
      return;
    }
    document.querySelectorAll(".preview-slot").forEach((other) => other.replaceChildren());
    const template = document.createElement("template");
    template.innerHTML = (await answer.text()).trim();
    slot.replaceChildren(template.content);
  });
}

// The chosen file by name under the file field, as the post will carry it: a document
// shows as its name, so the name is what the author should see before posting.
function showChosenFile(input) {
  const line = document.getElementById(input.getAttribute("aria-describedby"));
  if (!line) return;
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    line.hidden = !file;
    line.querySelector(".file-name").textContent = file ? file.name : "";
  });
}

async function fetchStatus(id) {
  const answer = await fetch("/web/statuses/" + encodeURIComponent(id), {
    credentials: "same-origin",
    headers: { Accept: "text/html" },
  });
  if (!answer.ok) return null;
  const template = document.createElement("template");
  template.innerHTML = (await answer.text()).trim();
  const article = template.content.querySelector("article.status");
  // Forms in a fetched status return to the page it is shown on, not to the fragment's URL.
  if (article) {
    article.querySelectorAll("input[name=next]").forEach((input) => {
      const anchor = input.value.includes("#") ? input.value.slice(input.value.indexOf("#")) : "";
      input.value = window.location.pathname + window.location.search + anchor;
    });
  }
  return article;
}

function liveFeed(feed) {
  const bar = document.querySelector(".new-posts");
  const button = bar ? bar.querySelector("button") : null;
  const waiting = [];
  const atTop = () => window.scrollY < 200;

  const showBar = () => {
    if (!bar || !button) return;
    bar.hidden = waiting.length === 0;
    // Both catalogue languages (en, de) use the singular for exactly one and the plural else.
    const form = waiting.length === 1 ? button.dataset.one : button.dataset.other;
    button.textContent = form.replace("{n}", String(waiting.length));
  };
  const insert = (article) => {
    const empty = feed.querySelector(".empty");
    if (empty) empty.remove();
    feed.prepend(article);
    feed.dispatchEvent(new CustomEvent("flurfunk:inserted", { detail: article.dataset.id }));
  };
  if (button) {
    button.addEventListener("click", () => {
      while (waiting.length) insert(waiting.shift());
      showBar();
      feed.scrollIntoView({ behavior: "smooth" });
    });
  }

  const source = new EventSource("/web/streaming?" + feed.dataset.stream);
  source.addEventListener("update", async (event) => {
    const id = JSON.parse(event.data).id;
    if (document.getElementById("status-" + id)) return;
    const article = await fetchStatus(id);
    if (!article || document.getElementById("status-" + id)) return;
    if (atTop() && waiting.length === 0) insert(article);
    else {
      waiting.unshift(article);
      showBar();
    }
  });
  source.addEventListener("status.update", async (event) => {
    const id = JSON.parse(event.data).id;
    const shown = document.getElementById("status-" + id);
    if (!shown) return;
    const article = await fetchStatus(id);
    if (article) shown.replaceWith(article);
  });
  source.addEventListener("delete", (event) => {
    const shown = document.getElementById("status-" + event.data);
    if (shown) shown.remove();
  });
  document.documentElement.dataset.live = "connecting";
  source.addEventListener("open", () => {
    document.documentElement.dataset.live = "open";
  });
}

async function fetchItem(list, id) {
  const answer = await fetch(list.dataset.fragment + encodeURIComponent(id), {
    credentials: "same-origin",
    headers: { Accept: "text/html" },
  });
  if (!answer.ok) return null;
  const template = document.createElement("template");
  template.innerHTML = (await answer.text()).trim();
  const item = template.content.querySelector("li[id]");
  if (item) {
    item.querySelectorAll("input[name=next]").forEach((input) => {
      input.value = window.location.pathname + window.location.search;
    });
  }
  return item;
}

// Notifications and direct conversations: a new one goes on top; a conversation that has a
// new message moves there. Only on the first page: older pages stay as they were read.
function liveList(list) {
  if (new URLSearchParams(window.location.search).has("max_id")) return;
  const source = new EventSource("/web/streaming?" + list.dataset.stream);
  source.addEventListener(list.dataset.event, async (event) => {
    const item = await fetchItem(list, JSON.parse(event.data).id);
    if (!item) return;
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    const shown = document.getElementById(item.id);
    if (shown) shown.remove();
    list.prepend(item);
  });
  document.documentElement.dataset.live = "connecting";
  source.addEventListener("open", () => {
    document.documentElement.dataset.live = "open";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("textarea[data-limit]").forEach(countCharacters);
  document.querySelectorAll("form.confirm[data-confirm]").forEach(confirmBeforeSubmit);
  document.querySelectorAll("form.composer").forEach(previewInPlace);
  document.querySelectorAll("form.composer input[type=file]").forEach(showChosenFile);
  document.querySelectorAll(".feed[data-stream]").forEach(liveFeed);
  document.querySelectorAll(".live-list[data-stream]").forEach(liveList);
});

// Announcements pinned above the home timeline: new, edited and withdrawn ones live.
function liveAnnouncements(banner) {
  const source = new EventSource("/web/streaming?stream=user");
  const refresh = async () => {
    const answer = await fetch(banner.dataset.banner, { credentials: "same-origin" });
    if (!answer.ok) return;
    const template = document.createElement("template");
    template.innerHTML = (await answer.text()).trim();
    const fresh = template.content.querySelector(".announcements-banner");
    if (fresh) {
      banner.replaceWith(fresh);
      banner = fresh;
    }
  };
  source.addEventListener("announcement", refresh);
  source.addEventListener("announcement.delete", (event) => {
    const shown = document.getElementById("announcement-" + event.data);
    if (shown) shown.remove();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".announcements-banner[data-banner]").forEach(liveAnnouncements);
});
