// The mediator's agreement editor (agreements/templates/agreements/editor.html): start the
// agreement from a template; edit its content; every save is a new version, checked at once
// (the errors block signing, the warnings name their rule), and refused with 409 when someone
// saved first; compare any two versions; preview the PDF; send for signing; follow the
// signatures and sign last (static/js/agreement/signatures.js).

import { api, ApiError, t, toast } from "../api.js";
import { $, diffLegend, diffView, findingsView, h, localTime, STATUS_LABELS } from "./common.js";
import { ContentForm } from "./form.js";
import { renderSigning } from "./signatures.js";

const data = JSON.parse($("agreement-data").textContent);
const POLL_MS = 8000; // while out for signing: the parties' signatures coming in

// -- no agreement yet ----------------------------------------------------------------------

$("start-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = event.submitter ?? event.currentTarget.querySelector("button[type=submit]");
  const template = new FormData(event.currentTarget).get("template");
  button.disabled = true;
  try {
    await api("POST", `/api/cases/${data.case_id}/agreement`, { template });
    window.location.reload();
  } catch (err) {
    // 409: someone started it meanwhile; the page, loaded again, shows theirs.
    if (err.status === 409) return window.location.reload();
    $("start-error").textContent = err.message;
    button.disabled = false;
  }
});

// -- the agreement ------------------------------------------------------------------------

let agreement = data.agreement;
let confirmedVoid = false;
let versionsShown = 0;

const form = agreement
  ? new ContentForm($("content-form"), { parties: data.parties, prefix: "ag", today: data.today, onChange: () => dirtied() })
  : null;
let wasDirty = false;

// Unsaved changes keep the agreement from being sent for signing: said as soon as there are.
function dirtied() {
  if (form.dirty === wasDirty) return;
  wasDirty = form.dirty;
  showSigning();
}

const editable = () => agreement.status === "draft" || agreement.status === "signing";
const hasErrors = () => agreement.version.findings.some((f) => f.level === "error");

function showHead() {
  const pill = $("agreement-status");
  pill.textContent = STATUS_LABELS[agreement.status] ?? agreement.status;
  pill.dataset.status = agreement.status;
  pill.className = `status agreement-status status-${agreement.status}`;
  $("agreement-version").textContent = t("Version {n}", { n: agreement.latest_version });
  $("pdf-preview").href = `/api/agreements/${agreement.id}/pdf?version=${agreement.latest_version}`;
  $("save").hidden = !editable();
}

function showFindings() {
  $("findings").replaceChildren(...findingsView(agreement.version.findings, "ag"));
}

function showSigning() {
  renderSigning($("signing-body"), {
    agreement,
    mediating: data.mediating,
    signs: data.signs,
    mediatorName: data.mediator_name ?? "",
    dirty: () => form.dirty,
    hasErrors,
    update: (next) => update(next),
    refresh: () => refresh(),
    error: (text) => {
      $("save-error").textContent = text;
      if (text) toast(text);
    },
    busy: (text) => {
      $("save-status").textContent = text;
    },
  });
}

/** A newer state of the agreement from the API; the form follows when its version changed
 * (or `reload`), unless there are unsaved changes. */
function update(next, { reload = false } = {}) {
  const before = agreement;
  if (!reload && JSON.stringify(before) === JSON.stringify(next)) return;
  agreement = next;
  if (reload || (next.latest_version !== before.latest_version && !form.dirty)) {
    form.load(next.version.content, { disabled: !editable() });
  } else if (!editable()) {
    form.load(form.read(), { disabled: true });
  }
  showHead();
  showFindings();
  showSigning();
  if (next.latest_version !== versionsShown) loadHistory();
}

async function refresh() {
  try {
    update(await api("GET", `/api/agreements/${agreement.id}`));
  } catch (err) {
    toast(err.message);
  }
}

// -- saving ---------------------------------------------------------------------------------

