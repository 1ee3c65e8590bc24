"""How notifications to staff leave by email and SMS: through the relay the email channel sends with
(email_outbound's composing and sending) and the Twilio REST client the SMS channel uses, and the
`NotificationDelivery` of an application built from them.

Notifications are sent at once, not through the customers' email queue: a notice is worth little hours
later, and its row records whether it went.
"""

from __future__ import annotations

from email.utils import make_msgid
from typing import Any

from aiohttp import web
from twilio.base.exceptions import TwilioException, TwilioRestException

from channels import email_outbound
from contact_center.clock import Clock
from contact_center.settings import Settings
from contact_center.tickets.notify_delivery import EmailSender, NotificationDelivery, NotSent, SmsSender
from contact_center.web.appkeys import CLOCK, EVENTS, SESSIONS, SETTINGS, TWILIO


def email_sender(settings: Settings, clock: Clock) -> EmailSender | None:
    """Sends a plain-text email from our address through the relay; None when no relay is configured."""
    if not settings.email_sending_enabled:
        return None

    async def send(to: str, subject: str, body: str) -> None:
        message = email_outbound.compose(
            settings,
            make_msgid(domain=settings.message_id_domain),
            to=to,
            subject=subject,
            body=body,
            now=clock.now(),
            automatic=True,
        )
        message.replace_header("Auto-Submitted", "auto-generated")  # RFC 3834: a notice, not a reply
        error, permanent = await email_outbound._send(
            settings, settings.email_address, to, message.as_string()
        )
        if error is not None:
            raise NotSent(f"the relay did not take the email: {error}", permanent=permanent)

    return send


def sms_sender(settings: Settings, client: Any) -> SmsSender | None:
    """Sends an SMS from our Twilio number with the channels' REST client; None without Twilio."""
    if client is None or not settings.twilio_phone_number:
        return None

    async def send(to: str, text: str) -> None:
        try:
            await client.messages.create_async(to=to, from_=settings.twilio_phone_number, body=text)
        except TwilioRestException as exc:  # Twilio answered: busy or failing (429, 5xx) passes
            passing = exc.status == 429 or exc.status >= 500
            raise NotSent(f"Twilio refused the message: {exc}", permanent=not passing) from None
        except TwilioException as exc:
            raise NotSent(f"Twilio could not be reached: {exc}", permanent=False) from None

    return send


def delivery_for(app: web.Application) -> NotificationDelivery:
    """The application's notification delivery (call once it has started: it uses the Twilio client)."""
    settings, clock = app[SETTINGS], app[CLOCK]
    return NotificationDelivery(
        app[SESSIONS],
        app[EVENTS],
        clock,
        email=email_sender(settings, clock),
        sms=sms_sender(settings, app.get(TWILIO)),
    )
