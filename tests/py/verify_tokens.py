"""Independent token verifier for irsa-issuer's integration tests (PyJWT).

Does what a relying party such as AWS STS does: fetches the discovery document from the issuer
over HTTPS, checks that its `issuer` equals the expected issuer byte for byte, fetches the JWKS
from the `jwks_uri` it names (PyJWKClient, which refetches when it meets an unknown kid), and
verifies each token's signature, `iss`, `aud`, `exp`, `nbf` and `iat`.

Reads tokens from stdin, one per line; writes one JSON object per token on stdout:
{"ok": true, "sub": ..., "kid": ...} or {"ok": false, "error": ...}.
"""

import argparse
import json
import ssl
import sys
import urllib.request

import jwt

ALGORITHMS = ["RS256", "ES256", "ES384", "ES512"]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--issuer", required=True)
    p.add_argument("--audience", required=True)
    p.add_argument("--cafile", required=True)
    args = p.parse_args()

    ctx = ssl.create_default_context(cafile=args.cafile)
    discovery_url = args.issuer + "/.well-known/openid-configuration"
    with urllib.request.urlopen(discovery_url, context=ctx, timeout=10) as r:
        discovery = json.load(r)
    if discovery.get("issuer") != args.issuer:
        print(json.dumps({"fatal": f"discovery issuer {discovery.get('issuer')!r} != {args.issuer!r}"}), flush=True)
        return 3
    jwks_uri = discovery["jwks_uri"]
    if not jwks_uri.startswith("https://"):
        print(json.dumps({"fatal": f"jwks_uri is not https: {jwks_uri}"}), flush=True)
        return 3
    # lifespan: how long the fetched set is trusted before a refetch; an unknown kid refetches anyway.
    client = jwt.PyJWKClient(jwks_uri, ssl_context=ctx, cache_jwk_set=True, lifespan=1)
    print(json.dumps({"ready": True, "jwks_uri": jwks_uri}), flush=True)

    for line in sys.stdin:
        token = line.strip()
        if not token:
            continue
        try:
            key = client.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=args.audience,
                issuer=args.issuer,
                options={"require": ["exp", "iat", "nbf", "iss", "sub", "aud"]},
            )
            print(json.dumps({"ok": True, "sub": claims["sub"], "kid": key.key_id}), flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is a verdict to report
            print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
