import { api, toast } from "./api.js";

const section = document.getElementById("rooms");
document.getElementById("open-room")?.addEventListener("click", async (event) => {
  event.currentTarget.disabled = true;
  try {
    const room = await api("POST", `/api/cases/${section.dataset.caseId}/rooms`, {
      kind: "mediation",
      auto_admit: document.getElementById("auto-admit")?.checked ?? false,
    });
    window.location.assign(`/rooms/${room.id}`);
  } catch (err) {
    toast(err.message);
    event.currentTarget.disabled = false;
  }
});
