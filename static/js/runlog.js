// Live run log: the backlog, then new lines over a websocket. Reconnects resume after the last
// number received (no gap, no duplicate). Filters by level and step; "follow" keeps the newest
// line in view and turns itself off when the reader scrolls up.
(function () {
  const box = document.getElementById("run-log");
  if (!box) return;
  const level = document.getElementById("log-level");
  const step = document.getElementById("log-step");
  const follow = document.getElementById("log-follow");
  let lastSeq = 0;
  let finished = false;

  function visible(row) {
    return (!level.value || row.dataset.level === level.value) &&
      (!step.value || row.dataset.step.includes(step.value));
  }
  function applyFilters() {
    for (const row of box.children) row.hidden = !visible(row);
  }
  function addLine(msg) {
    const row = document.createElement("div");
    row.className = `line level-${msg.level}`;
    row.dataset.seq = msg.seq;
    row.dataset.level = msg.level;
    row.dataset.step = msg.step || "";
    row.textContent = `${msg.seq}  ${msg.level.toUpperCase()}  ${msg.step ? "[" + msg.step + "] " : ""}${msg.message}`;
    row.hidden = !visible(row);
    box.appendChild(row);
    if (follow.checked) box.scrollTop = box.scrollHeight;
  }
  function setStatus(status) {
    const badge = document.getElementById("run-status");
    badge.textContent = status;
    badge.className = `status status-${status}`;
    finished = ["completed", "failed", "cancelled"].includes(status);
  }
  box.addEventListener("scroll", () => {
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 8;
    if (!atBottom && follow.checked) follow.checked = false;
  });
  level.addEventListener("change", applyFilters);
  step.addEventListener("input", applyFilters);
  follow.addEventListener("change", () => { if (follow.checked) box.scrollTop = box.scrollHeight; });

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/runs/${box.dataset.run}/?after=${lastSeq}`);
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "lines") {
        for (const line of msg.lines) {
          if (line.seq > lastSeq) { lastSeq = line.seq; addLine(line); }
        }
      } else if (msg.type === "status") {
        setStatus(msg.status);
      }
    };
    ws.onclose = (event) => {
      if (event.code !== 4403 && !finished) setTimeout(connect, 1000);
    };
  }
  connect();
})();
