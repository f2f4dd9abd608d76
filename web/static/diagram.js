// Draws each deployed BPMN diagram on the page with bpmn-js (NavigatedViewer, served locally) and
// marks where the case is: current steps, and the call activities that lead to them, in orange;
// finished steps in green.
(function () {
  "use strict";
  if (!window.yjsDiagram) { return; }

  function parse(text) {
    try { return JSON.parse(text || "[]"); } catch (e) { return []; }
  }

  function mark(viewer, processId, positions, cssClass) {
    var registry = viewer.get("elementRegistry");
    var canvas = viewer.get("canvas");
    positions.forEach(function (p) {
      if (p.process === processId) {
        if (registry.get(p.task)) { canvas.addMarker(p.task, cssClass); }
        return;
      }
      // A step inside a called process: mark the call activity that calls it.
      registry.filter(function (el) {
        return el.businessObject && el.businessObject.calledElement === p.process;
      }).forEach(function (el) { canvas.addMarker(el.id, cssClass); });
    });
  }

  document.querySelectorAll(".diagram-set").forEach(function (set) {
    var active = parse(set.getAttribute("data-active"));
    var done = parse(set.getAttribute("data-done"));
    set.querySelectorAll(".bpmn-diagram").forEach(function (container) {
      var processId = container.getAttribute("data-process");
      window.yjsDiagram.show(container).then(function (viewer) {
        mark(viewer, processId, done, "yjs-done");
        mark(viewer, processId, active, "yjs-current");
        window.yjsDiagram.done(container);
      }, function () {});
    });
  });
})();
