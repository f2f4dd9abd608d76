// The export job page: asks for the job's progress every second until it is done or failed, and
// updates the bar, the "n / N" text and the download link.
(function () {
  "use strict";
  var box = document.getElementById("export-job");
  if (!box) { return; }
  var bar = box.querySelector(".export-bar");
  var text = box.querySelector(".export-text");
  var state = box.querySelector(".export-state");
  var error = box.querySelector(".export-error");
  var download = box.querySelector(".export-download");

  function render(p) {
    bar.value = p.percent;
    bar.textContent = p.percent + "%";
    text.textContent = p.text;
    state.textContent = p.status;
    box.setAttribute("data-state", p.state);
    if (p.error) { error.textContent = p.error; error.hidden = false; }
    if (p.download) {
      download.querySelector("a").setAttribute("href", p.download);
      download.hidden = false;
    }
  }

  function poll() {
    fetch(box.getAttribute("data-progress"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (p) {
        render(p);
        if (p.state === "queued" || p.state === "running") { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }

  var current = box.getAttribute("data-state");
  if (current === "queued" || current === "running") { window.setTimeout(poll, 500); }
})();
