// Runs list: statuses change in place as runs move on, without reloading the page.
(function () {
  const table = document.getElementById("runs");
  if (!table) return;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/runs/`);
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      const badge = table.querySelector(`tr[data-run="${msg.run}"] [data-status]`);
      if (badge) {
        badge.textContent = msg.status;
        badge.className = `status status-${msg.status}`;
      }
    };
    ws.onclose = (event) => { if (event.code !== 4403) setTimeout(connect, 2000); };
  }
  connect();
})();