async function save() {
  const base = agreement.latest_version;
  $("save-error").textContent = "";
  $("conflict").hidden = true;
  $("void-warning").hidden = true;
  form.clearErrors();
  $("save").disabled = true;
  $("save-status").textContent = t("Saving…");
  try {
    const next = await api("PUT", `/api/agreements/${agreement.id}`, { base_version: base, content: form.read() });
    form.markSaved();
    wasDirty = false;
    update(next, { reload: next.latest_version === base });
    $("save-status").textContent =
      next.latest_version === base
        ? t("Nothing changed: the text is still version {n}.", { n: base })
        : t("Saved as version {n}, and checked.", { n: next.latest_version });
    $("findings").closest("section").scrollIntoView({ block: "nearest" });
  } catch (err) {
    $("save-status").textContent = "";
    if (err instanceof ApiError && err.status === 409) {
      $("conflict-text").textContent = err.message;
      $("conflict").hidden = false;
      $("conflict-reload").focus();
    } else if (err instanceof ApiError && err.status === 422 && Array.isArray(err.detail)) {
      form.showErrors(err.detail);
      form.errorBox.scrollIntoView({ block: "nearest" });
    } else {
      $("save-error").textContent = err.message;
    }
  } finally {
    $("save").disabled = false;
    confirmedVoid = false;
  }
}

function wireSaving() {
  $("agreement-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!editable()) return;
    // An edit during signing voids the signatures given: said before it is done.
    if (agreement.status === "signing" && !confirmedVoid) {
      $("void-warning").hidden = false;
      $("save-anyway").focus();
      return;
    }
    save();
  });
  $("save-anyway").addEventListener("click", () => {
    confirmedVoid = true;
    save();
  });
  $("save-cancel").addEventListener("click", () => {
    $("void-warning").hidden = true;
    $("save").focus();
  });
  $("conflict-reload").addEventListener("click", async () => {
    try {
      update(await api("GET", `/api/agreements/${agreement.id}`), { reload: true });
      $("conflict").hidden = true;
      $("save-status").textContent = t("Version {n} loaded. Make your change again, then save.", { n: agreement.latest_version });
    } catch (err) {
      $("save-error").textContent = err.message;
    }
  });
}

// -- versions and their differences ----------------------------------------------------------

async function loadHistory() {
  versionsShown = agreement.latest_version;
  let versions;
  try {
    versions = await api("GET", `/api/agreements/${agreement.id}/versions`);
  } catch (err) {
    $("versions").replaceChildren(h("li", { className: "error", text: err.message }));
    return;
  }
  $("versions").replaceChildren(
    ...versions
      .slice()
      .reverse()
      .map((v) =>
        h(
          "li",
          { testid: `version-${v.number}` },
          h("strong", { text: t("Version {n}", { n: v.number }) }),
          ` · ${localTime(v.created_at)} · `,
          h("code", { className: "hash", title: v.content_sha256, text: v.content_sha256.slice(0, 12) }),
          " · ",
          h("a", { href: `/api/agreements/${agreement.id}/pdf?version=${v.number}`, target: "_blank", rel: "noopener", text: t("PDF") }),
        ),
      ),
  );
  for (const [id, pick] of [
    ["diff-from", Math.max(1, versions.length - 1)],
    ["diff-to", versions.length],
  ]) {
    const select = $(id);
    select.replaceChildren(...versions.map((v) => h("option", { value: String(v.number), text: t("Version {n}", { n: v.number }) })));
    select.value = String(pick);
  }
  $("diff-show").disabled = versions.length < 2;
}

async function showDiff() {
  const from = Number($("diff-from").value);
  const to = Number($("diff-to").value);
  try {
    const diff = await api("GET", `/api/agreements/${agreement.id}/diff?from=${from}&to=${to}`);
    $("diff").replaceChildren(diffLegend(from, to), diffView(diff, { onlyChanged: $("diff-only").checked }));
  } catch (err) {
    $("diff").replaceChildren(h("p", { className: "error", text: err.message }));
  }
}

if (agreement) {
  form.load(agreement.version.content, { disabled: !editable() });
  showHead();
  showFindings();
  showSigning();
  wireSaving();
  loadHistory();
  $("diff-show").addEventListener("click", showDiff);
  $("diff-only").addEventListener("change", () => {
    if ($("diff").childElementCount) showDiff();
  });
  // Out for signing, the parties' signatures arrive from their phones.
  setInterval(() => {
    const parties = agreement.awaiting.some((w) => w.party_id !== null);
    if (agreement.status === "signing" && parties && document.visibilityState === "visible" && !form.dirty) refresh();
  }, POLL_MS);
}
