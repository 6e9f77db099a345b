"""Position and tax-lot writes, called by orders' services inside their transaction (the caller
holds the account lock and the position's row lock, in the lock order of docs/architecture.md).

Tax lots: every opening fill opens a lot (a buy a long lot, a short sale a short lot); every
closing fill consumes lots - FIFO, or the lots its order named first (specific identification,
`orders.services.order_lots_select`) - and records one LotClosure per lot with the P&L it realized. The position's
average entry price and cost basis are those of its open lots, and its realized P&L the sum of
its closures', so the position and its lots never disagree.

Wash sales (IRC 1091, long lots): a loss on shares sold within 30 days before or after a purchase
of the same symbol is flagged on the closure, with the disallowed part (pro rata to the
replacement shares) recorded on the closure and added to the replacement lot's tax basis for the
year-end report. Economic P&L (what the API shows) is not changed by the flag.
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import ROUND_FLOOR, Decimal

from django.db import transaction
from django.db.models import F, Sum
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.locks import lock_account
from compliance.services import audit_record, audit_record_system
from core.errors import InvalidInput
from core.values import AVG_PRICE_PLACES, money, round_to
from core.values import qty as round_qty
from core.vocabulary import OrderSide
from marketdata.selectors import asset_for_order

from .locks import lock_positions
from .models import LotClosure, LotSelection, Position, ShortLocate, TaxLot
from .push import account_push_on_commit

ZERO = Decimal(0)
WASH_SALE_DAYS = 30


@dataclass(frozen=True)
class FillEffect:
    realized_pl: Decimal
    opened_qty: Decimal
    closed_qty: Decimal
    day_trade: bool  # closed shares that were opened today


def position_get_or_create_locked(*, account, asset) -> Position:
    """The account's position in the asset; creating the row is safe because the caller holds the
    account lock, which every position writer takes first."""
    position, _ = Position.objects.get_or_create(account=account, symbol=asset.symbol, defaults={"asset": asset})
    return position


def _open_lots(position: Position) -> list[TaxLot]:
    return list(TaxLot.objects.filter(position=position, remaining_qty__gt=0).order_by("opened_at", "id"))


def _reconcile_lots(position: Position, lots: list[TaxLot], at: datetime) -> list[TaxLot]:
    """Positions opened before tax lots existed (or moved by hand) get one lot for the shares their
    lots do not cover, at the position's average price, so every closing fill has lots to consume."""
    side = TaxLot.Side.LONG if position.qty > 0 else TaxLot.Side.SHORT
    covered = sum((lot.remaining_qty for lot in lots if lot.side == side), ZERO)
    missing = abs(position.qty) - covered
    if position.qty != 0 and missing > 0:
        lots = [TaxLot.objects.create(account_id=position.account_id, position=position, symbol=position.symbol,
                                      side=side, opened_at=at, qty=missing, remaining_qty=missing,
                                      price=position.avg_entry_price)] + lots
    return [lot for lot in lots if lot.side == side]


def _ordered_for_close(lots: list[TaxLot], order_id) -> list[TaxLot]:
    """The order's selected lots first (in its order), then FIFO."""
    if order_id is None:
        return lots
    selection = LotSelection.objects.filter(order_id=order_id).values_list("lot_ids", flat=True).first()
    if not selection:
        return lots
    by_id = {lot.pk: lot for lot in lots}
    chosen = [by_id[i] for i in selection if i in by_id]
    chosen_ids = {lot.pk for lot in chosen}
    return chosen + [lot for lot in lots if lot.pk not in chosen_ids]


def _avg_price(lots: list[TaxLot]) -> Decimal:
    shares = sum((lot.remaining_qty for lot in lots), ZERO)
    if not shares:
        return ZERO
    return round_to(sum((lot.remaining_qty * lot.price for lot in lots), ZERO) / shares, AVG_PRICE_PLACES)


