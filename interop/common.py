"""Shared harness of the interoperability scripts.

Third-party SDKs (wechatpy, wechatpayv3) drive the paygate simulator. Their hosts are hard-coded
to WeChat's, so every `requests` call is routed here: WeChat's hosts are rewritten to the
simulator, and any other non-loopback URL is refused, so nothing can reach the real WeChat.

Each script registers its own merchant and app (unique ids), runs checks with `check()`, prints
one `PASS name` / `FAIL name: why` line per check and exits non-zero on any failure.
"""

import json
import os
import queue
import random
import string
import sys
import tempfile
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import requests

SIM_HTTP = os.environ["SIM_HTTP"].rstrip("/")
SIM_HTTPS = os.environ["SIM_HTTPS"].rstrip("/")
SIM_CA = os.environ["SIM_CA"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

with open(os.path.join(REPO, "fixtures", "wechatpay", "test-vectors.json"), encoding="utf-8") as f:
    FIXTURE_KEYS = json.load(f)["fixture_keys"]

MERCHANT_CERT_PEM = FIXTURE_KEYS["merchant_cert_pem"]
MERCHANT_KEY_PEM = FIXTURE_KEYS["merchant_private_key_pkcs8"]
MERCHANT_SERIAL = FIXTURE_KEYS["merchant_serial"]
APIV3_KEY = FIXTURE_KEYS["apiv3_key"]

_original_request = requests.sessions.Session.request


def _routed_request(self, method, url, *args, **kwargs):
    parts = urlsplit(url)
    rest = url[len(f"{parts.scheme}://{parts.netloc}"):]
    if parts.netloc == "api.mch.weixin.qq.com":
        # Mutual-TLS endpoints go to the simulator's TLS port, the rest to plain HTTP.
        if rest.startswith("/secapi/"):
            url = SIM_HTTPS + rest
            kwargs["verify"] = SIM_CA
        else:
            url = SIM_HTTP + rest
    elif parts.netloc == "api.weixin.qq.com":
        url = SIM_HTTP + rest
    elif parts.hostname not in ("127.0.0.1", "localhost"):
        raise RuntimeError(f"interop scripts never leave loopback: {url}")
    elif url.startswith(SIM_HTTPS):
        kwargs.setdefault("verify", SIM_CA)
    return _original_request(self, method, url, *args, **kwargs)


requests.sessions.Session.request = _routed_request

RESULTS = {"passed": 0, "failed": 0}


def check(name, fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
        RESULTS["failed"] += 1
        print(f"FAIL {name}: {e!r}")
        traceback.print_exc(file=sys.stderr)
    else:
        RESULTS["passed"] += 1
        print(f"PASS {name}")
    sys.stdout.flush()


def finish():
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed (in {os.path.basename(sys.argv[0])})")
    sys.exit(1 if RESULTS["failed"] else 0)


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def rand(n=10, chars=string.ascii_letters + string.digits):
    return "".join(random.choice(chars) for _ in range(n))


def sim(method, path, body=None):
    r = requests.request(method, SIM_HTTP + path, json=body, timeout=30)
    if r.status_code >= 400:
        raise AssertionError(f"{method} {path}: {r.status_code} {r.text}")
    return r.json() if r.content else None


def new_app():
    appid = "wx" + rand(16, string.ascii_lowercase + string.digits)
    secret = rand(32)
    sim("POST", "/sim/apps", {"appid": appid, "secret": secret, "pages": ["pages/index/index"]})
    openid = sim("POST", f"/sim/apps/{appid}/users", {})["openid"]
    return appid, secret, openid


def new_merchant(mode="platform_cert", appids=()):
    mch_id = "19" + rand(8, string.digits)
    v2_key = rand(32)
    platform = sim(
        "POST",
        "/sim/merchants",
        {
            "mch_id": mch_id,
            "v2_key": v2_key,
            "v3_key": APIV3_KEY,
            "merchant_cert_pem": MERCHANT_CERT_PEM,
            "mode": mode,
            "appids": list(appids),
        },
    )
    return mch_id, v2_key, platform


def pem_files():
    """The merchant certificate and key as files (wechatpy wants paths)."""
    d = tempfile.mkdtemp(prefix="interop-")
    cert, key = os.path.join(d, "apiclient_cert.pem"), os.path.join(d, "apiclient_key.pem")
    with open(cert, "w", encoding="utf-8") as f:
        f.write(MERCHANT_CERT_PEM)
    with open(key, "w", encoding="utf-8") as f:
        f.write(MERCHANT_KEY_PEM)
    return cert, key


class Listener:
    """A merchant notify endpoint: `handler(path, headers, body) -> (status, body)`."""

    def __init__(self, handler):
        self.received = queue.Queue()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k: v for k, v in self.headers.items()}
                try:
                    status, reply, result = handler(self.path, headers, body)
                except Exception as e:  # noqa: BLE001 - the failure is the result
                    status, reply, result = 500, b"error", e
                outer.received.put((self.path, result))
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def next(self, timeout=10):
        """The next notification: (path, what the handler made of it)."""
        return self.received.get(timeout=timeout)
