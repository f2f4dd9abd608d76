// The version comparison page: draws each version's diagram with bpmn-js (served locally) and marks
// the elements that were added (green), changed (orange) or removed (red, on the old version).
(function () {
  "use strict";
  if (!window.yjsDiagram) { return; }

  function ids(container, name) {
    try { return JSON.parse(container.getAttribute(name) || "[]"); } catch (e) { return []; }
  }

  document.querySelectorAll(".diff-diagram").forEach(function (container) {
    window.yjsDiagram.show(container).then(function (viewer) {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      [["data-added", "yjs-added"], ["data-changed", "yjs-changed"], ["data-removed", "yjs-removed"]]
        .forEach(function (pair) {
          ids(container, pair[0]).forEach(function (id) {
            if (registry.get(id)) { canvas.addMarker(id, pair[1]); }
          });
        });
      window.yjsDiagram.done(container);
    }, function () {});
  });
})();
