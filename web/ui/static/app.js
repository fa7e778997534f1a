// Flurfunk's pages work without this file; it adds the live character count, confirmation
// before deleting, and live timelines through the node's event stream (/web/streaming).
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
    button.textContent = button.dataset.template.replace("{n}", String(waiting.length));
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

function liveNotifications(bar) {
  const source = new EventSource("/web/streaming?" + bar.dataset.stream);
  source.addEventListener("notification", () => {
    bar.hidden = false;
  });
  source.addEventListener("open", () => {
    document.documentElement.dataset.live = "open";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("textarea[data-limit]").forEach(countCharacters);
  document.querySelectorAll("form.confirm[data-confirm]").forEach(confirmBeforeSubmit);
  document.querySelectorAll(".feed[data-stream]").forEach(liveFeed);
  document.querySelectorAll(".live-notifications[data-stream]").forEach(liveNotifications);
});
