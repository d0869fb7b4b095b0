// Live updates: every few seconds fetch this page again (with ?since=<version>); the
// server answers 204 when nothing changed, else the page, whose [data-live] regions
// replace ours. Everything comes server-rendered and escaped: no HTML is built here.
(function () {
  "use strict";
  var body = document.body;
  var every = parseInt(body.dataset.refresh || "3000", 10);
  var version = body.dataset.version || "";
  var paused = false;
  var button = document.getElementById("live-toggle");
  var status = document.getElementById("live-status");
  if (!button || !document.querySelector("[data-live]")) {
    if (button) { button.hidden = true; }
    return;
  }
  button.addEventListener("click", function () {
    paused = !paused;
    button.setAttribute("aria-pressed", String(paused));
    button.textContent = paused ? "Resume live updates" : "Pause live updates";
    status.textContent = paused ? "Live updates paused" : "";
  });
  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    fresh.querySelectorAll("[data-live]").forEach(function (node) {
      var old = document.querySelector('[data-live="' + node.dataset.live + '"]');
      // Leave a region alone while the keyboard focus is in it.
      if (old && !old.contains(document.activeElement)) {
        old.replaceWith(document.importNode(node, true));
      }
    });
    version = fresh.body.dataset.version || "";
  }
  function tick() {
    if (paused || document.hidden) { setTimeout(tick, every); return; }
    var url = new URL(location.href);
    url.hash = "";
    if (version) { url.searchParams.set("since", version); }
    fetch(url.toString(), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 200) { return response.text().then(swap); }
        if (response.status !== 204) { throw new Error(String(response.status)); }
      })
      .then(function () {
        status.textContent = "Updated " + new Date().toLocaleTimeString();
        body.dataset.updates = String(parseInt(body.dataset.updates || "0", 10) + 1);
      })
      .catch(function () { status.textContent = "Live updates failing; retrying"; })
      .then(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
})();
