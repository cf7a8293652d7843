"""Saved replies (issue #15 item 4): the policy is the module's docstring; the texts are the kind the
hub team writes, in French and in Arabic."""

from __future__ import annotations

import pytest

from shared.saved_replies import SavedReplyError, fill, parse

FR = (
    "Bonjour {auteur}, merci pour votre message. Pour parler de votre dossier en toute confidentialité, "
    "écrivez-nous en message privé ou appelez l'agence {agence} au {telephone} ({horaires})."
)
AR = (
    "مرحبا {auteur}، شكرا على رسالتكم. للحديث عن ملفكم، راسلونا على الخاص "
    "أو اتصلوا بوكالة {agence} على {telephone}."
)
VALUES = {
    "auteur": "Samira",
    "agence": "Lyon Part-Dieu",
    "telephone": "3949",
    "horaires": "du lundi au vendredi",
}


def test_a_french_reply_is_filled_in() -> None:
    reply = parse("prive-fr", "fr", "Passer en privé", FR)
    assert reply.variables == ("auteur", "agence", "telephone", "horaires")
    assert fill(reply, VALUES) == (
        "Bonjour Samira, merci pour votre message. Pour parler de votre dossier en toute confidentialité, "
        "écrivez-nous en message privé ou appelez l'agence Lyon Part-Dieu au 3949 (du lundi au vendredi)."
    )


def test_an_arabic_reply_keeps_its_text_and_takes_the_same_variables() -> None:
    reply = parse("prive-ar", "ar", "الانتقال إلى الخاص", AR)
    filled = fill(reply, VALUES)
    assert filled.startswith("مرحبا Samira، شكرا") and "بوكالة Lyon Part-Dieu على 3949." in filled


def test_braces_are_written_doubled() -> None:
    reply = parse("r", "fr", "Accolades", "Tapez {{code}} puis {lien}.")
    assert reply.variables == ("lien",)
    assert fill(reply, {"lien": "https://francetravail.fr"}) == "Tapez {code} puis https://francetravail.fr."


def test_a_value_is_never_read_as_a_variable() -> None:
    reply = parse("r", "fr", "Nom", "Bonjour {auteur}")
    assert fill(reply, {"auteur": "{agence}"}) == "Bonjour {agence}"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ("Bonjour {agnce}", "body", "unknown variable {agnce} at character 8"),
        ("Bonjour {auteur", "body", "a lone '{' at character 8"),
        ("Bonjour auteur}", "body", "a lone '}' at character 14"),
        ("Bonjour {}", "body", "unknown variable {} at character 8"),
        ("   ", "body", "needs a text"),
        ("x" * 5001, "body", "at most 5000 characters"),
    ],
)
def test_a_bad_body_is_refused_saying_where(body: str, field: str, words: str) -> None:
    with pytest.raises(SavedReplyError) as refused:
        parse("r", "fr", "Titre", body)
    assert refused.value.field == field and words in str(refused.value)


def test_a_reply_needs_a_known_language_and_a_title() -> None:
    with pytest.raises(SavedReplyError) as language:
        parse("r", "en", "Title", "Hello")
    assert language.value.field == "language"
    with pytest.raises(SavedReplyError) as title:
        parse("r", "fr", " ", "Bonjour")
    assert title.value.field == "title"


def test_a_half_filled_reply_is_never_produced() -> None:
    reply = parse("prive-fr", "fr", "Passer en privé", FR)
    with pytest.raises(SavedReplyError) as refused:
        fill(reply, {"auteur": "Samira", "agence": " "})
    assert refused.value.field == "values"
    assert str(refused.value) == "no value for {agence}, {telephone}, {horaires}"
