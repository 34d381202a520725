/* Rolebook's pages: keyboard review, decisions without a reload, live code search, autocomplete.
 *
 * Progressive enhancement: every form works without this file (POST, then a redirect back).
 * No inline script anywhere, so a strict Content-Security-Policy holds.
 */
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $$(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  // -- Messages -----------------------------------------------------------------------------

  function messageList() {
    var box = document.getElementById("messages");
    if (!box) return null;
    var list = $("ul.messagelist", box);
    if (!list) {
      list = document.createElement("ul");
      list.className = "messagelist";
      box.appendChild(list);
    }
    return list;
  }

  function say(text, level, undoToken, names) {
    var list = messageList();
    if (!list) { window.alert(text); return; }
    list.innerHTML = "";
    var item = document.createElement("li");
    item.className = level || "info";
    item.appendChild(document.createTextNode(text));
    if (undoToken) {
      var template = $("#undo-template");
      if (template) {
        var form = template.content.firstElementChild.cloneNode(true);
        $("input[name=token]", form).value = undoToken;
        item.appendChild(form);
      }
    }
    if (names) {
      var extra = document.createElement("span");
      extra.className = "names";
      extra.textContent = names;
      item.appendChild(extra);
    }
    list.appendChild(item);
  }

  // -- The queues: rows, keys, decisions ----------------------------------------------------

  var queue = $("table.queue");
  var rows = queue ? $$("tr.item", queue) : [];

  function current() {
    var active = document.activeElement;
    return active && active.closest ? active.closest("tr.item") : null;
  }

  function focusRow(row) {
    if (!row) return;
    rows.forEach(function (r) { r.classList.remove("current"); });
    row.classList.add("current");
    row.focus({preventScroll: true});
    row.scrollIntoView({block: "nearest"});
  }

  function openRows() { return rows.filter(function (r) { return !r.classList.contains("decided"); }); }

  function step(delta) {
    var list = openRows();
    if (!list.length) return;
    var at = list.indexOf(current());
    var next = at < 0 ? (delta > 0 ? 0 : list.length - 1) : Math.max(0, Math.min(list.length - 1, at + delta));
    focusRow(list[next]);
  }

  function nextAfter(row) {
    var list = openRows();
    var index = rows.indexOf(row);
    for (var i = index + 1; i < rows.length; i++) if (list.indexOf(rows[i]) >= 0) return rows[i];
    for (var j = index - 1; j >= 0; j--) if (list.indexOf(rows[j]) >= 0) return rows[j];
    return null;
  }

  function countDown() {
    // "N aliases" above the queue: one fewer (a capped "more than N" count stays as it is).
    var count = $("#result-count");
    var n = count ? parseInt(count.getAttribute("data-count"), 10) : NaN;
    if (isNaN(n) || n <= 0) return;
    n -= 1;
    count.setAttribute("data-count", String(n));
    count.textContent = n + " " + count.getAttribute(n === 1 ? "data-one" : "data-many");
  }

  function decide(form, event) {
    // Decide without a reload; the server answers JSON to this header. Fall back to a normal POST.
    if (!window.fetch || !form.closest("tr.item")) return;
    event.preventDefault();
    var row = form.closest("tr.item");
    var body = new FormData(form);
    fetch(form.action, {method: "POST", body: body, credentials: "same-origin",
      headers: {"X-Rolebook-Fetch": "1", "Accept": "application/json"}})
      .then(function (response) { return response.json().then(function (data) { return [response, data]; }); })
      .then(function (pair) {
        var data = pair[1];
        if (!data.ok) { say(data.error || "That did not work.", "error"); return; }
        var next = nextAfter(row);
        var shown = queue.getAttribute("data-status");
        if (shown && shown !== data.status) {
          // The decision takes the row out of this queue's filter: it leaves, and the total says so.
          rows.splice(rows.indexOf(row), 1);
          row.parentNode.removeChild(row);
          countDown();
        } else {
          row.classList.add("decided");
          var status = $(".row-status .badge", row) || $(".row-status", row);
          if (status) status.textContent = data.status_label || data.status;
          $$("form.decide button, form.decide input", row).forEach(function (el) { el.disabled = true; });
        }
        say(data.message, "success", data.undo_token);
        if (queue.getAttribute("data-batch") && !openRows().length) {
          // The batch is done: the next one loads, and the keys go on working.
          var more = $("form.review-next");
          if (more) { more.submit(); return; }
        }
        focusRow(next);
      })
      .catch(function () { form.submit(); });
  }

  if (queue) {
    rows.forEach(function (row) { row.setAttribute("tabindex", "-1"); });
    $$("form.decide", queue).forEach(function (form) {
      form.addEventListener("submit", function (event) { decide(form, event); });
    });
    // The next decision is one key away: the first open row (or the one the address names) has focus.
    var named = window.location.hash ? document.getElementById(window.location.hash.slice(1)) : null;
    if (!document.querySelector(".errorlist") && (named || rows.length)) {
      focusRow(named && named.classList.contains("item") ? named : openRows()[0]);
    }
  }

  // -- Folds in queue rows: what the server left out of the page loads when a reviewer opens it --
  // A <details data-fold="URL"> holds a link to the same content on the item's page; the first
  // time it opens, the fragment at URL replaces the link. A failed load keeps the link.

  function loadFold(fold) {
    var body = $(".fold-body", fold);
    if (!window.fetch || !body || fold.getAttribute("data-loaded")) return;
    fold.setAttribute("data-loaded", "1");
    body.setAttribute("aria-busy", "true");
    fetch(fold.getAttribute("data-fold"), {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) { body.innerHTML = html; })
      .catch(function () { fold.removeAttribute("data-loaded"); })
      .then(function () { body.removeAttribute("aria-busy"); });
  }

  $$("details[data-fold]").forEach(function (fold) {
    fold.addEventListener("toggle", function () { if (fold.open) loadFold(fold); });
  });

  var help = $("#key-help");
  $$("[data-open-help]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      if (help && help.showModal) help.showModal();
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var typing = target.closest && target.closest("input, textarea, select");
    if (event.key === "Escape" && typing) {
      // Leave the text box: back to the row, ready for the next key.
      target.blur();
      var row = target.closest("tr.item");
      if (row) focusRow(row);
      return;
    }
    if (typing || (target.closest && target.closest("dialog"))) return;
    if (event.key === "?" && help && help.showModal) { event.preventDefault(); help.showModal(); return; }
    if (event.key === "u") {
      var undo = $$("#messages button.undo").pop();
      if (undo) { event.preventDefault(); undo.click(); }
      return;
    }
    if (!queue) return;
    var here = current();
    if (event.key === "j") { event.preventDefault(); step(1); }
    else if (event.key === "k") { event.preventDefault(); step(-1); }
    else if (event.key === "a" && here) {
      event.preventDefault();
      var approve = $("form.decide button.approve", here);
      if (approve && !approve.disabled) approve.click();
      else say(here.getAttribute("data-cannot-approve") || "This row cannot be approved from here.", "warning");
    } else if (event.key === "r" && here) {
      var reason = $("form.decide input[name=reason]", here);
      if (reason && !reason.disabled) { event.preventDefault(); reason.focus(); }
    }
  });

  // -- The page's main action is the skip link's target ----------------------------------------
  // The admin's "Skip to main content" is the first Tab stop of every page; where a page has one
  // main action (the dashboard's "Start reviewing"), the skip link goes straight to it.

  var mainAction = $("[data-skip-label]");
  var skip = $("a.skip-to-content-link");
  if (mainAction && skip && mainAction.id) {
    skip.setAttribute("href", "#" + mainAction.id);
    skip.textContent = mainAction.getAttribute("data-skip-label");
    skip.addEventListener("click", function (event) {
      event.preventDefault();
      mainAction.focus();
    });
  }

  // -- Copy buttons (the new API token) --------------------------------------------------------

  $$("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var status = button.parentNode.querySelector(".copy-status");
    if (!source) return;
    function done(text) { if (status) status.textContent = text; }
    button.addEventListener("click", function () {
      var value = source.value || source.textContent;
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(value).then(function () { done("Copied."); }, function () {
          source.select(); done("Select the token and copy it (Ctrl+C).");
        });
      } else {
        source.select();
        done(document.execCommand && document.execCommand("copy") ? "Copied." : "Select the token and copy it (Ctrl+C).");
      }
    });
  });

  // -- Bulk selection -----------------------------------------------------------------------

  $$("[data-select-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      $$("input[name=ids]").forEach(function (c) { c.checked = box.checked; });
    });
  });

  // -- Filters fold away on small screens ----------------------------------------------------

  $$("details.filters-panel").forEach(function (panel) {
    if (window.matchMedia && window.matchMedia("(max-width: 700px)").matches && !panel.dataset.hasErrors) {
      panel.open = false;
    }
  });

  // -- Live code search (mapping page), ranked by the SOC coder ------------------------------

  $$("input[data-live-search]").forEach(function (input) {
    var picker = document.getElementById(input.dataset.picker);
    if (!picker) return;
    var timer = null;
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        var url = input.dataset.liveSearch + "?scope=" + encodeURIComponent(input.dataset.scope) +
          "&under=" + encodeURIComponent(input.dataset.under || "") + "&q=" + encodeURIComponent(input.value);
        fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (data) {
          picker.innerHTML = "";
          var only = input.dataset.relation;
          var results = (data.results || []).filter(function (c) { return !only || c.relation === only; });
          results.forEach(function (c) {
            var option = document.createElement("option");
            option.value = c.code;
            option.textContent = c.code + " " + c.title + (c.score !== null ? " (" + c.score.toFixed(2) + ")" : "");
            picker.appendChild(option);
          });
          if (!results.length) {
            var none = document.createElement("option");
            none.disabled = true;
            none.textContent = "No code matches.";
            picker.appendChild(none);
          }
        });
      }, 150);
    });
  });

  // -- Autocomplete (compare): a datalist filled as you type ----------------------------------

  $$("input[data-autocomplete]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) return;
    var timer = null;
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      if (input.value.trim().length < 2) return;
      timer = window.setTimeout(function () {
        fetch(input.dataset.autocomplete + "?q=" + encodeURIComponent(input.value), {credentials: "same-origin"})
          .then(function (r) { return r.json(); })
          .then(function (data) {
            list.innerHTML = "";
            (data.results || []).forEach(function (role) {
              var option = document.createElement("option");
              option.value = role.code;
              option.label = role.code + " — " + role.title;
              option.textContent = role.title;
              list.appendChild(option);
            });
          });
      }, 120);
    });
  });

  // -- A status that changes on the server (a release build): look again until it settles -------
  // <div data-poll="URL"> is replaced by the same element of the page at URL every few seconds,
  // until that page's element no longer asks to be polled. Without this file: a "look now" link.

  function poll(box) {
    window.setTimeout(function () {
      fetch(box.dataset.poll, {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[role=status]");
          if (!fresh) return;
          box.innerHTML = fresh.innerHTML;
          if (fresh.dataset.poll) poll(box); else box.removeAttribute("data-poll");
        })
        .catch(function () { box.removeAttribute("data-poll"); });
    }, 2000);
  }
  $$("[data-poll]").forEach(poll);
})();
