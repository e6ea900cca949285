// The judicial confirmation session beside the video, in the room page. The room page loads
// this module from the confirmation domain's page modules (its "room" slot) without knowing
// what it is; it does nothing outside a room of kind "confirmation".
//
// The judge holding the application checks each party (identity against the ID on camera,
// capacity, free will, understanding of each term, the sham mediation warning) and writes
// the record (询问笔录); each party reads the record on their own device and confirms it as
// it stands (bound to the notes' SHA-256: a later change needs a new confirmation). Every
// change goes through the JSON API; the panel reads the record again every few seconds.

import { api, t, toast } from "../api.js";

const config = JSON.parse(document.getElementById("room-config").textContent);
const side = document.getElementById("side");
const POLL_MS = 4000;

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === "testid") node.dataset.testid = value;
    else if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c != null && c !== false));
  return node;
}

const ROLE_LABELS = { applicant: t("Applicant"), respondent: t("Respondent"), third_party: t("Third party") };

/** The case's application: its page's data (parties) and the API's view (the record). */
async function load() {
  const page = await fetch(`/cases/${config.case_id}/confirmation`, { credentials: "same-origin" });
  const found = /\/confirmations\/(\d+)$/.exec(new URL(page.url).pathname);
  if (!page.ok || !found) return null;
  const doc = new DOMParser().parseFromString(await page.text(), "text/html");
  const data = JSON.parse(doc.getElementById("confirmation-data").textContent);
  return { id: Number(found[1]), data };
}

class Panel {
  constructor(app, kind) {
    this.app = app;
    this.base = `/api/confirmations/${app.id}`;
    this.error = h("p", { className: "error", role: "alert", testid: "session-panel-error" });
    this.body = h("div", { className: "confirmation-panel-body" });
    this.box = h(
      "details",
      { className: `card confirmation-panel ${kind}`, id: "confirmation-panel", testid: "confirmation-panel", open: true },
      h("summary", { text: t("Confirmation session") }),
      this.body,
      this.error,
      h(
        "p",
        {},
        h("a", { href: `/confirmations/${app.id}`, target: "_blank", rel: "noopener", testid: "session-open-application", text: t("Open the application") }),
      ),
    );
    side.insertBefore(this.box, side.querySelector(".people-panel"));
    if (!document.querySelector('link[href="/static/css/confirmation.css"]')) {
      document.head.append(h("link", { rel: "stylesheet", href: "/static/css/confirmation.css" }));
    }
  }

  async fetchSession() {
    const out = await api("GET", this.base);
    return out.session;
  }

  fail(err) {
    this.error.textContent = err?.message || t("Something went wrong. Please try again.");
  }

  poll() {
    setInterval(async () => {
      try {
        this.refresh(await this.fetchSession());
      } catch {
        // A missed read is retried at the next tick; an action shows its own error.
      }
    }, POLL_MS);
  }

  ackList(session) {
    const acks = new Map(session.confirmations.filter((c) => c.current).map((c) => [String(c.party_id), c]));
    return h(
      "ul",
      { className: "acks", testid: "record-acks" },
      this.app.data.parties.map((p) =>
        h("li", {
          testid: `record-ack-${p.id}`,
          "data-confirmed": acks.has(String(p.id)) ? "true" : "false",
          text: `${p.name}: ${acks.has(String(p.id)) ? `✓ ${t("Confirmed the record")}` : t("Has not confirmed the record yet")}`,
        }),
      ),
    );
  }
}

class JudgePanel extends Panel {
  constructor(app) {
    super(app, "judge");
  }

  async start() {
    const session = await this.fetchSession();
    if (!session) return;
    const checklist = session.checklist || {};
    this.boxes = [];
    const fieldsets = this.app.data.parties.map((p) =>
      h(
        "fieldset",
        { className: "party-checks", testid: `checks-${p.id}` },
        h("legend", { text: `${p.name} (${ROLE_LABELS[p.role] ?? p.role})` }),
        session.items.map((item) => {
          const input = h("input", {
            type: "checkbox",
            "data-party": p.id,
            "data-item": item.code,
            testid: `check-${p.id}-${item.code}`,
            checked: Boolean(checklist[String(p.id)]?.[item.code]),
          });
          this.boxes.push(input);
          return h("label", { className: "choice" }, input, h("span", { text: item.label }));
        }),
      ),
    );
    this.notes = h("textarea", { id: "session-notes", maxlength: "20000", rows: "8", testid: "session-notes" });
    this.notes.value = session.notes;
    this.save = h("button", { type: "button", className: "primary", testid: "session-save", text: t("Save the record") });
    this.save.addEventListener("click", () => this.submit());
    this.acks = this.ackList(session);
    this.body.replaceChildren(
      h("h2", { text: t("The checklist and the record") }),
      ...fieldsets,
      h("label", { for: "session-notes", text: t("Record (询问笔录)") }),
      this.notes,
      h("div", { className: "actions" }, this.save),
      this.acks,
    );
    this.poll();
  }

