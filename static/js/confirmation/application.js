// The application page (confirmation/templates/application.html): the court accepts, refuses
// or claims it; a party joins, withdraws or hands in a supplement; the judge holding it opens
// the video session and records the decision. Each goes through the JSON API, then the page
// is read again, so what it shows is what the server holds.

import { api, t } from "../api.js";
import { startCountdowns } from "./countdown.js";

const $ = (id) => document.getElementById(id);
const data = JSON.parse($("confirmation-data").textContent);
const base = `/api/confirmations/${data.application_id}`;
const error = $("application-error");

startCountdowns();

function fail(message, focus) {
  error.textContent = message;
  if (focus) focus.focus();
  else error.scrollIntoView({ block: "nearest" });
}

async function run(button, call, after = () => window.location.reload()) {
  button.disabled = true;
  error.textContent = "";
  try {
    after(await call());
  } catch (err) {
    button.disabled = false;
    fail(err.message);
  }
}

const on = (action, handler) => {
  for (const el of document.querySelectorAll(`[data-action="${action}"]`)) {
    el.addEventListener("click", (event) => handler(event.currentTarget));
  }
};

on("accept", (b) => run(b, () => api("POST", `${base}/accept`, { accept: true })));
on("refuse", (b) => {
  const reason = $("refuse-reason");
  if (!reason.value.trim()) return fail(t("Give the reason for refusing the application."), reason);
  run(b, () => api("POST", `${base}/accept`, { accept: false, reason: reason.value.trim() }));
});
on("claim", (b) => run(b, () => api("POST", `${base}/claim`)));
on("consent", (b) => run(b, () => api("POST", `${base}/consent`)));
on("withdraw", (b) => {
  if (!window.confirm(b.dataset.confirm)) return;
  run(b, () => api("POST", `${base}/withdraw`, { reason: "" }));
});
on("supplement", (b) => {
  const note = $("supplement-note");
  if (!note.value.trim()) return fail(t("Write what you hand in."), note);
  run(b, () => api("POST", `${base}/supplement`, { note: note.value.trim() }));
});
on("session", (b) =>
  run(
    b,
    () => api("POST", `${base}/session`),
    (opened) => {
      window.location.href = `/rooms/${opened.room.id}`;
    },
  ),
);

// -- the decision form ------------------------------------------------------------------------

const form = $("decision-form");
if (form) {
  const outcome = () => form.querySelector('input[name="outcome"]:checked')?.value;
  const reasonLabel = $("reason-label");
  const show = () => {
    const chosen = outcome();
    $("grounds").hidden = chosen !== "rejected";
    $("due-box").hidden = chosen !== "supplement_requested";
    $("reason-box").hidden = !chosen || chosen === "confirmed";
    reasonLabel.textContent = chosen === "supplement_requested" ? reasonLabel.dataset.supplement : reasonLabel.dataset.rejected;
  };
  for (const radio of form.querySelectorAll('input[name="outcome"]')) radio.addEventListener("change", show);
  show();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = outcome();
    const reason = $("decision-reason").value.trim();
    const body = { outcome: chosen, grounds: [], reason: "", notes: $("decision-notes").value };
    if (!chosen) return fail(t("Choose the decision."), form.querySelector('input[name="outcome"]'));
    if (chosen === "rejected") {
      body.grounds = [...form.querySelectorAll('input[name="ground"]:checked')].map((g) => g.value);
      if (!body.grounds.length) return fail(t("Choose at least one ground for the rejection."), form.querySelector('input[name="ground"]'));
      if (!reason) return fail(t("Give the reason for the rejection."), $("decision-reason"));
      body.reason = reason;
    }
    if (chosen === "supplement_requested") {
      const due = $("supplement-due").value;
      if (!due) return fail(t("Choose the date by which the supplement is due."), $("supplement-due"));
      if (!reason) return fail(t("Say what the parties must supplement."), $("decision-reason"));
      // The end of that day in Beijing, as the statutory clock counts days.
      body.supplement_due = `${due}T23:59:59+08:00`;
      body.reason = reason;
    }
    run(form.querySelector('button[type="submit"]'), () => api("POST", `${base}/decision`, body));
  });
}
