import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants import services
from tenants.models import Tenant
from tenants.selectors import tenant_get, tenant_list


class Command(BaseCommand):
    help = "Tenant lifecycle: list, suspend, reactivate, close, purge, export."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="List organizations with their status.")
        for action in ("suspend", "reactivate", "close"):
            sub.add_parser(action, help=f"{action.capitalize()} an organization.").add_argument("slug")
        purge = sub.add_parser("purge", help="Drop closed organizations whose retention period has passed.")
        purge.add_argument("slug", nargs="?", help="One organization; default: every expired one.")
        export = sub.add_parser("export", help="Write an organization's data as JSON.")
        export.add_argument("slug")
        export.add_argument("--output", "-o", default="-", help="File path, or - for standard output.")

    def handle(self, *args: object, **opts: str) -> None:
        action = opts["action"]
        try:
            if action == "list":
                for t in tenant_list():
                    self.stdout.write(f"{t.slug:<30} {t.status:<10} {t.schema_name}")
                return
            if action == "purge" and not opts.get("slug"):
                purged = services.tenant_purge_expired()
                self.stdout.write(f"purged {len(purged)}: {', '.join(purged) or '-'}")
                return
            tenant = tenant_get(slug=opts["slug"])
            if action == "export":
                payload = json.dumps(services.tenant_export(tenant=tenant), indent=2, default=str)
                if opts["output"] == "-":
                    sys.stdout.write(payload + "\n")
                else:
                    with open(opts["output"], "w") as fh:
                        fh.write(payload)
                    self.stdout.write(self.style.SUCCESS(f"wrote {opts['output']}"))
                return
            handler = {
                "suspend": services.tenant_suspend,
                "reactivate": services.tenant_reactivate,
                "close": services.tenant_close,
            }.get(action)
            if handler is not None:
                tenant = handler(tenant=tenant)
                self.stdout.write(self.style.SUCCESS(f"{tenant.slug}: {tenant.status}"))
            elif action == "purge":
                services.tenant_purge(tenant=tenant)
                self.stdout.write(self.style.SUCCESS(f"{tenant.slug}: purged"))
        except Tenant.DoesNotExist as exc:
            raise CommandError(f"no organization with slug {opts.get('slug')!r}") from exc
        except ValidationError as exc:
            raise CommandError(f"{exc.code}: {' '.join(exc.messages)}") from exc
