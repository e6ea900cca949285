import { api } from "./api.js";

document.getElementById("sign-out")?.addEventListener("click", async () => {
  try {
    await api("POST", "/api/auth/logout");
  } finally {
    window.location.assign("/");
  }
});
