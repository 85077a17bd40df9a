// The UI's own script: small behaviours htmx does not cover. No inline scripts exist (the
// Content-Security-Policy forbids them), so everything is wired here by data attributes.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // A <select data-navigate> goes to the path of the option chosen (the workspace switcher).
  for (const select of document.querySelectorAll("select[data-navigate]")) {
    select.addEventListener("change", () => {
      window.location.assign(select.value);
    });
  }
});