  refresh(session) {
    if (!session) return;
    const acks = this.ackList(session);
    this.acks.replaceWith(acks);
    this.acks = acks;
  }

  async submit() {
    const checklist = {};
    for (const p of this.app.data.parties) {
      checklist[String(p.id)] = Object.fromEntries(
        this.boxes.filter((b) => b.dataset.party === String(p.id)).map((b) => [b.dataset.item, b.checked]),
      );
    }
    this.save.disabled = true;
    this.error.textContent = "";
    try {
      this.refresh(await api("PUT", `${this.base}/session/record`, { checklist, notes: this.notes.value }));
      toast(t("Saved."));
    } catch (err) {
      this.fail(err);
    } finally {
      this.save.disabled = false;
    }
  }
}

class PartyPanel extends Panel {
  constructor(app) {
    super(app, "party");
    // On a phone the side column is hidden: the record opens from the control bar.
    this.box.hidden = true;
    this.badge = h("span", { className: "badge", testid: "record-badge", hidden: true, text: "1" });
    this.button = h(
      "button",
      { type: "button", id: "toggle-record", testid: "toggle-record", "aria-expanded": "false", "aria-controls": "confirmation-panel" },
      document.createRange().createContextualFragment(
        '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M5 3h14v18H5zm2 4v2h10V7zm0 4v2h10v-2zm0 4v2h6v-2z"/></svg>',
      ),
      h("span", { text: t("The record") }),
      this.badge,
    );
    this.button.addEventListener("click", () => this.toggle(this.box.hidden));
    const controls = document.querySelector(".controls");
    controls?.insertBefore(this.button, document.getElementById("toggle-chat"));
  }

  toggle(open) {
    this.box.hidden = !open;
    side.classList.toggle("confirmation-open", open);
    this.button.setAttribute("aria-expanded", String(open));
    if (open) this.badge.hidden = true;
  }

  async start() {
    this.text = h("div", { className: "record-text", testid: "record-text", tabindex: "0", "aria-label": t("The record as the judge wrote it") });
    this.state = h("p", { className: "hint", testid: "record-state", role: "status" });
    this.confirm = h("button", { type: "button", className: "primary", testid: "record-confirm", text: t("Confirm the record") });
    this.confirm.addEventListener("click", () => this.submit());
    this.body.replaceChildren(h("h2", { text: t("The record as the judge wrote it") }), this.text, this.state, h("div", { className: "actions" }, this.confirm));
    this.refresh(await this.fetchSession());
    this.poll();
  }

  refresh(session) {
    // A new or changed record while the panel is closed is marked on its button.
    if (this.box.hidden && session?.notes_sha256 !== this.session?.notes_sha256 && session?.notes) {
      this.badge.hidden = false;
    }
    this.session = session;
    const notes = session?.notes ?? "";
    this.text.textContent = notes || t("The judge has not written the record yet.");
    this.text.dataset.sha256 = session?.notes_sha256 ?? "";
    const me = String(this.app.data.party_id);
    const mine = (session?.confirmations ?? []).filter((c) => String(c.party_id) === me);
    const current = mine.some((c) => c.current);
    this.confirm.hidden = !notes || current;
    this.box.dataset.confirmed = current ? "true" : "false";
    this.state.textContent = current
      ? t("You confirmed the record as it stands.")
      : mine.length
        ? t("The record changed since you confirmed it: read it again and confirm.")
        : "";
  }

  async submit() {
    this.confirm.disabled = true;
    this.error.textContent = "";
    try {
      this.refresh(await api("POST", `${this.base}/session/record/confirm`, { notes_sha256: this.session.notes_sha256 }));
    } catch (err) {
      this.fail(err);
    } finally {
      this.confirm.disabled = false;
    }
  }
}

async function main() {
  if (config.room_kind !== "confirmation" || !side) return;
  const app = await load();
  if (!app) return;
  const Kind = app.data.holds ? JudgePanel : config.is_party && app.data.party_id ? PartyPanel : null;
  if (Kind) await new Kind(app).start();
}

main().catch(() => {
  // The call goes on without the panel; the application page has everything it shows.
});