def _flag_wash_sales_on_close(closures: list[LotClosure], consumed_ids: set[int], at: datetime) -> None:
    """A loss on a long lot with a purchase of the same symbol in the 30 days before the sale (not
    the shares sold): flagged now. Purchases in the 30 days after are caught when they happen."""
    losses = [c for c in closures if c.side == TaxLot.Side.LONG and c.realized_pl < 0]
    if not losses:
        return
    first = losses[0]
    replacements = list(TaxLot.objects.filter(account_id=first.account_id, symbol=first.symbol, side=TaxLot.Side.LONG,
                                              opened_at__gte=at - timedelta(days=WASH_SALE_DAYS), opened_at__lte=at)
                        .exclude(pk__in=consumed_ids).order_by("opened_at", "id"))
    _match_replacements(losses, replacements)


def _match_replacements(losses: list[LotClosure], replacements: list[TaxLot]) -> None:
    """Pair loss shares with replacement shares in time order; each pairing disallows the loss pro
    rata and adds it to the replacement lot's tax basis."""
    pool = [[lot, lot.qty] for lot in replacements]
    touched = {}
    for closure in losses:
        need = closure.qty
        for entry in pool:
            if need <= 0:
                break
            lot, available = entry
            if available <= 0:
                continue
            used = min(need, available)
            entry[1] -= used
            need -= used
            disallowed = money(-closure.realized_pl * used / closure.qty)
            closure.wash_sale = True
            closure.wash_sale_disallowed += disallowed
            closure.replacement_lot = closure.replacement_lot or lot
            lot.wash_sale_adjustment += disallowed
            touched[lot.pk] = lot
    for lot in touched.values():
        if lot.pk is not None:
            lot.save(update_fields=["wash_sale_adjustment"])


def _flag_wash_sales_on_open(lot: TaxLot, at: datetime) -> None:
    """A purchase within 30 days after losses not yet matched: those losses are wash sales."""
    losses = list(LotClosure.objects.filter(account_id=lot.account_id, symbol=lot.symbol, side=TaxLot.Side.LONG,
                                            realized_pl__lt=0, wash_sale=False,
                                            closed_at__gte=at - timedelta(days=WASH_SALE_DAYS), closed_at__lte=at)
                  .order_by("closed_at", "id"))
    if not losses:
        return
    _match_replacements(losses, [lot])
    for closure in losses:
        if closure.wash_sale:
            closure.save(update_fields=["wash_sale", "wash_sale_disallowed", "replacement_lot"])


def _at(trade_date: date, at: datetime | None) -> datetime:
    return at or datetime.combine(trade_date, time(0), tzinfo=dt_timezone.utc)


def position_apply_fill(*, position: Position, side: str, qty: Decimal, price: Decimal, trade_date: date,
                        execution=None, order_id=None, at: datetime | None = None) -> FillEffect:
    """Apply one fill: the closing part consumes tax lots (FIFO, or the order's selected lots
    first) and realizes their P&L; the opening part opens a lot; a fill larger than the position
    flips it (long to short or back). Caller holds the account and position locks."""
    at = _at(trade_date, at if at is not None else getattr(execution, "transacted_at", None))
    execution_id = getattr(execution, "pk", None)
    if order_id is None and execution is not None:
        order_id = execution.order_id
    if position.activity_date != trade_date:
        position.activity_date, position.day_opened_qty, position.day_closed_qty = trade_date, ZERO, ZERO
    signed = qty if side == OrderSide.BUY else -qty
    current = position.qty
    closing = ZERO if current == 0 or (current > 0) == (signed > 0) else min(qty, abs(current))
    opening = qty - closing
    realized = ZERO
    opened_today_open = position.day_opened_qty - position.day_closed_qty
    lots = _reconcile_lots(position, _open_lots(position), at) if current else []
    if closing:
        direction = 1 if current > 0 else -1
        left = closing
        closures, consumed = [], set()
        for lot in _ordered_for_close(lots, order_id):
            if left <= 0:
                break
            take = min(left, lot.remaining_qty)
            left -= take
            lot_pl = money(take * (price - lot.price) * direction)
            realized += lot_pl
            lot.remaining_qty -= take
            lot.save(update_fields=["remaining_qty"])
            consumed.add(lot.pk)
            closures.append(LotClosure(lot=lot, account_id=position.account_id, symbol=position.symbol, side=lot.side,
                                       qty=take, open_price=lot.price, close_price=price, opened_at=lot.opened_at,
                                       closed_at=at, execution_id=execution_id, order_id=order_id, realized_pl=lot_pl))
        _flag_wash_sales_on_close(closures, consumed, at)
        LotClosure.objects.bulk_create(closures)
        position.realized_pl += realized
        position.qty = current + (closing if signed > 0 else -closing)
        position.day_closed_qty += closing
        lots = [lot for lot in lots if lot.remaining_qty > 0]
    if opening:
        lot = TaxLot.objects.create(account_id=position.account_id, position=position, symbol=position.symbol,
                                    side=TaxLot.Side.LONG if signed > 0 else TaxLot.Side.SHORT, opened_at=at,
                                    execution_id=execution_id, order_id=order_id, qty=opening, remaining_qty=opening,
                                    price=price)
        if lot.side == TaxLot.Side.LONG:
            _flag_wash_sales_on_open(lot, at)
        lots = lots + [lot]
        position.qty += opening if signed > 0 else -opening
        position.day_opened_qty += opening
    position.avg_entry_price = _avg_price(lots) if position.qty else ZERO
    position.save()
    if opening and signed < 0:
        asset = asset_for_order(position.symbol)  # per-process cache: no query per fill
        if asset is not None and not asset.easy_to_borrow:
            _locate_draw(position.symbol, opening)
    account_push_on_commit(position.account_id)
    return FillEffect(realized, opening, closing, day_trade=bool(closing) and opened_today_open > 0)


