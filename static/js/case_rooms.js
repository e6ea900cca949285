import { api, toast } from "./api.js";

const section = document.getElementById("rooms");
document.getElementById("open-room")?.addEventListener("click", async (event) => {
  const button = event.currentTarget; // (null once the handler has awaited)
  button.disabled = true;
  try {
    const room = await api("POST", `/api/cases/${section.dataset.caseId}/rooms`, {
      kind: "mediation",
      auto_admit: document.getElementById("auto-admit")?.checked ?? false,
    });
    window.location.assign(`/rooms/${room.id}`);
  } catch (err) {
    // 409: the case has a meeting already (opened meanwhile, say in another tab); the page,
    // reloaded, offers to enter it.
    if (err.status === 409) return window.location.reload();
    toast(err.message);
    button.disabled = false;
  }
});
