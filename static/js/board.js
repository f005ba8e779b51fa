// Drag and drop on the pipeline board. Without JavaScript, each card's "Move to" form does the same.
(() => {
  const board = document.querySelector("[data-board]");
  if (!board || typeof Sortable === "undefined") return;
  const status = document.getElementById("board-status");
  const say = (text) => { if (status) status.textContent = text; };

  const updateCounts = (counts) => {
    for (const [stage, count] of Object.entries(counts)) {
      const badge = board.querySelector(`[data-count="${stage}"]`);
      if (badge) badge.textContent = count;
    }
  };

  const move = async (card, from, to, oldIndex) => {
    const body = new FormData();
    body.append("stage", to.dataset.stage);
    body.append("csrf_token", board.dataset.csrf);
    try {
      const response = await fetch(card.dataset.moveUrl, {
        method: "POST",
        body,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
      updateCounts(data.counts);
      const select = card.querySelector("select[name=stage]");
      if (select) select.value = data.stage;
      say(`Moved to ${to.getAttribute("aria-label")}`);
    } catch (error) {
      from.insertBefore(card, from.children[oldIndex] || null);
      say(`Not moved: ${error.message}`);
      window.alert(`The prospect was not moved: ${error.message}`);
    }
  };

  for (const list of board.querySelectorAll(".board-cards")) {
    Sortable.create(list, {
      group: "board",
      animation: 120,
      filter: "select, button, a",
      preventOnFilter: false,
      onEnd: (event) => {
        if (event.from !== event.to) move(event.item, event.from, event.to, event.oldIndex);
      },
    });
  }
})();
