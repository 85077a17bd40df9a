// The UI's own script: small behaviours htmx does not cover. No inline scripts exist (the
// Content-Security-Policy forbids them), so everything is wired here by data attributes.
"use strict";

// Checks a <textarea data-json> as one types: a JSON object or nothing. The message goes to
// the element named by its aria-describedby, and the form's submit button is disabled while
// the text is not valid, so nothing is sent (the server checks again).
function checkJson(area) {
  const hint = document.getElementById(area.getAttribute("aria-describedby"));
  const submit = area.form && area.form.querySelector("button[type=submit]");
  let message = "A JSON object, or nothing.";
  let valid = true;
  const text = area.value.trim();
  if (text !== "") {
    try {
      const value = JSON.parse(text);
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        valid = false;
        message = 'Event data must be a JSON object, like {"plan": "pro"}.';
      } else {
        message = "Valid JSON.";
      }
    } catch (error) {
      valid = false;
      message = "Not valid JSON: " + error.message;
    }
  }
  if (hint) {
    hint.textContent = message;
    hint.classList.toggle("invalid", !valid);
  }
  area.setAttribute("aria-invalid", valid ? "false" : "true");
  if (submit) submit.disabled = !valid;
}

document.addEventListener("DOMContentLoaded", () => {
  // A <select data-navigate> goes to the path of the option chosen (the workspace switcher).
  for (const select of document.querySelectorAll("select[data-navigate]")) {
    select.addEventListener("change", () => {
      window.location.assign(select.value);
    });
  }
  for (const area of document.querySelectorAll("textarea[data-json]")) {
    area.addEventListener("input", () => checkJson(area));
    checkJson(area);
  }
});
