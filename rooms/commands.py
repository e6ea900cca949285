"""What people in a meeting ask of it: the host's commands (admit, remove, caucus, mute
someone, the identity check and the sham-mediation warning) and everyone's (mute oneself,
audio only, chat, a party's consent). Each runs inside the operation of the message that
carried it (LiveRoom.handle), with that operation's journal; who may send which is checked
before (signaling.HOST_ONLY, PARTY_ONLY).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rooms import forwarding, negotiation, signaling
from rooms.journal import Journal
from rooms.models import ConsentKind
from rooms.participant import Consents, Participant, Stage, move
from service.i18n import N_

if TYPE_CHECKING:
    from rooms.live import LiveRoom


async def mute(room: LiveRoom, journal: Journal, p: Participant, m: signaling.Mute) -> None:
    target = p
    if m.participant_id is not None and m.participant_id != p.id:
        if not p.identity.is_host:
            raise signaling.BadMessage(N_("Only the host of this meeting may do this."))
        target = room.participant(m.participant_id)
        if m.audio is not None:
            target.host_muted = m.audio
        await room.send(target, "notice", code="muted_by_host", text="")
    else:
        if m.audio is not None:
            p.audio_muted = m.audio
            if not m.audio:
                p.host_muted = False  # unmuting yourself is always allowed
        if m.video is not None:
            p.video_muted = m.video
    forwarding.apply_policy(room)
    data = {"audio": m.audio, "video": m.video}
    room.event(journal, "mute", participant=target.id, actor=p.id, data=data)
    await room.roster()


def receive(room: LiveRoom, journal: Journal, p: Participant, m: signaling.Receive) -> None:
    """A weak connection asks for sound only (or for video again)."""
    p.receive_video = m.video
    forwarding.apply_policy(room)
    room.event(journal, "receive", participant=p.id, data={"video": m.video})


async def chat(room: LiveRoom, p: Participant, m: signaling.Chat) -> None:
    at = datetime.now(UTC).isoformat()
    fields = {"from": p.id, "name": p.identity.name, "text": m.text, "at": at}
    for other in room.participants.values():
        # Chat follows the same walls as media: nothing crosses a caucus, or the lobby.
        same_side = not room.caucus or ((other.id in room.caucus) == (p.id in room.caucus))
        if other.stage == Stage.admitted and same_side:
            await room.send(other, "chat", **fields)


def consent(room: LiveRoom, journal: Journal, p: Participant, m: signaling.Consent) -> None:
    """A party's answers (online mediation, recording) go to the ledger together, or neither
    does; the host's list shows them once they are recorded, and recording may start on
    them only then."""
    answers = Consents(online=m.online, recording=m.recording)
    earlier = p.consents
    party_id = p.identity.party_id
    if earlier is None or earlier["online"] != m.online:
        kind = ConsentKind.online_mediation
        room.ledger(journal, kind, given=m.online, party_id=party_id, by=p.identity)
    if earlier is None or earlier["recording"] != m.recording:
        kind = ConsentKind.recording
        room.ledger(journal, kind, given=m.recording, party_id=party_id, by=p.identity)

    def recorded() -> None:
        p.consents = answers
        room.tasks.spawn(room.then(room.roster), participant=p.id)

    journal.on_commit(recorded)


# Admitting and removing are recorded first and done once the record holds (after the
# message's commit, in an operation of their own): neither can be taken back (the person has
# seen the meeting, or has been told to go), and the record is what bars a removed person,
# or stops barring them, in a live room made again later (LiveRoom.load).


def admit(room: LiveRoom, journal: Journal, p: Participant, m: signaling.Admit) -> None:
    target = room.participant(m.participant_id)
    if target.admitted:
        return
    room.event(journal, "admit", participant=target.id, actor=p.id)

    def recorded() -> None:
        room.barred.discard(target.id)  # the host's admission lifts a removal
        room.tasks.spawn(room.then(lambda: _let_in(room, target)), participant=target.id)

    journal.on_commit(recorded)


async def _let_in(room: LiveRoom, target: Participant) -> None:
    if room.participants.get(target.id) is not target or target.admitted:
        return  # gone meanwhile, or in already
    if target.stage == Stage.lobby_away:
        move(target, Stage.admitted_away)  # in, once their connection is back
    else:
        move(target, Stage.admitted)
        await negotiation.start_media(room, target)
        if room.recording:
            await room.send(target, "recording", on=True)
    await room.roster()


def remove(room: LiveRoom, journal: Journal, p: Participant, m: signaling.Remove) -> None:
    target = room.participant(m.participant_id)
    if target.identity.is_host:
        raise signaling.BadMessage(N_("The host cannot be removed."))
    room.event(journal, "remove", participant=target.id, actor=p.id)

    def recorded() -> None:
        room.barred.add(target.id)  # until the host admits them again
        room.tasks.spawn(_put_out(room, target), participant=target.id)

    journal.on_commit(recorded)


async def _put_out(room: LiveRoom, target: Participant) -> None:
    async with room.operation() as journal:
        if room.closed or room.participants.get(target.id) is not target:
            return  # left meanwhile: the bar holds all the same
        await room.remove(journal, target, Stage.removed)
        forwarding.apply_policy(room)
        await room.roster()


async def caucus(room: LiveRoom, journal: Journal, p: Participant, m: signaling.Caucus) -> None:
    """Back-to-back mediation: media and chat flow only within the caucus and only outside
    it (``with`` empty: the caucus ends)."""
    chosen = set(m.with_)
    for pid in chosen:
        if not room.participant(pid).admitted:
            raise signaling.BadMessage(N_("Only people in the meeting can join a caucus."))
    room.caucus = frozenset(chosen | {p.id}) if chosen else frozenset()
    forwarding.apply_policy(room)
    room.event(journal, "caucus", actor=p.id, data={"with": sorted(chosen)})
    await room.broadcast("caucus", **{"with": sorted(room.caucus)})
    await room.roster()


def identity(room: LiveRoom, journal: Journal, p: Participant, m: signaling.Identity) -> None:
    """The host compared a party's ID document on camera: a ledger entry."""
    target = room.participant(m.participant_id)
    if target.identity.party_id is None:
        raise signaling.BadMessage(N_("Identity checks are for the parties."))
    party_id = target.identity.party_id
    kind = ConsentKind.identity_verified
    room.ledger(journal, kind, given=m.verified, party_id=party_id, by=p.identity)

    def recorded() -> None:
        target.identity_checked = m.verified
        room.tasks.spawn(room.then(room.roster), participant=target.id)

    journal.on_commit(recorded)


def warning(room: LiveRoom, journal: Journal, p: Participant) -> None:
    """The host read the warning about sham mediation: a ledger entry, then everyone sees
    that it was read (the parties get its text to read along)."""
    room.ledger(journal, ConsentKind.sham_warning, given=True, party_id=None, by=p.identity)

    async def tell() -> None:
        await room.broadcast("notice", code="sham_warning_read", text="")

    journal.on_commit(lambda: room.tasks.spawn(room.then(tell), participant=p.id))
