// Progressive enhancements for the console. Every page works without this
// file; it only saves clicks and shows progress live.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Selects marked data-autosubmit submit their form on change (the
  // organisation switcher), so the button is only needed without script.
  for (const el of document.querySelectorAll("select[data-autosubmit]")) {
    el.addEventListener("change", () => el.form.submit());
  }
  // Forms with data-confirm ask before doing something destructive.
  for (const f of document.querySelectorAll("form[data-confirm]")) {
    f.addEventListener("submit", (e) => {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    });
  }
  // Elements with data-watch-op follow an operation and reload the page
  // when it finishes, so a power action's result shows without a click.
  for (const el of document.querySelectorAll("[data-watch-op]")) {
    watchOperation(el, el.dataset.watchOp);
  }
});

async function watchOperation(el, id) {
  for (;;) {
    let op;
    try {
      const res = await fetch("/api/v1/operations/" + encodeURIComponent(id) + "/wait?timeout=20", {
        credentials: "same-origin", headers: { "Accept": "application/json" },
      });
      if (!res.ok) return;
      op = await res.json();
    } catch (e) {
      return;
    }
    el.textContent = op.message || (op.progress + "%");
    if (op.state !== "queued" && op.state !== "running") {
      window.location.reload();
      return;
    }
  }
}
