// The court's queue (confirmation/templates/queue.html): countdowns to each deadline, and the
// acceptance (立案), the refusal with its reason and the claim, each through the JSON API;
// the page is read again afterwards, so what it shows is what the server holds.

import { api, t } from "../api.js";
import { startCountdowns } from "./countdown.js";

const error = document.getElementById("queue-error");

startCountdowns();

for (const item of document.querySelectorAll(".queue-item")) {
  const id = item.dataset.id;
  const run = async (button, call) => {
    button.disabled = true;
    error.textContent = "";
    try {
      await call();
      window.location.reload();
    } catch (err) {
      button.disabled = false;
      error.textContent = err.message;
      error.scrollIntoView({ block: "nearest" });
    }
  };
  item.querySelector('[data-action="accept"]')?.addEventListener("click", (e) =>
    run(e.currentTarget, () => api("POST", `/api/confirmations/${id}/accept`, { accept: true })),
  );
  item.querySelector('[data-action="refuse"]')?.addEventListener("click", (e) => {
    const reason = item.querySelector(".refuse textarea");
    if (!reason.value.trim()) {
      error.textContent = t("Give the reason for refusing the application.");
      reason.focus();
      return;
    }
    run(e.currentTarget, () =>
      api("POST", `/api/confirmations/${id}/accept`, { accept: false, reason: reason.value.trim() }),
    );
  });
  item.querySelector('[data-action="claim"]')?.addEventListener("click", (e) =>
    run(e.currentTarget, async () => {
      await api("POST", `/api/confirmations/${id}/claim`);
    }),
  );
}
