# Joins two migrations that were written side by side on 0005; neither touches the other's
# fields, so the order between them does not matter.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("verification", "0006_observability"),
        ("verification", "0006_sms_language"),
    ]

    operations = []
