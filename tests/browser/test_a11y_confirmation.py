"""The confirmation pages pass axe-core's WCAG 2 A and AA rules, in both languages, on a phone
and a laptop, in the states people meet them in (the checks of tests/browser/test_a11y.py,
whose walk through the other pages this continues):

the section on a party's case page (the application awaiting their consent, in the court's
queue, the ruling), the court's queue (an application to accept, one claimed), the
application page of the judge holding it (with the decision form, a rejection without a
ground refused, the ruling), and the session panel beside the video (the judge's checklist
and record, a party's confirmed record). The walk is tests/browser/test_confirmation.py's.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Contexts, LiveServer, MakeStaff
from tests.browser.test_a11y import (  # noqa: F401 (the module's fixtures)
    TAGS,
    VIEWPORTS,
    Audit,
    axe_source,
    axe_version,
)
from tests.browser.test_confirmation import walk

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
async def test_the_confirmation_pages_pass_axe(
    live_server: LiveServer,
    new_context: Contexts,
    make_mediator: MakeStaff,
    axe_source: str,  # noqa: F811
    axe_version: str,  # noqa: F811
    language: str,
) -> None:
    audit = Audit(axe_source, language)
    options: dict[str, Any] = {"viewport": VIEWPORTS["phone"], "bypass_csp": True}
    await walk(live_server, new_context, make_mediator, audit, **options)
    if audit.found:
        pytest.fail(
            f"axe-core {axe_version} ({', '.join(TAGS)}), language {language}:"
            f" {audit.count} violating elements in {len(audit.found)} findings over"
            f" {len(audit.checked)} page states\n\n" + "\n\n".join(audit.found),
            pytrace=False,
        )
