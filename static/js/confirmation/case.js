// Judicial confirmation on the case page (confirmation/templates/case_section.html): apply to
// a court, join the application, withdraw it. The words come from the section's data-
// attributes, since the case page belongs to service/ and carries only its own strings.

import { api } from "../api.js";
import { startCountdowns } from "./countdown.js";

const section = document.getElementById("confirmation");

function fail(err) {
  const box = section.querySelector('[data-testid="confirmation-error"]');
  box.textContent = err?.message || section.dataset.error;
}

async function act(button, run) {
  button.disabled = true;
  try {
    await run();
    window.location.reload();
  } catch (err) {
    button.disabled = false;
    fail(err);
  }
}

if (section) {
  startCountdowns(section);
  const form = section.querySelector("form.confirmation-apply");
  form?.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = form.querySelector('input[name="court"]:checked');
    if (!chosen) {
      fail({ message: section.dataset.chooseCourt });
      form.querySelector('input[name="court"]')?.focus();
      return;
    }
    const submit = form.querySelector('button[type="submit"]');
    act(submit, () => api("POST", `/api/cases/${form.dataset.case}/confirmation`, { court_id: Number(chosen.value) }));
  });
  section.querySelector('[data-action="consent"]')?.addEventListener("click", (event) => {
    const button = event.currentTarget;
    act(button, () => api("POST", `/api/confirmations/${button.dataset.id}/consent`));
  });
  section.querySelector('[data-action="withdraw"]')?.addEventListener("click", (event) => {
    const button = event.currentTarget;
    if (!window.confirm(section.dataset.withdrawConfirm)) return;
    act(button, () => api("POST", `/api/confirmations/${button.dataset.id}/withdraw`, { reason: "" }));
  });
}
