from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "verification"
    verbose_name = "Phone verification"
    default_auto_field = "django.db.models.BigAutoField"
