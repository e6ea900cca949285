"""The confirmation pages' labels (the statutory grounds, the outcomes, who must act) and the
strings the pages' scripts show (static/js/confirmation/*.js), by their English msgids.

Every page of the confirmation domain carries the script strings translated (service/pages.py,
through the domain's ``script_strings``). Each needs a zh_Hans entry in the catalogue.
"""

from __future__ import annotations

from confirmation.models import Ground, Outcome
from service.i18n import N_

# Interp. 360's grounds, as the decision form offers them (the ruling prints its own Chinese).
GROUND_LABELS = {
    Ground.violates_mandatory_law: N_("It violates a mandatory provision of law"),
    Ground.harms_public_or_third_party: N_(
        "It harms the interests of the state or the public, or the lawful rights of others"
    ),
    Ground.violates_public_order: N_("It is contrary to public order and good morals"),
    Ground.not_voluntary: N_("It was not reached voluntarily"),
    Ground.content_unclear: N_("Its content is unclear"),
    Ground.other: N_("Another reason it cannot be confirmed"),
}

OUTCOME_LABELS = {
    Outcome.confirmed: N_("Confirm: the agreement is valid and enforceable"),
    Outcome.rejected: N_("Reject the application"),
    Outcome.supplement_requested: N_("Ask the parties for a supplement"),
}

WHO_LABELS = {
    "parties": N_("The parties"),
    "court": N_("The court"),
    "judge": N_("The judge"),
}

CONFIRMATION_SCRIPT_STRINGS: list[str] = [
    "Overdue",
    "{days} d {hours} h left",
    "{hours} h {minutes} min left",
    "{days} d {hours} h overdue",
    "{hours} h {minutes} min overdue",
    "Choose a court.",
    "Give the reason for refusing the application.",
    "Choose at least one ground for the rejection.",
    "Give the reason for the rejection.",
    "Choose the date by which the supplement is due.",
    "Choose the decision.",
    "Say what the parties must supplement.",
    "Write what you hand in.",
    "Saved.",
    "Confirmation session",
    "The checklist and the record",
    "Record (询问笔录)",
    "Save the record",
    "The record as the judge wrote it",
    "Confirm the record",
    "The record",
    "You confirmed the record as it stands.",
    "The record changed since you confirmed it: read it again and confirm.",
    "Confirmed the record",
    "Has not confirmed the record yet",
    "The judge has not written the record yet.",
    "Open the application",
    "Applicant",
    "Respondent",
    "Third party",
    "Something went wrong. Please try again.",
]
