// What every page that draws a BPMN diagram shares: window.yjsDiagram.show(container, url) draws the
// BPMN XML at url (default: the container's data-xml) with bpmn-js (NavigatedViewer, served
// locally), fitted to the container, and resolves with the viewer; if the diagram cannot be fetched
// or drawn, the container says so (its data-error text, or `fallbackError`) and the promise rejects.
// draw(viewer, container, url, fallbackError) does the same into a viewer the caller made with
// viewer(container). When it resolves, the caller marks the diagram and then calls done(container).
(function () {
  "use strict";
  if (typeof window.BpmnJS !== "function") { return; }

  function failed(container, fallbackError) {
    container.classList.add("diagram-failed");
    container.textContent = container.getAttribute("data-error") || fallbackError || "流程图无法显示。";
  }

  function draw(viewer, container, url, fallbackError) {
    return fetch(url || container.getAttribute("data-xml"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        viewer.get("canvas").zoom("fit-viewport", "auto");
        return viewer;
      })
      .catch(function (error) {
        failed(container, fallbackError);
        throw error;
      });
  }

  window.yjsDiagram = {
    viewer: function (container) { return new window.BpmnJS({ container: container }); },
    // draw into a viewer the caller already holds (it keeps the viewer whether or not drawing works)
    draw: draw,
    show: function (container, url, fallbackError) {
      return draw(new window.BpmnJS({ container: container }), container, url, fallbackError);
    },
    // The diagram is drawn and marked (browser tests wait for this).
    done: function (container) { container.setAttribute("data-rendered", "true"); }
  };
})();
