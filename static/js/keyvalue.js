// Key/value rows for flat object inputs (headers, query, record fields). The textarea stays the
// form's field: every edit of a row writes the object back into it as JSON, so the server sees
// exactly what the rows say. Nested objects, lists or one expression keep the JSON box.
(function () {
  "use strict";

  function parseFlat(text) {
    if (!text.trim()) return {};
    let value;
    try { value = JSON.parse(text); } catch (e) { return null; }
    if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
    for (const item of Object.values(value)) {
      if (item !== null && typeof item === "object") return null;
    }
    return value;
  }

  // A cell's text as the value stored: for objects of any values, JSON numbers, true, false
  // and null keep their type; everything else (expressions included) is a string.
  function cellValue(text, kind) {
    if (kind !== "any") return text;
    const trimmed = text.trim();
    if (/^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)$/.test(trimmed)) return JSON.parse(trimmed);
    return text;
  }

  function cellText(value) {
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function build(area) {
    const rows = parseFlat(area.value);
    const label = document.querySelector(`label[for="${area.id}"]`);
    const name = label ? label.textContent.replace(/\s*\*$/, "").trim() : area.name;
    const box = document.createElement("div");
    box.className = "kv";
    const table = document.createElement("div");
    table.className = "kv-rows";
    const add = document.createElement("button");
    add.type = "button";
    add.className = "kv-add";
    add.textContent = "Add field";
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "link kv-toggle";
    box.append(table, add, toggle);
    area.after(box);

    function write() {
      const object = {};
      table.querySelectorAll(".kv-row").forEach((row) => {
        const key = row.querySelector(".kv-key").value.trim();
        if (key) object[key] = cellValue(row.querySelector(".kv-value").value, area.dataset.kv);
      });
      area.value = Object.keys(object).length ? JSON.stringify(object, null, 2) : "";
      area.dispatchEvent(new Event("input", { bubbles: true }));
    }

    function addRow(key, value) {
      const index = table.children.length + 1;
      const row = document.createElement("div");
      row.className = "kv-row";
      row.innerHTML = '<input class="kv-key" autocomplete="off"><input class="kv-value expression" data-expression="1" autocomplete="off"><button type="button" class="link kv-remove">Remove</button>';
      const [keyInput, valueInput, remove] = row.children;
      keyInput.value = key;
      valueInput.value = value;
      keyInput.setAttribute("aria-label", `${name}: key ${index}`);
      valueInput.setAttribute("aria-label", `${name}: value ${index}`);
      remove.setAttribute("aria-label", `${name}: remove field ${index}`);
      keyInput.addEventListener("input", write);
      valueInput.addEventListener("input", write);
      remove.addEventListener("click", () => { row.remove(); write(); });
      table.append(row);
      return keyInput;
    }

    function show(asRows) {
      box.classList.toggle("as-json", !asRows);
      area.hidden = asRows;
      table.hidden = add.hidden = !asRows;
      toggle.textContent = asRows ? "Edit as JSON" : "Edit as fields";
    }

    add.addEventListener("click", () => addRow("", "").focus());
    toggle.addEventListener("click", () => {
      if (area.hidden) { show(false); area.focus(); return; }
      const parsed = parseFlat(area.value);
      if (parsed === null) {
        toggle.textContent = "Edit as fields (only for a flat JSON object)";
        return;
      }
      table.replaceChildren();
      Object.entries(parsed).forEach(([key, value]) => addRow(key, cellText(value)));
      show(true);
    });
    if (rows === null) { show(false); return; }
    Object.entries(rows).forEach(([key, value]) => addRow(key, cellText(value)));
    show(true);
  }

  function enhance(root) {
    root.querySelectorAll("textarea[data-kv]").forEach((area) => {
      if (area.dataset.kvReady) return;
      area.dataset.kvReady = "1";
      build(area);
    });
  }

  enhance(document);
  if (window.htmx) htmx.onLoad((root) => { if (root.querySelectorAll) enhance(root); });
})();
