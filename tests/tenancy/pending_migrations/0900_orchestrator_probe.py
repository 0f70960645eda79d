from django.db import migrations, models

from tests.tenancy.pending_migrations import latest_real_migration


class Migration(migrations.Migration):
    dependencies = [("projects", latest_real_migration())]

    operations = [
        migrations.AddField("project", "orchestrator_probe", models.IntegerField(null=True, blank=True)),
    ]
