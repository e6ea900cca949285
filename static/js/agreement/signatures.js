// The editor page's signing part: sending the latest version for signing, the signatures
// given and who is still awaited, the mediator's own signature (typed or written on the pad)
// once every party has signed, and the agreement in effect with its sealed document.

import { api, t } from "../api.js";
import { h, localTime, ROLE_LABELS } from "./common.js";
import { SignaturePad } from "./pad.js";

const METHOD_LABELS = { drawn: t("written by hand"), typed: t("name typed") };

/**
 * box: the element to draw in; ctx: {agreement, mediating, signs, mediatorName, dirty(),
 * hasErrors(), update(agreement), busy(text)}.
 */
export function renderSigning(box, ctx) {
  const a = ctx.agreement;
  const parts = [];
  if (a.status === "draft") parts.push(...sendPart(ctx));
  if (a.status === "signing") {
    parts.push(h("p", { testid: "signing-state", text: t("Version {n} is out for signing.", { n: a.signing_version }) }));
  }
  if (a.status === "effective") parts.push(...effectivePart(a));
  if (a.status === "void") parts.push(h("p", { testid: "signing-state", text: t("This agreement was voided.") }));
  if (a.signatures.length) {
    parts.push(
      h("h3", { text: t("Signed") }),
      h(
        "ul",
        { className: "signatures", testid: "signatures" },
        a.signatures.map((s) =>
          h("li", { testid: `signature-${s.party_id ?? "mediator"}` }, h("strong", { text: s.signer_name }), ` · ${localTime(s.signed_at)} · ${METHOD_LABELS[s.method] ?? ""}`),
        ),
      ),
    );
  }
  if (a.status === "signing") parts.push(...awaitingPart(ctx));
  if (a.status === "draft" || a.status === "signing") parts.push(voidPart(ctx));
  box.replaceChildren(...parts);
}

/** Abandoning the agreement, with the reason (the case may then start another). */
function voidPart(ctx) {
  const reason = h("input", { id: "void-reason", maxlength: 500, testid: "void-reason" });
  const button = h("button", { type: "button", className: "danger", testid: "void-agreement", text: t("Void this agreement") });
  button.addEventListener("click", async () => {
    if (!reason.value.trim()) {
      reason.setAttribute("aria-invalid", "true");
      reason.focus();
      return;
    }
    button.disabled = true;
    try {
      await api("POST", `/api/agreements/${ctx.agreement.id}/void`, { reason: reason.value.trim() });
      window.location.reload(); // the page offers to start another
    } catch (err) {
      ctx.error(err.message);
      button.disabled = false;
    }
  });
  return h(
    "details",
    { className: "void-box" },
    h("summary", { text: t("Abandon this agreement") }),
    h("p", { className: "hint", text: t("A voided agreement cannot be signed or changed any more; the signatures given on it lapse. The case may then start another.") }),
    h("label", {}, t("Why is it abandoned?"), reason),
    button,
  );
}

function sendPart(ctx) {
  const a = ctx.agreement;
  const notes = [];
  if (!ctx.mediating) notes.push(t("The case is not in mediation: start the mediation on the case page before the agreement is signed."));
  if (ctx.hasErrors()) notes.push(t("Fix what the check lists before sending the agreement for signing."));
  if (ctx.dirty()) notes.push(t("Save your changes first: only a saved version can be signed."));
  const button = h("button", {
    type: "button",
    className: "primary",
    testid: "send-for-signing",
    disabled: notes.length > 0,
    text: t("Send version {n} for signing", { n: a.latest_version }),
    onclick: async () => {
      button.disabled = true;
      try {
        ctx.update(await api("POST", `/api/agreements/${a.id}/send-for-signing`));
      } catch (err) {
        ctx.error(err.message);
        button.disabled = false;
      }
    },
  });
  return [
    h("p", { testid: "signing-state", text: t("Not yet out for signing. Once sent, each party reads and signs this version on their own phone; you sign last.") }),
    ...notes.map((n) => h("p", { className: "hint", text: n })),
    h("div", { className: "actions" }, button),
  ];
}

function awaitingPart(ctx) {
  const a = ctx.agreement;
  const parties = a.awaiting.filter((w) => w.party_id !== null);
  const out = [
    h("h3", { text: t("Still to sign") }),
    h(
      "ul",
      { className: "awaiting", testid: "awaiting" },
      a.awaiting.map((w) =>
        h("li", { testid: `awaiting-${w.party_id ?? "mediator"}`, text: w.party_id === null ? t("The mediator, last") : t("{name} ({role})", { name: w.name, role: ROLE_LABELS[w.role] ?? "" }) }),
      ),
    ),
  ];
  if (parties.length) {
    out.push(
      h("p", { className: "hint", text: t("The parties sign on their own phones, from their join link or their case page. This list is brought up to date every few seconds.") }),
      h("button", { type: "button", testid: "refresh-signatures", text: t("Check for new signatures"), onclick: () => ctx.refresh() }),
    );
  } else if (ctx.signs) {
    out.push(mediatorSign(ctx));
  } else {
    out.push(h("p", { className: "hint", text: t("Every party has signed. The case's mediator signs last, for the committee.") }));
  }
  return out;
}

