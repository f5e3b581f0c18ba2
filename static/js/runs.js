// Runs list: statuses change in place as runs move on, without reloading the page.
// Only runs the user may view are pushed (the server filters). A run that is not on the page
// yet (a new one, on the first page) or a reconnection after a drop re-renders the table
// through its htmx partial, so nothing missed while disconnected stays stale.
(function () {
  "use strict";
  let refreshTimer = null;
  let retryDelay = 1000;
  let connectedOnce = false;

  function part() { return document.getElementById("runs-part"); }
  function refreshSoon() {
    if (refreshTimer || !window.htmx) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      window.htmx.ajax("GET", location.href, {target: "#runs-part", swap: "outerHTML"});
    }, 1000);
  }
  function update(msg) {
    const container = part();
    if (!container) return;
    const badge = container.querySelector(`tr[data-run="${msg.run}"] [data-status]`);
    if (badge) {
      badge.textContent = msg.status;
      badge.className = `status status-${msg.status}`;
    } else if (container.dataset.page === "1") {
      refreshSoon();
    }
  }
  function connect() {
    if (!part()) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/runs/`);
    ws.onopen = () => {
      retryDelay = 1000;
      if (connectedOnce) refreshSoon(); // statuses changed while we were away
      connectedOnce = true;
    };
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "status") update(msg);
    };
    ws.onclose = (event) => {
      if (event.code === 4403) return;
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
      refreshSoon(); // the htmx fallback while the socket is down
    };
  }
  connect();
})();
