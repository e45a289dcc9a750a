"""schemathesis hooks for scripts/api-fuzz (loaded through SCHEMATHESIS_HOOKS).

One check of utbyte's own on top of schemathesis' checks: every error answer (4xx, 5xx) is RFC
9457 problem+json (but for HEAD, whose answers have no body by definition). tus bytes
(`application/offset+octet-stream`) are sent as generated, like any octet stream. Every answer is also counted, per status class and media type, into the file
named by UTBYTE_FUZZ_TALLY (one JSON line per answer), for the figures the script prints.
"""

import json
import os
import threading

import schemathesis
from hypothesis import strategies as st

PROBLEM = "application/problem+json"
_LOCK = threading.Lock()


def _media_type(response):
    values = response.headers.get("content-type") or [""]
    return values[0].split(";")[0].strip().lower()


def _tally(response, case, media_type):
    path = os.environ.get("UTBYTE_FUZZ_TALLY")
    if not path:
        return
    line = json.dumps(
        {
            "operation": f"{case.method.upper()} {case.path}",
            "status": response.status_code,
            "media_type": media_type,
        }
    )
    with _LOCK, open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")


@schemathesis.check
def problem_json_errors(ctx, response, case):
    """Every error answer is application/problem+json with the problem's members."""
    media_type = _media_type(response)
    _tally(response, case, media_type)
    if response.status_code < 400 or case.method.upper() == "HEAD":
        return None
    if media_type != PROBLEM:
        raise AssertionError(
            f"error {response.status_code} answered as {media_type or 'no media type'}, "
            f"not {PROBLEM}"
        )
    try:
        problem = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"error {response.status_code}: body is not JSON ({error})")
    missing = [m for m in ("type", "title", "status", "detail") if m not in problem]
    if missing:
        raise AssertionError(f"problem without {', '.join(missing)}")
    if problem["status"] != response.status_code:
        raise AssertionError(
            f"problem says status {problem['status']}, answer is {response.status_code}"
        )
    return None


# A tus PATCH body is bytes, as an octet stream is.
schemathesis.openapi.media_type("application/offset+octet-stream", st.binary(max_size=256))
