// Live progress of running audits: every element with data-live-task follows its task over
// the WebSocket /ws/tasks/{id} (authenticated by the session cookie, same origin only).
// The page works without it; this only keeps the state and progress current.
"use strict";

function describe(event) {
  if (!event || typeof event !== "object") return "";
  if (event.stage === "llm" && event.chunks_total) {
    return `model ${event.chunks_done || 0}/${event.chunks_total} chunks`;
  }
  const parts = [];
  if (event.stage) parts.push(String(event.stage));
  if (event.files_total !== undefined) parts.push(`${event.files_total} files`);
  if (event.findings !== undefined) parts.push(`${event.findings} findings`);
  return parts.join(" · ");
}

function follow(element) {
  const id = element.getAttribute("data-live-task");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ws/tasks/${encodeURIComponent(id)}`);
  const status = element.querySelector(".status");
  const progress = element.querySelector(".progress");
  socket.addEventListener("message", (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch (_) { return; }
    const latest = event.type === "snapshot" ? (event.last || event.progress) : event;
    const state = event.status || (latest && latest.status);
    if (state && status) status.textContent = String(state);
    if (progress) progress.textContent = describe(latest);
  });
}

document.querySelectorAll("[data-live-task]").forEach(follow);
