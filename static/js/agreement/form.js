// The agreement's content as a form (API.md, "Agreement content"): facts, disputed matters,
// responsibilities, the terms (who owes whom a payment or an act, how, where, by when, and a
// payment's instalments), other terms and copies. Used by the editor page and by the room's
// agreement panel. The form keeps the content as a plain object and rebuilds a list when its
// shape changes (a term or instalment added or removed), so the numbers always match.

import { t } from "../api.js";
import { beijingToday, h, partyLabel } from "./common.js";

const TEXTS = [
  ["facts", () => t("Main facts of the dispute"), 5000, 6],
  ["disputed_matters", () => t("Disputed matters"), 3000, 3],
  ["responsibilities", () => t("Each party's responsibility"), 3000, 3],
];

const blankTerm = (kind) => ({
  obligor: null,
  obligee: null,
  kind,
  amount: null,
  act: null,
  method: null,
  place: null,
  due: null,
  instalments: [],
});

/** The amount as cents, or null when it is not an amount. */
function cents(value) {
  const m = /^\s*(\d{1,12})(?:\.(\d{1,2}))?\s*$/.exec(value ?? "");
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? "").padEnd(2, "0"));
}

const yuan = (c) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, "0")}`;

export class ContentForm {
  /**
   * root: the element the form is built in; parties: [{id, name, role}] of the case;
   * prefix: the ids' prefix (one form per page); today: the earliest due date.
   */
  constructor(root, { parties, prefix = "ag", today = beijingToday(), onChange = () => {} }) {
    this.root = root;
    this.parties = parties;
    this.prefix = prefix;
    this.today = today;
    this.onChange = onChange;
    this.content = null;
    this.baseline = "";
    this.disabled = false;
  }

  id(...parts) {
    return [this.prefix, ...parts].join("-");
  }

  /** Show `content` (a version's), as the new baseline for `dirty`. */
  load(content, { disabled = false } = {}) {
    this.content = structuredClone(content);
    this.disabled = disabled;
    this.baseline = JSON.stringify(this.read());
    this.render();
  }

  get dirty() {
    return this.content !== null && JSON.stringify(this.read()) !== this.baseline;
  }

  markSaved() {
    this.baseline = JSON.stringify(this.read());
  }

  changed() {
    this.onChange(this);
  }

  /** The content as the API takes it: empty optional fields null, empty other terms dropped. */
  read() {
    const c = this.content;
    const text = (v) => (v && v.trim() ? v : null);
    return {
      facts: c.facts ?? "",
      disputed_matters: c.disputed_matters ?? "",
      responsibilities: c.responsibilities ?? "",
      terms: c.terms.map((term) => ({
        obligor: term.obligor ?? null,
        obligee: term.obligee ?? null,
        kind: term.kind,
        amount: term.kind === "payment" ? text(term.amount)?.trim() ?? null : null,
        act: term.kind === "act" ? text(term.act) : null,
        method: text(term.method),
        place: text(term.place),
        due: term.due || null,
        instalments:
          term.kind === "payment"
            ? term.instalments.map((p) => ({ due: p.due || null, amount: (p.amount ?? "").trim() }))
            : [],
      })),
      other_terms: c.other_terms.filter((o) => o && o.trim()),
      copies: Number.parseInt(c.copies, 10) || 0,
    };
  }

  render() {
    const c = this.content;
    const texts = h(
      "fieldset",
      { className: "content-texts" },
      h("legend", { text: t("What the dispute is about") }),
      TEXTS.map(([key, label, max, rows]) =>
        h(
          "label",
          {},
          label(),
          this.bind(h("textarea", { id: this.id(key), rows, maxlength: max, "data-path": key, testid: `field-${key}` }), c, key),
        ),
      ),
    );
    this.termsBox = h("div", { className: "terms", id: this.id("terms") });
    this.othersBox = h("div", { className: "other-terms" });
    const terms = h(
      "fieldset",
      { className: "content-terms" },
      h("legend", { text: t("Terms") }),
      h("p", { className: "hint", text: t("Each term says who owes whom a payment or an act, how, where and by when.") }),
      this.termsBox,
      h(
        "div",
        { className: "actions" },
        h("button", { type: "button", testid: "add-payment", text: t("Add a payment"), onclick: () => this.addTerm("payment") }),
        h("button", { type: "button", testid: "add-act", text: t("Add an act to perform"), onclick: () => this.addTerm("act") }),
      ),
    );
    const others = h(
      "fieldset",
      { className: "content-others" },
      h("legend", { text: t("Other terms") }),
      this.othersBox,
      h("button", { type: "button", testid: "add-other", text: t("Add another term"), onclick: () => this.addOther() }),
      h(
        "label",
        { className: "copies" },
        t("Copies of the agreement"),
        this.bind(h("input", { id: this.id("copies"), type: "number", min: 1, max: 20, inputmode: "numeric", "data-path": "copies", testid: "field-copies" }), c, "copies"),
      ),
    );
    this.errorBox = h("div", { className: "form-errors", id: this.id("errors"), role: "alert", testid: "form-errors" });
    const disabled = h("fieldset", { className: "content-all", disabled: this.disabled }, texts, terms, others);
    this.root.replaceChildren(this.errorBox, disabled);
    this.renderTerms();
    this.renderOthers();
  }

  /** Keep `obj[key]` in step with the input. */
  bind(input, obj, key, { after } = {}) {
    input.value = obj[key] ?? "";
    input.addEventListener("input", () => {
      obj[key] = input.value;
      input.removeAttribute("aria-invalid");
      after?.();
      this.changed();
    });
    return input;
  }

  partySelect(term, key, label, index) {
    const select = h(
      "select",
      { id: this.id("term", index + 1, key), "data-path": `terms.${index}.${key}`, testid: `term-${index + 1}-${key}` },
      h("option", { value: "", text: t("Choose a party") }),
      this.parties.map((p) => h("option", { value: String(p.id), text: partyLabel(p) })),
    );
    select.value = term[key] == null ? "" : String(term[key]);
    select.addEventListener("change", () => {
      term[key] = select.value ? Number(select.value) : null;
      select.removeAttribute("aria-invalid");
      this.changed();
    });
    return h("label", {}, label, select);
  }

  renderTerms() {
    const terms = this.content.terms;
    if (!terms.length) {
      this.termsBox.replaceChildren(h("p", { className: "empty", text: t("No terms yet.") }));
      return;
    }
    this.termsBox.replaceChildren(...terms.map((term, i) => this.termView(term, i)));
  }

  termView(term, i) {
    const n = i + 1;
    const path = (key) => `terms.${i}.${key}`;
    const field = (key, label, props = {}) =>
      h("label", { className: `term-${key}` }, label, this.bind(h("input", { id: this.id("term", n, key), "data-path": path(key), testid: `term-${n}-${key}`, ...props }), term, key));
    const kind = h(
      "select",
      { id: this.id("term", n, "kind"), "data-path": path("kind"), testid: `term-${n}-kind` },
      h("option", { value: "payment", text: t("A payment") }),
      h("option", { value: "act", text: t("An act to perform") }),
    );
    kind.value = term.kind;
    kind.addEventListener("change", () => {
      term.kind = kind.value;
      this.renderTerms();
      this.changed();
      this.focus(`term-${n}-kind`);
    });
    const parts = term.kind === "payment" ? this.instalmentsView(term, i) : null;
    const what =
      term.kind === "payment"
        ? h(
            "label",
            { className: "term-amount" },
            t("Amount (yuan)"),
            this.bind(
              h("input", { id: this.id("term", n, "amount"), inputmode: "decimal", autocomplete: "off", maxlength: 16, "data-path": path("amount"), testid: `term-${n}-amount` }),
              term,
              "amount",
              { after: parts.showSum },
            ),
          )
        : h(
            "label",
            { className: "term-act" },
            t("What is to be done"),
            this.bind(h("textarea", { id: this.id("term", n, "act"), rows: 2, maxlength: 500, "data-path": path("act"), testid: `term-${n}-act` }), term, "act"),
          );
    return h(
      "fieldset",
      { className: "term", id: this.id("term", n), testid: `term-${n}`, tabindex: -1 },
      h("legend", { text: t("Term {n}", { n }) }),
      h(
        "div",
        { className: "term-grid" },
        this.partySelect(term, "obligor", t("Who owes it"), i),
        this.partySelect(term, "obligee", t("To whom"), i),
        h("label", {}, t("What is owed"), kind),
        what,
        field("method", t("How (for example, by bank transfer)"), { maxlength: 100 }),
        field("place", t("Where (if it matters)"), { maxlength: 200 }),
        field("due", t("Due by"), { type: "date", min: this.today }),
      ),
      parts?.box,
      h(
        "button",
        { type: "button", className: "link remove-term", testid: `remove-term-${n}`, text: t("Remove term {n}", { n }), onclick: () => this.removeTerm(i) },
      ),
    );
  }

  instalmentsView(term, i) {
    const n = i + 1;
    const sum = h("p", { className: "hint instalment-sum", testid: `term-${n}-sum`, "aria-live": "polite" });
    const showSum = () => {
      const parts = term.instalments.map((p) => cents(p.amount));
      const total = cents(term.amount);
      sum.classList.remove("error");
      if (!term.instalments.length) {
        sum.textContent = t("Paid at once. Add instalments to pay it in parts.");
      } else if (parts.some((p) => p === null) || total === null) {
        sum.textContent = t("The instalments add up to: fill in every amount.");
      } else {
        const added = parts.reduce((a, b) => a + b, 0);
        sum.textContent =
          added === total
            ? t("The instalments add up to {sum} yuan, the whole amount.", { sum: yuan(added) })
            : t("The instalments add up to {sum} yuan, not {amount}.", { sum: yuan(added), amount: yuan(total) });
        sum.classList.toggle("error", added !== total);
      }
    };
    const rows = term.instalments.map((part, j) => {
      const k = j + 1;
      const label = (what) => t("Instalment {k}: {what}", { k, what });
      return h(
        "tr",
        { testid: `term-${n}-instalment-${k}` },
        h("th", { scope: "row", text: String(k) }),
        h("td", {}, this.bind(h("input", { id: this.id("term", n, "instalment", k, "due"), type: "date", min: this.today, "aria-label": label(t("due by")), "data-path": `terms.${i}.instalments.${j}.due`, testid: `term-${n}-instalment-${k}-due` }), part, "due", { after: showSum })),
        h("td", {}, this.bind(h("input", { id: this.id("term", n, "instalment", k, "amount"), inputmode: "decimal", maxlength: 16, autocomplete: "off", "aria-label": label(t("amount (yuan)")), "data-path": `terms.${i}.instalments.${j}.amount`, testid: `term-${n}-instalment-${k}-amount` }), part, "amount", { after: showSum })),
        h("td", {}, h("button", { type: "button", className: "link", text: t("Remove"), "aria-label": t("Remove instalment {k}", { k }), onclick: () => this.removeInstalment(term, i, j) })),
      );
    });
    const table = term.instalments.length
      ? h(
          "table",
          { className: "instalments" },
          h("caption", { text: t("Instalments of term {n}", { n }) }),
          h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "#" }), h("th", { scope: "col", text: t("Due by") }), h("th", { scope: "col", text: t("Amount (yuan)") }), h("td"))),
          h("tbody", {}, rows),
        )
      : null;
    showSum();
    const box = h(
      "div",
      { className: "instalments-box" },
      table,
      sum,
      h("button", { type: "button", testid: `term-${n}-add-instalment`, text: t("Add an instalment"), onclick: () => this.addInstalment(term, i) }),
    );
    return { box, showSum };
  }

  renderOthers() {
    const others = this.content.other_terms;
    this.othersBox.replaceChildren(
      ...others.map((text, j) => {
        const k = j + 1;
        const area = h("textarea", { id: this.id("other", k), rows: 2, maxlength: 1000, "data-path": `other_terms.${j}`, testid: `other-${k}` });
        area.value = text;
        area.addEventListener("input", () => {
          others[j] = area.value;
          area.removeAttribute("aria-invalid");
          this.changed();
        });
        return h(
          "div",
          { className: "other-term" },
          h("label", {}, t("Other term {n}", { n: k }), area),
          h("button", { type: "button", className: "link", text: t("Remove"), "aria-label": t("Remove other term {n}", { n: k }), onclick: () => this.removeOther(j) }),
        );
      }),
    );
  }

  focus(testid) {
    this.root.querySelector(`[data-testid="${testid}"]`)?.focus();
  }

  addTerm(kind) {
    const term = blankTerm(kind);
    // Most agreements are between the two sides: start from the first term's parties.
    const first = this.content.terms[0];
    if (first) Object.assign(term, { obligor: first.obligor, obligee: first.obligee });
    this.content.terms.push(term);
    this.renderTerms();
    this.changed();
    this.focus(`term-${this.content.terms.length}-obligor`);
  }

  removeTerm(i) {
    this.content.terms.splice(i, 1);
    this.renderTerms();
    this.changed();
    this.focus(this.content.terms.length ? `term-${Math.min(i + 1, this.content.terms.length)}-obligor` : "add-payment");
  }

  addInstalment(term, i) {
    term.instalments.push({ due: "", amount: "" });
    this.renderTerms();
    this.changed();
    this.focus(`term-${i + 1}-instalment-${term.instalments.length}-due`);
  }

  removeInstalment(term, i, j) {
    term.instalments.splice(j, 1);
    this.renderTerms();
    this.changed();
    this.focus(`term-${i + 1}-add-instalment`);
  }

  addOther() {
    this.content.other_terms.push("");
    this.renderOthers();
    this.changed();
    this.focus(`other-${this.content.other_terms.length}`);
  }

  removeOther(j) {
    this.content.other_terms.splice(j, 1);
    this.renderOthers();
    this.changed();
    this.focus("add-other");
  }

  clearErrors() {
    this.errorBox.replaceChildren();
    for (const el of this.root.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute("aria-invalid");
  }

  /** A 422's details, each shown at its field (marked invalid) and listed above the form. */
  showErrors(detail) {
    this.clearErrors();
    const items = [];
    for (const d of Array.isArray(detail) ? detail : []) {
      const loc = (d.loc ?? []).filter((p) => p !== "body");
      if (loc[0] === "content") loc.shift();
      const path = loc.join(".");
      const field = this.root.querySelector(`[data-path="${CSS.escape(path)}"]`);
      field?.setAttribute("aria-invalid", "true");
      const name = field ? (field.closest("label")?.firstChild?.textContent ?? field.getAttribute("aria-label") ?? "").trim() : "";
      const where = /^terms\.(\d+)/.exec(path);
      const prefix = where ? `${t("Term {n}", { n: Number(where[1]) + 1 })} · ` : "";
      const text = `${prefix}${name ? `${name}: ` : ""}${d.msg}`;
      items.push(field ? h("li", {}, h("a", { href: `#${field.id || ""}`, text })) : h("li", { text }));
    }
    if (items.length) this.errorBox.append(h("p", { text: t("Not saved: correct what is marked.") }), h("ul", {}, items));
  }
}
