from django.db import migrations, models

from bench.pending_migrations import latest_real_migration


class Migration(migrations.Migration):
    dependencies = [("projects", latest_real_migration())]

    operations = [
        migrations.AddField("project", "bench_score", models.IntegerField(null=True, blank=True)),
    ]
