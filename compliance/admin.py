from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from compliance.admin_tools import AuditedAdmin, ReadOnlyAdmin, admin_actor

from .models import ArchiveManifest, AuditEvent, LegalHold
from .retention import RetentionError, archive_verify, legal_hold_place, legal_hold_release
from .selectors import audit_chain_breaks, audit_search

SEARCH_COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most SEARCH_COUNT_CAP + 1 matching rows (COUNT over a LIMITed subquery), never the
    whole table: a broad search over ten million events shows "10001" and pages up to there."""

    @cached_property
    def count(self):
        return self.object_list[: SEARCH_COUNT_CAP + 1].count()


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Search with `key:value` terms (compliance.selectors.audit_search), e.g.
    `account:<id> symbol:AAPL from:2026-01-01 to:2026-01-31`; every filter has an index. No
    list_filter or date_hierarchy: both read the distinct values of the whole table on each page."""

    list_display = ("id", "occurred_at", "chain", "seq", "actor", "action", "entity_type", "entity_id")
    search_fields = ("=chain",)  # shows the box; get_search_results does the searching
    search_help_text = ("key:value terms, ANDed: account:<id|system> symbol:<SYM> order:<id> actor:<name> "
                        "action:<order.placed> type:<entity type> entity:<id> from:<date|datetime> "
                        "to:<date|datetime>; a bare term matches an account, entity id or actor exactly")
    ordering = ("-occurred_at", "-id")
    paginator = CappedCountPaginator
    list_per_page = 50  # the page's cost is rendering rows (its SQL is a few ms): half Django's 100
    show_full_result_count = False  # the trail only grows; skip the full COUNT(*) on every page
    actions = ["verify_chains"]

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        try:
            return audit_search(search_term, queryset), False
        except ValueError as exc:  # SearchError, or a malformed date
            self.message_user(request, str(exc), messages.ERROR)
            return queryset.none(), False

    @admin.action(description="Verify the hash chains of the selected events")
    def verify_chains(self, request, queryset):
        chains = sorted(set(queryset.values_list("chain", flat=True)))
        breaks = [b for chain in chains for b in audit_chain_breaks(chain=chain)]
        if breaks:
            for b in breaks[:20]:
                self.message_user(request, f"chain {b.chain or 'system'} seq {b.seq}: {b.problem}", messages.ERROR)
        else:
            self.message_user(request, f"{len(chains)} chain(s) verified: no breaks", messages.SUCCESS)


@admin.register(ArchiveManifest)
class ArchiveManifestAdmin(ReadOnlyAdmin):
    list_display = ("id", "chain", "period", "first_seq", "last_seq", "event_count", "retain_until", "verified_at",
                    "purged_at")
    search_fields = ("=chain", "=period")
    ordering = ("chain", "first_seq")
    actions = ["verify_archives"]

    @admin.action(description="Verify the selected archives against their chains")
    def verify_archives(self, request, queryset):
        for row in queryset:
            check = archive_verify(row.pk)
            if check.ok:
                self.message_user(request, f"{row}: verified ({check.events} events)", messages.SUCCESS)
            else:
                self.message_user(request, f"{row}: {'; '.join(check.problems[:5])}", messages.ERROR)


@admin.register(LegalHold)
class LegalHoldAdmin(AuditedAdmin):
    """Placing (add) and releasing (fill in the release reason) go through compliance.retention,
    which audits them; a hold is never deleted."""

    list_display = ("id", "scope", "chain", "symbol", "placed_by", "placed_at", "released_by", "released_at")
    list_filter = ("scope",)
    fields = ("scope", "chain", "symbol", "reason", "release_reason")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("scope", "chain", "symbol", "reason") + (("release_reason",) if obj.released_at else ())

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            if not change:
                placed = legal_hold_place(actor=admin_actor(request), reason=obj.reason, scope=obj.scope,
                                          chain=obj.chain, symbol=obj.symbol)
                obj.pk = placed.pk
            elif obj.release_reason and obj.released_at is None:
                legal_hold_release(obj, actor=admin_actor(request), reason=obj.release_reason)
        except RetentionError as exc:
            self.message_user(request, str(exc), messages.ERROR)
