"""Signing in and out, who may open what, and the protections around the session."""

import pytest

from outreach.auth import passwords
from outreach.auth.models import Role
from outreach.auth.services import AccountError, authenticate, create_user
from tests.conftest import PASSWORD, csrf_token, sign_in


def test_pages_need_a_login_but_login_and_health_do_not(client):
    assert client.get("/").headers["Location"] == "/login?next=%2F"
    assert client.get("/campaigns/").status_code == 302
    assert client.get("/account").status_code == 302
    assert client.get("/login").status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json == {"status": "ok"}


def test_sign_in_lands_on_the_campaigns_and_sign_out_ends_it(client, make_user):
    user = make_user(Role.BUILDER, name="Ben Builder")
    sign_in(client, user)
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200
    assert "Campaigns" in page.get_data(as_text=True)
    assert "Ben Builder" in page.get_data(as_text=True)
    token = csrf_token(client, "/campaigns/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/campaigns/").status_code == 302


def test_wrong_password_is_refused_and_keeps_the_email(client, make_user):
    user = make_user()
    response = client.post(
        "/login",
        data={"email": user.email, "password": "wrong", "csrf_token": csrf_token(client, "/login")},
    )
    assert response.status_code == 401
    body = response.get_data(as_text=True)
    assert "The email or password is not correct." in body
    assert f'value="{user.email}"' in body
    assert client.get("/campaigns/").status_code == 302


def test_unknown_email_gets_the_same_answer(client):
    response = client.post(
        "/login",
        data={
            "email": "nobody@agency.example",
            "password": "x",
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    assert response.status_code == 401
    assert "The email or password is not correct." in response.get_data(as_text=True)


def test_email_is_matched_regardless_of_case(session, make_user):
    user = make_user(email="Mixed.Case@Agency.example")
    assert user.email == "mixed.case@agency.example"
    assert authenticate(session, "MIXED.case@agency.EXAMPLE", PASSWORD).id == user.id


def test_deactivated_user_cannot_sign_in_and_loses_sessions(client, session, make_user):
    user = make_user()
    sign_in(client, user)
    user.active = False
    session.add(user)
    session.commit()
    assert client.get("/campaigns/").status_code == 302
    assert authenticate(session, user.email, PASSWORD) is None


def test_next_parameter_stays_on_this_site(client, make_user):
    user = make_user()
    token = csrf_token(client, "/login")
    data = {"email": user.email, "password": PASSWORD, "csrf_token": token}
    response = client.post("/login?next=https://evil.example/phish", data=data)
    assert response.headers["Location"] == "/"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    data["csrf_token"] = csrf_token(client, "/login")
    response = client.post("/login?next=/campaigns/new", data=data)
    assert response.headers["Location"] == "/campaigns/new"


def test_logout_is_post_only(client, login):
    login(Role.BUILDER)
    assert client.get("/logout").status_code == 405
    assert client.get("/campaigns/").status_code == 200


def test_builder_may_not_create_campaigns_manager_may(app, client, make_user):
    builder = make_user(Role.BUILDER)
    sign_in(client, builder)
    assert client.get("/campaigns/new").status_code == 403
    assert "New campaign" not in client.get("/campaigns/").get_data(as_text=True)
    other = app.test_client()
    sign_in(other, make_user(Role.MANAGER))
    assert other.get("/campaigns/new").status_code == 200
    assert "New campaign" in other.get("/campaigns/").get_data(as_text=True)
    admin = app.test_client()
    sign_in(admin, make_user(Role.ADMIN))
    assert admin.get("/campaigns/new").status_code == 200


def test_password_change_signs_out_other_sessions(app, client, make_user):
    user = make_user()
    sign_in(client, user)
    other_device = app.test_client()
    sign_in(other_device, user)
    response = client.post(
        "/account",
        data={
            "current_password": PASSWORD,
            "new_password": "a much newer password",
            "confirm_password": "a much newer password",
            "csrf_token": csrf_token(client, "/account"),
        },
    )
    assert response.status_code == 302
    assert client.get("/campaigns/").status_code == 200
    assert other_device.get("/campaigns/").status_code == 302


def test_password_change_refuses_wrong_current_or_short_new(client, login):
    login(Role.BUILDER)
    wrong = client.post(
        "/account",
        data={
            "current_password": "nope",
            "new_password": "a much newer password",
            "confirm_password": "a much newer password",
            "csrf_token": csrf_token(client, "/account"),
        },
    )
    assert wrong.status_code == 422
    assert "The current password is not correct." in wrong.get_data(as_text=True)
    short = client.post(
        "/account",
        data={
            "current_password": PASSWORD,
            "new_password": "short",
            "confirm_password": "short",
            "csrf_token": csrf_token(client, "/account"),
        },
    )
    assert "at least 10 characters" in short.get_data(as_text=True)


def test_user_rules(session):
    create_user(session, "a@agency.example", PASSWORD, Role.ADMIN)
    with pytest.raises(AccountError, match="already exists"):
        create_user(session, "A@agency.example", PASSWORD, Role.ADMIN)
    with pytest.raises(AccountError, match="not a valid email"):
        create_user(session, "not-an-email", PASSWORD, Role.ADMIN)
    with pytest.raises(AccountError, match="at least 10"):
        create_user(session, "b@agency.example", "short", Role.ADMIN)


def test_password_is_stored_as_argon2_hash(make_user):
    user = make_user()
    assert user.password_hash.startswith("$argon2id$")
    assert passwords.verify_password(user.password_hash, PASSWORD)
    assert PASSWORD not in user.password_hash


def test_security_headers_and_cookie_flags(client, make_user):
    page = client.get("/login")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "same-origin"
    user = make_user()
    response = client.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "outreach_session" in c)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_unknown_page_is_a_404_page(client, login):
    login(Role.BUILDER)
    response = client.get("/campaigns/9999")
    assert response.status_code == 404
    assert "There is no campaign 9999." in response.get_data(as_text=True)


class TestCsrf:
    def test_login_without_token_is_refused(self, client, make_user):
        user = make_user()
        response = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 400
        assert "CSRF" in response.get_data(as_text=True)
        assert client.get("/campaigns/").status_code == 302

    def test_form_with_forged_token_changes_nothing(self, client, login):
        login(Role.MANAGER)
        response = client.post(
            "/campaigns/new",
            data={
                "name": "Forged",
                "kind": "guest_post",
                "client_url": "https://client.example/",
                "csrf_token": "forged-token",
            },
        )
        assert response.status_code == 400
        assert "Forged" not in client.get("/campaigns/").get_data(as_text=True)

    def test_logout_without_token_keeps_the_session(self, client, login):
        login(Role.BUILDER)
        assert client.post("/logout").status_code == 400
        assert client.get("/campaigns/").status_code == 200
