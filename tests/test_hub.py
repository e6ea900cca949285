"""The publish/subscribe hub: delivery to the topic's subscribers only, one failing
subscriber breaking no other, unsubscribing, and the limits a LISTEN/NOTIFY backend has."""

from __future__ import annotations

import logging

import pytest

from service.hub import MAX_PAYLOAD, Hub


async def test_subscribers_of_the_topic_get_the_message() -> None:
    hub = Hub()
    got: list[tuple[str, dict[str, object]]] = []

    async def first(message: dict[str, object]) -> None:
        got.append(("first", message))

    async def other(message: dict[str, object]) -> None:
        got.append(("other", message))

    hub.subscribe("agreement_version", first)
    hub.subscribe("something_else", other)
    await hub.publish("agreement_version", {"case_id": 1, "version": 2})
    await hub.drain()
    assert got == [("first", {"case_id": 1, "version": 2})]


async def test_a_failing_subscriber_is_logged_and_breaks_no_other(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = Hub()
    got: list[dict[str, object]] = []

    async def broken(message: dict[str, object]) -> None:
        raise RuntimeError("subscriber bug")

    async def fine(message: dict[str, object]) -> None:
        got.append(message)

    hub.subscribe("news", broken)
    hub.subscribe("news", fine)
    with caplog.at_level(logging.ERROR, logger="mediation.hub"):
        await hub.publish("news", {"n": 1})
        await hub.drain()
    assert got == [{"n": 1}]
    assert any("subscriber failed" in r.message and r.exc_info for r in caplog.records)


async def test_unsubscribed_hears_nothing() -> None:
    hub = Hub()
    got: list[dict[str, object]] = []

    async def handler(message: dict[str, object]) -> None:
        got.append(message)

    unsubscribe = hub.subscribe("news", handler)
    unsubscribe()
    unsubscribe()  # (twice is harmless)
    await hub.publish("news", {"n": 1})
    await hub.drain()
    assert got == []


async def test_messages_fit_a_notify_payload_and_topics_are_channel_names() -> None:
    hub = Hub()
    with pytest.raises(ValueError, match="too long"):
        await hub.publish("news", {"text": "x" * MAX_PAYLOAD})
    with pytest.raises(ValueError, match="topic"):
        hub.subscribe("Bad Topic!", lambda m: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError):
        await hub.publish("news", {"row": object()})  # plain JSON values only
