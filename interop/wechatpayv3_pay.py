"""wechatpayv3 (API v3) against the simulator, in platform-certificate mode (the SDK downloads
/v3/certificates) and in public-key mode: jsapi, requestPayment's RSA paySign, the payment
notification verified and decrypted by the SDK's callback parser, queries, close, refund, the
refund notification, refund query, certificates."""

import json
import os
import tempfile
import time

from common import (APIV3_KEY, MERCHANT_KEY_PEM, MERCHANT_SERIAL, Listener, check, expect, finish,
                    new_app, new_merchant, rand, sim)
from wechatpayv3 import WeChatPay, WeChatPayType


def run_mode(mode):
    appid, _secret, openid = new_app()
    mch_id, _v2, platform = new_merchant(mode=mode)
    holder = {}

    def on_notify(path, headers, body):
        data = holder["pay"].callback(headers, body)  # None when verification fails
        if not data:
            return 401, b'{"code":"FAIL","message":"verification failed"}', None
        return 204, b"", data

    listener = Listener(on_notify)
    kwargs = dict(wechatpay_type=WeChatPayType.MINIPROG, mchid=mch_id, private_key=MERCHANT_KEY_PEM,
                  cert_serial_no=MERCHANT_SERIAL, apiv3_key=APIV3_KEY, appid=appid,
                  notify_url=listener.base + "/v3/payment", timeout=(10, 30))
    if mode == "public_key":
        kwargs.update(public_key=platform["public_key_pem"], public_key_id=platform["public_key_id"])
    # Platform-certificate mode: the constructor downloads and decrypts /v3/certificates.
    pay = WeChatPay(**kwargs)
    holder["pay"] = pay
    out_trade_no = "wpv3" + rand(12)
    out_refund_no = "wpv3r" + rand(12)
    st = {}

    def jsapi():
        code, msg = pay.pay(description="interop wechatpayv3", out_trade_no=out_trade_no,
                            amount={"total": 888}, payer={"openid": openid})
        expect(code == 200, (code, msg))
        st["prepay_id"] = json.loads(msg)["prepay_id"]

    def request_payment_and_notification():
        ts, nonce = str(int(time.time())), rand(32)
        package = "prepay_id=" + st["prepay_id"]
        pay_sign = pay.sign([appid, ts, nonce, package])
        paid = sim("POST", "/sim/request-payment", {
            "appid": appid, "openid": openid, "timeStamp": ts, "nonceStr": nonce,
            "package": package, "signType": "RSA", "paySign": pay_sign, "result": "success"})
        expect(paid["trade_state"] == "SUCCESS", paid)
        _path, data = listener.next()
        expect(data is not None, "the SDK's callback parser rejected the notification")
        res = data["resource"]
        expect(data["event_type"] == "TRANSACTION.SUCCESS", data)
        expect(res["amount"]["total"] == 888 and res["trade_state"] == "SUCCESS", res)
        expect(res["out_trade_no"] == out_trade_no and res["payer"]["openid"] == openid, res)
        st["transaction_id"] = res["transaction_id"]

    def queries():
        code, msg = pay.query(out_trade_no=out_trade_no)
        expect(code == 200 and json.loads(msg)["trade_state"] == "SUCCESS", (code, msg))
        code, msg = pay.query(transaction_id=st["transaction_id"])
        expect(code == 200 and json.loads(msg)["out_trade_no"] == out_trade_no, (code, msg))

    def close():
        other = "wpv3c" + rand(10)
        code, _ = pay.pay(description="to close", out_trade_no=other, amount={"total": 1},
                          payer={"openid": openid})
        expect(code == 200, code)
        code, msg = pay.close(out_trade_no=other)
        expect(code == 204, (code, msg))
        code, msg = pay.query(out_trade_no=other)
        expect(json.loads(msg)["trade_state"] == "CLOSED", msg)

    def refund():
        code, msg = pay.refund(out_refund_no=out_refund_no, out_trade_no=out_trade_no,
                               amount={"refund": 88, "total": 888, "currency": "CNY"},
                               notify_url=listener.base + "/v3/refund")
        expect(code == 200 and json.loads(msg)["status"] == "PROCESSING", (code, msg))
        sim("POST", f"/sim/refunds/{out_refund_no}/settle", {"result": "success", "mch_id": mch_id})
        _path, data = listener.next()
        expect(data is not None and data["event_type"] == "REFUND.SUCCESS", data)
        expect(data["resource"]["amount"]["refund"] == 88, data)
        code, msg = pay.query_refund(out_refund_no=out_refund_no)
        expect(code == 200 and json.loads(msg)["status"] == "SUCCESS", (code, msg))

    def over_refund():
        code, msg = pay.refund(out_refund_no="wpv3x" + rand(10), out_trade_no=out_trade_no,
                               amount={"refund": 801, "total": 888, "currency": "CNY"})
        expect(code == 400, (code, msg))

    def certificates():
        if mode == "public_key":
            # No platform certificate exists for a public-key merchant.
            code, msg = pay._core.request("/v3/certificates")
            expect(code == 404, (code, msg))
            return
        # The SDK downloads, verifies and decrypts /v3/certificates and stores each by serial.
        cert_dir = tempfile.mkdtemp(prefix="wpv3certs-")
        WeChatPay(**dict(kwargs, cert_dir=cert_dir))
        stored = os.listdir(cert_dir)
        expect(stored == [platform["platform_serial"] + ".pem"], stored)
        with open(os.path.join(cert_dir, stored[0]), encoding="utf-8") as f:
            expect(f.read().strip() == platform["platform_certificate_pem"].strip(), "same certificate")

    def wrong_serial_is_401():
        bad = WeChatPay(**dict(kwargs, cert_serial_no="0" * 40, public_key=platform["public_key_pem"],
                               public_key_id=platform["public_key_id"]))
        code, msg = bad.query(out_trade_no=out_trade_no)
        expect(code == 401 and json.loads(msg)["code"] == "SIGN_ERROR", (code, msg))

    check(f"wechatpayv3 [{mode}] jsapi", jsapi)
    check(f"wechatpayv3 [{mode}] RSA paySign -> request-payment -> callback verify+decrypt", request_payment_and_notification)
    check(f"wechatpayv3 [{mode}] query by out_trade_no and transaction_id", queries)
    check(f"wechatpayv3 [{mode}] close (204)", close)
    check(f"wechatpayv3 [{mode}] refund + REFUND.SUCCESS callback + query_refund", refund)
    check(f"wechatpayv3 [{mode}] refund over what is left is 400", over_refund)
    check(f"wechatpayv3 [{mode}] certificates", certificates)
    check(f"wechatpayv3 [{mode}] wrong merchant serial is 401 SIGN_ERROR", wrong_serial_is_401)


run_mode("platform_cert")
run_mode("public_key")
finish()
