"""The strings the agreements' scripts show (static/js/agreement/*.js: the editor, the
signing page and the room's agreement panel), by their English msgids.

Every page of the agreements domain carries them translated (service/pages.py, through the
domain's ``script_strings``), and so does the room page, whose "room" slot holds the panel
(``Domain.page_modules``). Each needs a zh_Hans entry in the catalogue.
"""

from __future__ import annotations

AGREEMENT_SCRIPT_STRINGS: list[str] = [
    "Draft",
    "Out for signing",
    "In effect",
    "Void",
    "Applicant",
    "Respondent",
    "Third party",
    "Mediator",
    "Interp. 360 (content unclear); PML 29",
    "Interp. 357",
    "Rule: {rule}",
    "The check found nothing to fix: the agreement can go out for signing.",
    "To fix before it can be signed ({n})",
    "For you to decide ({n})",
    "New clause",
    "Clause removed",
    "Changed",
    "No clause changed.",
    "Changes from version {from} to version {to}:",
    "added text",
    "removed text",
    "{name} ({role})",
    "Version {n}",
    "Saving…",
    "Nothing changed: the text is still version {n}.",
    "Saved as version {n}, and checked.",
    "Version {n} loaded. Make your change again, then save.",
    "PDF",
    "Main facts of the dispute",
    "Disputed matters",
    "Each party's responsibility",
    "What the dispute is about",
    "Terms",
    "Each term says who owes whom a payment or an act, how, where and by when.",
    "Add a payment",
    "Add an act to perform",
    "Other terms",
    "Add another term",
    "Copies of the agreement",
    "Choose a party",
    "No terms yet.",
    "A payment",
    "An act to perform",
    "Amount (yuan)",
    "What is to be done",
    "Term {n}",
    "Who owes it",
    "To whom",
    "What is owed",
    "How (for example, by bank transfer)",
    "Where (if it matters)",
    "Due by",
    "Remove term {n}",
    "Paid at once. Add instalments to pay it in parts.",
    "The instalments add up to: fill in every amount.",
    "The instalments add up to {sum} yuan, the whole amount.",
    "The instalments add up to {sum} yuan, not {amount}.",
    "Instalment {k}: {what}",
    "due by",
    "amount (yuan)",
    "Remove",
    "Remove instalment {k}",
    "Instalments of term {n}",
    "Add an instalment",
    "Other term {n}",
    "Remove other term {n}",
    "Not saved: correct what is marked.",
    "Agreement",
    "Save a new version",
    "Open the full editor",
    "Check",
    "Not started",
    "Start the agreement",
    (
        "No agreement yet. Start it from the template for this dispute; the parties' details come "
        "from the case."
    ),
    "Template",
    "Version {n} was saved elsewhere. Load it to go on (your unsaved changes here are discarded).",
    "Load version {n}",
    "Send version {n} for signing",
    "the mediator",
    "Out for signing. Still to sign: {names}",
    "Download the sealed agreement (PDF)",
    "Saving now voids the {n} signatures given: everyone signs again. Save again to do so.",
    "Close",
    "An agreement is waiting for your signature.",
    "Read and sign it (opens a new page)",
    "Out for signing.",
    "Download the agreement (PDF)",
    "The mediator is writing this draft with you. It is not yet for signing.",
    "Something went wrong. Please try again.",
    "written by hand",
    "name typed",
    "Version {n} is out for signing.",
    "This agreement was voided.",
    "Signed",
    "Void this agreement",
    "Abandon this agreement",
    (
        "A voided agreement cannot be signed or changed any more; the signatures given on it "
        "lapse. The case may then start another."
    ),
    "Why is it abandoned?",
    (
        "The case is not in mediation: start the mediation on the case page before the agreement "
        "is signed."
    ),
    "Fix what the check lists before sending the agreement for signing.",
    "Save your changes first: only a saved version can be signed.",
    (
        "Not yet out for signing. Once sent, each party reads and signs this version on their own "
        "phone; you sign last."
    ),
    "Still to sign",
    "The mediator, last",
    (
        "The parties sign on their own phones, from their join link or their case page. This list "
        "is brought up to date every few seconds."
    ),
    "Check for new signatures",
    "Every party has signed. The case's mediator signs last, for the committee.",
    "Signature box: write your signature here",
    "How do you sign?",
    "Type my name",
    "Write my signature",
    "Sign for the committee",
    "Your signature",
    (
        "Every party has signed version {n}. Your signature, last, puts the agreement into effect: "
        "it is sealed with the committee's seal and can no longer be changed."
    ),
    "Your full name",
    "Write your signature in the box first.",
    "Type your name first.",
    "Confirm: sign and seal",
    "Cancel",
    "Sign version {n} for the committee? The agreement then takes effect.",
    "Signing and sealing the agreement…",
    "The agreement is in effect.",
    (
        "In effect since {time}. The parties may apply together for judicial confirmation until "
        "{deadline}."
    ),
    "Document fingerprint (SHA-256):",
]