def position_hold(*, position: Position, qty: Decimal) -> None:
    """Promise long shares to an open sell order."""
    if qty:
        position.held_qty += qty
        position.save(update_fields=["held_qty", "updated_at"])


def position_release(*, position: Position, qty: Decimal) -> None:
    if qty:
        position.held_qty = max(position.held_qty - qty, ZERO)
        position.save(update_fields=["held_qty", "updated_at"])


def lot_ids_check(lot_ids) -> None:
    if not isinstance(lot_ids, list) or not lot_ids or not all(type(i) is int for i in lot_ids) \
            or len(set(lot_ids)) != len(lot_ids):
        raise InvalidInput("invalid_lot_ids", "lot_ids must be a non-empty list of distinct lot ids")


def lot_selection_set(*, account, order_id, symbol: str, side: str, lot_ids: list[int], actor: str) -> LotSelection:
    """Name the lots a closing order (of `side` in `symbol`) closes: specific identification. The
    lots must be open lots of the account and symbol, on the side the order closes. Called by
    orders.services.order_lots_select, in its transaction, under the account lock, once it has
    checked the order is the account's and unfilled."""
    lot_ids_check(lot_ids)
    closes = TaxLot.Side.LONG if side == OrderSide.SELL else TaxLot.Side.SHORT
    found = set(TaxLot.objects.filter(pk__in=lot_ids, account_id=account.pk, symbol=symbol, side=closes,
                                      remaining_qty__gt=0).values_list("pk", flat=True))
    unknown = [i for i in lot_ids if i not in found]
    if unknown:
        raise InvalidInput("invalid_lot_ids", f"not open {closes} lots of {symbol} in this account: {unknown}")
    selection, _ = LotSelection.objects.update_or_create(order_id=order_id, defaults={"account": account,
                                                                                      "lot_ids": lot_ids})
    audit_record(account=account, actor=actor, action="tax_lots.selected", entity_type="order", entity_id=order_id,
                 data={"lot_ids": lot_ids})
    return selection


