// The party's signing page (agreements/templates/agreements/sign.html): the sign controls open
// once the reader has reached the end of the text; the signature is written on the pad with
// a finger (or the name typed); a second step confirms; the signature names the version and
// the hash of exactly the text on the page. If the mediator changed the agreement meanwhile
// (409), the page loads the new version and says so.

import { api, ApiError, t } from "../api.js";
import { $ } from "./common.js";
import { SignaturePad } from "./pad.js";

const box = $("sign-box");
const agreementId = box.dataset.agreementId;
const version = Number(box.dataset.version);
const sha256 = box.dataset.sha256;
const fields = $("sign-fields");
const next = $("sign-next");
const error = $("sign-error");
let read = false;

const method = () => document.querySelector('input[name="method"]:checked')?.value ?? "drawn";
const typedName = () => $("typed-name").value.trim();

const pad = new SignaturePad($("pad"), { onChange: () => update(), enabled: () => read });

function update() {
  const ready = method() === "drawn" ? !pad.empty : typedName().length > 0;
  next.disabled = !read || !ready;
}

// Reached the end of the text: the controls open (and stay open).
const end = $("end-of-text");
const opened = () => {
  read = true;
  fields.disabled = false;
  $("read-first").hidden = true;
  box.dataset.read = "true";
  update();
};
new IntersectionObserver((entries, observer) => {
  if (entries.some((e) => e.isIntersecting)) {
    observer.disconnect();
    opened();
  }
}).observe(end);

for (const radio of document.querySelectorAll('input[name="method"]')) {
  radio.addEventListener("change", () => {
    const drawn = method() === "drawn";
    $("draw-box").hidden = !drawn;
    $("typed-box").hidden = drawn;
    (drawn ? $("pad") : $("typed-name")).focus?.();
    update();
  });
}
$("typed-name").addEventListener("input", update);
$("pad-clear").addEventListener("click", () => pad.clear());

next.addEventListener("click", () => {
  error.textContent = "";
  fields.hidden = true;
  $("confirm-box").hidden = false;
  $("confirm-text").focus();
});

$("sign-back").addEventListener("click", () => {
  $("confirm-box").hidden = true;
  fields.hidden = false;
  next.focus();
});

$("sign-confirm").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  error.textContent = "";
  const body = { version, content_sha256: sha256, method: method() };
  if (body.method === "drawn") body.image_png = pad.toBase64();
  else body.typed_name = typedName();
  try {
    await api("POST", `/api/agreements/${agreementId}/signatures`, body);
    // The page, loaded again, shows the signature given and who is still to sign.
    window.location.replace(window.location.pathname);
  } catch (err) {
    button.disabled = false;
    if (err instanceof ApiError && err.status === 409 && (await changed())) return;
    error.textContent = err.message || t("Something went wrong. Please try again.");
    $("confirm-box").hidden = true;
    fields.hidden = false;
  }
});

/** After a 409: whether the text out for signing is no longer the one read; if so, the page
 * loads the new version, saying which one was read. */
async function changed() {
  try {
    const now = await api("GET", `/api/agreements/${agreementId}`);
    if (now.signing_version === version && now.version.content_sha256 === sha256) return false;
  } catch {
    return false;
  }
  window.location.replace(`${window.location.pathname}?changed=${version}`);
  return true;
}
