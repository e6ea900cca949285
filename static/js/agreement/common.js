// What the agreement's pages and the room's agreement panel share: building elements (text
// only ever goes in through textContent), labels, times, the check's findings, and a version
// or the changes between two versions as a list of clauses.

import { t } from "../api.js";

export const $ = (id) => document.getElementById(id);

export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === "testid") node.dataset.testid = value;
    else if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c != null && c !== false));
  return node;
}

export const STATUS_LABELS = {
  draft: t("Draft"),
  signing: t("Out for signing"),
  effective: t("In effect"),
  void: t("Void"),
};
export const ROLE_LABELS = {
  applicant: t("Applicant"),
  respondent: t("Respondent"),
  third_party: t("Third party"),
  mediator: t("Mediator"),
};
// Where each finding's rule comes from (agreements/check.py), as a reader knows it.
const RULE_LABELS = {
  "Interp. 360 (content unclear); PML 29": t("Interp. 360 (content unclear); PML 29"),
  "Interp. 357": t("Interp. 357"),
};

const beijing = new Intl.DateTimeFormat("sv-SE", {
  timeZone: "Asia/Shanghai",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
});
/** An ISO time as the pages show times: Beijing time, "2026-12-05 14:30". */
export const localTime = (iso) => (iso ? beijing.format(new Date(iso)) : "");

/** The agreement's status as a labelled pill. */
export function statusPill(status, testid = "agreement-status") {
  return h("span", {
    className: `status agreement-status status-${status}`,
    testid,
    "data-status": status,
    text: STATUS_LABELS[status] ?? status,
  });
}

/** The field a clause key stands for in the content form (room/editor share form.js's ids). */
export function clauseField(key, prefix) {
  if (["facts", "disputed_matters", "responsibilities", "copies"].includes(key)) return `${prefix}-${key}`;
  const term = /^term-(\d+)$/.exec(key ?? "");
  if (term) return `${prefix}-term-${term[1]}`;
  return null;
}

/** The check's findings: errors (they block signing), then warnings with their rule. */
export function findingsView(findings, prefix) {
  const errors = findings.filter((f) => f.level === "error");
  const warnings = findings.filter((f) => f.level === "warning");
  const item = (f) => {
    const target = clauseField(f.clause, prefix);
    const message = target ? h("a", { href: `#${target}`, text: f.message }) : h("span", { text: f.message });
    return h(
      "li",
      { className: `finding ${f.level}`, testid: `finding-${f.code}`, "data-clause": f.clause ?? "" },
      message,
      h("span", { className: "rule", text: t("Rule: {rule}", { rule: RULE_LABELS[f.rule] ?? f.rule }) }),
    );
  };
  const parts = [];
  if (!findings.length) {
    parts.push(h("p", { className: "check-ok", testid: "check-ok", text: t("The check found nothing to fix: the agreement can go out for signing.") }));
  }
  if (errors.length) {
    parts.push(h("h3", { text: t("To fix before it can be signed ({n})", { n: errors.length }) }));
    parts.push(h("ul", { className: "findings errors" }, errors.map(item)));
  }
  if (warnings.length) {
    parts.push(h("h3", { text: t("For you to decide ({n})", { n: warnings.length }) }));
    parts.push(h("ul", { className: "findings warnings" }, warnings.map(item)));
  }
  return parts;
}

const CHANGE_LABELS = {
  added: t("New clause"),
  removed: t("Clause removed"),
  changed: t("Changed"),
};

/** A version's clauses, as the document prints them. */
export function clausesView(clauses) {
  return h(
    "ol",
    { className: "clauses", lang: "zh-Hans", testid: "clauses" },
    clauses.map((c) =>
      h("li", { className: "clause", "data-key": c.key, testid: `clause-${c.key}` }, h("h4", { text: c.heading }), h("p", { text: c.text })),
    ),
  );
}

/** The changes between two versions (GET /api/agreements/{id}/diff), clause by clause: added
 * text in <ins>, removed text in <del>, each changed clause labelled in words as well. */
export function diffView(diff, { onlyChanged = false } = {}) {
  const shown = onlyChanged ? diff.clauses.filter((c) => c.change !== "same") : diff.clauses;
  if (!shown.length) return h("p", { className: "empty", testid: "no-changes", text: t("No clause changed.") });
  return h(
    "ol",
    { className: "clauses diff", lang: "zh-Hans", testid: "diff-clauses" },
    shown.map((c) => {
      const text = h("p");
      for (const [op, part] of c.ops) {
        if (op === "added") text.append(h("ins", { text: part }));
        else if (op === "removed") text.append(h("del", { text: part }));
        else text.append(part);
      }
      const label = CHANGE_LABELS[c.change];
      return h(
        "li",
        { className: `clause change-${c.change}`, "data-key": c.key, "data-change": c.change, testid: `clause-${c.key}` },
        h("h4", {}, c.heading, label ? h("span", { className: `change-tag ${c.change}`, lang: document.documentElement.lang, text: label }) : null),
        text,
      );
    }),
  );
}

/** The legend under a diff: what the marks mean, in words. */
export function diffLegend(from, to) {
  return h(
    "p",
    { className: "hint diff-legend", testid: "diff-legend" },
    t("Changes from version {from} to version {to}:", { from, to }),
    " ",
    h("ins", { text: t("added text") }),
    " ",
    h("del", { text: t("removed text") }),
  );
}

/** A term of the agreement's role in a party's name: "王某（申请人）". */
export function partyLabel(party) {
  return t("{name} ({role})", { name: party.name, role: ROLE_LABELS[party.role] ?? "" });
}

/** Today in Beijing, "YYYY-MM-DD": the earliest date a term may fall due. */
export function beijingToday() {
  return new Intl.DateTimeFormat("sv-SE", { timeZone: "Asia/Shanghai" }).format(new Date());
}
