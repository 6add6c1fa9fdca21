from django.apps import AppConfig
from django.db.models.signals import post_migrate


class VerificationConfig(AppConfig):
    name = "verification"
    verbose_name = "Phone verification"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from verification import test_numbers, texts
        from verification.abuse.policy import validate_settings
        from verification.schedules import ensure_periodic_tasks
        from verification.token_keys import keyring

        # Load (in DEBUG: create) the token key now, so a bad key stops the process at start.
        keyring()
        texts.check_configuration()
        test_numbers.check_configuration()  # malformed: stops here; configured: a WARNING

        validate_settings()  # a wrong abuse setting stops the process here, with its reason

        # After django_celery_beat's tables exist; idempotent, so every migrate may run it.
        post_migrate.connect(ensure_periodic_tasks, sender=self, dispatch_uid="verification-beat")
