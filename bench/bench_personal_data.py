"""Personal-data masking benchmark: incoming messages masked per second (shared/personal_data.py).

Run with `python -m bench.bench_personal_data` (or `python -m bench`). Over a seeded mix of
citizens' questions in French and Arabic, four in five without any identifier and one in five with
one or two (NIR, France Travail identifier, CIN, phone, e-mail), it prints one line:

    personal_data messages=… per_s=… with_identifiers=… false_positives=…

`false_positives` counts the questions without an identifier that masking changed (0 expected).
Exits non-zero on any, or under TARGET_PER_S: the inbox masks every item before it is published,
and its ingestion target is 200 items/s (issue #15), so masking must stay well clear of it.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `shared` lives at the root

from shared.personal_data import mask  # noqa: E402

SEED = 15
MESSAGES = 2000
SECONDS = 3.0
TARGET_PER_S = 1000.0  # five times the inbox's ingestion target

QUESTIONS = [
    "Bonjour, je n'arrive pas à m'actualiser depuis le 12/05/2024, pouvez-vous m'aider ?",
    "L'offre n° 184BKZN est-elle encore ouverte ? Le salaire de 1 850 € brut me convient.",
    "Quels sont les horaires de l'agence de 75011 Paris ? Ouvert de 9h à 17h ?",
    "Merci pour l'atelier CV de mardi à 14h30, très utile !",
    "مرحبا، متى يفتح باب التسجيل في برنامج إدماج؟ شكرا",
    "السلام عليكم، هل هناك عروض شغل في الدار البيضاء 20000؟",
    "Voir https://candidat.francetravail.fr/offres/recherche/detail/184BKZN pour le détail",
]
IDENTIFIERS = [
    "mon numéro de sécu est 2 95 10 99 126 111 93",
    "mon identifiant France Travail : 1234567A",
    "CIN BE12345",
    "appelez-moi au 06 12 34 56 78",
    "رقم هاتفي +212 6 61 23 45 67",
    "écrivez à fatima.zahra@example.ma",
]


def corpus() -> list[tuple[str, bool]]:
    """Seeded messages, each with whether an identifier was written into it."""
    draw = random.Random(SEED)
    messages = []
    for _ in range(MESSAGES):
        text = draw.choice(QUESTIONS)
        has_identifier = draw.random() < 0.2
        if has_identifier:
            text += " " + " et ".join(draw.sample(IDENTIFIERS, draw.randint(1, 2)))
        messages.append((text, has_identifier))
    return messages


def main() -> int:
    messages = corpus()
    with_identifiers = sum(has_identifier for _, has_identifier in messages)
    false_positives = sum(mask(text).text != text for text, has_identifier in messages if not has_identifier)
    texts = [text for text, _ in messages]
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < SECONDS:
        for text in texts:
            mask(text)
        done += len(texts)
    per_s = done / elapsed
    print(
        f"personal_data messages={done} per_s={per_s:.0f} with_identifiers={with_identifiers} "
        f"false_positives={false_positives}",
        flush=True,
    )
    return 0 if per_s >= TARGET_PER_S and false_positives == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
