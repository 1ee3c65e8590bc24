"""The customer's satisfaction survey page: /survey/<token>, reached from the link in an email, an SMS or a
chat. The token is the capability (an HMAC of the survey id); the page needs no login, keeps no cookie,
and answers once. A form POST shows a thank-you page; a JSON POST (the chat widget's buttons) gets JSON.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from string import Template

from aiohttp import web
from pydantic import ValidationError

from contact_center.auth.roles import Access
from contact_center.errors import Conflict, NotFound
from contact_center.tickets.schemas import SurveyAnswerIn
from contact_center.tickets.surveys import survey_of_token
from contact_center.web.appkeys import SETTINGS, SURVEYS
from contact_center.web.endpoints import declare_access

HERE = Path(__file__).parent
routes = web.RouteTableDef()
LABELS = {1: "Very poor", 2: "Poor", 3: "Okay", 4: "Good", 5: "Excellent"}


@cache
def _template() -> Template:
    return Template((HERE / "templates" / "survey.html").read_text(encoding="utf-8"))


def _page(title: str, content: str, status: int = 200) -> web.Response:
    body = _template().substitute(title=html.escape(title), content=content)
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the address
    return response


def _survey_id(request: web.Request) -> int:
    survey_id = survey_of_token(request.app[SETTINGS].signing_key(), request.match_info["token"])
    if survey_id is None:
        raise NotFound("this survey link is not valid")
    return survey_id


def _form(ticket_id: int, subject: str, token: str) -> str:
    choices = "".join(
        f'<label class="score"><input type="radio" name="score" value="{n}" required>'
        f"<span>{n}</span><small>{LABELS[n]}</small></label>"
        for n in range(1, 6)
    )
    return (
        f"<p>Your request <strong>T-{ticket_id}</strong> ({html.escape(subject)}) has been resolved.</p>"
        f"<p>How did we do?</p>"
        f'<form method="post" action="/survey/{html.escape(token)}">'
        f'<fieldset class="scores"><legend>Your rating from 1 to 5</legend>{choices}</fieldset>'
        '<label for="comment">Anything you would like to tell us? (optional)</label>'
        '<textarea id="comment" name="comment" maxlength="2000" rows="4"></textarea>'
        '<button type="submit">Send my rating</button></form>'
    )


@routes.get("/survey/{token}")
@declare_access(Access.PUBLIC)
async def survey_page(request: web.Request) -> web.Response:
    """The rating form, or a note that it was answered or has expired."""
    try:
        view = await request.app[SURVEYS].view(_survey_id(request))
    except NotFound:
        return _page("Survey not found", "<p>This survey link is not valid.</p>", 404)
    if view["answered"]:
        return _page("Thank you", f"<p>You rated us {view['score']} out of 5. Thank you!</p>")
    if view["expired"]:
        return _page("Survey closed", "<p>This survey has closed. Thank you all the same.</p>")
    return _page("How did we do?", _form(view["ticket_id"], view["subject"], request.match_info["token"]))


@routes.post("/survey/{token}")
@declare_access(Access.PUBLIC)
async def answer_survey(request: web.Request) -> web.Response:
    """Store the rating; a low one brings a supervisor back to the case."""
    wants_json = request.content_type == "application/json"
    try:
        data = await request.json() if wants_json else dict(await request.post())
        if not isinstance(data, dict):
            raise ValueError("the answer is an object with a score")
        answer = SurveyAnswerIn.model_validate(
            {"score": int(str(data.get("score", "0")) or 0), "comment": str(data.get("comment", ""))}
        )
        survey_id = _survey_id(request)
        await request.app[SURVEYS].answer(survey_id, answer.score, answer.comment)
    except (ValueError, ValidationError):
        message, status = "Please choose a rating from 1 to 5.", 400
    except NotFound:
        message, status = "This survey link is not valid.", 404
    except Conflict as exc:
        message, status = str(exc), 409
    else:
        message, status = "Thank you for your rating.", 200
    if wants_json:
        return web.json_response({"ok": status == 200, "message": message}, status=status)
    return _page("Thank you" if status == 200 else "Survey", f"<p>{html.escape(message)}</p>", status)
