"""Teams of an organization (tenant schema). Each team is backed by one `auth.Group` row of the tenant
schema, so a project shared with a team is a guardian group object permission
(`projects.ProjectGroupObjectPermission`, direct foreign keys). Team membership is kept here, not in
`User.groups`: that many-to-many lives in the public schema with users, while the groups and their
grants live in each tenant's schema (D96)."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models.functions import Lower


class Team(models.Model):
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="team")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(Lower("name"), name="members_team_name_ci_uniq")]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    # The user row lives in public (no FK constraint across schemas, as for every user reference here).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team_id", "user_id"]
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="members_teammember_user_team_uniq")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.team_id}"
