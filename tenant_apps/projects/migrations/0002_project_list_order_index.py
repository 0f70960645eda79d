"""An index in the project list's default order (`Project.Meta.ordering`: -created_at, -id).

A member's list is `projects WHERE EXISTS (a view grant) ORDER BY created_at DESC, id DESC LIMIT n`.
Without an index in that order PostgreSQL finds every visible project and sorts them all to return
one page (≈ 5 ms at 10,000 visible of 20,000); with it the page is an index walk that probes the
grant table's unique (user, permission, content_object) index once per project and stops after n
visible ones (≈ 0.1 ms); see docs/benchmarks.md, api_list.

The explicit (user, permission, content_object) index on the grant table duplicated the unique
constraint's own index and is dropped (one index write less per grant).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("projects", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="project",
            index=models.Index(fields=["-created_at", "-id"], name="projects_list_order_idx"),
        ),
        migrations.RemoveIndex(
            model_name="projectuserobjectpermission",
            name="projects_pr_user_id_94c43d_idx",
        ),
    ]
