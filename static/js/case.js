import { api, t, toast } from "./api.js";

const caseId = document.getElementById("case").dataset.caseId;

for (const row of document.querySelectorAll(".party-row")) {
  const box = row.querySelector(".new-link");
  const input = row.querySelector(".link-url");
  row.querySelector(".invite")?.addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const created = await api("POST", `/api/cases/${caseId}/invitations`, {
        party_id: Number(row.dataset.partyId),
      });
      input.value = created.url;
      box.hidden = false;
      input.select();
    } catch (err) {
      toast(err.message);
    } finally {
      button.disabled = false;
    }
  });
  row.querySelector(".copy")?.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(input.value);
    } catch {
      // Older in-app browsers have no async clipboard; fall back to selecting the text.
      input.select();
      document.execCommand("copy");
    }
    toast(t("Copied"));
  });
}

for (const button of document.querySelectorAll(".revoke")) {
  button.addEventListener("click", async () => {
    if (!window.confirm(t("Withdraw the link? The party will be signed out."))) return;
    try {
      await api("POST", `/api/cases/${caseId}/invitations/${button.dataset.invitationId}/revoke`);
      window.location.reload();
    } catch (err) {
      toast(err.message);
    }
  });
}

const actions = document.getElementById("status-actions");
if (actions) {
  const reasonBox = actions.querySelector(".reason");
  const reason = document.getElementById("status-reason");
  for (const button of actions.querySelectorAll("[data-status]")) {
    button.addEventListener("click", async () => {
      const status = button.dataset.status;
      const needsReason = status === "failed" || status === "withdrawn";
      if (needsReason && !reason.value.trim()) {
        reasonBox.hidden = false;
        reason.focus();
        toast(t("Say why the mediation ended."));
        return;
      }
      try {
        await api("POST", `/api/cases/${caseId}/status`, {
          status,
          reason: needsReason ? reason.value.trim() : null,
        });
        window.location.reload();
      } catch (err) {
        toast(err.message);
      }
    });
  }
}
