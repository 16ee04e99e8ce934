"""wechatpy (API v2) against the simulator: unifiedorder, requestPayment, the signed payment
notification, orderquery, refund over mutual TLS, the encrypted refund notification, refundquery."""

from common import (Listener, check, expect, finish, new_app, new_merchant, pem_files, rand, sim)
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay

appid, _secret, openid = new_app()
mch_id, v2_key, _platform = new_merchant(appids=[appid])
cert, key = pem_files()
pay = WeChatPay(appid, v2_key, mch_id, mch_cert=cert, mch_key=key, timeout=10)
hmac_pay = WeChatPay(appid, v2_key, mch_id, timeout=10)


def on_notify(path, headers, body):
    if path.endswith("/refund"):
        data = pay.parse_refund_notify_result(body)
    else:
        data = pay.parse_payment_result(body)  # raises InvalidSignatureException on a bad sign
    ok = b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
    return 200, ok, data


listener = Listener(on_notify)
out_trade_no = "wpy" + rand(12)
out_refund_no = "wpyr" + rand(12)
state = {}


def unifiedorder():
    r = pay.order.create(trade_type="JSAPI", body="interop wechatpy", total_fee=1234,
                         notify_url=listener.base + "/v2/payment", client_ip="127.0.0.1",
                         user_id=openid, out_trade_no=out_trade_no)
    expect(r["prepay_id"].startswith("wx"), r)
    expect(pay.check_signature(dict(r)) is True, "wechatpy verifies the simulator's response signature")
    state["prepay_id"] = r["prepay_id"]


def request_payment_and_notification():
    params = pay.jsapi.get_jsapi_params(state["prepay_id"])
    body = dict(params, appid=appid, openid=openid, result="success")
    body.pop("appId", None)
    paid = sim("POST", "/sim/request-payment", body)
    expect(paid["trade_state"] == "SUCCESS", paid)
    path, data = listener.next()
    expect(not isinstance(data, Exception), f"wechatpy rejected the notification: {data!r}")
    expect(data["total_fee"] == 1234 and data["out_trade_no"] == out_trade_no, data)
    expect(data["transaction_id"] == paid["transaction_id"], data)
    state["transaction_id"] = paid["transaction_id"]


def orderquery():
    r = pay.order.query(out_trade_no=out_trade_no)
    expect(r["trade_state"] == "SUCCESS" and r["total_fee"] == "1234", r)
    expect(pay.check_signature(dict(r)) is True, "signature")
    r = pay.order.query(transaction_id=state["transaction_id"])
    expect(r["out_trade_no"] == out_trade_no, r)


def refund_with_client_certificate():
    r = pay.refund.apply(total_fee=1234, refund_fee=234, out_refund_no=out_refund_no,
                         out_trade_no=out_trade_no, notify_url=listener.base + "/v2/refund")
    expect(r["result_code"] == "SUCCESS" and r["refund_fee"] == "234", r)
    expect(pay.check_signature(dict(r)) is True, "signature")


def refund_refused_without_certificate():
    try:
        hmac_pay.refund.apply(total_fee=1234, refund_fee=1, out_refund_no="wpyn" + rand(8),
                              out_trade_no=out_trade_no)
    except Exception:  # noqa: BLE001 - the TLS handshake or the 400 are both refusals
        return
    raise AssertionError("a refund without the client certificate was accepted")


def refund_notification_and_query():
    sim("POST", f"/sim/refunds/{out_refund_no}/settle", {"result": "success", "mch_id": mch_id})
    path, data = listener.next()
    expect(path.endswith("/refund") and not isinstance(data, Exception), data)
    expect(data["refund_status"] == "SUCCESS" and int(data["refund_fee"]) == 234, data)
    expect(data["out_refund_no"] == out_refund_no, data)
    r = pay.refund.query(out_refund_no=out_refund_no)
    expect(r["refund_status_0"] == "SUCCESS" and r["refund_fee_0"] == "234", r)


def hmac_sha256_order():
    r = hmac_pay.order.create(trade_type="NATIVE", body="hmac", total_fee=5,
                              notify_url=listener.base + "/v2/payment", client_ip="127.0.0.1",
                              product_id="p1", out_trade_no="wpyh" + rand(10), sign_type="HMAC-SHA256")
    expect(r["code_url"].startswith("weixin://wxpay/bizpayurl"), r)


def business_errors():
    try:
        pay.order.create(trade_type="JSAPI", body="changed", total_fee=1,
                         notify_url=listener.base + "/v2/payment", client_ip="127.0.0.1",
                         user_id=openid, out_trade_no=out_trade_no)
    except WeChatPayException as e:
        expect(e.errcode == "ORDERPAID", e)
        return
    raise AssertionError("a paid order was accepted again")


def bad_key_is_refused():
    bad = WeChatPay(appid, "0" * 32, mch_id, timeout=10)
    try:
        bad.order.query(out_trade_no=out_trade_no)
    except WeChatPayException as e:
        expect(e.return_code == "FAIL" and "签名" in (e.return_msg or ""), e)
        return
    raise AssertionError("a wrong API key was accepted")


check("wechatpy v2 unifiedorder (JSAPI) + response signature", unifiedorder)
check("wechatpy v2 jsapi params -> request-payment -> parse_payment_result", request_payment_and_notification)
check("wechatpy v2 orderquery", orderquery)
check("wechatpy v2 refund with client certificate", refund_with_client_certificate)
check("wechatpy v2 refund without certificate is refused", refund_refused_without_certificate)
check("wechatpy v2 parse_refund_notify_result + refundquery", refund_notification_and_query)
check("wechatpy v2 NATIVE unifiedorder with HMAC-SHA256", hmac_sha256_order)
check("wechatpy v2 ORDERPAID", business_errors)
check("wechatpy v2 wrong key -> 签名错误", bad_key_is_refused)
finish()
