// Step-through replay on the audit page: fetches the state of the case after each history event
// (rebuilt by re-executing the recorded commands) and marks the diagrams: completed elements green,
// active ones orange, waiting ones (timers, messages, joins) blue. Prev/next move one event.
(function () {
  "use strict";
  var root = document.getElementById("replay");
  if (!root || !window.yjsDiagram) { return; }
  var CLASSES = { completed: "yjs-done", active: "yjs-current", waiting: "yjs-waiting" };
  var prev = root.querySelector(".replay-prev");
  var next = root.querySelector(".replay-next");
  var counter = root.querySelector(".replay-counter");
  var eventText = root.querySelector(".replay-event");
  var problem = root.querySelector(".replay-problem");
  var holder = root.querySelector(".replay-diagrams");
  var steps = [];
  var views = [];  // {process, viewer, marked: [[id, class]]}
  var index = 0;

  function unmark(view) {
    var canvas = view.viewer.get("canvas");
    view.marked.forEach(function (m) { canvas.removeMarker(m[0], m[1]); });
    view.marked = [];
  }

  function mark(view, step) {
    var canvas = view.viewer.get("canvas");
    var registry = view.viewer.get("elementRegistry");
    Object.keys(CLASSES).forEach(function (group) {
      (step[group] || []).forEach(function (p) {
        if (p.process === view.process && registry.get(p.task)) {
          canvas.addMarker(p.task, CLASSES[group]);
          view.marked.push([p.task, CLASSES[group]]);
        }
      });
    });
  }

  function show(i) {
    if (!steps.length) { return; }
    index = Math.max(0, Math.min(steps.length - 1, i));
    var step = steps[index];
    views.forEach(function (view) { unmark(view); mark(view, step); });
    counter.textContent = root.getAttribute("data-step-text")
      .replace("{k}", String(index + 1)).replace("{n}", String(steps.length));
    eventText.textContent = "#" + step.seq + " " + step.at + " · " + step.actor + " · " + step.label +
      (step.step ? "：" + step.step : "");
    root.setAttribute("data-seq", String(step.seq));
    prev.disabled = index === 0;
    next.disabled = index === steps.length - 1;
    document.querySelectorAll("table.timeline tr[data-seq]").forEach(function (row) {
      row.classList.toggle("replay-here", row.getAttribute("data-seq") === String(step.seq));
    });
  }

  function load(diagram) {
    if (diagram.process !== undefined && views.length) {
      var caption = document.createElement("h4");
      caption.className = "diagram-caption";
      caption.textContent = diagram.name;
      holder.appendChild(caption);
    }
    var container = document.createElement("div");
    container.className = "bpmn-diagram" + (views.length ? " small" : "");
    container.setAttribute("data-process", diagram.process);
    holder.appendChild(container);
    var view = { process: diagram.process, viewer: window.yjsDiagram.viewer(container), marked: [] };
    views.push(view);
    return window.yjsDiagram.draw(view.viewer, container, diagram.xml, root.getAttribute("data-error"))
      .then(function () { window.yjsDiagram.done(container); }, function () {});
  }

  prev.addEventListener("click", function () { show(index - 1); });
  next.addEventListener("click", function () { show(index + 1); });

  fetch(root.getAttribute("data-steps"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    })
    .then(function (data) {
      steps = data.steps || [];
      if (data.problem) {
        problem.textContent = data.problem;
        problem.hidden = false;
      }
      return (data.diagrams || []).reduce(function (chain, d) {
        return chain.then(function () { return load(d); });
      }, Promise.resolve());
    })
    .then(function () {
      show(0);
      root.setAttribute("data-ready", "true");
    })
    .catch(function () {
      problem.textContent = root.getAttribute("data-error");
      problem.hidden = false;
    });
})();
