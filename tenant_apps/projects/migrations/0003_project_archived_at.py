"""Projects can be archived (issue 12): a nullable timestamp, no default rewrite of existing rows."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("projects", "0002_project_list_order_index")]

    operations = [
        migrations.AddField(
            model_name="project",
            name="archived_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
