import { api, t, toast } from "./api.js";

const caseId = document.getElementById("case").dataset.caseId;
const partyNames = new Map(
  [...document.querySelectorAll(".party-row")].map((row) => [Number(row.dataset.partyId), row.dataset.partyName]),
);
const beijing = new Intl.DateTimeFormat("sv-SE", {
  timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
});
const stateNames = { active: t("Active"), expired: t("Expired"), revoked: t("Revoked") };

async function revoke(invitationId) {
  if (!window.confirm(t("Withdraw the link? The party will be signed out."))) return;
  try {
    await api("POST", `/api/cases/${caseId}/invitations/${invitationId}/revoke`);
    await refreshLinks();
  } catch (err) {
    toast(err.message);
  }
}

// Rebuild the links table from the API, so a new or revoked link shows without a reload
// (a reload would lose the link that is shown only once).
async function refreshLinks() {
  const links = await api("GET", `/api/cases/${caseId}/invitations`);
  const body = document.getElementById("links-body");
  body.replaceChildren(
    ...links.map((link) => {
      const row = document.createElement("tr");
      for (const text of [
        partyNames.get(link.party_id) ?? "",
        stateNames[link.state],
        beijing.format(new Date(link.expires_at)),
        String(link.use_count),
      ]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      const action = document.createElement("td");
      if (link.state === "active") {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "link revoke";
        button.textContent = t("Revoke");
        button.addEventListener("click", () => revoke(link.id));
        action.append(button);
      }
      row.append(action);
      return row;
    }),
  );
  body.closest("table").hidden = links.length === 0;
  document.getElementById("links-empty").hidden = links.length > 0;
}

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
      await refreshLinks();
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
  button.addEventListener("click", () => revoke(button.dataset.invitationId));
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

// Which courts may confirm the agreement: both fields sent, an empty one clears it.
const venue = document.getElementById("venue-form");
if (venue) {
  const error = document.getElementById("venue-error");
  venue.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = ""; // emptied first, so that the same error again is announced again
    for (const el of venue.querySelectorAll("[aria-invalid]")) {
      el.removeAttribute("aria-invalid");
      el.setAttribute("aria-describedby", el.dataset.hint);
    }
    const data = new FormData(venue);
    const court = data.get("referred_by_court_id");
    const region = String(data.get("subject_region") || "").trim();
    try {
      await api("PATCH", `/api/cases/${caseId}`, {
        referred_by_court_id: court ? Number(court) : null,
        subject_region: region || null,
      });
      window.location.reload();
    } catch (err) {
      const first = Array.isArray(err.detail) ? err.detail[0] : null;
      const input = first ? venue.elements.namedItem(String(first.loc?.at(-1))) : null;
      if (input?.setAttribute) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", `venue-error ${input.dataset.hint}`);
        input.focus();
      }
      error.textContent = err.message;
    }
  });
}
