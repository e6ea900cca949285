"""The confirmation domain as the app sees it: its routes, pages, tables and hooks."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from confirmation import ecf, notices, tokens
from confirmation import router as api
from confirmation import service as confirmation_service
from confirmation.hosts import court_reader
from confirmation.pages import case_section, pages_router, party_landing
from confirmation.strings import CONFIRMATION_SCRIPT_STRINGS
from service.domain import Domain
from service.i18n import N_

ACTION_LABELS = {
    "confirmation.applied": N_("Applied for judicial confirmation"),
    "confirmation.consented": N_("Party joined the application for confirmation"),
    "confirmation.claimed": N_("Judge claimed the application"),
    "confirmation.queued": N_("Application in the court's queue"),
    "confirmation.accepted": N_("Application accepted by the court"),
    "confirmation.supplement_requested": N_("Court asked for a supplement"),
    "confirmation.confirmed": N_("Agreement confirmed by the court"),
    "confirmation.rejected": N_("Application for confirmation rejected"),
    "confirmation.not_accepted": N_("Court did not accept the application"),
    "confirmation.withdrawn": N_("Application for confirmation withdrawn"),
    "confirmation.awaiting_consent": N_("Awaiting the parties' consent"),
    "confirmation.session_opened": N_("Judge opened the joint session"),
    "confirmation.record_saved": N_("Judge wrote the session record"),
    "confirmation.record_confirmed": N_("Party confirmed the session record"),
    "confirmation.ruling_received": N_("Party received the ruling"),
}

# The JSON API, the court systems' queue API and the pages, mounted as one router.
router = APIRouter()
router.include_router(api.router)
router.include_router(ecf.router)
router.include_router(pages_router)


def domain() -> Domain:
    return Domain(
        name="confirmation",
        router=router,
        templates=Path(__file__).resolve().parent / "templates",
        models=("confirmation.models",),
        action_labels={**ACTION_LABELS, **tokens.ACTION_LABELS},
        commands=tokens.add_commands,
        # Judges of a court that accepted the case's application read its record.
        case_readers=(court_reader,),
        # A live application fixes the case's venue (its court was chosen from it).
        venue_guards=(confirmation_service.venue_fixed,),
        script_strings=tuple(CONFIRMATION_SCRIPT_STRINGS),
        case_sections=(case_section, notices.notices_section),
        party_landing=party_landing,
        # The session's checklist and record beside the video, in the room page.
        page_modules={"room": ("/static/js/confirmation/panel.js",)},
    )
