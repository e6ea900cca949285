// The one way pages talk to the JSON API: same-origin cookie, CSRF header, readable errors.

const strings = JSON.parse(document.getElementById("strings")?.textContent || "{}");

export function t(message, params = {}) {
  const text = strings[message] ?? message;
  return text.replace(/\{(\w+)\}/g, (_, key) => (key in params ? params[key] : `{${key}}`));
}

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

export class ApiError extends Error {
  constructor(status, detail) {
    super(ApiError.describe(detail));
    this.status = status;
    this.detail = detail;
  }

  static describe(detail) {
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      // Pages that know their fields label these themselves (see intake.js).
      return detail.map((d) => d.msg).join("\n");
    }
    return t("Something went wrong. Please try again.");
  }
}

export async function api(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRF-Token": csrf(),
        Accept: "application/json",
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, t("No network connection. Check your connection and try again."));
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data.detail);
  return data;
}

export function toast(message) {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = message;
  el.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove("show"), 2500);
}
