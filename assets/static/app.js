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
});
