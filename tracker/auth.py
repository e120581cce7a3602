"""A bearer token for the tracker's HTTP interface (`[tracker] token_file`).

Anyone who can reach an open tracker can read every event and make it POST events to a URL of their
choosing (a subscription), so with a token every request but the health check and the page's own static
files (which hold no data) must carry `Authorization: Bearer <token>`. The comparison takes the same time
wherever the first wrong byte is (hmac.compare_digest), so timing tells nothing about the token.
"""

from __future__ import annotations

import hmac

from gateway.credentials import CredentialsError, read_secret_file

MIN_LENGTH = 16
#: paths answered without a token: no stored data in any of them
OPEN = ("/healthz", "/", "/openapi.json")
OPEN_PREFIX = "/static/"


class TokenError(Exception):
    pass


def read_token(path: str) -> str:
    """The token in the file, refusing a file others can read and a token too short to be a secret."""
    try:
        token = read_secret_file(path).strip()
    except CredentialsError as exc:
        raise TokenError(str(exc)) from None
    if len(token) < MIN_LENGTH:
        raise TokenError(f"the token in {path} is {len(token)} characters; use at least {MIN_LENGTH} "
                         f"(openssl rand -hex 32)")
    if not all(0x21 <= ord(c) <= 0x7E for c in token):
        raise TokenError(f"the token in {path} must be printable ASCII without spaces (it goes in a header)")
    return token


def is_open(path: str) -> bool:
    return path in OPEN or path.startswith(OPEN_PREFIX)


class Bearer:
    def __init__(self, token: str):
        self._expected = token.encode("ascii")

    def allows(self, authorization: str | None) -> bool:
        """Whether an Authorization header carries the token."""
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        try:
            given = credentials.strip().encode("ascii")
        except UnicodeEncodeError:
            return False
        return hmac.compare_digest(given, self._expected)
