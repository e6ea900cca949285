import { api, t } from "./api.js";

const form = document.getElementById("intake-form");
const list = document.getElementById("parties");
const template = document.getElementById("party-template");
const error = document.getElementById("intake-error");

function renumber() {
  [...list.children].forEach((fieldset, i) => {
    fieldset.querySelector("legend").textContent = t("Party {n}", { n: i + 1 });
    fieldset.querySelector(".remove-party").hidden = list.children.length <= 2;
  });
}

function addParty(role) {
  const fieldset = template.content.firstElementChild.cloneNode(true);
  if (role) fieldset.querySelector('[data-field="role"]').value = role;
  const remove = fieldset.querySelector(".remove-party");
  remove.textContent = t("Remove");
  remove.addEventListener("click", () => {
    fieldset.remove();
    renumber();
  });
  list.append(fieldset);
  renumber();
}

function readParty(fieldset) {
  const party = {};
  const agent = {};
  for (const input of fieldset.querySelectorAll("[data-field]")) {
    const value = input.value.trim();
    if (!value) continue;
    const [head, tail] = input.dataset.field.split(".");
    if (head === "agent") agent[tail] = value;
    else party[head] = head === "id_number" ? value.toUpperCase() : value;
  }
  if (Object.keys(agent).length) party.agent = agent;
  return party;
}

function labelOf(input) {
  const label = input?.closest("label");
  return label ? label.firstChild.textContent.trim() : "";
}

function showErrors(err) {
  for (const p of list.querySelectorAll("[data-field-error]")) p.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  if (!Array.isArray(err.detail)) {
    error.textContent = err.message;
    return;
  }
  const general = [];
  for (const d of err.detail) {
    const loc = (d.loc || []).filter((p) => p !== "body");
    if (loc[0] === "parties" && Number.isInteger(loc[1]) && list.children[loc[1]]) {
      const fieldset = list.children[loc[1]];
      const input = fieldset.querySelector(`[data-field="${loc.slice(2).join(".")}"]`);
      input?.setAttribute("aria-invalid", "true");
      const label = labelOf(input);
      fieldset.querySelector("[data-field-error]").textContent = label ? `${label}：${d.msg}` : d.msg;
    } else {
      const input = form.elements.namedItem(String(loc[0]));
      input?.setAttribute?.("aria-invalid", "true");
      const label = labelOf(input);
      general.push(label ? `${label}：${d.msg}` : d.msg);
    }
  }
  error.textContent = general.join("\n");
  form.querySelector('[aria-invalid="true"]')?.focus();
}

document.getElementById("add-party").addEventListener("click", () => addParty("third_party"));

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const data = new FormData(form);
  const body = {
    dispute_type: data.get("dispute_type"),
    title: String(data.get("title") || "").trim(),
    summary: String(data.get("summary") || "").trim(),
    parties: [...list.children].map(readParty),
  };
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const created = await api("POST", "/api/cases", body);
    window.location.assign(`/cases/${created.id}`);
  } catch (err) {
    showErrors(err);
    button.disabled = false;
  }
});

addParty("applicant");
addParty("respondent");