@transaction.atomic
def lots_split(*, account, symbol: str, ratio_num: int, ratio_den: int, actor: str = "corporate_action") -> Position | None:
    """A split of `ratio_num` for `ratio_den` (2 for 1: ratio_num=2, ratio_den=1; a 1-for-10 reverse
    split: 1, 10): quantities times num/den, prices times den/num, cost basis unchanged. Not
    durable, so the settlement's corporate-action transaction may call it; it takes the account
    and position locks itself (a no-op when the caller already holds them). Returns the position,
    or None when the account holds none. Quantities keep 9 places (cash in lieu of fractions is
    the caller's business)."""
    if type(ratio_num) is not int or type(ratio_den) is not int or ratio_num <= 0 or ratio_den <= 0:
        raise InvalidInput("invalid_split_ratio", "split ratio must be two positive integers")
    account_id = getattr(account, "pk", account)
    locked = lock_account(account_id)
    position = lock_positions(locked, [symbol.upper()]).get(symbol.upper())
    if position is None:
        return None
    factor = Decimal(ratio_num) / Decimal(ratio_den)
    before = {"qty": position.qty, "avg_entry_price": position.avg_entry_price}
    _lots_scale(position, factor)
    position.qty = round_qty(position.qty * factor)
    position.held_qty = round_qty(position.held_qty * factor)
    position.day_opened_qty = round_qty(position.day_opened_qty * factor)
    position.day_closed_qty = round_qty(position.day_closed_qty * factor)
    position.avg_entry_price = round_to(position.avg_entry_price / factor, AVG_PRICE_PLACES)
    position.save()
    audit_record(account=locked, actor=actor, action="position.split", entity_type="position", entity_id=position.pk,
                 data={"symbol": position.symbol, "ratio": f"{ratio_num}:{ratio_den}", "before": before,
                       "after": {"qty": position.qty, "avg_entry_price": position.avg_entry_price}})
    account_push_on_commit(account_id)
    return position


def lots_realized_total(account_id, symbol: str) -> Decimal:
    return LotClosure.objects.filter(account_id=account_id, symbol=symbol).aggregate(s=Sum("realized_pl"))["s"] or ZERO


def short_locate_available(symbol: str) -> Decimal | None:
    """Shares of a hard-to-borrow symbol that a new short order can still locate today: listed
    today, less what open orders reserved (None: not on the list). Read before the locks, so
    locate_reserve re-checks it atomically."""
    row = (ShortLocate.objects.filter(symbol=symbol, as_of=timezone.now().date())
           .values_list("shares_available", "shares_reserved").first())
    return None if row is None else max(row[0] - row[1], ZERO)


def locate_reserve(symbol: str, qty: Decimal) -> bool:
    """Reserve `qty` located shares for an accepted short order, if today's list still has them.
    One conditional UPDATE: concurrent orders serialize on the row, and the loser sees what the
    winner took. Called after the placing transaction's account and position locks: the locate
    row is step 4 of the lock order (docs/architecture.md)."""
    return ShortLocate.objects.filter(
        symbol=symbol, as_of=timezone.now().date(), shares_available__gte=F("shares_reserved") + qty,
    ).update(shares_reserved=F("shares_reserved") + qty) == 1


def locate_release(symbol: str, qty: Decimal) -> None:
    """An order's located shares are no longer needed (filled, canceled, rejected, expired)."""
    locate_reserved_adjust(symbol, -qty)


def locate_reserved_adjust(symbol: str, delta: Decimal) -> None:
    """Move the pool's reserved shares with an order's located_qty (a release, or a split's rescale),
    so the pool's shares_reserved stays the sum of its open orders' located_qty."""
    ShortLocate.objects.filter(symbol=symbol).update(shares_reserved=Greatest(F("shares_reserved") + delta, ZERO))


def _locate_draw(symbol: str, qty: Decimal) -> None:
    """A short sale of a hard-to-borrow symbol filled: draw its locate down (never below zero: the
    fill happened). Runs in the fill's transaction after the account, position and order locks
    (and the house account's, for the house's fill): step 4 of the lock order (docs/architecture.md)."""
    ShortLocate.objects.filter(symbol=symbol).update(shares_available=Greatest(F("shares_available") - qty, ZERO))


