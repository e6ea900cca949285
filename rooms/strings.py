"""The strings the room page's scripts (static/js/room.js and static/js/room/*.js) show, by their
English msgids.

The room page's route passes these to ``render(..., script_strings=ROOM_SCRIPT_STRINGS)`` so
they arrive translated in the page; each needs a zh_Hans entry in the catalogue.
"""

from __future__ import annotations

ROOM_SCRIPT_STRINGS: list[str] = [
    "Mediator",
    "Judge",
    "Applicant",
    "Respondent",
    "Third party",
    "Connection: good",
    "Connection: fair",
    "Connection: poor",
    "Connection: checking…",
    "The host has removed you from the meeting.",
    "The service is restarting. Please join again in a minute.",
    "The camera could not be started: you can still join with sound only.",
    "The microphone could not be started: the others will not hear you.",
    "Camera and microphone are blocked. Allow them in the browser settings, then tap “Try again”.",
    "No camera or microphone was found on this device.",
    "The camera or microphone is being used by another app. Close that app, then tap “Try again”.",
    "The camera and microphone could not be started. You can still join to watch and listen.",
    "Camera {n}",
    "Microphone {n}",
    "Could not switch the camera.",
    "You joined this meeting from another page or device.",
    "You cannot join this meeting.",
    "A new version of the agreement is ready to read (version {version}).",
    "Something went wrong. Please try again.",
    "The host has turned off your microphone.",
    "The mediator has read the warning about sham mediation.",
    (
        "Recording of {name} stopped because of a server error. Turn recording off and on"
        " again to restart it."
    ),
    "The connection had a problem. Reconnecting…",
    "Microphone off",
    "In private talk",
    "Reconnecting…",
    "{name} is waiting to join.",
    "{what}: agreed",
    "{what}: refused",
    "{what}: not answered yet",
    "Camera off",
    "Me",
    "Online mediation",
    "Recording",
    "ID document checked",
    "ID document checked on camera",
    "Recorded: {name}'s identity was checked.",
    "Private talk",
    "Mute",
    "Remove",
    "Let in",
    "The private talk has ended. Everyone can hear and see each other again.",
    "Private talk with: {names}",
    "Marked as read at {time}.",
    "Recording has started.",
    "Recording has stopped.",
    "Not sent: you are not connected right now.",
    "The meeting has ended",
    "You have left the meeting.",
]
