// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  document.querySelectorAll("select.auto-submit").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  // A field declaring camunda:constraint "confirm" (value: question) asks before that value is sent.
  function currentValue(el) {
    if (el.type === "checkbox") { return el.checked ? "true" : "false"; }
    if (el.type === "radio") { return el.checked ? el.value : null; }
    if (el.tagName !== "INPUT" && el.tagName !== "SELECT" && el.tagName !== "TEXTAREA") {
      var picked = el.querySelector("input:checked");
      return picked ? picked.value : null;
    }
    return el.value;
  }
  document.querySelectorAll("form.bpmn-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      form.querySelectorAll("[data-confirm-question]").forEach(function (el) {
        if (event.defaultPrevented || currentValue(el) !== el.getAttribute("data-confirm-when")) { return; }
        if (!window.confirm(el.getAttribute("data-confirm-question"))) { event.preventDefault(); }
      });
    });
  });
  // A second click on a submit button would only be refused by the server: ignore it.
  document.querySelectorAll("form.bpmn-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented) { return; }
      var button = form.querySelector("button[type=submit]");
      if (button) { window.setTimeout(function () { button.disabled = true; }, 0); }
    });
  });
})();
