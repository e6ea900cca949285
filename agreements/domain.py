"""The agreements domain as the app sees it: its routes, pages, tables and hooks."""

from __future__ import annotations

from pathlib import Path

from agreements.router import router
from service.domain import Domain
from service.i18n import N_

ACTION_LABELS = {
    "agreement.created": N_("Agreement started"),
    "agreement.version_saved": N_("Agreement version saved"),
    "agreement.signing": N_("Agreement sent for signing"),
    "agreement.draft": N_("Agreement edited during signing: signatures voided"),
    "agreement.signed": N_("Agreement signed"),
    "agreement.effective": N_("Agreement in effect, sealed"),
    "agreement.void": N_("Agreement voided"),
}


def domain() -> Domain:
    return Domain(
        name="agreements",
        router=router,
        templates=Path(__file__).resolve().parent / "templates",
        models=("agreements.models",),
        action_labels=ACTION_LABELS,
    )
