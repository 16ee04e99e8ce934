"""paygate's webhook signatures, checked by the Standard Webhooks reference library.

`cargo run --example webhook_sample` (crates/server/examples) prints one delivery built by
paygate's own code — the worker's body and the signing module's headers, signed just now with
two secrets as during a rotation. The `standardwebhooks` package (PyPI) must accept it under
either secret, reject it when anything is tampered with, and compute the same signature.

Prints one `PASS name` / `FAIL name: why` line per check; exits non-zero on any failure. Needs
no simulator and no network.
"""

import json
import os
import subprocess
import sys
import traceback

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
failures = 0


def check(name, fn):
    global failures
    try:
        fn()
        print(f"PASS {name}")
    except Exception as e:  # noqa: BLE001 - any exception is a failed check
        failures += 1
        print(f"FAIL {name}: {e!r}")
        traceback.print_exc(file=sys.stderr)


def sample():
    bin_path = os.environ.get("WEBHOOK_SAMPLE_BIN")
    cmd = [bin_path] if bin_path else [
        "cargo", "run", "--quiet", "--locked", "-p", "paygate-server", "--example", "webhook_sample",
    ]
    out = subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


s = sample()
body = s["body"]
headers = dict(s["headers"])


def verifies_under_each_secret():
    for secret in s["secrets"]:
        payload = Webhook(secret).verify(body, headers)
        assert payload["id"] == headers["webhook-id"], payload
        assert payload["type"] == "payment.succeeded", payload
        assert set(payload) == {"id", "type", "created_at", "tenant_id", "data"}, payload


def same_signatures_as_the_library():
    sigs = headers["webhook-signature"].split(" ")
    assert len(sigs) == 2, sigs
    for secret, sig in zip(s["secrets"], sigs):
        ours = Webhook(secret).sign(
            headers["webhook-id"], _timestamp(headers["webhook-timestamp"]), body
        )
        assert ours == sig, (ours, sig)


def _timestamp(text):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(text), tz=timezone.utc)


def tampering_is_rejected():
    wh = Webhook(s["secrets"][0])
    bad = [
        (body.replace("1999", "1"), headers),
        (body, {**headers, "webhook-id": headers["webhook-id"] + "x"}),
        (body, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)}),
    ]
    for b, h in bad:
        try:
            wh.verify(b, h)
        except WebhookVerificationError:
            continue
        raise AssertionError(f"accepted a tampered delivery: {h}")
    other = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    try:
        Webhook(other).verify(body, headers)
    except WebhookVerificationError:
        return
    raise AssertionError("accepted under an unrelated secret")


check("standardwebhooks verifies paygate's delivery under each secret", verifies_under_each_secret)
check("standardwebhooks computes paygate's signatures", same_signatures_as_the_library)
check("standardwebhooks rejects tampered deliveries", tampering_is_rejected)
sys.exit(1 if failures else 0)
