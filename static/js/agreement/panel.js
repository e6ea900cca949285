// The agreement beside the video, in the room page. The room page loads this module from the
// agreements domain's page modules (its "room" slot) without knowing what it is; the room
// client hands on the signalling socket's `agreement {agreement_id, version}` message as a
// "room:agreement" event on the document (static/js/room/notices.js).
//
// The mediator drafts in it: the same content form as the editor page, checked on each save,
// sent for signing from here too; the full editor (history, signatures) is a link away. A
// party sees the latest version, with what changed since the version they last saw marked,
// and a link to sign it on their own page once it waits for their signature.

import { api, ApiError, t, toast } from "../api.js";
import { $, clausesView, diffLegend, diffView, findingsView, h, statusPill } from "./common.js";
import { ContentForm } from "./form.js";

const config = JSON.parse($("room-config").textContent);
const side = $("side");

function stylesheet() {
  if (document.querySelector('link[href="/static/css/agreement.css"]')) return;
  document.head.append(h("link", { rel: "stylesheet", href: "/static/css/agreement.css" }));
}

async function caseAgreement() {
  try {
    return await api("GET", `/api/cases/${config.case_id}/agreement`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

const awaitsParty = (a, partyId) => a.status === "signing" && a.awaiting.some((w) => w.party_id === partyId);

// -- the mediator's panel -------------------------------------------------------------------

class HostPanel {
  constructor() {
    this.agreement = null;
    this.form = null;
    this.body = h("div", { className: "agreement-panel-body" });
    this.summaryStatus = h("span", { className: "summary-status" });
    this.box = h(
      "details",
      { className: "card agreement-panel host", id: "agreement-panel", testid: "agreement-panel" },
      h("summary", { testid: "agreement-panel-toggle" }, h("span", { text: t("Agreement") }), this.summaryStatus),
      this.body,
    );
    side.insertBefore(this.box, side.querySelector(".people-panel"));
    // Opened after a while (news reaches only the people in the call): the latest first.
    this.box.addEventListener("toggle", () => {
      if (this.box.open && this.agreement) this.sync(this.agreement.id).catch(() => {});
    });
  }

  async start() {
    this.show(await caseAgreement());
  }

  show(agreement) {
    this.agreement = agreement;
    if (!agreement) return this.showStart();
    this.summaryStatus.replaceChildren(" · ", statusPill(agreement.status, "panel-status"), ` · ${t("Version {n}", { n: agreement.latest_version })}`);
    this.findings = h("div", { className: "panel-findings", testid: "panel-findings" });
    this.error = h("p", { className: "error", role: "alert", testid: "panel-error" });
    this.status = h("p", { className: "hint", role: "status", testid: "panel-save-status" });
    this.extra = h("div", { className: "panel-extra" });
    const formBox = h("div", { className: "panel-form" });
    this.form = new ContentForm(formBox, { parties: agreement.version.parties, prefix: "rp", onChange: () => this.showExtra() });
    this.saveButton = h("button", { type: "submit", className: "primary", testid: "panel-save", text: t("Save a new version") });
    const form = h(
      "form",
      { className: "agreement-form", novalidate: true },
      formBox,
      h("div", { className: "actions" }, this.saveButton, h("a", { className: "button", href: `/cases/${config.case_id}/agreement`, target: "_blank", rel: "noopener", text: t("Open the full editor") })),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    this.body.replaceChildren(h("h3", { text: t("Check") }), this.findings, form, this.error, this.status, this.extra);
    this.refresh(agreement, { reload: true });
    return undefined;
  }

  async showStart() {
    this.summaryStatus.textContent = ` · ${t("Not started")}`;
    let templates = [];
    try {
      templates = await api("GET", "/api/templates");
    } catch (err) {
      toast(err.message);
    }
    const select = h("select", { id: "rp-template", testid: "panel-template" }, templates.map((tp) => h("option", { value: tp.id, text: tp.name })));
    const error = h("p", { className: "error", role: "alert" });
    const button = h("button", { type: "button", className: "primary", testid: "panel-start", text: t("Start the agreement") });
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        this.show(await api("POST", `/api/cases/${config.case_id}/agreement`, { template: select.value }));
      } catch (err) {
        if (err.status === 409) return this.start();
        error.textContent = err.message;
        button.disabled = false;
      }
      return undefined;
    });
    this.body.replaceChildren(h("p", { text: t("No agreement yet. Start it from the template for this dispute; the parties' details come from the case.") }), h("label", {}, t("Template"), select), button, error);
  }

  /** The agreement as the API gave it; the form follows when told to or when its version
   * changed and nothing here is unsaved. */
  refresh(next, { reload = false } = {}) {
    const before = this.agreement;
    this.agreement = next;
    const editable = next.status === "draft" || next.status === "signing";
    if (reload || (next.latest_version !== before?.latest_version && !this.form.dirty)) {
      this.form.load(next.version.content, { disabled: !editable });
    }
    this.saveButton.hidden = !editable;
    this.summaryStatus.replaceChildren(" · ", statusPill(next.status, "panel-status"), ` · ${t("Version {n}", { n: next.latest_version })}`);
    this.findings.replaceChildren(...findingsView(next.version.findings, "rp"));
    this.showExtra();
  }

  /** Sending for signing, who is awaited, the document once in effect; and a newer version
   * saved elsewhere while this form holds unsaved changes. */
  showExtra() {
    const a = this.agreement;
    const parts = [];
    if (this.newer) {
      parts.push(
        h("p", { className: "notice-box", testid: "panel-newer", text: t("Version {n} was saved elsewhere. Load it to go on (your unsaved changes here are discarded).", { n: this.newer }) }),
        h("button", { type: "button", testid: "panel-load-newer", text: t("Load version {n}", { n: this.newer }), onclick: () => this.reload() }),
      );
    }
    if (a.status === "draft") {
      const ready = !a.version.findings.some((f) => f.level === "error") && !this.form.dirty;
      parts.push(
        h("button", {
          type: "button",
          testid: "panel-send",
          disabled: !ready,
          text: t("Send version {n} for signing", { n: a.latest_version }),
          onclick: (e) => this.send(e.currentTarget),
        }),
      );
    } else if (a.status === "signing") {
      const names = a.awaiting.map((w) => (w.party_id === null ? t("the mediator") : w.name)).join("、");
      parts.push(h("p", { testid: "panel-awaiting", text: t("Out for signing. Still to sign: {names}", { names }) }));
    } else if (a.status === "effective") {
      parts.push(h("a", { className: "button", href: `/api/agreements/${a.id}/pdf`, download: "", text: t("Download the sealed agreement (PDF)") }));
    }
    this.extra.replaceChildren(...parts);
  }

  async save() {
    const a = this.agreement;
    if (a.status === "signing" && a.signatures.length && !this.confirmedVoid) {
      this.error.textContent = t("Saving now voids the {n} signatures given: everyone signs again. Save again to do so.", { n: a.signatures.length });
      this.confirmedVoid = true;
      return;
    }
    this.confirmedVoid = false;
    this.error.textContent = "";
    this.form.clearErrors();
    this.saveButton.disabled = true;
    this.status.textContent = t("Saving…");
    try {
      const next = await api("PUT", `/api/agreements/${a.id}`, { base_version: a.latest_version, content: this.form.read() });
      this.newer = null;
      this.form.markSaved();
      this.refresh(next, { reload: true });
      this.status.textContent = t("Saved as version {n}, and checked.", { n: next.latest_version });
    } catch (err) {
      this.status.textContent = "";
      if (err instanceof ApiError && err.status === 422 && Array.isArray(err.detail)) this.form.showErrors(err.detail);
      else this.error.textContent = err.message;
      if (err instanceof ApiError && err.status === 409) {
        this.newer = (await caseAgreement().catch(() => null))?.latest_version ?? null;
        this.showExtra();
      }
    } finally {
      this.saveButton.disabled = false;
    }
  }

  async send(button) {
    button.disabled = true;
    try {
      this.refresh(await api("POST", `/api/agreements/${this.agreement.id}/send-for-signing`));
    } catch (err) {
      this.error.textContent = err.message;
      button.disabled = false;
    }
  }

  async reload() {
    this.newer = null;
    this.error.textContent = "";
    this.refresh(await api("GET", `/api/agreements/${this.agreement.id}`), { reload: true });
  }

  async news({ agreement_id: id }) {
    if (!this.agreement) return this.show(await api("GET", `/api/agreements/${id}`));
    return this.sync(id);
  }

  /** The agreement as it is now; the form takes a newer version only if nothing here is
   * unsaved (judged when the answer comes, as the person may have typed meanwhile). */
  async sync(id) {
    const next = await api("GET", `/api/agreements/${id}`);
    if (next.latest_version > this.agreement.latest_version && this.form.dirty) {
      // Not taken in: a save from here would be refused (409) and the person told.
      this.newer = next.latest_version;
      return this.showExtra();
    }
    return this.refresh(next);
  }
}

// -- a party's panel ------------------------------------------------------------------------

class PartyPanel {
  constructor() {
    this.partyId = Number(String(config.participant_id).replace(/^party-/, ""));
    this.agreement = null;
    this.shown = null; // the version on screen
    this.title = h("h2", { id: "agreement-panel-title", tabindex: -1, text: t("Agreement") });
    this.body = h("div", { className: "agreement-panel-body" });
    this.box = h(
      "section",
      { className: "card agreement-panel party", id: "agreement-panel", testid: "agreement-panel", "aria-labelledby": "agreement-panel-title", hidden: true },
      h("header", {}, this.title, h("button", { type: "button", className: "link", testid: "agreement-panel-close", text: t("Close"), onclick: () => this.toggle(false) })),
      this.body,
    );
    side.append(this.box);
    this.badge = h("span", { className: "badge", testid: "agreement-badge", hidden: true, text: "1" });
    this.button = h(
      "button",
      { type: "button", id: "toggle-agreement", testid: "toggle-agreement", "aria-expanded": "false", "aria-controls": "agreement-panel", hidden: true },
      document.createRange().createContextualFragment(
        '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M6 2h9l5 5v15H6zm8 1.5V8h4.5zM8 11v2h10v-2zm0 4v2h10v-2zm0-8v2h5V7z"/></svg>',
      ),
      h("span", { text: t("Agreement") }),
      this.badge,
    );
    this.button.addEventListener("click", () => this.toggle(this.box.hidden));
    const controls = document.querySelector(".controls");
    controls?.insertBefore(this.button, $("toggle-chat"));
  }

  get seenKey() {
    return `agreement-seen-${this.agreement.id}-${config.participant_id}`;
  }

  async start() {
    const agreement = await caseAgreement();
    if (agreement) this.update(agreement, { news: false });
  }

  update(agreement, { news = true } = {}) {
    this.agreement = agreement;
    this.button.hidden = false;
    if (!this.box.hidden) this.render();
    else if (news) this.badge.hidden = false;
  }

  toggle(open) {
    this.box.hidden = !open;
    side.classList.toggle("agreement-open", open);
    this.button.setAttribute("aria-expanded", String(open));
    if (open) {
      this.badge.hidden = true;
      // The latest version first: news reaches only the people in the call, not the lobby.
      api("GET", `/api/agreements/${this.agreement.id}`)
        .then((latest) => {
          this.agreement = latest;
        })
        .catch(() => {})
        .then(() => this.render())
        .then(() => this.title.focus({ preventScroll: true }));
    } else {
      this.button.focus();
    }
  }

  /** The latest version, marked with what changed since the one this person last saw. */
  async render() {
    const a = this.agreement;
    const latest = a.latest_version;
    const seen = this.shown ?? Number(localStorage.getItem(this.seenKey) || 0);
    if (seen && seen < latest) {
      try {
        const diff = await api("GET", `/api/agreements/${a.id}/diff?from=${seen}&to=${latest}`);
        this.marks = { from: seen, to: latest, diff };
      } catch (err) {
        toast(err.message);
      }
    }
    if (this.agreement !== a) return; // a newer one came while the changes loaded
    // The marks stay while this version is shown (sent for signing, say, it is the same text).
    const marks = this.marks?.to === latest ? this.marks : null;
    const text = marks ? [diffLegend(marks.from, latest), diffView(marks.diff)] : [clausesView(a.version.clauses)];
    const state = [statusPill(a.status, "panel-status"), ` · ${t("Version {n}", { n: latest })}`];
    const actions = [];
    if (awaitsParty(a, this.partyId)) {
      actions.push(
        h("p", { className: "notice-box", text: t("An agreement is waiting for your signature.") }),
        h("a", { className: "button primary", href: `/agreements/${a.id}/sign`, target: "_blank", rel: "noopener", testid: "panel-sign", text: t("Read and sign it (opens a new page)") }),
      );
    } else if (a.status === "signing") {
      actions.push(h("p", { className: "hint", text: t("Out for signing.") }));
    } else if (a.status === "effective") {
      actions.push(h("a", { className: "button", href: `/api/agreements/${a.id}/pdf`, download: "", text: t("Download the agreement (PDF)") }));
    } else if (a.status === "draft") {
      actions.push(h("p", { className: "hint", text: t("The mediator is writing this draft with you. It is not yet for signing.") }));
    }
    this.body.replaceChildren(h("p", { className: "panel-state", testid: "panel-version", "data-version": String(latest) }, ...state), ...actions, ...text);
    this.shown = latest;
    localStorage.setItem(this.seenKey, String(latest));
  }

  async news({ agreement_id: id }) {
    this.update(await api("GET", `/api/agreements/${id}`));
  }
}

// -- start ------------------------------------------------------------------------------------

// A mediation meeting's: in a confirmation session the agreement is in effect already, and
// that room's panel is the court's (static/js/confirmation/panel.js).
const mediation = config.room_kind === "mediation";
const Panel = !mediation ? null : config.is_host && config.role === "mediator" ? HostPanel : config.is_party ? PartyPanel : null;
const panel = Panel && side ? new Panel() : null;
if (panel) {
  stylesheet();
  panel.start().catch((err) => console.error("agreement panel", err));
  document.addEventListener("room:agreement", (event) => {
    panel.news(event.detail ?? {}).catch((err) => toast(err.message || t("Something went wrong. Please try again.")));
  });
}
