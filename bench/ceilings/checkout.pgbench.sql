-- Ceiling 3: the SQL writes of one checkout (2 lines) as ONE transaction, driven by pgbench.
-- Mirrors what POST /v1/orders writes over its transactions: idempotency claim, price lookup, stock
-- reservation (conditional UPDATE, in SKU order), order + lines, payment, sandbox ledger authorize and
-- capture, payment/order status moves, four outbox events (advisory lock + NOTIFY like the app's
-- publish), and the stored answer on the idempotency key.
-- Variables: -D org=org_... -D nskus=N; products come from public.bench_sku(n, product_id).
\set a random(1, :nskus)
\set b random(1, :nskus)
\set lo least(:a, :b)
\set hi greatest(:a, :b)
\set r random(1, 900000000000000)
BEGIN;
INSERT INTO platform.idempotency_key (org_id, key, fingerprint, status, expires_at) VALUES (':org', 'pgb-:r-:client_id', 'fingerprint', 'in_flight', now() + interval '1 day');
SELECT p.id, p.sku, p.name, p.price_amount, p.price_currency FROM catalog.product p WHERE p.org_id = ':org' AND p.id = ANY (ARRAY(SELECT product_id FROM public.bench_sku WHERE n IN (:lo, :hi))) AND p.deleted_at IS NULL;
UPDATE catalog.inventory SET reserved = reserved + 1, version = version + 1, updated_at = now() WHERE product_id = (SELECT product_id FROM public.bench_sku WHERE n = :lo) AND on_hand - reserved >= 1;
UPDATE catalog.inventory SET reserved = reserved + 1, version = version + 1, updated_at = now() WHERE product_id = (SELECT product_id FROM public.bench_sku WHERE n = :hi) AND on_hand - reserved >= 1;
INSERT INTO orders."order" (id, org_id, status, capture_mode, currency, subtotal_amount, shipping_amount, total_amount, customer_email, customer_name, customer_phone, shipping_address, reservation_expires_at) VALUES ('ord_pgb:r-:client_id', ':org', 'pending_payment', 'immediate', 'EUR', 3998, 0, 3998, 'buyer@example.com', 'Ada Buyer', '+4915112345678', '{"line1": "Main St 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}', now() + interval '15 minutes');
INSERT INTO orders.order_line (order_id, line_no, product_id, sku, name, unit_price_amount, quantity, line_total_amount) SELECT 'ord_pgb:r-:client_id', s.n, p.id, p.sku, p.name, 1999, 1, 1999 FROM public.bench_sku s JOIN LATERAL (SELECT * FROM catalog.product WHERE id = s.product_id) p ON true WHERE s.n IN (:lo, :hi);
WITH l AS (SELECT pg_advisory_xact_lock(hashtextextended('order/ord_pgb:r-:client_id', 0))), w AS (SELECT pg_notify('bench_pgbench', '')) INSERT INTO platform.outbox (id, name, version, aggregate_type, aggregate_id, org_id, payload, trace_context, occurred_at) SELECT 'evt_pgb1:r-:client_id', 'bench.pgbench_order_created', 1, 'order', 'ord_pgb:r-:client_id', ':org', '{"order_id": "ord_pgb:r-:client_id", "total": 3998, "currency": "EUR", "lines": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}]}', '{}', now() FROM l, w;
INSERT INTO payments.payment (id, org_id, order_id, provider, status, currency, amount, card_token) VALUES ('pay_pgb:r-:client_id', ':org', 'ord_pgb:r-:client_id', 'sandbox', 'pending', 'EUR', 3998, 'tok_success');
INSERT INTO payments.sandbox_ledger (id, operation, idempotency_key, charge_id, outcome, currency, amount, card_token) VALUES ('sbx_pgba:r-:client_id', 'authorize', 'emporium:pay_pgb:r-:client_id:authorize', 'ch_pgb:r-:client_id', 'authorized', 'EUR', 3998, 'tok_success') ON CONFLICT (operation, idempotency_key) DO NOTHING;
UPDATE payments.payment SET status = 'authorized', authorized_amount = 3998, provider_ref = 'ch_pgb:r-:client_id', authorized_at = now(), updated_at = now() WHERE id = 'pay_pgb:r-:client_id';
WITH l AS (SELECT pg_advisory_xact_lock(hashtextextended('payment/pay_pgb:r-:client_id', 0))), w AS (SELECT pg_notify('bench_pgbench', '')) INSERT INTO platform.outbox (id, name, version, aggregate_type, aggregate_id, org_id, payload, trace_context, occurred_at) SELECT 'evt_pgb2:r-:client_id', 'bench.pgbench_payment_authorized', 1, 'payment', 'pay_pgb:r-:client_id', ':org', '{"payment_id": "pay_pgb:r-:client_id", "amount": 3998}', '{}', now() FROM l, w;
UPDATE orders."order" SET status = 'paid', version = version + 1, updated_at = now() WHERE id = 'ord_pgb:r-:client_id' AND status = 'pending_payment';
WITH l AS (SELECT pg_advisory_xact_lock(hashtextextended('order/ord_pgb:r-:client_id', 0))), w AS (SELECT pg_notify('bench_pgbench', '')) INSERT INTO platform.outbox (id, name, version, aggregate_type, aggregate_id, org_id, payload, trace_context, occurred_at) SELECT 'evt_pgb3:r-:client_id', 'bench.pgbench_order_paid', 1, 'order', 'ord_pgb:r-:client_id', ':org', '{"order_id": "ord_pgb:r-:client_id", "total": 3998}', '{}', now() FROM l, w;
INSERT INTO payments.sandbox_ledger (id, operation, idempotency_key, charge_id, outcome, currency, amount) VALUES ('sbx_pgbc:r-:client_id', 'capture', 'emporium:pay_pgb:r-:client_id:capture', 'ch_pgb:r-:client_id', 'captured', 'EUR', 3998);
UPDATE payments.payment SET status = 'captured', captured_amount = 3998, updated_at = now() WHERE id = 'pay_pgb:r-:client_id';
WITH l AS (SELECT pg_advisory_xact_lock(hashtextextended('payment/pay_pgb:r-:client_id', 0))), w AS (SELECT pg_notify('bench_pgbench', '')) INSERT INTO platform.outbox (id, name, version, aggregate_type, aggregate_id, org_id, payload, trace_context, occurred_at) SELECT 'evt_pgb4:r-:client_id', 'bench.pgbench_payment_captured', 1, 'payment', 'pay_pgb:r-:client_id', ':org', '{"payment_id": "pay_pgb:r-:client_id", "amount": 3998}', '{}', now() FROM l, w;
UPDATE platform.idempotency_key SET status = 'done', resource_id = 'ord_pgb:r-:client_id', response_status = 201, response_body = convert_to(repeat('x', 900), 'UTF8'), response_content_type = 'application/json', completed_at = now() WHERE org_id = ':org' AND key = 'pgb-:r-:client_id';
COMMIT;
