// The version comparison page: draws each version's diagram with bpmn-js (served locally) and marks
// the elements that were added (green), changed (orange) or removed (red, on the old version).
(function () {
  "use strict";
  if (typeof window.BpmnJS !== "function") { return; }

  function ids(container, name) {
    try { return JSON.parse(container.getAttribute(name) || "[]"); } catch (e) { return []; }
  }

  document.querySelectorAll(".diff-diagram").forEach(function (container) {
    var viewer = new window.BpmnJS({ container: container });
    fetch(container.getAttribute("data-xml"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        canvas.zoom("fit-viewport", "auto");
        [["data-added", "yjs-added"], ["data-changed", "yjs-changed"], ["data-removed", "yjs-removed"]]
          .forEach(function (pair) {
            ids(container, pair[0]).forEach(function (id) {
              if (registry.get(id)) { canvas.addMarker(id, pair[1]); }
            });
          });
        container.setAttribute("data-rendered", "true");
      })
      .catch(function () {
        container.classList.add("diagram-failed");
        container.textContent = container.getAttribute("data-error") || "流程图无法显示。";
      });
  });
})();
