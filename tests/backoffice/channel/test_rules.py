"""Pure channel rules: item ranges, back-off, return windows, dealer moves, prices, signing."""

from datetime import UTC, datetime, timedelta

import pytest

from backoffice.domain.channel import (
    ChannelRuleError,
    DealerStatus,
    ItemRange,
    Price,
    PricingError,
    check_dealer_move,
    check_price,
    compress_ranges,
    default_prices,
    retry_delay,
    within_return_window,
)
from backoffice.domain.counter import sign, verify


def test_compress_ranges_joins_consecutive_serials_only() -> None:
    keys = ["13905750003", "13905750001", "13905750002", "13905750009", "13905750002"]
    assert compress_ranges(keys) == [
        ItemRange("13905750001", "13905750003", 3),
        ItemRange("13905750009", "13905750009", 1),
    ]
    assert compress_ranges(["10575000000000009", "10575000000000010"]) == [
        ItemRange("10575000000000009", "10575000000000010", 2)
    ]
    assert compress_ranges([]) == []


def test_retry_delay_doubles_up_to_a_cap() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert retry_delay(30) == timedelta(hours=1)
    with pytest.raises(ValueError):
        retry_delay(0)


def test_return_window() -> None:
    sold = datetime(2026, 11, 1, tzinfo=UTC)
    week = timedelta(days=7)
    assert within_return_window(sold, sold + week, week)
    assert not within_return_window(sold, sold + week + timedelta(seconds=1), week)
    assert not within_return_window(sold, sold - timedelta(seconds=1), week)


def test_dealer_status_moves() -> None:
    check_dealer_move(DealerStatus.active, DealerStatus.suspended)
    check_dealer_move(DealerStatus.suspended, DealerStatus.active)
    with pytest.raises(ChannelRuleError) as refused:
        check_dealer_move(DealerStatus.terminated, DealerStatus.active)
    assert refused.value.code == "illegal_dealer_status"


def test_prices() -> None:
    products = {p.product for p in default_prices()}
    assert {"number:STD", "number:G1", "voucher:5000", "sim_pack"} <= products
    assert all(p.dealer_fen <= p.retail_fen for p in default_prices())
    with pytest.raises(PricingError, match="above the retail"):
        check_price(Price("voucher:5000", 100, 200))
    with pytest.raises(PricingError, match="is not number"):
        check_price(Price("number:", 1, 1))


def test_webhook_signatures() -> None:
    header = sign("s3cret", 1_700_000_000, b'{"msisdn":"13905750001"}')
    assert verify("s3cret", header, b'{"msisdn":"13905750001"}', 1_700_000_100)
    assert not verify("s3cret", header, b'{"msisdn":"13905750002"}', 1_700_000_100)
    assert not verify("other", header, b'{"msisdn":"13905750001"}', 1_700_000_100)
    assert not verify("s3cret", header, b'{"msisdn":"13905750001"}', 1_700_001_000)
    assert not verify("s3cret", "garbage", b"", 1_700_000_000)
