"""A scheduled meeting as an iCalendar (.ics) file, for a party's or a mediator's calendar.

A pure function of the room's facts. The entry names the case by its number only (calendars
are synced to other people's servers; the number is what the parties' papers carry) and
links to the person's own case page, which they open with their own session: no join link,
no token. Its UID is the room's, so a moved time updates the same entry (SEQUENCE counts
the times it was set). The start carries TZID Asia/Shanghai with its VTIMEZONE, so every
calendar shows Beijing time as such.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from icalendar import Calendar, Event

from service.cases import CHINA
from service.i18n import gettext

# The calendar entry's length: a guess that keeps the slot visible, not a limit.
LENGTH = timedelta(hours=1)
PRODID = "-//Online mediation//Video rooms//ZH"


def meeting_ics(
    *,
    room_id: int,
    case_number: str,
    starts: datetime,
    sequence: int,
    page_url: str,
    public_url: str,
    stamp: datetime,
    language: str,
) -> bytes:
    """The .ics of one meeting. ``page_url``: the person's case page (no credential);
    ``public_url`` names this service in the UID; ``stamp``: when the file was made."""
    local = starts.astimezone(CHINA)
    event = Event()
    event.add("uid", f"room-{room_id}@{urlsplit(public_url).netloc or 'mediation'}")
    event.add("dtstamp", stamp)
    event.add("sequence", sequence)
    event.add("dtstart", local)
    event.add("dtend", local + LENGTH)
    event.add(
        "summary", gettext(language, "Video mediation meeting, case {number}", number=case_number)
    )
    event.add(
        "description",
        gettext(
            language,
            "Case {number}. A few minutes before the start, open your case page ({url}) and"
            " check your camera and microphone; have your ID card at hand.",
            number=case_number,
            url=page_url,
        ),
    )
    event.add("url", page_url)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    # The zone's rules around the meeting only: a short VTIMEZONE, still exact for it.
    calendar.add_missing_timezones(
        first_date=(local - timedelta(days=366)).date(),
        last_date=(local + timedelta(days=366)).date(),
    )
    return calendar.to_ical()
