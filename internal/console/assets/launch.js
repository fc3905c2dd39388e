// The launch wizard's live price: whenever the VDC, size, count or public
// IP choice changes, ask the API for a quote and show it. Without this file
// the "Show the price" button does the same with a page load.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-quote-url]");
  const box = document.getElementById("quote");
  if (!form || !box) return;
  const url = form.dataset.quoteUrl;
  let seq = 0;

  // quoteRequest mirrors the console's own: count VMs of the size as whole
  // vCPUs, MiB and GiB, so the API does every sum on money.
  function quoteRequest() {
    const size = form.elements["size"];
    const opt = size && size.selectedOptions[0];
    if (!opt || !opt.value) return null;
    const n = parseInt(form.elements["count"].value || "1", 10);
    if (!Number.isInteger(n) || n < 1 || n > 50) return null;
    const req = { size: opt.value };
    const vdc = form.elements["vdc"];
    if (vdc && vdc.value) req.vdc = vdc.value;
    if (n > 1) {
      req.vcpu = n * parseInt(opt.dataset.vcpu, 10);
      req.memory_mib = n * parseInt(opt.dataset.memoryMib, 10);
      req.disk_gib = n * parseInt(opt.dataset.diskGib, 10);
    }
    if (form.elements["public_ip"].checked) req.public_ips = n;
    return req;
  }

  function show(lines) {
    box.replaceChildren(...lines.map((l) => {
      const p = document.createElement("p");
      if (l.hint) p.className = "hint";
      if (l.strong) {
        const s = document.createElement("strong");
        s.textContent = l.strong;
        p.append(s, " ");
      }
      p.append(l.text);
      return p;
    }));
  }

  async function update() {
    const req = quoteRequest();
    const mine = ++seq;
    if (!req) {
      show([{ text: "Choose a size to see the price." }]);
      return;
    }
    let res, body;
    try {
      res = await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(req),
      });
      body = await res.json();
    } catch (e) {
      return; // the button still works
    }
    if (mine !== seq) return; // a newer answer is on its way
    if (!res.ok) {
      show([{ text: "No price: " + (body.detail || body.title || res.statusText) }]);
      return;
    }
    const lines = [{ strong: "Price:", text: body.per_hour + " " + body.currency + " an hour, about " +
      body.per_month_display + " " + body.currency + " a month (" + body.hours_per_month + " h) while it runs." }];
    if (body.note) lines.push({ hint: true, text: body.note });
    if (body.discount_percent) lines.push({ hint: true, text: "Your " + body.discount_percent + " % discount is included." });
    show(lines);
  }

  for (const name of ["vdc", "size", "count", "public_ip"]) {
    const el = form.elements[name];
    if (el) el.addEventListener(name === "count" ? "input" : "change", update);
  }
  const button = form.querySelector("[data-quote-button]");
  if (button) button.hidden = true;
});
