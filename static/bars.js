// Progressive enhancement: gives every daily uptime bar its tooltip ("2025-03-01 ·
// Operational · uptime 99.95% · no incidents · TTFT p50 700 ms, p95 1.2 s"), built from the
// figures its strip carries once (data-from, data-days; see svg::day_data in the server)
// instead of a title on each of the page's hundreds of bars. The words match
// svg::day_tooltip. Without this script the strip's label still says what the bars add up to.
(function () {
  "use strict";
  var labels = {
    "": "Operational", d: "Degraded performance", p: "Partial outage",
    m: "Major outage", u: "Under maintenance", n: "Unknown"
  };
  // Whole milliseconds, or seconds with one decimal (the dot tells them apart).
  function ms(v) {
    if (v === "" || v === undefined) { return "\u2014"; }
    return v.indexOf(".") >= 0 ? v + " s" : v + " ms";
  }
  function tooltip(date, cls, d) {
    if (!d) { return date + " \u00b7 no data"; }
    var soFar = d.charAt(0) === "~";
    var f = (soFar ? d.slice(1) : d).split(",");
    var parts = [date, labels[cls] || labels.n];
    // The first figure is the downtime in hundredths of a percent (5 is 99.95% uptime).
    var up = String(10000 - parseInt(f[0], 10));
    while (up.length < 3) { up = "0" + up; }
    parts.push(f[0] === "" ? "uptime: state not yet known"
      : "uptime" + (soFar ? " so far " : " ") + up.slice(0, -2) + "." + up.slice(-2) + "%");
    var ids = f[3] ? f[3].split(".") : [];
    parts.push(ids.length === 0 ? "no incidents"
      : ids.length + (ids.length === 1 ? " incident (#" : " incidents (#") + ids.join(", #") + ")");
    var fig = function (v) { return soFar && v ? "\u2248" + ms(v) : ms(v); };
    parts.push("TTFT p50 " + fig(f[1]) + ", p95 " + fig(f[2]));
    return parts.join(" \u00b7 ");
  }
  var strips = document.querySelectorAll(".bars[data-from]");
  for (var s = 0; s < strips.length; s++) {
    var strip = strips[s];
    var from = Date.parse(strip.getAttribute("data-from") + "T00:00:00Z");
    if (isNaN(from)) { continue; }
    var days = (strip.getAttribute("data-days") || "").split(" ");
    var bars = strip.children;
    for (var i = 0; i < bars.length; i++) {
      var date = new Date(from + i * 86400000).toISOString().slice(0, 10);
      bars[i].title = tooltip(date, bars[i].className, days[i]);
    }
  }
})();
