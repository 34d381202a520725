/* Rolebook's additions to the admin's change forms: the first error in view after a failed save,
 * one-line component texts that grow as you type, and long inline lists folded until asked. */
(function () {
  "use strict";
  var CAP = 10;

  function firstError() {
    var note = document.querySelector(".errornote");
    if (!note) return;
    var error = Array.prototype.slice.call(document.querySelectorAll(".errorlist"))
      .filter(function (el) { return !el.closest(".errornote") && el.textContent.trim(); })[0];
    if (!error) return;
    var holder = error.closest("details");
    if (holder) holder.open = true;
    var capped = error.closest("table.capped");
    if (capped) capped.classList.remove("capped");
    var row = error.closest(".form-row, tr, .reason-row") || error;
    row.scrollIntoView({block: "center"});
    var input = row.querySelector("input:not([type=hidden]), textarea, select");
    if (input) input.focus({preventScroll: true});
  }

  function grow(area) {
    area.style.height = "auto";
    area.style.height = area.scrollHeight + 2 + "px";
  }

  function autoGrow() {
    var areas = document.querySelectorAll(".inline-group textarea, textarea[data-autogrow]");
    Array.prototype.slice.call(areas).forEach(function (area) {
      grow(area);
      area.addEventListener("input", function () { grow(area); });
    });
  }

  function capInlines() {
    Array.prototype.slice.call(document.querySelectorAll(".inline-group .tabular table")).forEach(function (table) {
      var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr.form-row.has_original"));
      if (rows.length <= CAP) return;
      rows.slice(CAP).forEach(function (row) { row.classList.add("beyond-cap"); });
      table.classList.add("capped");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "show-all";
      button.textContent = "Show all " + rows.length;
      button.addEventListener("click", function () {
        table.classList.remove("capped");
        button.remove();
      });
      table.parentNode.insertBefore(button, table.nextSibling);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    autoGrow();
    capInlines();
    firstError();
  });
})();
