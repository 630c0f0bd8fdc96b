"""The event bus kernel: transactional outbox, dispatcher, inbox dedupe, retries,
dead letters with replay, and the NATS JetStream bridge.

- `contracts`: `Event` (a versioned payload contract) and `Envelope` (one published event).
- `outbox.publish(tx, event)`: write an event in the caller's transaction (service role).
- `subscriptions`: `Subscription(consumer, handler, reads)` and the `Delivery` a handler receives.
- `inbox.first_delivery(tx, delivery)`: record the delivery in the effect's transaction.
- `workflows`: the bus's own transactions (claims, retries, dead letters, `handle_once`, replay).
- `dispatcher.Dispatcher`: claims pending events and hands them to subscribers (or the broker).
- `broker`: the NATS JetStream forwarder and consumer.
"""
