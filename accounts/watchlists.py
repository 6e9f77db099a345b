"""Watchlists (Alpaca Trading API v2 /v2/watchlists): services and selectors.

A watchlist belongs to one account; every function takes the caller's account and finds the
watchlist among that account's only, so another account's id is simply not found (404), never
shown or changed. Symbols must name listed assets; a list keeps the order it was given in.
"""
import uuid

from django.db import IntegrityError, transaction

from marketdata.models import Asset
from core.errors import InvalidInput, NotFound
from core.values import has_control_characters

from .models import Account, Watchlist, WatchlistItem

MAX_WATCHLISTS = 50
MAX_ASSETS = 200


def _watchlist(account: Account, watchlist_id, *, for_update: bool = False) -> Watchlist:
    try:
        pk = uuid.UUID(str(watchlist_id))
    except ValueError:
        raise NotFound("watchlist not found", reason="watchlist_not_found") from None
    qs = Watchlist.objects.filter(account=account, pk=pk)
    if for_update:
        qs = qs.select_for_update()  # serialises concurrent edits of one list (item positions)
    watchlist = qs.first()
    if watchlist is None:
        raise NotFound("watchlist not found", reason="watchlist_not_found")
    return watchlist


def _name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("invalid_name", "name is required")
    if has_control_characters(name):
        raise InvalidInput("invalid_name", "name must not contain control characters")
    name = name.strip()
    if len(name) > 64:
        raise InvalidInput("invalid_name", "name is at most 64 characters")
    return name


def _assets(symbols) -> list[Asset]:
    if not isinstance(symbols, list) or not all(
            isinstance(s, str) and len(s) <= 16 and not has_control_characters(s) for s in symbols):
        raise InvalidInput("invalid_symbols", "symbols must be a list of ticker symbols")
    wanted = list(dict.fromkeys(s.strip().upper() for s in symbols if s.strip()))
    if len(wanted) > MAX_ASSETS:
        raise InvalidInput("too_many_symbols", f"a watchlist holds at most {MAX_ASSETS} assets")
    found = {a.symbol: a for a in Asset.objects.filter(symbol__in=wanted)}
    missing = [s for s in wanted if s not in found]
    if missing:
        raise InvalidInput("asset_not_found", f"unknown symbol(s): {', '.join(missing)}")
    return [found[s] for s in wanted]


def _set_items(watchlist: Watchlist, assets: list[Asset]) -> None:
    WatchlistItem.objects.filter(watchlist=watchlist).delete()
    WatchlistItem.objects.bulk_create(WatchlistItem(watchlist=watchlist, asset=a, position=i) for i, a in enumerate(assets))


def _name_taken():
    return InvalidInput("watchlist_name_taken", "you already have a watchlist with this name")


@transaction.atomic(durable=True)
def watchlist_create(*, account: Account, name, symbols=None) -> Watchlist:
    name = _name(name)
    assets = _assets(symbols if symbols is not None else [])
    if Watchlist.objects.filter(account=account).count() >= MAX_WATCHLISTS:
        raise InvalidInput("too_many_watchlists", f"an account has at most {MAX_WATCHLISTS} watchlists")
    try:
        with transaction.atomic():
            watchlist = Watchlist.objects.create(account=account, name=name)
    except IntegrityError:
        raise _name_taken() from None
    _set_items(watchlist, assets)
    return watchlist


@transaction.atomic(durable=True)
def watchlist_update(*, account: Account, watchlist_id, name=None, symbols=None) -> Watchlist:
    if name is None and symbols is None:
        raise InvalidInput("nothing_to_update", "give a name, symbols or both")
    new_name = _name(name) if name is not None else None
    assets = _assets(symbols) if symbols is not None else None
    watchlist = _watchlist(account, watchlist_id, for_update=True)
    if new_name is not None and new_name != watchlist.name:
        if Watchlist.objects.filter(account=account, name=new_name).exists():
            raise _name_taken()
        watchlist.name = new_name
    watchlist.save()
    if assets is not None:
        _set_items(watchlist, assets)
    return watchlist


@transaction.atomic(durable=True)
def watchlist_add_asset(*, account: Account, watchlist_id, symbol) -> Watchlist:
    if not isinstance(symbol, str) or not symbol.strip():
        raise InvalidInput("invalid_symbol", "symbol is required")
    (asset,) = _assets([symbol])
    watchlist = _watchlist(account, watchlist_id, for_update=True)
    items = list(WatchlistItem.objects.filter(watchlist=watchlist).values_list("asset_id", "position"))
    if any(asset_id == asset.pk for asset_id, _ in items):
        raise InvalidInput("asset_already_in_watchlist", f"{asset.symbol} is already in this watchlist")
    if len(items) >= MAX_ASSETS:
        raise InvalidInput("too_many_symbols", f"a watchlist holds at most {MAX_ASSETS} assets")
    WatchlistItem.objects.create(watchlist=watchlist, asset=asset, position=max((p for _, p in items), default=-1) + 1)
    watchlist.save(update_fields=["updated_at"])
    return watchlist


@transaction.atomic(durable=True)
def watchlist_remove_asset(*, account: Account, watchlist_id, symbol: str) -> Watchlist:
    watchlist = _watchlist(account, watchlist_id, for_update=True)
    deleted, _ = WatchlistItem.objects.filter(watchlist=watchlist, asset__symbol=symbol.strip().upper()).delete()
    if not deleted:
        raise NotFound(f"{symbol.upper()} is not in this watchlist", reason="asset_not_in_watchlist")
    watchlist.save(update_fields=["updated_at"])
    return watchlist


@transaction.atomic(durable=True)
def watchlist_delete(*, account: Account, watchlist_id) -> None:
    _watchlist(account, watchlist_id, for_update=True).delete()


# --- selectors ----------------------------------------------------------------------------------

def watchlist_list(*, account: Account) -> list[Watchlist]:
    """Alpaca's list omits the assets."""
    return list(Watchlist.objects.filter(account=account).order_by("created_at", "name"))


def watchlist_get(*, account: Account, watchlist_id) -> Watchlist:
    watchlist = _watchlist(account, watchlist_id)
    watchlist.asset_list = watchlist_assets(watchlist)
    return watchlist


def watchlist_assets(watchlist: Watchlist) -> list[Asset]:
    return [item.asset for item in WatchlistItem.objects.filter(watchlist=watchlist).select_related("asset")]
