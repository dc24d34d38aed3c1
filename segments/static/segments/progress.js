// The change page after Go live: asks the segment's status until the evaluation has
// finished, then reloads the page to show the size and the members.
(function () {
  "use strict";
  const INTERVAL_MS = 1500;

  function watch(box) {
    const state = box.querySelector(".segment-progress-state");
    let dots = 0;
    const poll = () => {
      fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((response) => response.json())
        .then((status) => {
          if (status.state === "queued" || status.state === "running") {
            dots = (dots + 1) % 4;
            state.textContent = "Evaluation " + status.state + "…" + ".".repeat(dots);
            window.setTimeout(poll, INTERVAL_MS);
            return;
          }
          state.textContent = status.state === "failed"
            ? "Evaluation failed."
            : "Evaluated: " + status.member_count + " member" + (status.member_count === 1 ? "" : "s") + ".";
          window.location.reload();
        })
        .catch(() => window.setTimeout(poll, INTERVAL_MS * 4));
    };
    window.setTimeout(poll, INTERVAL_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const box = document.getElementById("segment-progress");
    if (box) watch(box);
  });
})();
