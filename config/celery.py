"""Celery app. tenant-schemas-celery stamps each message with the sender's schema and activates it
in the worker for the whole task run; `tenants.tasks.tenant_task` refuses to run tenant work in public."""

import functools
import os
from typing import Any

from celery.signals import task_prerun
from celery.worker.consumer import Consumer
from kombu import Exchange, Queue
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


class BrokerChannel(kombu_redis.Channel):
    """kombu's redis channel, except that a channel whose connection was already released answers a
    broker call with a connection error instead of crashing the worker (docs/decisions.md, D34).

    celery 5.7.0 (celery/celery#10242) closes the consumer's connection again right after
    `Connection.collect()` when the broker goes away. `collect()` has already detached the transport
    (`transport.client = None`) but could not finish closing the default channel (its own clean-up
    hit the dead broker), so the second close runs that channel's `restore_unacked()` for the tasks in
    flight; restoring needs a new connection pool, and building one reads `transport.client.hostname`:
    `AttributeError: 'NoneType' object has no attribute 'hostname'`, which is no connection error, so
    the worker stops with "Unrecoverable error". An ack sent on such a channel by a task that outlived
    the outage takes the same path. As a connection error it is what the worker already expects then:
    the close is skipped (`ignore_errors`), the ack is logged ("Couldn't ack"), and the worker
    reconnects. The unacknowledged messages stay where they were (in the broker's unacked set when it
    kept its data); the webhook sweeper re-sends any event left pending (webhooks/services.py)."""

    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection of this channel was already released")
        return super()._connparams(asynchronous=asynchronous)

    def _lookup(self, exchange: str, routing_key: str, default: Any = None) -> Any:
        """A broker that restarted without its data has lost the queue bindings too, and until the
        worker reconnects and declares them again, kombu silently drops every message published
        (a webhook enqueue reports success; a seat sync is simply gone). Celery's queues are bound
        by their own name (exchange = routing key = queue), so such a message goes to that queue,
        where the worker finds it once it is back."""
        queues = super()._lookup(exchange, routing_key, default)
        if not queues and exchange and exchange == routing_key:
            return [routing_key]
        return queues


class BrokerTransport(kombu_redis.Transport):
    Channel = BrokerChannel


class WorkerConsumer(Consumer):
    """Celery's consumer, reconnecting to a lost broker every 1, 2, 3, then every
    BROKER_RECONNECT_MAX_SECONDS seconds instead of kombu's 2, 4, 6 ... 30 (docs/decisions.md, D35):
    after a long outage the worker otherwise came back up to 30 s after the broker did."""

    def ensure_connected(self, conn: Any) -> Any:
        from django.conf import settings

        conn.ensure_connection = functools.partial(
            conn.ensure_connection,
            interval_start=1,
            interval_step=1,
            interval_max=settings.BROKER_RECONNECT_MAX_SECONDS,
        )
        return super().ensure_connected(conn)


app = CeleryApp("tenantry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Stripe webhooks have a queue of their own (docs/decisions.md, D114), so applying billing events never
# waits behind other work (provisioning, seat syncs, outgoing webhooks). Deployed workers name their
# queue (`-Q webhooks` for the webhook pool, `-Q celery` for the rest); a worker started without -Q
# (tests, the fault suite) consumes both.
WEBHOOK_QUEUE = "webhooks"
# Each queue is bound by its own name (exchange = routing key = queue, like Celery's default queue), so
# BrokerChannel._lookup still routes to it after a broker restart that lost the bindings.
app.conf.task_default_queue = "celery"
app.conf.task_queues = (
    Queue("celery", Exchange("celery"), routing_key="celery"),
    Queue(WEBHOOK_QUEUE, Exchange(WEBHOOK_QUEUE), routing_key=WEBHOOK_QUEUE),
)
app.conf.task_routes = {"webhooks.*": {"queue": WEBHOOK_QUEUE}}

# Keep a worker's database connection across tasks. Celery's Django fix-up otherwise closes it after
# every task, so each task (each webhook event) paid for a new PostgreSQL connection: 8 ms of server
# CPU, the largest cost in bench/webhook_ingest. The fix-up still recycles it every
# 2 x CELERY_DB_REUSE_MAX tasks, and before each task Django drops a connection that is broken or
# older than CONN_MAX_AGE. django-tenants sets the task's schema on the connection for every task.
app.conf["CELERY_DB_REUSE_MAX"] = int(os.environ.get("CELERY_DB_REUSE_MAX", "500"))


@task_prerun.connect(weak=False)
def _drop_stale_db_connections(task: object = None, **_: object) -> None:
    # Not for tasks run eagerly (inline, in the caller's transaction), as Celery's own fix-up does.
    if getattr(getattr(task, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
