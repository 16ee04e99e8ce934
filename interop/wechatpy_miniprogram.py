"""wechatpy's mini-program client against the simulator: code_to_session, the access token, and
get_wxa_code_unlimited."""

import struct

from common import check, expect, finish, new_app, sim
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

appid, secret, openid = new_app()
client = WeChatClient(appid, secret)


def code_to_session():
    code = sim("POST", f"/sim/apps/{appid}/users/{openid}/login-code")["code"]
    r = client.wxa.code_to_session(code)
    expect(r["openid"] == openid and len(r["session_key"]) == 24, r)
    try:
        client.wxa.code_to_session(code)
    except WeChatClientException as e:
        expect(e.errcode == 40163, e)
    else:
        raise AssertionError("a login code worked twice")


def invalid_code():
    try:
        client.wxa.code_to_session("not-a-code")
    except WeChatClientException as e:
        expect(e.errcode == 40029, e)
        return
    raise AssertionError("an unknown code was accepted")


def access_token():
    token = client.fetch_access_token()
    expect(token["expires_in"] == 7200 and len(token["access_token"]) > 100, token)
    expect(client.access_token == token["access_token"], "cached by the client")


def wxa_code_unlimited():
    r = client.wxa.get_wxa_code_unlimited("id=42", page="pages/index/index", width=430)
    png = r.content
    expect(png[:8] == b"\x89PNG\r\n\x1a\n", "a PNG image")
    width, height = struct.unpack(">II", png[16:24])
    expect((width, height) == (430, 430), (width, height))


def wxa_code_errors():
    try:
        client.wxa.get_wxa_code_unlimited("x" * 33)
    except WeChatClientException as e:
        expect(e.errcode == 40169, e)
    else:
        raise AssertionError("a 33-character scene was accepted")
    try:
        client.wxa.get_wxa_code_unlimited("a", page="/pages/index/index")
    except WeChatClientException as e:
        expect(e.errcode == 41030, e)
    else:
        raise AssertionError("a page with a leading / was accepted")


def bad_secret():
    try:
        WeChatClient(appid, "wrong-secret").fetch_access_token()
    except WeChatClientException as e:
        expect(e.errcode == 40001, e)
        return
    raise AssertionError("a wrong secret got a token")


check("wechatpy mini-program code_to_session (+ reuse 40163)", code_to_session)
check("wechatpy mini-program code_to_session invalid code 40029", invalid_code)
check("wechatpy mini-program fetch_access_token", access_token)
check("wechatpy mini-program get_wxa_code_unlimited PNG", wxa_code_unlimited)
check("wechatpy mini-program get_wxa_code_unlimited errors", wxa_code_errors)
check("wechatpy mini-program wrong secret 40001", bad_secret)
finish()
