// Live run log: the backlog, then new lines over a websocket, each numbered by its sequence.
// The server is the record: on reconnect we ask for everything after the last number we hold
// (?after=N), and drop any number we already have, so there is no gap and no duplicate.
// Filters by level and step; "follow" keeps the newest line in view, pauses when the reader
// scrolls up and resumes when they scroll back to the bottom. Status changes refresh the
// step tree (an htmx partial) without reloading the page.
(function () {
  "use strict";
  const box = document.getElementById("run-log");
  if (!box) return;
  const level = document.getElementById("log-level");
  const step = document.getElementById("log-step");
  const follow = document.getElementById("log-follow");
  const state = document.getElementById("log-state");
  const FINAL = ["completed", "failed", "cancelled"];
  let lastSeq = 0;
  let finished = box.dataset.finished === "1";
  let retryDelay = 500;
  let socket = null;
  let refreshTimer = null;
  const knownSteps = new Set(Array.from(step.options, (o) => o.value));

  // The block filter keeps a block's lines wherever it ran: `tick`, `loop.3/tick`.
  function visible(row) {
    const key = row.dataset.step;
    return (!level.value || row.dataset.level === level.value) &&
      (!step.value || key === step.value || key.endsWith("/" + step.value) ||
       key.startsWith(step.value + "."));
  }
  function applyFilters() {
    for (const row of box.children) row.hidden = !visible(row);
    if (follow.checked) box.scrollTop = box.scrollHeight;
  }
  function rowFor(line) {
    const row = document.createElement("div");
    row.className = `line level-${line.level}`;
    row.dataset.seq = line.seq;
    row.dataset.level = line.level;
    row.dataset.step = line.step || "";
    const number = document.createElement("span");
    number.className = "seq";
    number.textContent = line.seq;
    const text = document.createElement("span");
    text.textContent = ` ${line.level.toUpperCase().padEnd(7)} ${line.step ? "[" + line.step + "] " : ""}${line.message}`;
    row.append(number, text);
    row.hidden = !visible(row);
    return row;
  }
  function addStepOption(key) {
    const block = key ? key.split("/").pop() : "";
    if (!block || knownSteps.has(block)) return false;
    knownSteps.add(block);
    step.add(new Option(block, block));
    return true;
  }
  // Returns false when the lines do not follow on from what we hold: the caller reconnects and
  // the server sends the missing part from the database.
  function addLines(lines) {
    const fragment = document.createDocumentFragment();
    let newStep = false;
    for (const line of lines) {
      if (line.seq <= lastSeq) continue; // already shown
      if (line.seq !== lastSeq + 1) break; // a gap: never show lines out of order
      lastSeq = line.seq;
      fragment.appendChild(rowFor(line));
      newStep = addStepOption(line.step) || newStep;
    }
    box.appendChild(fragment);
    box.dataset.lastSeq = lastSeq;
    if (follow.checked) box.scrollTop = box.scrollHeight;
    if (newStep) refreshStateSoon();
    return lines.length === 0 || lines[lines.length - 1].seq <= lastSeq;
  }

  // --- the step tree and result, re-rendered by the server ---------------------------------
  function refreshState() {
    refreshTimer = null;
    const part = document.getElementById("run-state");
    if (!part || !window.htmx) return;
    const active = document.activeElement;
    if (active && part.contains(active) && ["INPUT", "TEXTAREA"].includes(active.tagName)) {
      refreshStateSoon(); // someone is typing a comment: do not wipe it
      return;
    }
    const open = Array.from(part.querySelectorAll("details[open]"), (d) => d.dataset.step || d.className);
    window.htmx.ajax("GET", box.dataset.stateUrl, {target: "#run-state", swap: "outerHTML"}).then(() => {
      const fresh = document.getElementById("run-state");
      for (const d of fresh.querySelectorAll("details")) {
        if (open.includes(d.dataset.step || d.className)) d.open = true;
      }
    });
  }
  function refreshStateSoon() {
    if (!refreshTimer) refreshTimer = setTimeout(refreshState, 700);
  }
  function setStatus(status) {
    const badge = document.getElementById("run-status");
    if (badge.textContent !== status) {
      badge.textContent = status;
      badge.className = `status status-${status}`;
      refreshStateSoon();
    }
    finished = FINAL.includes(status);
  }

  // --- follow mode -------------------------------------------------------------------------
  box.addEventListener("scroll", () => {
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 8;
    if (follow.checked !== atBottom) follow.checked = atBottom;
  });
  level.addEventListener("change", applyFilters);
  step.addEventListener("change", applyFilters);
  follow.addEventListener("change", () => { if (follow.checked) box.scrollTop = box.scrollHeight; });

  // --- the websocket -----------------------------------------------------------------------
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/runs/${box.dataset.run}/?after=${lastSeq}`);
    socket.onopen = () => { retryDelay = 500; state.textContent = ""; };
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "lines") {
        if (!addLines(msg.lines)) socket.close(4000, "gap"); // reconnect with ?after=lastSeq
      } else if (msg.type === "status") {
        setStatus(msg.status);
      }
    };
    socket.onclose = (event) => {
      if (event.code === 4403) {
        state.textContent = "Live log stopped: you are logged out or may no longer view this run.";
      } else if (!finished || event.code === 4000) {
        state.textContent = "Reconnecting…";
        setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 10000);
      }
    };
  }
  connect();
})();
