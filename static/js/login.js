import { api, t } from "./api.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const data = new FormData(form);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  button.dataset.label = button.textContent;
  button.textContent = t("Signing in…");
  try {
    const result = await api("POST", "/api/auth/login", {
      username: String(data.get("username") || "").trim(),
      password: String(data.get("password") || ""),
    });
    const next = form.dataset.next;
    const home = result.user.role === "mediator" ? "/cases" : "/home";
    window.location.assign(next && next.startsWith("/") && !next.startsWith("//") ? next : home);
  } catch (err) {
    error.textContent = err.message;
    button.disabled = false;
    button.textContent = button.dataset.label;
  }
});
