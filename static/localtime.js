// Progressive enhancement: shows every <time datetime="…T…"> in the reader's own time
// zone. The server renders UTC text, so pages read fine without this script; the UTC text
// is kept in the element's title for reference.
(function () {
  "use strict";
  if (!window.Intl || typeof Intl.DateTimeFormat !== "function") {
    return;
  }
  // The month is spelled out so no reader takes 04/12 for April or December, the clock is
  // 24-hour, and the zone is always named ("Dec 4, 2026, 14:37 GMT+1" in en-US).
  var formats = {
    full: new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short"
    }),
    time: new Intl.DateTimeFormat(undefined, {
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short"
    })
  };
  // Date-only values (no "T") name a UTC day; shifting them to a zone would be wrong.
  var times = document.querySelectorAll('time[datetime*="T"]');
  for (var i = 0; i < times.length; i++) {
    var el = times[i];
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when.getTime())) {
      continue;
    }
    var format = formats[el.getAttribute("data-style")] || formats.full;
    if (!el.title) {
      el.title = el.textContent;
    }
    el.textContent = format.format(when);
  }
})();
