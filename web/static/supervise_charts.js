// Draws the supervision charts with Chart.js (served locally from static/vendor) from the JSON each
// <canvas data-chart> carries: {type, labels, stacked, percent, horizontal, series: [{key, label, data}]}.
// The tables next to the charts hold the same figures, so the pages read without this script.
(function () {
  "use strict";
  if (typeof window.Chart !== "function") { return; }

  var COLOURS = {
    warning: "#f1c40f", overdue: "#c0392b", open: "#9db4cf", on_time: "#2e8b57",
    escalations: "#1f5fa8", before: "#b8c1cc", after: "#1f5fa8"
  };
  var SPLIT = ["#2e8b57", "#e67e22", "#c0392b"];  // on time, late, timed out

  function parse(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  function dataset(series, spec) {
    var colour = spec.type === "doughnut" ? SPLIT : (COLOURS[series.key] || "#1f5fa8");
    return { label: series.label, data: series.data, backgroundColor: colour, borderWidth: 0, maxBarThickness: 36 };
  }

  function options(spec) {
    var valueAxis = spec.horizontal ? "x" : "y";
    var labelAxis = spec.horizontal ? "y" : "x";
    var opts = {
      responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { display: spec.series.length > 1 || spec.type === "doughnut", position: "bottom" } }
    };
    if (spec.type === "doughnut") { return opts; }
    opts.indexAxis = spec.horizontal ? "y" : "x";
    opts.scales = {};
    opts.scales[valueAxis] = { beginAtZero: true, stacked: spec.stacked, ticks: { precision: 0 } };
    opts.scales[labelAxis] = { stacked: spec.stacked, ticks: { autoSkip: false } };
    if (spec.percent) {
      opts.scales[valueAxis].max = 100;
      opts.scales[valueAxis].ticks.callback = function (v) { return v + "%"; };
    }
    return opts;
  }

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var spec = parse(canvas.getAttribute("data-chart"));
    if (!spec || !spec.labels.length) { return; }  // nothing to draw: the box stays hidden
    canvas.parentNode.classList.add("chart-on");
    if (spec.horizontal) {
      canvas.parentNode.style.height = Math.max(160, 34 * spec.labels.length + 70) + "px";
    }
    new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.series.map(function (s) { return dataset(s, spec); }) },
      options: options(spec)
    });
    canvas.setAttribute("data-rendered", "true");
  });
})();
