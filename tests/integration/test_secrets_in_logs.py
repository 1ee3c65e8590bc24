"""Secrets never reach the logs: the whole application logging at DEBUG through sign-ins (right and wrong),
an API token issued and used, a signed and a forged Twilio webhook, with logging set up as `contact-center
serve` sets it at CC_LOG_LEVEL=DEBUG; then no password, token, signing key or Twilio credential is in any
line."""

from __future__ import annotations

import logging

from contact_center.cli.common import configure_logging
from contact_center.web.appkeys import SETTINGS
from tests.conftest import bearer
from tests.integration.test_sms import inbound
from tests.twilio_standin import AUTH_TOKEN, OUR_NUMBER


async def test_no_secret_is_logged(twilio_client, staff, caplog):
    settings = twilio_client.app[SETTINGS]
    signing_key = settings.secret_key.get_secret_value()
    caplog.set_level(logging.DEBUG)
    configure_logging(
        settings.model_copy(update={"log_level": "DEBUG"})
    )  # as `serve` does, at its most verbose
    wrong = await twilio_client.post(
        "/api/auth/login", json={"username": "agent", "password": "Wrong-Secret-1"}
    )
    assert wrong.status == 401
    right = await twilio_client.post(
        "/api/auth/login", json={"username": "agent", "password": staff["agent"]["password"]}
    )
    assert right.status == 200
    csrf = (await right.json())["csrf_token"]
    issued = await twilio_client.post(
        "/api/auth/tokens", json={"name": "log test"}, headers={"X-CSRF-Token": csrf}
    )
    secret_token = (await issued.json())["token"]
    twilio_client.session.cookie_jar.clear()
    assert (await twilio_client.get("/api/auth/me", headers=bearer(secret_token))).status == 200
    await inbound(twilio_client, "SM777", "Hello, my card number is on file")
    forged = await twilio_client.post(
        "/twilio/sms",
        data={"From": "+14155550123", "To": OUR_NUMBER, "Body": "x"},
        headers={"X-Twilio-Signature": "forged"},
    )
    assert forged.status == 403
    logged = "\n".join(
        record.getMessage() + " " + str(record.__dict__.get("args")) for record in caplog.records
    )
    logged += "\n".join(caplog.text.splitlines())
    assert caplog.records, "the run logged nothing at all: the search below would prove nothing"
    for secret in (
        "Wrong-Secret-1",
        staff["agent"]["password"],
        secret_token,
        csrf,
        AUTH_TOKEN,
        signing_key,
        staff["admin"]["token"],
    ):
        assert secret not in logged, f"a secret was logged: {secret[:4]}..."
