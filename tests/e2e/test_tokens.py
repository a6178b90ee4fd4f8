"""Login: only tokens from the configured issuer, for this audience, unexpired and well-formed get in."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient

from api.http.app import create_app
from api.http.auth import TokenVerifier, Unauthenticated, issue_token, local_secret
from api.settings import Settings
from settlement_domain.context import Role
from tests.e2e.conftest import IMDI, MUNICIPALITY, OSLO, SECRET, Api, problem, settings_for, token

REGISTER = {"number": "0301", "name": "Oslo", "county": "Oslo"}


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "kari",
        "role": "imdi",
        "iss": "settlement",
        "aud": "settlement-api",
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


BAD_TOKENS = {
    "expired": jwt.encode(claims(exp=int(time.time()) - 3600), SECRET, algorithm="HS256"),
    "wrong issuer": jwt.encode(claims(iss="someone-else"), SECRET, algorithm="HS256"),
    "wrong audience": jwt.encode(claims(aud="another-api"), SECRET, algorithm="HS256"),
    "wrong signature": jwt.encode(claims(), "another-secret-" + "y" * 40, algorithm="HS256"),
    "missing municipality claim": jwt.encode(claims(role="municipality"), SECRET, algorithm="HS256"),
    "malformed municipality claim": jwt.encode(
        claims(role="municipality", municipality="Oslo"), SECRET, algorithm="HS256"
    ),
    "unknown role": jwt.encode(claims(role="admin"), SECRET, algorithm="HS256"),
    "control character in subject": jwt.encode(claims(sub="kari\x00"), SECRET, algorithm="HS256"),
    "no expiry": jwt.encode(claims(exp=None), SECRET, algorithm="HS256"),
    "unsigned": jwt.encode(claims(), None, algorithm="none"),
    "not a jwt": "hello",
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_a_bad_token_is_refused_with_401(api: Api, case: str) -> None:
    response = api.client.post(
        "/api/v1/municipalities", json=REGISTER, headers={"Authorization": f"Bearer {BAD_TOKENS[case]}"}
    )
    problem(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert api.get("/municipalities/0301/places", IMDI).status_code != 401  # the good token still works


def test_no_token_and_other_schemes_are_refused_with_401(api: Api) -> None:
    problem(api.client.post("/api/v1/municipalities", json=REGISTER), 401)
    good = token(IMDI)
    problem(
        api.client.post("/api/v1/municipalities", json=REGISTER, headers={"Authorization": f"Basic {good}"}),
        401,
    )


def test_a_valid_token_acts_as_its_subject(api: Api) -> None:
    response = api.post("/municipalities", REGISTER, IMDI)
    assert response.status_code == 201
    response = api.put(
        "/municipalities/0301/contact",
        {
            "contact_person": "Kari",
            "email": "kari@oslo.kommune.no",
            "phone": "+47 1",
            "postal_address": {"street": "Rådhuset", "postal_code": "0037", "city": "Oslo"},
        },
        MUNICIPALITY,
        OSLO,
    )
    assert response.status_code == 201, response.text


def test_rs256_and_es256_tokens_verify_against_a_jwks_file(tmp_path: Path, database_url: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = {
        "keys": [
            {
                **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key())),
                "kid": "r1",
                "alg": "RS256",
            },
            {
                **json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key())),
                "kid": "e1",
                "alg": "ES256",
            },
        ]
    }
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    settings = Settings(
        database_url=database_url, jwt_jwks=str(tmp_path / "jwks.json"), jwt_secret_file=tmp_path / "secret"
    )
    verifier = TokenVerifier(settings)
    rs = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "r1"})
    es = jwt.encode(
        claims(role="municipality", municipality=OSLO), ec_key, algorithm="ES256", headers={"kid": "e1"}
    )
    assert verifier.verify(rs).role is Role.IMDI
    assert verifier.verify(es).municipality == OSLO
    # With only a JWKS configured, locally signed HS256 tokens are not accepted at all.
    with pytest.raises(Unauthenticated):
        verifier.verify(token(IMDI))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Unauthenticated):
        verifier.verify(jwt.encode(claims(), other, algorithm="RS256", headers={"kid": "r1"}))
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/api/v1/municipalities", json=REGISTER, headers={"Authorization": f"Bearer {rs}"}
        )
        assert response.status_code == 201, response.text


def test_the_local_secret_is_random_kept_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(jwt_secret_file=tmp_path / "var" / "jwt-secret")
    first = local_secret(settings)
    assert len(first) >= 40
    assert (tmp_path / "var" / "jwt-secret").stat().st_mode & 0o777 == 0o600
    assert local_secret(settings) == first
    assert local_secret(Settings(jwt_secret_file=tmp_path / "other")) != first


def test_token_command_prints_a_token_the_server_accepts(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.cli import token as token_command

    monkeypatch.setenv("SETTLEMENT_JWT_SECRET_FILE", str(tmp_path / "jwt-secret"))
    parser_args = ["--role", "municipality", "--municipality", OSLO, "--sub", "kari", "--ttl", "1h"]
    import argparse

    parser = argparse.ArgumentParser()
    token_command.register(parser.add_subparsers())
    args = parser.parse_args(["token", *parser_args])
    assert args.func(args) == 0
    printed = capsys.readouterr().out.strip()
    actor = TokenVerifier(
        settings_for(database_url, tmp_path).model_copy(update={"jwt_secret": None})
    ).verify(printed)
    assert (actor.sub, actor.role, actor.municipality) == ("kari", Role.MUNICIPALITY, OSLO)
    assert jwt.decode(printed, options={"verify_signature": False})["exp"] - time.time() < 3700
    with pytest.raises(SystemExit):
        parser.parse_args(["token", "--role", "imdi", "--sub", "x", "--ttl", "forever"])


def test_issue_token_respects_its_lifetime() -> None:
    short = issue_token(SECRET, role=IMDI, sub="a", ttl=timedelta(seconds=-60))
    verifier = TokenVerifier(Settings(jwt_secret=SECRET))
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(short)


@pytest.mark.parametrize("ttl", ["999999999999d", "367d", "8785h", "99999999999999999999999s"])
def test_a_token_lifetime_beyond_a_year_is_a_one_line_error_with_exit_code_2(
    ttl: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.cli import main as cli

    monkeypatch.setenv("SETTLEMENT_JWT_SECRET_FILE", str(tmp_path / "jwt-secret"))
    with pytest.raises(SystemExit) as exited:
        cli.main(["token", "--role", "imdi", "--sub", "x", "--ttl", ttl])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "OverflowError" not in captured.err
    assert captured.out == ""
    assert captured.err.strip() == (
        f"settlement token: argument --ttl: {ttl!r} is longer than the longest lifetime, 366d (see --help)"
    )


def test_a_token_lifetime_of_a_year_is_issued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.cli import main as cli

    monkeypatch.setenv("SETTLEMENT_JWT_SECRET_FILE", str(tmp_path / "jwt-secret"))
    assert cli.main(["token", "--role", "imdi", "--sub", "x", "--ttl", "366d"]) == 0
    printed = capsys.readouterr().out.strip()
    assert (
        365 * 86400
        < jwt.decode(printed, options={"verify_signature": False})["exp"] - time.time()
        <= 366 * 86400
    )


def test_a_verified_token_is_remembered_until_it_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The signature is checked once per token; the cached token expires with the token (exp + leeway)."""
    verifier = TokenVerifier(
        Settings(jwt_secret=SECRET, jwt_secret_file=tmp_path / "s", jwt_leeway_seconds=30)
    )
    now = [time.time()]
    verifier.clock = lambda: now[0]
    decoded = []
    real_decode = jwt.decode

    def counting_decode(*args: object, **kwargs: object) -> object:
        decoded.append(1)
        return real_decode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting_decode)
    exp = int(now[0]) + 60
    good = jwt.encode(claims(exp=exp, role="municipality", municipality=OSLO), SECRET, algorithm="HS256")
    first = verifier.verify(good)
    assert (first.role, first.municipality) == (Role.MUNICIPALITY, OSLO)
    assert verifier.verify(good) == first and verifier.verify(good) == first
    assert len(decoded) == 1  # verified once, then remembered

    now[0] = exp + 29  # within the leeway: still accepted, from the cache
    assert verifier.verify(good) == first and len(decoded) == 1
    now[0] = exp + 30  # the token has expired: the cache says so, as the verification would
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(good)
    assert len(decoded) == 1  # refused by the cache itself, which forgot the token

    # A token that does not verify is never remembered: it is refused every time.
    forged = jwt.encode(claims(exp=int(time.time()) + 600), "another-secret-" + "y" * 40, algorithm="HS256")
    for _ in range(2):
        with pytest.raises(Unauthenticated, match="signature"):
            verifier.verify(forged)


