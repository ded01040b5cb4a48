// Jobwire dashboard: keeps each page's live part current. The server renders (and escapes) every part;
// this script only swaps the part it is sent, over server-sent events, and knows nothing of jobs.
"use strict";
document.querySelectorAll("[data-live]").forEach(function (part) {
  var events = new EventSource(part.getAttribute("data-live"));
  events.addEventListener("update", function (event) {
    part.innerHTML = event.data;
    part.setAttribute("data-updated", String(Date.now()));
  });
  events.addEventListener("ended", function () {
    events.close();
    window.location.reload();
  });
});
