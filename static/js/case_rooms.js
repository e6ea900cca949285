import { api, toast } from "./api.js";

const section = document.getElementById("rooms");
document.getElementById("open-room")?.addEventListener("click", async (event) => {
  const button = event.currentTarget; // (null once the handler has awaited)
  button.disabled = true;
  try {
    const when = beijing(document.getElementById("room-time")?.value);
    const room = await api("POST", `/api/cases/${section.dataset.caseId}/rooms`, {
      kind: "mediation",
      auto_admit: document.getElementById("auto-admit")?.checked ?? false,
      ...(when ? { scheduled_for: when } : {}),
    });
    // A meeting set for later waits for its time: the page, reloaded, shows it.
    if (when) return window.location.reload();
    window.location.assign(`/rooms/${room.id}`);
  } catch (err) {
    // 409: the case has a meeting already (opened meanwhile, say in another tab); the page,
    // reloaded, offers to enter it.
    if (err.status === 409) return window.location.reload();
    toast(err.message);
    button.disabled = false;
  }
});

// The time field's value ("2026-12-05T14:30", as the page shows times: Beijing time) with
// its offset, as the API wants it; "" when empty.
function beijing(value) {
  if (!value) return "";
  return `${value.length === 16 ? `${value}:00` : value}+08:00`;
}

document.getElementById("reschedule-room")?.addEventListener("click", async (event) => {
  const button = event.currentTarget;
  const when = beijing(document.getElementById("room-new-time")?.value);
  if (!when) return document.getElementById("room-new-time")?.focus();
  button.disabled = true;
  try {
    await api("PUT", `/api/rooms/${button.dataset.roomId}/schedule`, { scheduled_for: when });
    window.location.reload();
  } catch (err) {
    toast(err.message);
    button.disabled = false;
  }
});