def test_with_a_jwks_url_a_remembered_token_is_checked_again_when_the_keys_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key the provider withdraws stops its tokens within the time the keys are kept (5 minutes),
    as before tokens were remembered, not only when each token expires."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from api.http import auth

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    verifier = TokenVerifier(
        Settings(jwt_jwks="https://login.example/jwks", jwt_secret_file=tmp_path / "s", jwt_leeway_seconds=0)
    )
    assert verifier.jwks_url is not None
    withdrawn = [False]

    def key_for_token(token: str) -> object:
        if withdrawn[0]:
            raise Unauthenticated("The token's signing key could not be found.")
        return key.public_key()

    monkeypatch.setattr(verifier.jwks_url, "key_for_token", key_for_token)
    now = [time.time()]
    verifier.clock = lambda: now[0]
    good = jwt.encode(claims(exp=int(now[0]) + 3600), key, algorithm="RS256", headers={"kid": "k1"})
    assert verifier.verify(good).role is Role.IMDI
    withdrawn[0] = True
    now[0] += auth.JWKS_KEYS_SECONDS - 1
    assert verifier.verify(good).role is Role.IMDI  # remembered while the keys would be
    now[0] += 2
    with pytest.raises(Unauthenticated, match="signing key"):
        verifier.verify(good)
