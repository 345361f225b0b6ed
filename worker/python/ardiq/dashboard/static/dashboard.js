// ArdiQ dashboard: live updates without a page reload. Every few seconds the
// page's live part (<main id="live">) is asked for again (the server answers
// with that part alone when the request carries X-Ardiq-Fragment: 1) and put
// in place when it changed. A failed request shows a line and is tried again.
// Without JavaScript the pages work the same and reload themselves instead.
"use strict";

(function () {
  const live = document.getElementById("live");
  if (!live) {
    return;
  }
  document.documentElement.classList.add("js");
  const every = Math.max(500, Number(live.dataset.refreshMs) || 2000);
  const offline = document.createElement("p");
  offline.className = "offline";
  offline.setAttribute("role", "status");
  offline.hidden = true;
  live.before(offline);
  let last = null;
  let timer = null;

  function busy() {
    // Leave the part alone while someone is using a control inside it.
    const active = document.activeElement;
    return active !== null && active !== document.body && live.contains(active);
  }

  async function refresh() {
    timer = null;
    if (document.hidden) {
      return;
    }
    try {
      const response = await fetch(window.location.href, {
        headers: { "X-Ardiq-Fragment": "1" },
        credentials: "same-origin",
        cache: "no-store",
      });
      const html = await response.text();
      if (html !== last && !busy()) {
        live.innerHTML = html;
        last = html;
      }
      offline.hidden = true;
      live.dataset.updatedAt = String(Date.now());
    } catch (error) {
      offline.textContent = "The dashboard is not answering (" + error + "); trying again.";
      offline.hidden = false;
    }
    schedule();
  }

  function schedule() {
    if (timer === null) {
      timer = window.setTimeout(refresh, every);
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && timer === null) {
      refresh();
    }
  });
  schedule();
})();
