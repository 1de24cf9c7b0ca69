"""Signing of webhook deliveries: HMAC-SHA256 over the timestamp and the exact body."""

import hashlib
import hmac

SIGNATURE_HEADER = "X-HaoKa-Signature"
DELIVERY_HEADER = "X-HaoKa-Delivery"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex digest>`; the timestamp is signed so that a captured
    delivery cannot be replayed later under a fresh one."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance_s: int = 300) -> bool:
    """What a receiver checks: a well-formed header, a fresh timestamp, a matching digest."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)
