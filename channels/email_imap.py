"""Polling IMAP mailboxes (aioimaplib) for inbound email, with IDLE where the server offers it.

Each unseen message is fetched without marking it (BODY.PEEK[]) and handed to `email_inbound.receive`.
It is marked \\Seen only once stored (or refused for good, e.g. no sender: it would never become storable);
after a storage failure it stays unseen and is fetched again on the next round, where intake's
idempotency on the Message-ID makes a repeat harmless. Attachments over the limits cannot be refused here,
so they are recorded as refused on the stored message.
"""

from __future__ import annotations

import asyncio
import logging

import aioimaplib
from aiohttp import web

from channels.email_inbound import receive
from contact_center.settings import ImapMailbox

log = logging.getLogger(__name__)

IDLE_SECONDS = 25 * 60  # servers drop IDLE after 30 minutes (RFC 2177)


async def connect(mailbox: ImapMailbox) -> aioimaplib.IMAP4:
    """A logged-in client with the mailbox's folder selected."""
    kind = aioimaplib.IMAP4_SSL if mailbox.ssl else aioimaplib.IMAP4
    client = kind(host=mailbox.host, port=mailbox.port, timeout=30)
    await client.wait_hello_from_server()
    response = await client.login(mailbox.user, mailbox.password.get_secret_value())
    if response.result != "OK":
        raise ConnectionError(f"IMAP login to {mailbox.host} as {mailbox.user} refused")
    response = await client.select(mailbox.folder)
    if response.result != "OK":
        raise ConnectionError(f"IMAP folder {mailbox.folder!r} cannot be selected")
    return client


async def poll_once(
    app: web.Application, client: aioimaplib.IMAP4, source: str, criteria: str = "UNSEEN"
) -> int:
    """Fetch and store every unseen message; returns how many were marked seen."""
    response = await client.uid_search(criteria)
    if response.result != "OK":
        raise ConnectionError(f"IMAP search failed: {response.lines}")
    uids = [uid for line in response.lines[:1] for uid in bytes(line).decode().split() if uid.isdigit()]
    done = 0
    for uid in uids:
        fetched = await client.uid("fetch", uid, "(BODY.PEEK[])")
        literals = [bytes(line) for line in fetched.lines if isinstance(line, bytearray)]
        if fetched.result != "OK" or not literals:
            log.warning("IMAP message %s of %s could not be fetched", uid, source)
            continue
        outcome = await receive(app, literals[0], strict=False, source=source)
        if 400 <= outcome.code < 500:
            log.warning("IMAP message %s of %s not stored (%s); will try again", uid, source, outcome.reply)
            continue
        if outcome.code >= 500:
            log.warning("IMAP message %s of %s refused for good: %s", uid, source, outcome.reply)
        await client.uid("store", uid, "+FLAGS", "(\\Seen)")
        done += 1
    return done


async def poll_forever(app: web.Application, mailbox: ImapMailbox) -> None:
    """Keep one mailbox drained: wait with IDLE when offered, else poll every CC_IMAP_POLL_SECONDS."""
    from contact_center.web.appkeys import SETTINGS

    interval = app[SETTINGS].imap_poll_seconds
    source = f"imap:{mailbox.user}@{mailbox.host}/{mailbox.folder}"
    while True:
        client = None
        try:
            client = await connect(mailbox)
            while True:
                await poll_once(app, client, source)
                if client.has_capability("IDLE"):
                    idle = await client.idle_start(timeout=IDLE_SECONDS)
                    try:
                        await client.wait_server_push(timeout=min(IDLE_SECONDS, max(interval, 60)))
                    except TimeoutError:
                        pass
                    client.idle_done()
                    await asyncio.wait_for(idle, timeout=30)
                else:
                    await asyncio.sleep(interval)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("IMAP mailbox %s failed (%s); retrying in %ss", source, exc, interval)
        finally:
            if client is not None:
                try:
                    await asyncio.wait_for(client.logout(), timeout=5)
                except Exception as exc:  # the connection is already gone
                    log.debug("IMAP logout failed: %s", exc)
        await asyncio.sleep(interval)
