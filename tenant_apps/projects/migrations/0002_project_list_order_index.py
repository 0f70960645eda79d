"""An index in the project list's default order (`Project.Meta.ordering`: -created_at, -id).

A member's list is `projects WHERE EXISTS (a view grant) ORDER BY created_at DESC, id DESC LIMIT n`.
Without an index in that order PostgreSQL has to find every visible project and sort them all to
return one page (≈ 5 ms at 10,000 visible of 20,000; it grows with the tenant). With it, the page is
an index walk that probes the grant table's (user, permission, content_object) unique index once per
project and stops after n visible ones (≈ 0.1 ms); see docs/benchmarks.md, api_list.

Database-only (RunSQL, no model state change) so that the projects models file, which this change
does not own, stays as it is and `makemigrations` stays clean. If the index is later declared in
`Project.Meta.indexes`, give it this name and turn this operation into
`SeparateDatabaseAndState(state_operations=[AddIndex(...)])`.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("projects", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql="CREATE INDEX IF NOT EXISTS projects_project_list_order_idx "
            "ON projects_project (created_at DESC, id DESC)",
            reverse_sql="DROP INDEX IF EXISTS projects_project_list_order_idx",
        ),
    ]
