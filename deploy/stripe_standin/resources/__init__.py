"""The stand-in's Stripe resources, one module each, stacked so that each builds only on those below it.

``core`` (lookup, events, rendering, expansion, the generic retrieve/list) <- ``meters`` <- ``catalog``
(products, prices) <- ``charges`` (and refunds) <- ``invoices`` (and invoice payments) <- ``subscriptions``
(and items) <- ``customers``, ``portal``, ``clock`` (time control) <- ``checkout``; ``events`` only lists.
``deploy.stripe_standin.engine.Engine`` combines them and their ``RESOURCES`` declarations.
"""
