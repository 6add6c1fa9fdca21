from django.contrib import admin

from verification.abuse.rules import RULE_IDS
from verification.models import AbuseDecision, SMSVerification


@admin.register(SMSVerification)
class SMSVerificationAdmin(admin.ModelAdmin):
    list_display = (
        "phone",
        "channel",
        "status",
        "is_used",
        "created_at",
        "expires_at",
        "sent_at",
        "delivered_at",
        "send_attempts",
        "attempts",
    )
    list_filter = ("status", "channel", "is_used", "created_at")
    search_fields = ("phone", "=request_id")
    date_hierarchy = "created_at"
    # Nothing code-related is ever shown: it is of no use to an operator and a gift to an attacker.
    exclude = ("code_hash", "code_seed")
    readonly_fields = (
        "id",
        "phone",
        "request_id",
        "channel",
        "fallback_from",
        "status",
        "is_used",
        "used_at",
        "attempts",
        "send_attempts",
        "created_at",
        "expires_at",
        "lease_until",
        "sent_at",
        "delivered_at",
        "status_checked_at",
        "error",
        "client_ip",
    )
    show_full_result_count = False  # COUNT(*) over months of rows on every page is slow

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).defer("code_hash", "code_seed")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # codes are created through the API only


class RuleFilter(admin.SimpleListFilter):
    title = "rule"
    parameter_name = "rule"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return [(rule, rule) for rule in RULE_IDS]

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        if self.value() in RULE_IDS:
            return queryset.filter(rules__regex=rf"(^|,){self.value()}(,|$)")
        return queryset


@admin.register(AbuseDecision)
class AbuseDecisionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "decision", "rules", "phone", "country", "prefix", "client_ip")
    list_filter = (RuleFilter, "decision", "country", "created_at")
    search_fields = ("phone", "=prefix", "=client_ip")
    date_hierarchy = "created_at"
    readonly_fields = list_display
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # written by the send path only

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
