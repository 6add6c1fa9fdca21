from django.contrib import admin

from verification.models import SMSVerification


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
