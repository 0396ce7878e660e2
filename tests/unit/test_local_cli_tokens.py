import time

import pytest

from mwaa_cli.local.cli_tokens import TokenRejected, TokenSigner

KEY = b"k" * 32


def test_valid_token_verifies_with_claims():
    signer = TokenSigner(KEY, ttl=60)
    claims = signer.verify(signer.issue("local"), "local")
    assert claims.env == "local"
    assert claims.expires_at == pytest.approx(time.time() + 60, abs=2)
    assert len(claims.token_id) == 16


def test_tokens_are_unique():
    signer = TokenSigner(KEY)
    assert signer.issue("local") != signer.issue("local")


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "!!!.???", "eyJ9.", "."])
def test_malformed_tokens_are_rejected(token):
    with pytest.raises(TokenRejected):
        TokenSigner(KEY).verify(token, "local")


def test_tampered_payload_is_rejected():
    signer = TokenSigner(KEY)
    payload, sig = signer.issue("local").split(".")
    other_payload = signer.issue("other").split(".")[0]
    with pytest.raises(TokenRejected, match="invalid"):
        signer.verify(f"{other_payload}.{sig}", "other")
    with pytest.raises(TokenRejected, match="invalid"):
        # another signature: 1 in 4096 already ends in "AA" (this flaked once)
        signer.verify(f"{payload}.{sig[:-2]}{'AE' if sig.endswith('AA') else 'AA'}", "local")


def test_token_of_another_key_is_rejected():
    token = TokenSigner(b"x" * 32).issue("local")
    with pytest.raises(TokenRejected, match="invalid"):
        TokenSigner(KEY).verify(token, "local")


def test_token_for_another_env_is_rejected():
    signer = TokenSigner(KEY)
    with pytest.raises(TokenRejected, match="another environment"):
        signer.verify(signer.issue("prod"), "local")


def test_expired_token_is_rejected():
    signer = TokenSigner(KEY, ttl=60)
    token = signer.issue("local", now=1000.0)
    assert signer.verify(token, "local", now=1059.0).env == "local"
    with pytest.raises(TokenRejected, match="expired"):
        signer.verify(token, "local", now=1060.0)


def test_only_the_canonical_encoding_is_accepted():
    signer = TokenSigner(KEY)
    token = signer.issue("local")
    payload, sig = token.split(".")
    assert signer.verify(token, "local").env == "local"
    # the same bytes spelt differently: padded, or with the unused low bits of the last
    # base64 character set (which decoders silently drop)
    variants = [
        f"{payload}=.{sig}",
        f"{payload}.{sig}=",
        f"{payload}.{sig[:-1]}{chr(ord(sig[-1]) ^ 1)}",
    ]
    for variant in variants:
        if variant == token:
            continue
        with pytest.raises(TokenRejected):
            signer.verify(variant, "local")


def test_a_token_is_good_for_its_own_use_only():
    signer = TokenSigner(KEY)
    web = signer.issue("local", use="web")
    assert signer.verify(web, "local", use="web").use == "web"
    with pytest.raises(TokenRejected, match="not a CLI token"):
        signer.verify(web, "local")
    with pytest.raises(TokenRejected, match="not a web login token"):
        signer.verify(signer.issue("local"), "local", use="web")
