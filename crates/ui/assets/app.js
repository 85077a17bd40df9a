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

// The person picker of the Send Event dialog: htmx puts a button per person found under the
// search box; choosing one (click, Enter or Space) fills the form's hidden `person` field.
// ArrowDown goes from the box to the first person, and the arrows move between them.
document.addEventListener("click", (event) => {
  const pick = event.target.closest(".pick");
  if (!pick) return;
  const form = pick.closest("form");
  const picked = form.querySelector("input[data-picked]");
  picked.value = pick.dataset.seq;
  // The campaign editor's preview listens for changes to its form.
  picked.dispatchEvent(new Event("change", { bubbles: true }));
  form.querySelector("[data-picked-label]").textContent = "Chosen: " + pick.dataset.label;
  const search = form.querySelector("input[name=person_query]");
  search.value = pick.dataset.label;
  pick.parentElement.replaceChildren();
  search.focus();
});

// Typing another name drops the person chosen before.
document.addEventListener("input", (event) => {
  if (event.target.name !== "person_query") return;
  const form = event.target.closest("form");
  form.querySelector("input[data-picked]").value = "";
  form.querySelector("[data-picked-label]").textContent = "Nobody chosen yet.";
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const form = event.target.closest && event.target.closest("form");
  if (!form) return;
  const picks = Array.from(form.querySelectorAll(".pick"));
  if (picks.length === 0) return;
  const at = picks.indexOf(event.target);
  let next;
  if (event.target.name === "person_query") {
    if (event.key !== "ArrowDown") return;
    next = picks[0];
  } else if (at >= 0) {
    next = picks[Math.min(picks.length - 1, Math.max(0, at + (event.key === "ArrowDown" ? 1 : -1)))];
  } else {
    return;
  }
  event.preventDefault();
  next.focus();
});

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

// A <button data-copy="ID"> copies the text of the element ID. The clipboard is only open to
// pages of a secure origin (https, or this machine): elsewhere the text is selected instead,
// for the keyboard's copy.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  try {
    await navigator.clipboard.writeText(source.textContent);
    button.textContent = "Copied";
  } catch (error) {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    button.textContent = "Selected: press Ctrl+C";
  }
  setTimeout(() => { button.textContent = label; }, 2000);
});

// A form's own request (the campaign editor's preview, the segment builder's count) goes where
// the form says. htmx sends it to the `formaction` of the submit button focused or clicked last
// in the form, so a preview that waited for the one before it, or whose typing delay ran out
// after the focus moved to "Send test", became a second test send.
document.addEventListener("htmx:configRequest", (event) => {
  const source = event.detail.elt;
  if (!(source instanceof HTMLFormElement)) return;
  const own = source.getAttribute("hx-post") || source.getAttribute("hx-get");
  if (own) event.detail.path = own;
});
