"""The keywords a frightened person can type instead of a command or a button, in every
shipped language: SAFE, SOS, +30, ON IT, UNLOCK (ESTOY BIEN, AU SECOURS, Я В ПОРЯДКЕ, …).
They work in any form."""

from __future__ import annotations

from checkins.actions import Action, Verb
from checkins.parsing import normalise

# What people type for each action, in every shipped language, including the button labels
# they type back on Signal. A word that also just means "help" (AYUDA, AIDE, AJUDA, AJUTOR,
# ПОМОЩЬ, ช่วย) is never an SOS word: it gets the help text, which names SOS. Neither is a
# greeting (ÇA VA, TUDO BEM, OK): it must not end an outcall by accident.
_WORDS: dict[Verb, tuple[str, ...]] = {
    Verb.SAFE: (
        *("safe", "i'm safe", "im safe"),
        *("segura", "seguro", "estoy segura", "estoy seguro", "estoy bien"),
        *("je vais bien", "tout va bien", "jvais bien"),
        *("estou bem", "tô bem", "to bem", "estou segura", "estou seguro"),
        *("sunt bine", "sunt în siguranță", "sunt in siguranta"),
        *(
            "я в порядке",
            "в порядке",
            "всё хорошо",
            "все хорошо",
            "ыфау",
        ),  # ыфау: SAFE, Russian keys
        *("ปลอดภัยแล้ว", "ปลอดภัย"),
    ),
    Verb.SOS: (
        "sos",
        *("socorro", "auxilio"),
        *("au secours", "à l'aide", "a l'aide"),
        *("me ajuda", "me ajude"),
        *("salvați-mă", "salvati-ma"),
        *("помогите", "помоги", "сос", "ыщы"),  # ыщы: SOS typed on Russian keys
        *("ช่วยด้วย", "ช่วยที"),
    ),
    Verb.ON_IT: (
        *("on it", "onit", "i'm on it", "im on it"),
        *("voy", "me encargo"),
        *("je m'en occupe", "j'y vais"),
        *("deixa comigo", "tô indo", "to indo", "estou indo"),
        *("mă ocup", "ma ocup", "mă ocup eu", "ma ocup eu"),
        *("беру", "беру на себя", "займусь"),
        *("รับเรื่องนี้", "รับเรื่อง"),
    ),
    Verb.UNLOCK: (
        *("unlock", "unlock details"),
        *("abrir", "ver datos"),
        *("ouvrir", "voir les infos"),
        "ver dados",
        *("deschide", "vezi detaliile"),
        *("открыть", "открыть данные"),
        *("เปิดดูข้อมูล", "เปิดดู"),
    ),
}
_KEYWORDS = {word: Action(verb) for verb, words in _WORDS.items() for word in words} | {
    f"+{minutes}": Action(Verb.EXTEND, minutes=minutes) for minutes in (15, 30, 60)
}


def keyword_action(text: str) -> Action | None:
    """SAFE, SOS, +30, ON IT, UNLOCK (or ESTOY BIEN, AU SECOURS, Я В ПОРЯДКЕ, …) in any
    letter case, with or without marks around them (¡…!)."""
    folded = normalise(text).lower().replace("’", "'").rstrip("!.✅🆘🙋🔓 ").lstrip("¡ ")
    return _KEYWORDS.get(folded)
