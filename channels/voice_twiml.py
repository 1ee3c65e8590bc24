"""The TwiML callers hear, built from the IVR definition: pure functions, no storage, easy to test."""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse

from channels.ivr import Ivr, Language

MENU_URL = "/twilio/voice/menu"
LANGUAGE_URL = "/twilio/voice/language"
WAIT_URL = "/twilio/voice/wait"
WAIT_CHOICE_URL = "/twilio/voice/wait/choice"
VOICEMAIL_URL = "/twilio/voice/voicemail"
TRANSCRIPTION_URL = "/twilio/voice/transcription"
AFTER_DIAL_URL = "/twilio/voice/after-dial"
RECORDING_URL = "/twilio/voice/recording"
CONFERENCE_URL = "/twilio/voice/conference"
MAX_MESSAGE_SECONDS = 180


def say(target: VoiceResponse | Gather, language: Language, text: str) -> None:
    """Speak `text` in the language's voice."""
    target.say(text, voice=language.voice, language=language.say_language)


def prompt(language: Language, name: str, **values: object) -> str:
    """A prompt with its placeholders filled ({first_name}, {position}, ...)."""
    text = language.prompts[name]
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def choose_language(ivr: Ivr, greeting: str) -> VoiceResponse:
    """The greeting, then one key per language, each offered in its own language."""
    response = VoiceResponse()
    say(response, ivr.languages[0], greeting)
    gather = Gather(num_digits=1, action=LANGUAGE_URL, timeout=5)
    for language in ivr.languages:
        say(gather, language, language.prompts["choose_language"])
    response.append(gather)
    response.redirect(LANGUAGE_URL)  # no key pressed: the default language
    return response


def menu(ivr: Ivr, name: str, language: Language, attempt: int, before: str = "") -> VoiceResponse:
    """A menu by key or by voice; no answer comes back to the menu as the next attempt."""
    response = VoiceResponse()
    if before:
        say(response, language, before)
    options = ivr.menus[name].options
    hints = ",".join(word for option in options for word in option.words.get(language.code, []))
    gather = Gather(
        input="dtmf speech",
        num_digits=1,
        action=f"{MENU_URL}?menu={name}&attempt={attempt}",
        timeout=6,
        speech_timeout="auto",
        language=language.say_language,
        hints=hints or None,
    )
    say(gather, language, ivr.menus[name].prompt[language.code])
    response.append(gather)
    response.redirect(f"{MENU_URL}?menu={name}&attempt={attempt + 1}&silent=1")
    return response


def wait(language: Language, place: tuple[int, float] | None, hold_music_url: str) -> VoiceResponse:
    """Where the caller stands, the callback and voicemail choice, hold music, then round again."""
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=WAIT_CHOICE_URL, timeout=1)
    if place is not None:
        position, seconds = place
        say(gather, language, prompt(language, "position", position=position))
        minutes = max(1, round(seconds / 60))
        if seconds >= 60:
            say(gather, language, prompt(language, "wait", minutes=minutes))
        else:
            say(gather, language, prompt(language, "wait_short"))
    say(gather, language, prompt(language, "wait_options"))
    gather.play(hold_music_url)
    response.append(gather)
    response.redirect(WAIT_URL)
    return response


def voicemail(language: Language, before: str) -> VoiceResponse:
    """Record a message, transcribed; the recording and its text become a ticket."""
    response = VoiceResponse()
    say(response, language, before)
    response.record(
        action=VOICEMAIL_URL,
        max_length=MAX_MESSAGE_SECONDS,
        finish_on_key="#",
        play_beep=True,
        transcribe=True,
        transcribe_callback=TRANSCRIPTION_URL,
    )
    say(response, language, prompt(language, "voicemail_thanks"))
    response.hangup()
    return response


def goodbye(language: Language, text: str) -> VoiceResponse:
    """Say something, then hang up."""
    response = VoiceResponse()
    say(response, language, text)
    response.hangup()
    return response


def conference_name(conversation_id: int) -> str:
    """The conference a conversation's call is held in."""
    return f"conv-{conversation_id}"


def caller_into_conference(
    language: Language, name: str, hold_music_url: str, *, notice: str = "", record: bool = False
) -> VoiceResponse:
    """The caller joins the call's conference, hearing hold music until an agent is in; leaving ends it.

    A conference rather than a direct dial, so that agents can hold the caller, consult a colleague
    (warm transfer) and hand over (cold transfer) while the caller stays on the line.
    """
    response = VoiceResponse()
    for text in (notice, prompt(language, "connecting")):
        if text:
            say(response, language, text)
    dial = response.dial(action=AFTER_DIAL_URL)
    dial.conference(
        name,
        start_conference_on_enter=False,
        end_conference_on_exit=True,
        wait_url=hold_music_url,
        beep=False,
        record="record-from-start" if record else None,
        recording_status_callback=RECORDING_URL if record else None,
        status_callback=CONFERENCE_URL,
        status_callback_event="start end join leave hold",
    )
    return response


def agent_into_conference(name: str) -> VoiceResponse:
    """An agent's leg: joining starts the conference; an agent leaving does not end it."""
    response = VoiceResponse()
    dial = response.dial()
    dial.conference(name, start_conference_on_enter=True, end_conference_on_exit=False, beep=False)
    return response


def apology(language: Language) -> VoiceResponse:
    """What a caller hears when something failed on our side: an apology and voicemail, never silence."""
    return voicemail(language, f"{prompt(language, 'apology')} {prompt(language, 'voicemail')}")
