"""The httpx client against hand-written ``httpx.MockTransport`` handlers (no network)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from btcbot_pipeline.adapters.btcturk.client import (
    BtcturkPublicClient,
    BtcturkReadClient,
    BtcturkTradingClient,
    ClientConfig,
    LiveArming,
    LiveArmingError,
)
from btcbot_pipeline.adapters.btcturk.errors import (
    AuthError,
    CircuitOpenError,
    MalformedResponseError,
    OrderRejectedError,
    ServerError,
    TransportError,
)
from btcbot_pipeline.adapters.btcturk.limits import RetryPolicy
from btcbot_pipeline.adapters.btcturk.signing import Credentials, CredentialsError, signature

KEY, SECRET = "demo-key", "c3VwZXItc2VjcmV0LWJ5dGVz"  # b"super-secret-bytes"
CREDS = Credentials(SecretStr(KEY), SecretStr(SECRET))
ARMED = LiveArming(dry_run=False, kill_switch=False, live_trading=True, ack="I_UNDERSTAND")
OK_BOOK = {
    "success": True,
    "message": None,
    "code": 0,
    "data": {"timestamp": 1, "bids": [["10", "1"]], "asks": [["11", "1"]]},
}


class Script:
    """Answers requests from a list of (status, body, headers) in order; records requests."""

    def __init__(self, *answers: tuple[int, object, dict[str, str]] | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        status, body, headers = answer
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers=headers)


def client(script: Script, cls=BtcturkPublicClient, *args, attempts: int = 4, breaker: int = 50):  # type: ignore[no-untyped-def]
    config = ClientConfig(
        base_url="https://api.test",
        graph_base_url="https://graph.test",
        retry=RetryPolicy(max_attempts=attempts, base_delay_s=0.5, seed=3),
        breaker_failures=breaker,
    )
    return cls(*args, config, transport=httpx.MockTransport(script), sleep=script.sleeps.append)


def test_signature_matches_documented_test_vector() -> None:
    assert (
        signature("demo-key", "c3VwZXItc2VjcmV0LWJ5dGVz", "1700000000123")
        == "n3vM0/3V67fMgjxxsjekOrLRULK/nctpnHuw3WsgssE="
    )


def test_signature_refuses_non_base64_secret_without_showing_it() -> None:
    with pytest.raises(CredentialsError, match=re.escape("BTCTURK_API_SECRET is not valid base64")) as info:
        signature("k", "not base64 !!", 1)
    assert "not base64 !!" not in str(info.value)


def test_private_read_sends_the_three_headers_signed_with_the_stamp() -> None:
    script = Script((200, {"success": True, "message": None, "code": 0, "data": []}, {}))
    c = client(script, BtcturkReadClient, CREDS)
    c._http.local_ms = lambda: 1700000000123
    assert c.balances() == []
    headers = script.requests[0].headers
    assert (headers["X-PCK"], headers["X-Stamp"], headers["X-Signature"]) == (
        KEY,
        "1700000000123",
        "n3vM0/3V67fMgjxxsjekOrLRULK/nctpnHuw3WsgssE=",
    )
    assert str(script.requests[0].url) == "https://api.test/api/v1/users/balances"


def test_public_call_sends_no_credentials() -> None:
    script = Script((200, OK_BOOK, {}))
    client(script).order_book("BTCTRY", limit=5)
    assert "X-PCK" not in script.requests[0].headers
    assert str(script.requests[0].url) == "https://api.test/api/v2/orderbook?pairSymbol=BTCTRY&limit=5"


def test_klines_go_to_the_graph_host_without_envelope() -> None:
    script = Script((200, {"s": "ok", "t": [60], "o": [1], "h": [2], "l": [0.5], "c": [1.5], "v": [3]}, {}))
    (bar,) = client(script).klines("BTCTRY", resolution_min=1, start_s=0, end_s=120)
    assert (
        str(script.requests[0].url) == "https://graph.test/v1/klines/history?symbol=BTCTRY&resolution=1&from=0&to=120"
    )
    assert (bar.time, bar.close, bar.low) == (60, Decimal("1.5"), Decimal("0.5"))


def test_server_errors_are_retried_with_seeded_backoff_then_succeed() -> None:
    script = Script((500, {"success": False, "message": "X", "code": 500}, {}), (503, b"", {}), (200, OK_BOOK, {}))
    book = client(script).order_book("BTCTRY")
    assert book.best_bid == Decimal("10")
    assert len(script.requests) == 3
    # base 0.5 s doubled per attempt, times a jitter in [0.5, 1) from seed 3
    assert len(script.sleeps) == 2 and 0.25 <= script.sleeps[0] < 0.5 and 0.5 <= script.sleeps[1] < 1.0


def test_same_seed_same_delays() -> None:
    assert [RetryPolicy(seed=9).delay(n) for n in (1, 2, 3)] == [RetryPolicy(seed=9).delay(n) for n in (1, 2, 3)]


def test_429_waits_retry_after_then_succeeds() -> None:
    body = {"message": "TOO_MANY_REQUESTS", "success": False, "code": 429, "details": "Quota exceeded."}
    script = Script((429, body, {"Retry-After": "7"}), (200, OK_BOOK, {}))
    client(script).order_book("BTCTRY")
    assert script.sleeps == [7.0]


def test_x_retry_after_is_read_too() -> None:
    script = Script(
        (429, {"success": False, "message": "Too many requests", "code": 429}, {"X-Retry-After": "3"}),
        (200, OK_BOOK, {}),
    )
    client(script).order_book("BTCTRY")
    assert script.sleeps == [3.0]


def test_retries_are_bounded() -> None:
    script = Script((503, {"success": False, "message": "SERVICE_UNAVAILABLE", "code": 503}, {}))
    with pytest.raises(
        ServerError,
        match=re.escape(
            "Server error '503 Service Unavailable' for url "
            "'https://api.test/api/v2/orderbook?pairSymbol=BTCTRY&limit=25' (SERVICE_UNAVAILABLE)"
        ),
    ):
        client(script, attempts=3).order_book("BTCTRY")
    assert len(script.requests) == 3


def test_timeouts_are_retried() -> None:
    script = Script(httpx.ReadTimeout("slow"), (200, OK_BOOK, {}))
    client(script).order_book("BTCTRY")
    assert len(script.requests) == 2


def test_timeout_after_retries_is_transport_error() -> None:
    script = Script(httpx.ConnectError("refused"))
    with pytest.raises(TransportError, match=re.escape("ConnectError for url 'https://api.test/api/v2/ticker'")):
        client(script, attempts=2).tickers()


def test_malformed_json_is_retried_then_reported() -> None:
    script = Script((200, b'{"success":true,"data":{"timest', {}))
    with pytest.raises(MalformedResponseError):
        client(script, attempts=2).order_book("BTCTRY")
    assert len(script.requests) == 2


def test_circuit_breaker_opens_after_consecutive_failures() -> None:
    script = Script((500, b"", {}))
    c = client(script, attempts=1, breaker=3)
    for _ in range(3):
        with pytest.raises(ServerError):
            c.tickers()
    with pytest.raises(CircuitOpenError):
        c.tickers()
    assert len(script.requests) == 3
    assert c.breaker_states["rest"] == "open"


def test_business_error_matched_by_message_name_not_code() -> None:
    body = {
        "httpStatusCode": 400,
        "data": None,
        "success": False,
        "message": "FAILED_ORDER_WITH_OPEN_ORDERS",
        "code": 1123,
    }
    script = Script((400, body, {}))
    with pytest.raises(OrderRejectedError) as info:
        client(script, BtcturkTradingClient, CREDS, ARMED).submit_limit_order(
            pair_symbol="BTCTRY", side="buy", quantity=Decimal("0.001"), price=Decimal("20000"), client_order_id="c1"
        )
    assert info.value.name == "FAILED_ORDER_WITH_OPEN_ORDERS"


def test_private_write_is_never_retried() -> None:
    script = Script((503, b"", {}), (200, {"success": True, "message": "OK", "code": 0, "data": {"id": 1}}, {}))
    c = client(script, BtcturkTradingClient, CREDS, ARMED)
    with pytest.raises(ServerError):
        c.submit_limit_order(
            pair_symbol="BTCTRY", side="buy", quantity=Decimal("0.001"), price=Decimal("20000"), client_order_id="c1"
        )
    script2 = Script(httpx.ReadTimeout("slow"))
    with pytest.raises(TransportError):
        client(script2, BtcturkTradingClient, CREDS, ARMED).cancel_order(42)
    assert (len(script.requests), len(script2.requests)) == (1, 1)


def test_submit_body_and_cancel_by_query_id() -> None:
    script = Script(
        (200, {"success": True, "message": "OK", "code": 0, "data": {"id": 21770789256, "type": "Buy"}}, {}),
        (200, {"success": True, "message": "SUCCESS", "code": 0}, {}),
    )
    c = client(script, BtcturkTradingClient, CREDS, ARMED)
    order = c.submit_limit_order(
        pair_symbol="BTCTRY", side="BUY", quantity=Decimal("0.00100"), price=Decimal("20000.0"), client_order_id="c1"
    )
    c.cancel_order(21770789256)
    assert json.loads(script.requests[0].content) == {
        "quantity": "0.00100",
        "price": "20000.0",
        "orderMethod": "limit",
        "orderType": "buy",
        "pairSymbol": "BTCTRY",
        "newOrderClientId": "c1",
    }
    assert order.id == 21770789256
    assert (script.requests[1].method, str(script.requests[1].url), script.requests[1].content) == (
        "DELETE",
        "https://api.test/api/v1/order?id=21770789256",
        b"",
    )


def test_trading_client_refuses_without_every_gate() -> None:
    with pytest.raises(
        LiveArmingError, match=re.escape("live trading is not armed: DRY_RUN, LIVE_TRADING_ACK gate(s) closed")
    ):
        BtcturkTradingClient(CREDS, LiveArming(dry_run=True, kill_switch=False, live_trading=True, ack=None))


def test_read_client_has_no_write_methods() -> None:
    for cls in (BtcturkPublicClient, BtcturkReadClient):
        assert not any(hasattr(cls, name) for name in ("submit_limit_order", "cancel_order"))


def test_auth_failure_401_with_success_true_body() -> None:
    script = Script((401, {"success": True, "message": "Unauthorized - Invalid Request", "code": 1037}, {}))
    with pytest.raises(
        AuthError,
        match=re.escape(
            "Auth error '401 Unauthorized' for url 'https://api.test/api/v1/users/balances' (Unauthorized - Invalid "
            "Request)"
        ),
    ):
        client(script, BtcturkReadClient, CREDS).balances()
    assert len(script.requests) == 1


def test_secrets_never_in_repr_errors_or_urls() -> None:
    script = Script((401, {"success": True, "message": "Unauthorized - Invalid Request", "code": 1037}, {}))
    c = client(script, BtcturkReadClient, CREDS)
    with pytest.raises(AuthError) as info:
        c.balances()
    signature_value = script.requests[0].headers["X-Signature"]
    for text in (repr(c), repr(CREDS), str(CREDS), str(info.value), repr(info.value), str(script.requests[0].url)):
        assert SECRET not in text and signature_value not in text
    assert KEY not in repr(c) and KEY not in repr(CREDS)


def test_envelope_success_false_on_200_is_an_error() -> None:
    script = Script((200, {"success": False, "message": "PAIR_NOT_FOUND", "code": 400}, {}))
    with pytest.raises(OrderRejectedError, match="PAIR_NOT_FOUND"):
        client(script).tickers("NOPE")


def test_cancel_with_an_empty_200_body_is_success() -> None:
    script = Script((200, b"", {}))
    client(script, BtcturkTradingClient, CREDS, ARMED).cancel_order(7)
    assert len(script.requests) == 1


def test_invalid_nonce_syncs_clock_once_and_retries() -> None:
    nonce = (401, {"success": True, "message": "Unauthorized - Invalid Nonce", "code": 1037}, {})
    script = Script(
        nonce,
        (200, {"serverTime": 1700000005000, "serverTime2": "2023-11-14T22:13:25+00:00"}, {}),
        (200, {"success": True, "message": None, "code": 0, "data": []}, {}),
    )
    c = client(script, BtcturkReadClient, CREDS)
    c._http.local_ms = lambda: 1700000000000
    assert c.balances() == []
    assert [r.url.path for r in script.requests] == [
        "/api/v1/users/balances",
        "/api/v2/server/time",
        "/api/v1/users/balances",
    ]
    assert script.requests[2].headers["X-Stamp"] == "1700000005000"


def test_one_unreadable_ticker_row_does_not_hide_the_others() -> None:
    rows = [
        {"pair": "BTCTRY", "last": 10, "timestamp": 1},
        {"pairNormalized": "NO_PAIR"},
        {"pair": "ETHTRY", "last": "x"},
    ]
    script = Script((200, {"success": True, "message": None, "code": 0, "data": rows}, {}))
    assert [t.symbol for t in client(script).tickers()] == ["BTCTRY"]


def test_no_readable_ticker_row_is_malformed() -> None:
    script = Script((200, {"success": True, "message": None, "code": 0, "data": [{"last": 1}]}, {}))
    with pytest.raises(MalformedResponseError, match=re.escape("ticker: none of the 1 rows could be read")):
        client(script, attempts=1).tickers()
