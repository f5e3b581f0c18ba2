// The workflow editor: drag and drop across slots, keyboard moves, collapse, expression helpers.
// Every change is posted to the server, which validates it and answers with the tree to show.
(function () {
  "use strict";
  const editor = document.querySelector(".editor");
  if (!editor) return;
  const collapsed = new Set(JSON.parse(sessionStorage.getItem("owlgrid-collapsed") || "[]"));
  let focusAfterSwap = null;
  // Result details the user opened stay open while a running test refreshes the results.
  const openResults = new Set();
  let lastExpressionField = null;

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]; }
    catch (e) { return ""; }
  }

  let moving = null;

  function move(id, parent, slot, position) {
    const key = [id, parent, slot, position].join("|");
    if (moving === key) return null;  // one gesture, one request
    moving = key;
    focusAfterSwap = id;
    editor.classList.add("busy");
    const url = editor.dataset.moveUrl.replace("00000000-0000-0000-0000-000000000000", id);
    return htmx.ajax("POST", url, {
      target: "#tree", swap: "outerHTML", headers: { "X-CSRFToken": csrf() },
      values: { parent: parent, slot: slot, position: position },
    }).finally(() => {
      moving = null;
      setTimeout(() => editor.classList.remove("busy"), 50);
    });
  }

  function place(li) {
    const list = li.parentElement;
    return { list: list, index: Array.from(list.children).indexOf(li) };
  }

  function initSortables(root) {
    if (typeof Sortable === "undefined") return;
    root.querySelectorAll("ol.slot-list").forEach((list) => {
      if (list._sortable) return;
      list._sortable = Sortable.create(list, {
        group: "tree", handle: ".block-head", draggable: ".block", animation: 120,
        forceFallback: true, fallbackOnBody: true, swapThreshold: 0.6, emptyInsertThreshold: 24,
        onEnd: (event) => {
          if (event.from === event.to && event.oldIndex === event.newIndex) return;
          const li = event.item;
          move(li.dataset.id, event.to.dataset.parent, event.to.dataset.slot, event.newIndex);
        },
      });
    });
  }

  function applyCollapsed(root) {
    root.querySelectorAll("li.block").forEach((li) => {
      const isCollapsed = collapsed.has(li.dataset.id);
      li.classList.toggle("collapsed", isCollapsed);
      const button = li.querySelector(":scope > .block-head .collapse");
      if (button) {
        button.setAttribute("aria-expanded", String(!isCollapsed));
        button.textContent = isCollapsed ? "Expand" : "Collapse";
      }
    });
  }

  function onKey(event) {
    const head = event.target.closest && event.target.closest(".block-head");
    if (!head || event.target !== head) return;
    const li = head.parentElement;
    const { list, index } = place(li);
    if (event.key === "Enter") { head.querySelector("a.edit").click(); event.preventDefault(); return; }
    if (event.key === "Delete") { head.querySelector("button.delete").click(); event.preventDefault(); return; }
    if (!event.altKey) return;
    const id = li.dataset.id;
    let target = null;
    const slot = list.closest(".slot");
    if (event.key === "ArrowUp" && index > 0) {
      target = [list.dataset.parent, list.dataset.slot, index - 1];
    } else if (event.key === "ArrowUp" && slot && slot.previousElementSibling) {
      // From the top of a slot to the end of the parent's previous slot (else -> then).
      const previous = slot.previousElementSibling.querySelector(":scope > ol.slot-list");
      if (previous) target = [previous.dataset.parent, previous.dataset.slot, previous.children.length];
    } else if (event.key === "ArrowDown" && index < list.children.length - 1) {
      target = [list.dataset.parent, list.dataset.slot, index + 1];
    } else if (event.key === "ArrowDown" && slot && slot.nextElementSibling) {
      // From the bottom of a slot to the top of the parent's next slot (then -> else).
      const next = slot.nextElementSibling.querySelector(":scope > ol.slot-list");
      if (next) target = [next.dataset.parent, next.dataset.slot, 0];
    } else if (event.key === "ArrowRight") {
      const next = li.nextElementSibling;
      const slot = next && next.querySelector(":scope > .block-slots > .slot > ol.slot-list");
      if (slot) target = [slot.dataset.parent, slot.dataset.slot, 0];
    } else if (event.key === "ArrowLeft") {
      const parentLi = list.closest("li.block");
      if (parentLi) {
        const outer = place(parentLi);
        target = [outer.list.dataset.parent, outer.list.dataset.slot, outer.index + 1];
      }
    }
    if (target) {
      event.preventDefault();
      move(id, target[0], target[1], target[2]);
    }
  }

  function onClick(event) {
    const collapse = event.target.closest(".collapse");
    if (collapse) {
      const li = collapse.closest("li.block");
      if (collapsed.has(li.dataset.id)) collapsed.delete(li.dataset.id);
      else collapsed.add(li.dataset.id);
      sessionStorage.setItem("owlgrid-collapsed", JSON.stringify(Array.from(collapsed)));
      applyCollapsed(editor);
      return;
    }
    const chip = event.target.closest(".chip[data-insert]");
    if (chip && lastExpressionField) {
      const field = lastExpressionField;
      const text = "{{ " + chip.dataset.insert + " }}";
      const start = field.selectionStart ?? field.value.length;
      const end = field.selectionEnd ?? field.value.length;
      field.value = field.value.slice(0, start) + text + field.value.slice(end);
      field.focus();
      field.setSelectionRange(start + text.length, start + text.length);
      field.dispatchEvent(new Event("input", { bubbles: true }));
      return;
    }
    const copy = event.target.closest("button.copy");
    if (copy && navigator.clipboard) {
      navigator.clipboard.writeText(copy.dataset.copy).then(() => { copy.textContent = "Copied"; });
    }
  }

  document.addEventListener("toggle", (event) => {
    const result = event.target.closest && event.target.closest(".block-result");
    if (!result) return;
    if (event.target.open) openResults.add(result.id); else openResults.delete(result.id);
  }, true);
  document.addEventListener("keydown", onKey);
  document.addEventListener("click", onClick);
  document.addEventListener("focusin", (event) => {
    if (event.target.matches && event.target.matches("[data-expression]")) {
      lastExpressionField = event.target;
    }
  });
  document.body.addEventListener("owlgrid:select", (event) => {
    const id = event.detail.value;
    focusAfterSwap = id;
    const link = document.querySelector(`#head-${id} a.edit`);
    if (link) htmx.ajax("GET", link.getAttribute("href"), { target: "#panel", swap: "outerHTML" });
  });
  document.body.addEventListener("htmx:afterSettle", () => {
    if (!focusAfterSwap) return;
    const head = document.getElementById(`head-${focusAfterSwap}`);
    if (head) head.focus();
    focusAfterSwap = null;
  });
  htmx.onLoad((root) => {
    if (root.matches && root.matches(".block-result") && openResults.has(root.id)) {
      const details = root.querySelector("details");
      if (details) details.open = true;
    }
    initSortables(root.querySelector ? root : document);
    if (root.matches && root.matches("ol.slot-list")) initSortables(root.parentElement);
    applyCollapsed(editor);
  });
})();
