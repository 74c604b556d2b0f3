"""The keywords a frightened person can type instead of a command or a button, in every
shipped language: SAFE, SOS, +30, ON IT, UNLOCK (ESTOY BIEN, AU SECOURS, Я В ПОРЯДКЕ, …).
They work in any form."""

from __future__ import annotations

import unicodedata

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


# Each command's word in each shipped language, for messengers without a command menu
# (Signal, the console): "salida" runs /outcall for a Spanish speaker, "accept ABCD-EFGH" is
# /accept ABCD-EFGH. Commands stay Latin; SAFE, SOS, UNLOCK and ON IT are the keywords above.
# One word each, so a word is never half of another; `tests/core/test_keywords.py` checks
# that no word means two things in one language. Read only when no question is open, so a
# nickname or a plate that happens to be one of these is still taken as the answer.
COMMAND_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "outcall": "outcall",
        "status": "status",
        "invite": "invite",
        "accept": "accept",
        "buddies": "buddies",
        "cancel": "cancel",
        "start": "start",
        "help": "help",
        "settings": "settings",
        "admin": "admin",
        "rights": "rights",
        "language": "language",
        "drill": "drill",
        "emergency": "emergency",
        "duty": "duty",
        "place": "place",
    },
    "es": {
        "outcall": "salida",
        "status": "estado",
        "invite": "invitar",
        "accept": "aceptar",
        "buddies": "contactos",
        "cancel": "cancelar",
        "start": "empezar",
        "help": "ayuda",
        "settings": "ajustes",
        "admin": "administrar",
        "rights": "derechos",
        "language": "idioma",
        "drill": "simulacro",
        "emergency": "emergencia",
        "duty": "guardia",
        "place": "lugar",
    },
    "fr": {
        "outcall": "deplacement",
        "status": "etat",
        "invite": "inviter",
        "accept": "accepter",
        "buddies": "contacts",
        "cancel": "annuler",
        "start": "commencer",
        "help": "aide",
        "settings": "reglages",
        "admin": "administrer",
        "rights": "droits",
        "language": "langue",
        "drill": "exercice",
        "emergency": "urgence",
        "duty": "permanence",
        "place": "lieu",
    },
    "pt_BR": {
        "outcall": "saida",
        "status": "situacao",
        "invite": "convidar",
        "accept": "aceitar",
        "buddies": "contatos",
        "cancel": "cancelar",
        "start": "comecar",
        "help": "ajuda",
        "settings": "ajustes",
        "admin": "administrar",
        "rights": "direitos",
        "language": "idioma",
        "drill": "treino",
        "emergency": "emergencia",
        "duty": "plantao",
        "place": "lugar",
    },
    "ro": {
        "outcall": "deplasare",
        "status": "stare",
        "invite": "invita",
        "accept": "accepta",
        "buddies": "contacte",
        "cancel": "anuleaza",
        "start": "incepe",
        "help": "ajutor",
        "settings": "setari",
        "admin": "administrare",
        "rights": "drepturi",
        "language": "limba",
        "drill": "exercitiu",
        "emergency": "urgenta",
        "duty": "serviciu",
        "place": "loc",
    },
    "ru": {
        "outcall": "выезд",
        "status": "статус",
        "invite": "пригласить",
        "accept": "принять",
        "buddies": "контакты",
        "cancel": "отмена",
        "start": "начать",
        "help": "помощь",
        "settings": "настройки",
        "admin": "управление",
        "rights": "права",
        "language": "язык",
        "drill": "учения",
        "emergency": "экстренно",
        "duty": "дежурство",
        "place": "место",
    },
    "th": {
        "outcall": "นัดงาน",
        "status": "สถานะ",
        "invite": "เชิญ",
        "accept": "ยอมรับ",
        "buddies": "เพื่อน",
        "cancel": "ยกเลิก",
        "start": "เริ่ม",
        "help": "ช่วย",
        "settings": "ตั้งค่า",
        "admin": "จัดการ",
        "rights": "สิทธิ",
        "language": "ภาษา",
        "drill": "ซ้อม",
        "emergency": "ฉุกเฉิน",
        "duty": "เวร",
        "place": "สถานที่",
    },
}


def fold(word: str) -> str:
    """A typed word as the tables hold it: one letter case, and Latin letters without their
    accents (état → etat, situação → situacao); other scripts keep their marks."""
    decomposed = unicodedata.normalize("NFD", normalise(word).casefold())
    kept = [
        char
        for at, char in enumerate(decomposed)
        if not (unicodedata.combining(char) and at and decomposed[at - 1].isascii())
    ]
    return unicodedata.normalize("NFC", "".join(kept))


def command_word(locale: str, command: str) -> str | None:
    """`command`'s word in `locale` (None if it has none)."""
    return COMMAND_WORDS.get(locale, {}).get(command)


# The commands whose word may be followed by text (`salida KX482B | 14 Hollow Lane | 1h`,
# `aceptar ABCD-EFGH`). Any other word counts only alone: "cancel the booking" or "help me
# with this" is a sentence, not a command.
TAKES_TEXT = frozenset({"outcall", "accept", "start", "language", "place"})


def command_by_word(text: str, locale: str) -> tuple[str, str] | None:
    """`salida` → ("outcall", ""), `aceptar ABCD-EFGH` → ("accept", "ABCD-EFGH"): the command
    a word names in the reader's language or in English, and the rest of the text."""
    first, _sep, rest = text.strip().partition(" ")
    typed = fold(first)
    for table in (COMMAND_WORDS.get(locale, {}), COMMAND_WORDS["en"]):
        for command, word in table.items():
            if fold(word) == typed and (not rest.strip() or command in TAKES_TEXT):
                return command, rest.strip()
    return None


def command_by_word_in_any_language(text: str) -> str | None:
    """The command a word names in any shipped language: for sorting an event onto the
    safety threads before the reader's language is known (`bot.conversation.safety_action`)."""
    for locale in COMMAND_WORDS:
        named = command_by_word(text, locale)
        if named is not None:
            return named[0]
    return None
