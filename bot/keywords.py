"""The keywords a frightened person can type instead of a command or a button, in English and
Spanish: SAFE, SOS, +30, ON IT, UNLOCK (SEGURA, SOCORRO, …). They work in any form."""

from __future__ import annotations

from checkins.actions import Action, Verb
from checkins.parsing import normalise

_KEYWORDS = {
    "safe": Action(Verb.SAFE),
    "i'm safe": Action(Verb.SAFE),
    "im safe": Action(Verb.SAFE),
    "sos": Action(Verb.SOS),
    "on it": Action(Verb.ON_IT),
    "onit": Action(Verb.ON_IT),
    "unlock": Action(Verb.UNLOCK),
    "+15": Action(Verb.EXTEND, minutes=15),
    "+30": Action(Verb.EXTEND, minutes=30),
    "+60": Action(Verb.EXTEND, minutes=60),
    # Spanish. AYUDA is deliberately not here: it also means "help" (the command list), so
    # it gets the help text, which names SOS; SOCORRO and AUXILIO only ever mean "help me!".
    "segura": Action(Verb.SAFE),
    "seguro": Action(Verb.SAFE),
    "estoy segura": Action(Verb.SAFE),
    "estoy seguro": Action(Verb.SAFE),
    "estoy bien": Action(Verb.SAFE),
    "socorro": Action(Verb.SOS),
    "auxilio": Action(Verb.SOS),
    "voy": Action(Verb.ON_IT),
    "me encargo": Action(Verb.ON_IT),
    "abrir": Action(Verb.UNLOCK),
}


def keyword_action(text: str) -> Action | None:
    """SAFE, SOS, +30, ON IT, UNLOCK (or SEGURA, SOCORRO, …) in any letter case, with or
    without marks around them (¡…!)."""
    folded = normalise(text).lower().replace("’", "'").rstrip("!.✅🆘🙋🔓 ").lstrip("¡ ")
    return _KEYWORDS.get(folded)
