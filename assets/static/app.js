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
