// Sorting and filtering for the report's tables. Reads only the DOM; no data is injected here.
(function () {
  "use strict";
  function cellKey(row, idx) {
    var cell = row.cells[idx];
    if (!cell) return "";
    var key = cell.getAttribute("data-sort");
    return key !== null ? key : cell.textContent.trim().toLowerCase();
  }
  function sortBy(table, th, idx) {
    var heads = table.tHead.rows[0].cells;
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    if (th.getAttribute("aria-sort") === null && th.hasAttribute("data-desc-first")) dir = "descending";
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute("aria-sort");
    th.setAttribute("aria-sort", dir);
    var numeric = th.hasAttribute("data-numeric");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellKey(a, idx), y = cellKey(b, idx);
      var r = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y, undefined, { numeric: true });
      return dir === "ascending" ? r : -r;
    });
    for (var j = 0; j < rows.length; j++) body.appendChild(rows[j]);
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, idx) {
      var button = th.querySelector("button");
      if (button) button.addEventListener("click", function () { sortBy(table, th, idx); });
    });
  });
  function applyFilter(form) {
    var table = document.getElementById(form.getAttribute("data-table"));
    if (!table) return;
    var q = (form.querySelector("input[type=search]") || { value: "" }).value.trim().toLowerCase();
    var sev = form.querySelector("select[name=severity]");
    var minRank = sev ? parseInt(sev.value, 10) : -1;
    var waived = form.querySelector("input[name=waived]");
    var showWaived = !waived || waived.checked;
    var rows = table.tBodies[0].rows, shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var rank = parseInt(row.getAttribute("data-rank") || "0", 10);
      var ok = (!q || row.textContent.toLowerCase().indexOf(q) !== -1) &&
        (isNaN(minRank) || rank >= minRank) &&
        (showWaived || row.getAttribute("data-waived") !== "true");
      row.hidden = !ok;
      if (ok) shown++;
    }
    var out = form.querySelector(".shown");
    if (out) out.textContent = shown + " of " + rows.length + " shown";
  }
  var forms = document.querySelectorAll("form.filters");
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("input", function () { applyFilter(form); });
    form.addEventListener("change", function () { applyFilter(form); });
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    applyFilter(form);
  });
  document.documentElement.setAttribute("data-js", "ready");
})();
