/* specsync console: times in the browser's zone, and live progress of running syncs.
   No libraries, nothing fetched but this console's own /console/api/progress. */
(function () {
  "use strict";

  function number(value, digits) {
    if (value === null || value === undefined) { return "–"; }
    return Number(value).toLocaleString("en-US", {
      minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0
    }).replace(/,/g, "\u202f");
  }

  function duration(seconds) {
    if (seconds < 60) { return seconds.toFixed(1) + " s"; }
    var whole = Math.round(seconds), minutes = Math.floor(whole / 60), secs = whole % 60;
    if (minutes < 60) { return minutes + " min " + String(secs).padStart(2, "0") + " s"; }
    return Math.floor(minutes / 60) + " h " + String(minutes % 60).padStart(2, "0") + " min";
  }

  /* The server renders times in the zone of the `tz` cookie; set it, and fix this page. */
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  var root = document.documentElement;
  if (zone && root.getAttribute("data-tz") !== zone) {
    document.cookie = "tz=" + encodeURIComponent(zone) +
      "; path=/console; max-age=31536000; samesite=strict";
    var format = new Intl.DateTimeFormat("sv-SE", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
    });
    document.querySelectorAll("time[datetime]").forEach(function (node) {
      node.textContent = format.format(new Date(node.getAttribute("datetime")));
    });
    var label = document.getElementById("zone");
    if (label) { label.textContent = zone; }
    var pending = document.getElementById("zone-pending");
    if (pending) { pending.remove(); }
  }

  /* Live progress: poll while the page shows syncs; reload when a run we showed ends. */
  if (!document.querySelector("[data-live]")) { return; }
  var showing = {};
  document.querySelectorAll("[data-progress-for]").forEach(function (node) {
    if (!node.hidden) { showing[node.getAttribute("data-progress-for")] = true; }
  });

  function show(id, progress) {
    var box = document.querySelector('[data-progress-for="' + CSS.escape(id) + '"]');
    if (!box) { return; }
    box.hidden = false;
    var row = document.querySelector('[data-progress-row="' + CSS.escape(id) + '"]');
    if (row) { row.hidden = false; }
    var heading = document.querySelector('[data-progress-heading="' + CSS.escape(id) + '"]');
    if (heading) { heading.hidden = false; }
    var bar = box.querySelector("progress");
    if (progress.percent === null) { bar.removeAttribute("value"); }
    else { bar.value = progress.percent; }
    var summary = number(progress.read) + " read";
    if (progress.total !== null) { summary += " of " + number(progress.total); }
    summary += ", " + number(progress.written) + " written";
    if (progress.failed) { summary += ", " + number(progress.failed) + " failed"; }
    box.querySelector('[data-field="summary"]').textContent = summary;
    var rate = number(progress.read_rate) + " records/s";
    progress.rates.forEach(function (use) {
      rate += "; " + use.connection + " " + number(use.per_second, 1) + " of " +
        number(use.limit_per_second, 1) + " requests/s (" +
        Math.round(100 * use.per_second / (use.limit_per_second || 1)) + "%)";
    });
    box.querySelector('[data-field="rate"]').textContent = rate;
    box.querySelector('[data-field="eta"]').textContent =
      progress.eta_seconds === null ? "" : "about " + duration(progress.eta_seconds) + " left";
  }

  function poll() {
    fetch("/console/api/progress", {credentials: "same-origin",
                                    headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        var now = {}, ended = false;
        data.running.forEach(function (progress) {
          var id = progress.integration + "/" + progress.sync;
          now[id] = true;
          show(id, progress);
        });
        Object.keys(showing).forEach(function (id) { if (!now[id]) { ended = true; } });
        showing = now;
        var count = document.querySelector("[data-running-count]");
        if (count) { count.textContent = String(data.running.length); }
        if (ended) { window.location.reload(); }
      })
      .catch(function () { /* the runner is restarting: try again */ })
      .finally(function () { window.setTimeout(poll, 1000); });
  }
  window.setTimeout(poll, 500);
}());
