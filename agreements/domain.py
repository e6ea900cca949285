"""The agreements domain as the app sees it: its routes, pages, tables and hooks."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from agreements import router as api
from agreements.pages import case_section, pages_router, party_landing
from agreements.strings import AGREEMENT_SCRIPT_STRINGS
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


# The JSON API and the pages, mounted as one router.
router = APIRouter()
router.include_router(api.router)
router.include_router(pages_router)


def domain() -> Domain:
    return Domain(
        name="agreements",
        router=router,
        templates=Path(__file__).resolve().parent / "templates",
        models=("agreements.models",),
        action_labels=ACTION_LABELS,
        script_strings=tuple(AGREEMENT_SCRIPT_STRINGS),
        case_sections=(case_section,),
        party_landing=party_landing,
        # The agreement panel beside the video in the room page (rooms/ reads only this list).
        page_modules={"room": ("/static/js/agreement/panel.js",)},
    )
