"""Rendering templates: merge fields, the sandbox, and the checks before anything is sent."""

import pytest

from outreach.mail.templating import TemplateError, render_email

DATA = {
    "contact": {"first_name": "Anna", "last_name": "", "email": "anna@blog.example"},
    "prospect": {"domain": "blog.example", "page_url": "https://blog.example/tips"},
    "asset": {"title": "Balcony guide", "url": "https://client.example/guide"},
}


def test_merge_fields_are_filled_in() -> None:
    email = render_email(
        "A resource for {{ prospect.domain }}  readers",
        "Hi {{ contact.first_name }},\n\nsee {{ asset.url }}.\n",
        DATA,
    )
    assert email.subject == "A resource for blog.example readers"
    assert email.body == "Hi Anna,\n\nsee https://client.example/guide.\n"


def test_empty_field_is_refused_unless_given_a_fallback() -> None:
    with pytest.raises(TemplateError, match=r"\{\{ contact.last_name \}\} is empty") as caught:
        render_email("Hi", "Dear {{ contact.last_name }}", DATA)
    assert caught.value.part == "body"
    assert render_email("Hi", "{{ contact.last_name | default('friend') }}", DATA).body == "friend"
    email = render_email("Hi", "{% if contact.last_name %}x{% else %}y{% endif %}", DATA)
    assert email.body == "y"


def test_missing_group_is_empty_too() -> None:
    with pytest.raises(TemplateError, match=r"\{\{ sender.name \}\} is empty"):
        render_email("Hi", "{{ sender.name }}", DATA)


@pytest.mark.parametrize(
    ("subject", "body", "message"),
    [
        ("Hi", "{{ contact.first_nme }}", r"contact.first_nme \}\} is not a merge field"),
        ("{{ name }}", "x", r"Subject: \{\{ name \}\} is not a merge field"),
        ("Hi", "Dear [NAME],", r"placeholder '\[NAME\]'"),
        ("Hi {FIRST_NAME}", "x", r"Subject still contains the placeholder '\{FIRST_NAME\}'"),
        ("Hi", "Hello %FIRSTNAME%", "placeholder '%FIRSTNAME%'"),
        ("Hi", "Hello <<Name>>", "placeholder '<<Name>>'"),
        ("Hi", "{% if x %}", r"Body, line 1: Unexpected end of template"),
        ("   ", "x", "the subject is empty"),
    ],
)
def test_problems_are_explained(subject: str, body: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render_email(subject, body, DATA)


@pytest.mark.parametrize(
    "body",
    [
        "{{ contact.items() }}",
        "{{ contact.__class__.__mro__ }}",
        "{{ ''.__class__ }}",
        "{{ cycler }}",
        "{{ range(10) }}",
        "{{ lipsum() }}",
        "{{ self }}",
        "{{ contact.first_name.upper() }}",
    ],
)
def test_sandbox_reaches_nothing_but_the_merge_data(body: str) -> None:
    with pytest.raises(TemplateError):
        render_email("Hi", body, DATA)


def test_filters_still_work() -> None:
    assert render_email("Hi", "{{ contact.first_name | upper }}", DATA).body == "ANNA"
