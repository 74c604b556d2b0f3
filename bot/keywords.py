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
    return _KEYWORDS.get(_fold(text))


# Words that only mean "help" (see above): they get /help, which names SOS, never an SOS.
_HELP_WORDS = frozenset({"help", "ayuda", "aide", "ajuda", "ajutor", "помощь", "ช่วย"})


def is_help_word(text: str) -> bool:
    """HELP, AYUDA, AIDE, …: answered with /help rather than "didn't understand"."""
    return _fold(text) in _HELP_WORDS


def near_keyword(text: str) -> str | None:
    """The keyword `text` is one slip away from (`sfae` → SAFE, `estoy bein` → ESTOY BIEN),
    in any shipped language, to suggest. Never acted on: a near-miss may mean something else."""
    folded = _fold(text)
    if folded in _KEYWORDS:
        return None
    near = nearest(folded, [word for word in _KEYWORDS if not word.startswith("+")])
    return near.upper() if near else None


def nearest(typed: str, words: list[str]) -> str | None:
    """The word of `words` closest to `typed`, if it is close enough to be a slip: one edit
    for a word of up to four letters, two for longer ones (a swap of two letters is one)."""
    if len(typed) < 2 or len(typed) > 40:
        return None
    limit = 1 if len(typed) <= 4 else 2
    scored = [(distance(typed, word), word) for word in words]
    best = min(scored, default=None)
    return best[1] if best is not None and best[0] <= limit else None


def distance(a: str, b: str) -> int:
    """Edits (insert, delete, change, swap two neighbours) that turn `a` into `b`: the
    optimal-string-alignment distance, small and exact enough for one mistyped word."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, letter in enumerate(a, 1):
        row = [i]
        for j, other in enumerate(b, 1):
            cost = 0 if letter == other else 1
            best = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and letter == b[j - 2] and a[i - 2] == other:
                best = min(best, previous2[j - 2] + 1)
            row.append(best)
        previous2, previous = previous, row
    return previous[-1]


def _fold(text: str) -> str:
    return normalise(text).lower().replace("’", "'").rstrip("!.✅🆘🙋🔓 ").lstrip("¡ ")