@transaction.atomic
def short_locates_load(*, locates: dict[str, Decimal], as_of: date, actor: str) -> int:
    """Load the day's hard-to-borrow list from the stock-loan desk ({symbol: shares}), audited."""
    # Rows locked in symbol order (docs/architecture.md, "The lock order").
    for symbol, shares in sorted(locates.items(), key=lambda item: item[0].upper()):
        if Decimal(shares) < 0:
            raise InvalidInput("invalid_shares", f"{symbol}: shares must not be negative")
        ShortLocate.objects.update_or_create(symbol=symbol.upper(), defaults={"shares_available": Decimal(shares),
                                                                              "as_of": as_of})
    audit_record_system(actor=actor, action="short_locates.loaded", entity_type="short_locate", entity_id=str(as_of),
                        data={"locates": {s.upper(): str(q) for s, q in locates.items()}})
    return len(locates)


@dataclass(frozen=True)
class SplitEffect:
    qty_before: Decimal
    qty_after: Decimal
    fraction: Decimal  # shares removed as cash in lieu (0 when fractional shares are kept)
    basis_per_share: Decimal  # cost per post-split share


def position_apply_split(*, position: Position, new_shares: int, old_shares: int, whole_shares: bool,
                         held_qty: Decimal) -> SplitEffect:
    """A stock split on a position: quantity times new/old, average price times old/new (the cost
    basis is unchanged), today's counters scaled too; `held_qty` is what the caller's adjusted open
    sell orders now hold. With whole_shares,
    a fractional remainder of a long position is taken out (its cost basis with it; the caller
    pays it as cash in lieu and books its realized P&L through `realize`). Caller holds the
    account and position locks. The open tax lots are scaled the same way, and the fraction is
    taken from the newest lots (`lots_take_fraction`, called by the caller with the price)."""
    ratio = Decimal(new_shares) / Decimal(old_shares)
    before = position.qty
    exact = before * ratio
    after = exact
    if whole_shares and exact > 0:
        after = exact.to_integral_value(rounding=ROUND_FLOOR)
    fraction = exact - after
    basis = round_to(position.avg_entry_price / ratio, AVG_PRICE_PLACES) if before else ZERO
    _lots_scale(position, ratio)
    position.qty = after
    position.avg_entry_price = basis if after else ZERO
    position.held_qty = held_qty  # what the adjusted open sell orders now hold
    position.day_opened_qty *= ratio
    position.day_closed_qty *= ratio
    position.save()
    return SplitEffect(before, after, fraction, basis)


def position_realize(*, position: Position, amount: Decimal) -> None:
    """Book realized P&L that no fill produced (cash in lieu of a split's fraction)."""
    if amount:
        position.realized_pl += money(amount)
        position.save(update_fields=["realized_pl", "updated_at"])


def _lots_scale(position: Position, factor: Decimal) -> None:
    """Open lots of a split position: quantities times `factor`, prices divided by it (each lot's
    cost basis unchanged). Caller holds the position lock."""
    for lot in TaxLot.objects.filter(position=position, remaining_qty__gt=0):
        lot.qty, lot.remaining_qty = round_qty(lot.qty * factor), round_qty(lot.remaining_qty * factor)
        lot.price = round_to(lot.price / factor, AVG_PRICE_PLACES)
        lot.save(update_fields=["qty", "remaining_qty", "price"])


def lots_take_fraction(*, position: Position, qty: Decimal, price: Decimal, at) -> Decimal:
    """A split's fractional remainder paid as cash in lieu: `qty` shares closed at `price` out of
    the newest open long lots, each closure recorded for the tax report. Returns the realized
    P&L. Caller holds the position lock."""
    realized, left = ZERO, qty
    for lot in TaxLot.objects.filter(position=position, side=TaxLot.Side.LONG, remaining_qty__gt=0).order_by("-opened_at", "-pk"):
        if left <= 0:
            break
        take = min(left, lot.remaining_qty)
        pl = money(take * (price - lot.price))
        LotClosure.objects.create(lot=lot, account_id=position.account_id, symbol=position.symbol, side=lot.side,
                                  qty=take, open_price=lot.price, close_price=price, opened_at=lot.opened_at,
                                  closed_at=at, realized_pl=pl)
        lot.remaining_qty -= take
        lot.save(update_fields=["remaining_qty"])
        realized += pl
        left -= take
    return realized