function mediatorSign(ctx) {
  const a = ctx.agreement;
  const name = h("input", { id: "mediator-typed", maxlength: 100, autocomplete: "name", testid: "mediator-typed-name" });
  name.value = ctx.mediatorName;
  const canvas = h("canvas", { className: "pad", testid: "mediator-pad", role: "img", "aria-label": t("Signature box: write your signature here") });
  const drawBox = h("div", { className: "pad-box", hidden: true }, canvas);
  const method = h(
    "fieldset",
    { className: "sign-method" },
    h("legend", { text: t("How do you sign?") }),
    ...[
      ["typed", t("Type my name")],
      ["drawn", t("Write my signature")],
    ].map(([value, label]) =>
      h("label", { className: "choice" }, h("input", { type: "radio", name: "mediator-method", value, checked: value === "typed", testid: `mediator-method-${value}` }), h("span", { text: label })),
    ),
  );
  const confirmBox = h("div", { className: "confirm-box", hidden: true, testid: "mediator-confirm-box" });
  const chosen = () => method.querySelector("input:checked").value;
  const next = h("button", { type: "button", className: "primary", testid: "mediator-sign", text: t("Sign for the committee") });
  const box = h("div", { className: "mediator-sign", testid: "mediator-sign-box" }, h("h3", { text: t("Your signature") }), h("p", { text: t("Every party has signed version {n}. Your signature, last, puts the agreement into effect: it is sealed with the committee's seal and can no longer be changed.", { n: a.signing_version }) }), method, h("label", { className: "typed-box" }, t("Your full name"), name), drawBox, next, confirmBox);
  let pad = null;
  method.addEventListener("change", () => {
    const drawn = chosen() === "drawn";
    drawBox.hidden = !drawn;
    name.closest("label").hidden = drawn;
    if (drawn && !pad) pad = new SignaturePad(canvas);
  });
  next.addEventListener("click", () => {
    const drawn = chosen() === "drawn";
    if (drawn ? !pad || pad.empty : !name.value.trim()) {
      ctx.error(drawn ? t("Write your signature in the box first.") : t("Type your name first."));
      return;
    }
    ctx.error("");
    next.hidden = true;
    const confirm = h("button", { type: "button", className: "primary", testid: "mediator-sign-confirm", text: t("Confirm: sign and seal") });
    const cancel = h("button", { type: "button", text: t("Cancel") });
    confirmBox.replaceChildren(h("p", { tabindex: -1, text: t("Sign version {n} for the committee? The agreement then takes effect.", { n: a.signing_version }) }), h("div", { className: "actions" }, confirm, cancel));
    confirmBox.hidden = false;
    confirmBox.querySelector("p").focus();
    cancel.addEventListener("click", () => {
      confirmBox.hidden = true;
      next.hidden = false;
      next.focus();
    });
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      cancel.disabled = true;
      const body = { version: a.signing_version, content_sha256: a.version.content_sha256, method: chosen() };
      if (body.method === "drawn") body.image_png = pad.toBase64();
      else body.typed_name = name.value.trim();
      ctx.busy(t("Signing and sealing the agreement…"));
      try {
        ctx.update(await api("POST", `/api/agreements/${a.id}/signatures`, body));
        ctx.busy(t("The agreement is in effect."));
      } catch (err) {
        ctx.busy("");
        ctx.error(err.message);
        ctx.refresh();
      }
    });
  });
  return box;
}

function effectivePart(a) {
  return [
    h("p", { className: "notice-box ok", testid: "signing-state", text: t("In effect since {time}. The parties may apply together for judicial confirmation until {deadline}.", { time: localTime(a.effective_at), deadline: localTime(a.confirmation_deadline) }) }),
    h("p", {}, h("a", { className: "button primary", href: `/api/agreements/${a.id}/pdf`, download: "", testid: "effective-pdf", text: t("Download the sealed agreement (PDF)") })),
    h("p", { className: "hint" }, t("Document fingerprint (SHA-256):"), " ", h("code", { className: "hash", testid: "document-sha256", text: a.document_sha256 ?? "" })),
  ];
}
