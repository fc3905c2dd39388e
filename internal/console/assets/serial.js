// The serial console: a WebSocket to the API's connect-vm-console endpoint
// on this origin (the session cookie authenticates it). Output arrives as
// binary messages of UTF-8; each line typed goes out as binary with Enter.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const root = document.querySelector("[data-console-socket]");
  if (!root) return;
  const out = root.querySelector("[data-console-output]");
  const status = root.querySelector("[data-console-status]");
  const again = root.querySelector("[data-console-reconnect]");
  const form = root.querySelector("[data-console-form]");
  const line = root.querySelector("[data-console-line]");
  const encoder = new TextEncoder();
  const maxChars = 200000; // keep the page light: drop the oldest output
  let ws = null;

  function setStatus(text, canRetry) {
    status.textContent = text;
    again.hidden = !canRetry;
  }

  function append(text) {
    const atBottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
    out.append(text);
    if (out.textContent.length > maxChars) {
      out.textContent = out.textContent.slice(-maxChars / 2);
    }
    if (atBottom) out.scrollTop = out.scrollHeight;
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const decoder = new TextDecoder("utf-8");
    let failed = false;
    setStatus("Connecting…", false);
    ws = new WebSocket(scheme + window.location.host + root.dataset.consoleSocket);
    ws.binaryType = "arraybuffer";
    ws.addEventListener("open", () => {
      setStatus("Connected. Press Enter in the line below if the console shows nothing.", false);
      line.focus();
    });
    ws.addEventListener("message", (e) => {
      const text = typeof e.data === "string" ? e.data : decoder.decode(new Uint8Array(e.data), { stream: true });
      append(text);
    });
    ws.addEventListener("close", (e) => {
      ws = null;
      if (!failed) setStatus("Closed" + (e.reason ? ": " + e.reason : "") + ".", true);
    });
    ws.addEventListener("error", () => {
      // The browser does not say why; the close that follows says no more.
      failed = true;
      setStatus("The console could not be reached: is the VM running, on a host that is up?", true);
    });
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(encoder.encode(line.value + "\r"));
    line.value = "";
  });
  again.addEventListener("click", connect);
  connect();
});
