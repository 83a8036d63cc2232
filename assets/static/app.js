// Progressive enhancement only: every page works without this file.
document.addEventListener("DOMContentLoaded", function () {
  // The confirmation page confirms at once; its button does the same without script.
  var auto = document.querySelector("form[data-autosubmit]");
  if (auto) { auto.submit(); return; }
  // Offer the browser's own time zone on the sign-up form while the field holds the default.
  var tz = document.querySelector("input[data-detect-tz]");
  if (tz && tz.value === "UTC" && window.Intl && location.pathname === "/") {
    try { tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) {}
  }
  // Topics: a filter that unfolds the groups holding a match and hides the rest.
  var filter = document.querySelector("[data-topic-filter]");
  if (filter) {
    filter.hidden = false;
    var box = filter.querySelector("input");
    box.addEventListener("input", function () {
      var q = box.value.trim().toLowerCase();
      document.querySelectorAll("fieldset.topics details.group").forEach(function (g) {
        var any = false;
        g.querySelectorAll("label.check").forEach(function (l) {
          var hit = !q || (l.textContent + " " + (l.title || "")).toLowerCase().indexOf(q) >= 0;
          l.hidden = !hit;
          any = any || hit;
        });
        g.hidden = !any;
        if (q) { g.open = any; }
      });
    });
  }
  // Preview: with script, the papers these interests would get refresh below the form as
  // it changes (debounced; the endpoint is rate-limited); the button works without it.
  var previewButton = document.querySelector("button.preview[formaction]");
  if (previewButton && window.fetch && window.DOMParser) {
    var form = previewButton.form;
    var pane = document.createElement("section");
    pane.id = "live-preview";
    pane.setAttribute("aria-live", "polite");
    form.parentNode.insertBefore(pane, form.nextSibling);
    var wait = null;
    var refresh = function () {
      var body = new URLSearchParams(new FormData(form));
      fetch(previewButton.getAttribute("formaction"), { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) { return r.status === 429 ? null : r.text(); })
        .then(function (html) {
          if (html === null) { return; }
          var doc = new DOMParser().parseFromString(html, "text/html");
          var found = doc.querySelector("main") || doc.body;
          pane.textContent = "";
          // The server escaped every value; the nodes are moved, not re-parsed from text.
          Array.prototype.forEach.call(found.querySelectorAll("h1, p.lead, ol.preview, p, div.alert"), function (n) {
            if (!n.closest("form")) { pane.appendChild(document.importNode(n, true)); }
          });
        })
        .catch(function () {});
    };
    form.addEventListener("input", function () {
      clearTimeout(wait);
      wait = setTimeout(refresh, 800);
    });
    form.addEventListener("change", function () {
      clearTimeout(wait);
      wait = setTimeout(refresh, 800);
    });
  }
  // Papers you liked: words of a title find stored papers; a pick adds the paper's id.
  var search = document.querySelector("[data-paper-search]");
  var liked = document.getElementById("liked");
  if (search && liked && window.fetch) {
    search.hidden = false;
    var input = search.querySelector("input");
    var list = search.querySelector("ul");
    var timer = null;
    var show = function (papers) {
      list.textContent = "";
      papers.forEach(function (p) {
        var li = document.createElement("li");
        var b = document.createElement("button");
        b.type = "button";
        b.className = "paper-pick";
        b.dataset.id = p.id;
        // Text only: titles are data, never markup.
        b.textContent = p.title + (p.authors.length ? " (" + p.authors.join(", ") + ")" : "");
        b.addEventListener("click", function () {
          var ids = liked.value.split(/[\s,]+/).filter(Boolean);
          if (ids.indexOf(p.id) < 0) { ids.push(p.id); }
          liked.value = ids.join("\n");
          list.textContent = "";
          input.value = "";
          // The live preview follows the pick as it follows typing.
          liked.dispatchEvent(new Event("input", { bubbles: true }));
        });
        li.appendChild(b);
        list.appendChild(li);
      });
    };
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 2) { list.textContent = ""; return; }
      // Debounced: one request when typing pauses (the endpoint is rate-limited).
      timer = setTimeout(function () {
        fetch("/api/v1/papers?q=" + encodeURIComponent(q), { headers: { "Accept": "application/json" } })
          .then(function (r) { return r.ok ? r.json() : { papers: [] }; })
          .then(function (body) { show(body.papers || []); })
          .catch(function () { show([]); });
      }, 300);
    });
  }
});
