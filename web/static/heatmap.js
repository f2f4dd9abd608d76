// The supervisor's heatmap: draws each diagram of the scenario with bpmn-js (NavigatedViewer, served
// locally), colours every element the measured cases passed by the number of cases or by the median
// working days they waited there (five steps, legend above), puts the figure on a badge, and opens
// the list of the cases behind a figure on a click on the badge or the element.
(function () {
  "use strict";
  if (!window.yjsDiagram) { return; }
  var STEPS = 5;

  function step(value, most) {
    if (!most || !value) { return 0; }
    return Math.min(STEPS - 1, Math.floor((value / most) * (STEPS - 1) + 0.5));
  }

  function draw(container, elements, measure, most, unit) {
    return window.yjsDiagram.show(container)
      .then(function (viewer) {
        var canvas = viewer.get("canvas");
        var overlays = viewer.get("overlays");
        var registry = viewer.get("elementRegistry");
        Object.keys(elements).forEach(function (id) {
          if (!registry.get(id)) { return; }
          var f = elements[id];
          var value = measure === "wait" ? (f.p50 || 0) : f.cases;
          canvas.addMarker(id, "heat-" + step(value, most));
          var badge = document.createElement("a");
          badge.className = "heat-badge";
          badge.href = f.cases_url;
          badge.setAttribute("data-element", id);
          badge.textContent = String(value);
          badge.title = f.cases + " 件 · " + (f.p50 === null ? "—" : f.p50) + " / " + (f.p90 === null ? "—" : f.p90) + " " + unit;
          overlays.add(id, "heatmap", { position: { top: -12, right: 12 }, html: badge });
        });
        viewer.on("element.click", function (event) {
          var f = elements[event.element.id];
          if (f) { window.location.href = f.cases_url; }
        });
        window.yjsDiagram.done(container);
      }, function () {});
  }

  document.querySelectorAll(".heatmap-set").forEach(function (set) {
    var measure = set.getAttribute("data-measure") || "count";
    var unit = set.getAttribute("data-unit-wait") || "";
    fetch(set.getAttribute("data-figures"), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (figures) {
        var most = figures.max[measure] || 0;
        set.querySelectorAll(".bpmn-diagram").forEach(function (container) {
          draw(container, figures.processes[container.getAttribute("data-process")] || {}, measure, most, unit);
        });
      });
  });
})();
