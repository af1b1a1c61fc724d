"""Get an access token from bulwark's built-in authorization server the way a
client does (registration, PKCE, login form, consent, code exchange) and print
it. Standard library only.

usage: oauth_token.py ISSUER RESOURCE USER PASSWORD
"""

from __future__ import annotations

import base64
import hashlib
import http.cookiejar
import json
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request

REDIRECT = "http://127.0.0.1:1/callback"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main() -> int:
    issuer, resource, user, password = sys.argv[1:5]
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()
    )

    def post(url: str, form: dict | None = None, body: dict | None = None):
        if body is not None:
            data, kind = json.dumps(body).encode(), "application/json"
        else:
            data, kind = urllib.parse.urlencode(form or {}).encode(), "application/x-www-form-urlencoded"
        request = urllib.request.Request(url, data=data, headers={"Content-Type": kind})
        try:
            return opener.open(request)
        except urllib.error.HTTPError as answer:  # 3xx/4xx: the caller reads it
            return answer

    client = json.load(post(f"{issuer}/register", body={"redirect_uris": [REDIRECT], "client_name": "bench"}))
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": REDIRECT,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "bench",
            "resource": resource,
            "scope": "mcp profile:core",
        }
    )
    page = opener.open(f"{issuer}/authorize?{query}").read().decode()
    pending = re.search(r'name="pending" value="([^"]+)"', page).group(1)
    post(f"{issuer}/authorize", {"pending": pending, "username": user, "password": password}).read()
    answer = post(f"{issuer}/authorize/consent", {"pending": pending, "decision": "approve"})
    location = answer.headers["Location"]
    code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]
    tokens = json.load(
        post(
            f"{issuer}/token",
            {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": REDIRECT,
                "client_id": client["client_id"],
                "resource": resource,
            },
        )
    )
    print(tokens["access_token"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
