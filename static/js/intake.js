import { api, t } from "./api.js";

const form = document.getElementById("intake-form");
const list = document.getElementById("parties");
const template = document.getElementById("party-template");
const error = document.getElementById("intake-error");
let parties = 0; // parties ever added: each one's error message gets its own id

function renumber() {
  [...list.children].forEach((fieldset, i) => {
    fieldset.querySelector("legend").textContent = t("Party {n}", { n: i + 1 });
    fieldset.querySelector(".remove-party").hidden = list.children.length <= 2;
  });
}

function addParty(role) {
  const fieldset = template.content.firstElementChild.cloneNode(true);
  if (role) fieldset.querySelector('[data-field="role"]').value = role;
  // Each party's errors: named by its invalid fields' aria-describedby, and announced (an
  // alert region has to be in the page before its text changes).
  const message = fieldset.querySelector("[data-field-error]");
  message.id = `party-error-${++parties}`;
  message.setAttribute("role", "alert");
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

function clearErrors() {
  error.textContent = "";
  for (const p of list.querySelectorAll("[data-field-error]")) p.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    // A field with a hint keeps it described; the others had only the error.
    if (el.dataset.hint) el.setAttribute("aria-describedby", el.dataset.hint);
    else el.removeAttribute("aria-describedby");
  }
}

/** `input` is wrong, and `message` (an element) says why. */
function markInvalid(input, message) {
  if (typeof input?.setAttribute !== "function") return; // no such field (or a radio group)
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", [message.id, input.dataset.hint].filter(Boolean).join(" "));
}

function showErrors(err) {
  clearErrors();
  if (!Array.isArray(err.detail)) {
    error.textContent = err.message;
    return;
  }
  const general = [];
  const byParty = new Map(); // error paragraph -> its lines
  for (const d of err.detail) {
    const loc = (d.loc || []).filter((p) => p !== "body");
    if (loc[0] === "parties" && Number.isInteger(loc[1]) && list.children[loc[1]]) {
      const fieldset = list.children[loc[1]];
      const input = fieldset.querySelector(`[data-field="${loc.slice(2).join(".")}"]`);
      const message = fieldset.querySelector("[data-field-error]");
      markInvalid(input, message);
      const label = labelOf(input);
      if (!byParty.has(message)) byParty.set(message, []);
      byParty.get(message).push(label ? `${label}：${d.msg}` : d.msg);
    } else {
      const input = form.elements.namedItem(String(loc[0]));
      markInvalid(input, error);
      const label = labelOf(input);
      general.push(label ? `${label}：${d.msg}` : d.msg);
    }
  }
  for (const [message, lines] of byParty) message.textContent = lines.join("\n");
  error.textContent = general.join("\n");
  form.querySelector('[aria-invalid="true"]')?.focus();
}

document.getElementById("add-party").addEventListener("click", () => addParty("third_party"));

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  // Emptied before the answer comes, so that the same error again is announced again.
  clearErrors();
  const data = new FormData(form);
  const body = {
    dispute_type: data.get("dispute_type"),
    title: String(data.get("title") || "").trim(),
    summary: String(data.get("summary") || "").trim(),
    parties: [...list.children].map(readParty),
  };
  // Which courts may confirm the agreement: sent only when given.
  const court = data.get("referred_by_court_id");
  if (court) body.referred_by_court_id = Number(court);
  const region = String(data.get("subject_region") || "").trim();
  if (region) body.subject_region = region;
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
