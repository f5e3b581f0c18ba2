// Live run log: backlog then new lines over a websocket; reconnects from the last number seen.
(function () {
  const pre = document.getElementById("run-log");
  if (!pre) return;
  let lastSeq = 0;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/runs/${pre.dataset.run}/?after=${lastSeq}`);
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "line" && msg.seq > lastSeq) {
        lastSeq = msg.seq;
        const row = document.createElement("div");
        row.className = `line level-${msg.level}`;
        row.textContent = `${msg.seq}  ${msg.level.toUpperCase()}  ${msg.step ? "[" + msg.step + "] " : ""}${msg.message}`;
        pre.appendChild(row);
      } else if (msg.type === "status") {
        const badge = document.getElementById("run-status");
        badge.textContent = msg.status;
        badge.className = `status status-${msg.status}`;
      }
    };
    ws.onclose = (event) => { if (event.code !== 4403) setTimeout(connect, 1000); };
  }
  connect();
})();
