-- DDL: the reporting store's migrations, base -> head

BEGIN TRANSACTION;

CREATE TABLE reporting.alembic_version (
    version_num VARCHAR(32) NOT NULL, 
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

GO

-- Running upgrade  -> r0001_reporting_store

CREATE TABLE reporting.applied_event (
    consumer VARCHAR(100) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    event_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    org_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    occurred_at DATETIME2 NOT NULL, 
    applied_at DATETIME2 NOT NULL, 
    CONSTRAINT pk_applied_event PRIMARY KEY (consumer, event_id)
);

GO

CREATE INDEX ix_applied_event_occurred_at ON reporting.applied_event (occurred_at);

GO

CREATE INDEX ix_applied_event_org_id ON reporting.applied_event (org_id);

GO

CREATE TABLE reporting.order_cancelled (
    order_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    org_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    currency VARCHAR(3) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    total_minor BIGINT NOT NULL, 
    was_paid BIT NOT NULL, 
    day DATE NOT NULL, 
    CONSTRAINT pk_order_cancelled PRIMARY KEY (order_id)
);

GO

CREATE INDEX ix_order_cancelled_org_id_day ON reporting.order_cancelled (org_id, day);

GO

CREATE TABLE reporting.order_line (
    order_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    line_no INTEGER NOT NULL, 
    org_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    sku VARCHAR(200) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    name VARCHAR(500) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    currency VARCHAR(3) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    quantity INTEGER NOT NULL, 
    revenue_minor BIGINT NOT NULL, 
    day DATE NOT NULL, 
    CONSTRAINT pk_order_line PRIMARY KEY (order_id, line_no)
);

GO

CREATE INDEX ix_order_line_org_id_day ON reporting.order_line (org_id, day);

GO

CREATE TABLE reporting.order_paid (
    order_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    org_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    currency VARCHAR(3) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    total_minor BIGINT NOT NULL, 
    units INTEGER NOT NULL, 
    day DATE NOT NULL, 
    CONSTRAINT pk_order_paid PRIMARY KEY (order_id)
);

GO

CREATE INDEX ix_order_paid_org_id_day ON reporting.order_paid (org_id, day);

GO

CREATE TABLE reporting.order_placed (
    order_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    org_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    currency VARCHAR(3) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    total_minor BIGINT NOT NULL, 
    day DATE NOT NULL, 
    CONSTRAINT pk_order_placed PRIMARY KEY (order_id)
);

GO

CREATE INDEX ix_order_placed_org_id_day ON reporting.order_placed (org_id, day);

GO

CREATE TABLE reporting.order_refund (
    event_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    org_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    order_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    currency VARCHAR(3) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    amount_minor BIGINT NOT NULL, 
    day DATE NOT NULL, 
    CONSTRAINT pk_order_refund PRIMARY KEY (event_id)
);

GO

CREATE INDEX ix_order_refund_order_id ON reporting.order_refund (order_id);

GO

CREATE INDEX ix_order_refund_org_id_day ON reporting.order_refund (org_id, day);

GO

CREATE TABLE reporting.order_shipped (
    order_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    org_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    day DATE NOT NULL, 
    CONSTRAINT pk_order_shipped PRIMARY KEY (order_id)
);

GO

CREATE INDEX ix_order_shipped_org_id_day ON reporting.order_shipped (org_id, day);

GO

CREATE TABLE reporting.payment_authorized (
    payment_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    org_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    order_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    currency VARCHAR(3) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    amount_minor BIGINT NOT NULL, 
    day DATE NOT NULL, 
    CONSTRAINT pk_payment_authorized PRIMARY KEY (payment_id)
);

GO

CREATE INDEX ix_payment_authorized_org_id_day ON reporting.payment_authorized (org_id, day);

GO

CREATE TABLE reporting.payment_captured (
    event_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    org_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    payment_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    currency VARCHAR(3) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    amount_minor BIGINT NOT NULL, 
    day DATE NOT NULL, 
    CONSTRAINT pk_payment_captured PRIMARY KEY (event_id)
);

GO

CREATE INDEX ix_payment_captured_org_id_day ON reporting.payment_captured (org_id, day);

GO

CREATE TABLE reporting.payment_failed (
    payment_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    org_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    order_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    status VARCHAR(16) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    day DATE NOT NULL, 
    CONSTRAINT pk_payment_failed PRIMARY KEY (payment_id)
);

GO

CREATE INDEX ix_payment_failed_org_id_day ON reporting.payment_failed (org_id, day);

GO

CREATE TABLE reporting.payment_refund (
    event_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    org_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    payment_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    currency VARCHAR(3) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    amount_minor BIGINT NOT NULL, 
    day DATE NOT NULL, 
    CONSTRAINT pk_payment_refund PRIMARY KEY (event_id)
);

GO

CREATE INDEX ix_payment_refund_org_id_day ON reporting.payment_refund (org_id, day);

GO

CREATE TABLE reporting.payment_voided (
    payment_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    org_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    order_id VARCHAR(64) COLLATE Latin1_General_100_BIN2_UTF8 NOT NULL, 
    day DATE NOT NULL, 
    CONSTRAINT pk_payment_voided PRIMARY KEY (payment_id)
);

GO

CREATE INDEX ix_payment_voided_org_id_day ON reporting.payment_voided (org_id, day);

GO

INSERT INTO reporting.alembic_version (version_num) OUTPUT inserted.version_num VALUES ('r0001_reporting_store');

GO

COMMIT;

GO

-- sales 0 currency=None
SELECT reporting.order_paid.day, reporting.order_paid.currency AS currency, count(*) AS orders, sum(reporting.order_paid.units) AS units, sum(reporting.order_paid.total_minor) AS gross_minor 
FROM reporting.order_paid 
WHERE reporting.order_paid.org_id = 'org_snapshot' AND reporting.order_paid.day >= '2026-01-01' AND reporting.order_paid.day <= '2026-03-31' GROUP BY reporting.order_paid.day, reporting.order_paid.currency;

-- sales 1 currency=None
SELECT reporting.order_refund.day, reporting.order_refund.currency AS currency, count(*) AS refunds, sum(reporting.order_refund.amount_minor) AS refunded_minor 
FROM reporting.order_refund 
WHERE reporting.order_refund.org_id = 'org_snapshot' AND reporting.order_refund.day >= '2026-01-01' AND reporting.order_refund.day <= '2026-03-31' GROUP BY reporting.order_refund.day, reporting.order_refund.currency;

-- sales 2 currency=None
SELECT reporting.order_cancelled.day, reporting.order_cancelled.currency AS currency, count(*) AS cancellations, sum(reporting.order_cancelled.total_minor - coalesce(refunded.refunded, 0)) AS cancelled_minor 
FROM reporting.order_cancelled LEFT OUTER JOIN (SELECT reporting.order_refund.order_id AS order_id, sum(reporting.order_refund.amount_minor) AS refunded 
FROM reporting.order_refund 
WHERE reporting.order_refund.org_id = 'org_snapshot' GROUP BY reporting.order_refund.order_id) AS refunded ON refunded.order_id = reporting.order_cancelled.order_id 
WHERE reporting.order_cancelled.org_id = 'org_snapshot' AND reporting.order_cancelled.day >= '2026-01-01' AND reporting.order_cancelled.day <= '2026-03-31' AND reporting.order_cancelled.was_paid = 1 GROUP BY reporting.order_cancelled.day, reporting.order_cancelled.currency;

-- sales 3 currency=None
SELECT reporting.order_shipped.day, reporting.order_paid.currency AS currency, count(*) AS shipped 
FROM reporting.order_shipped JOIN reporting.order_paid ON reporting.order_paid.order_id = reporting.order_shipped.order_id 
WHERE reporting.order_shipped.org_id = 'org_snapshot' AND reporting.order_shipped.day >= '2026-01-01' AND reporting.order_shipped.day <= '2026-03-31' GROUP BY reporting.order_shipped.day, reporting.order_paid.currency;

-- payments 0 currency=None
SELECT reporting.payment_authorized.day, reporting.payment_authorized.currency AS currency, count(*) AS authorized, sum(reporting.payment_authorized.amount_minor) AS authorized_minor 
FROM reporting.payment_authorized 
WHERE reporting.payment_authorized.org_id = 'org_snapshot' AND reporting.payment_authorized.day >= '2026-01-01' AND reporting.payment_authorized.day <= '2026-03-31' GROUP BY reporting.payment_authorized.day, reporting.payment_authorized.currency;

-- payments 1 currency=None
SELECT reporting.payment_captured.day, reporting.payment_captured.currency AS currency, count(*) AS captured, sum(reporting.payment_captured.amount_minor) AS captured_minor 
FROM reporting.payment_captured 
WHERE reporting.payment_captured.org_id = 'org_snapshot' AND reporting.payment_captured.day >= '2026-01-01' AND reporting.payment_captured.day <= '2026-03-31' GROUP BY reporting.payment_captured.day, reporting.payment_captured.currency;

-- payments 2 currency=None
SELECT reporting.payment_failed.day, reporting.order_placed.currency AS currency, sum(CASE WHEN (reporting.payment_failed.status = 'declined') THEN 1 ELSE 0 END) AS declined, sum(CASE WHEN (reporting.payment_failed.status = 'declined') THEN reporting.order_placed.total_minor ELSE 0 END) AS declined_minor, sum(CASE WHEN (reporting.payment_failed.status = 'declined') THEN 0 ELSE 1 END) AS failed, sum(CASE WHEN (reporting.payment_failed.status = 'declined') THEN 0 ELSE reporting.order_placed.total_minor END) AS failed_minor 
FROM reporting.payment_failed JOIN reporting.order_placed ON reporting.order_placed.order_id = reporting.payment_failed.order_id 
WHERE reporting.payment_failed.org_id = 'org_snapshot' AND reporting.payment_failed.day >= '2026-01-01' AND reporting.payment_failed.day <= '2026-03-31' GROUP BY reporting.payment_failed.day, reporting.order_placed.currency;

-- payments 3 currency=None
SELECT reporting.payment_voided.day, reporting.payment_authorized.currency AS currency, count(*) AS voided, sum(reporting.payment_authorized.amount_minor) AS voided_minor 
FROM reporting.payment_voided JOIN reporting.payment_authorized ON reporting.payment_authorized.payment_id = reporting.payment_voided.payment_id 
WHERE reporting.payment_voided.org_id = 'org_snapshot' AND reporting.payment_voided.day >= '2026-01-01' AND reporting.payment_voided.day <= '2026-03-31' GROUP BY reporting.payment_voided.day, reporting.payment_authorized.currency;

-- payments 4 currency=None
SELECT reporting.payment_refund.day, reporting.payment_refund.currency AS currency, count(*) AS refunds, sum(reporting.payment_refund.amount_minor) AS refunded_minor 
FROM reporting.payment_refund 
WHERE reporting.payment_refund.org_id = 'org_snapshot' AND reporting.payment_refund.day >= '2026-01-01' AND reporting.payment_refund.day <= '2026-03-31' GROUP BY reporting.payment_refund.day, reporting.payment_refund.currency;

-- sales 0 currency=EUR
SELECT reporting.order_paid.day, reporting.order_paid.currency AS currency, count(*) AS orders, sum(reporting.order_paid.units) AS units, sum(reporting.order_paid.total_minor) AS gross_minor 
FROM reporting.order_paid 
WHERE reporting.order_paid.org_id = 'org_snapshot' AND reporting.order_paid.day >= '2026-01-01' AND reporting.order_paid.day <= '2026-03-31' AND reporting.order_paid.currency = 'EUR' GROUP BY reporting.order_paid.day, reporting.order_paid.currency;

-- sales 1 currency=EUR
SELECT reporting.order_refund.day, reporting.order_refund.currency AS currency, count(*) AS refunds, sum(reporting.order_refund.amount_minor) AS refunded_minor 
FROM reporting.order_refund 
WHERE reporting.order_refund.org_id = 'org_snapshot' AND reporting.order_refund.day >= '2026-01-01' AND reporting.order_refund.day <= '2026-03-31' AND reporting.order_refund.currency = 'EUR' GROUP BY reporting.order_refund.day, reporting.order_refund.currency;

-- sales 2 currency=EUR
SELECT reporting.order_cancelled.day, reporting.order_cancelled.currency AS currency, count(*) AS cancellations, sum(reporting.order_cancelled.total_minor - coalesce(refunded.refunded, 0)) AS cancelled_minor 
FROM reporting.order_cancelled LEFT OUTER JOIN (SELECT reporting.order_refund.order_id AS order_id, sum(reporting.order_refund.amount_minor) AS refunded 
FROM reporting.order_refund 
WHERE reporting.order_refund.org_id = 'org_snapshot' GROUP BY reporting.order_refund.order_id) AS refunded ON refunded.order_id = reporting.order_cancelled.order_id 
WHERE reporting.order_cancelled.org_id = 'org_snapshot' AND reporting.order_cancelled.day >= '2026-01-01' AND reporting.order_cancelled.day <= '2026-03-31' AND reporting.order_cancelled.currency = 'EUR' AND reporting.order_cancelled.was_paid = 1 GROUP BY reporting.order_cancelled.day, reporting.order_cancelled.currency;

-- sales 3 currency=EUR
SELECT reporting.order_shipped.day, reporting.order_paid.currency AS currency, count(*) AS shipped 
FROM reporting.order_shipped JOIN reporting.order_paid ON reporting.order_paid.order_id = reporting.order_shipped.order_id 
WHERE reporting.order_shipped.org_id = 'org_snapshot' AND reporting.order_shipped.day >= '2026-01-01' AND reporting.order_shipped.day <= '2026-03-31' AND reporting.order_paid.currency = 'EUR' GROUP BY reporting.order_shipped.day, reporting.order_paid.currency;

-- payments 0 currency=EUR
SELECT reporting.payment_authorized.day, reporting.payment_authorized.currency AS currency, count(*) AS authorized, sum(reporting.payment_authorized.amount_minor) AS authorized_minor 
FROM reporting.payment_authorized 
WHERE reporting.payment_authorized.org_id = 'org_snapshot' AND reporting.payment_authorized.day >= '2026-01-01' AND reporting.payment_authorized.day <= '2026-03-31' AND reporting.payment_authorized.currency = 'EUR' GROUP BY reporting.payment_authorized.day, reporting.payment_authorized.currency;

-- payments 1 currency=EUR
SELECT reporting.payment_captured.day, reporting.payment_captured.currency AS currency, count(*) AS captured, sum(reporting.payment_captured.amount_minor) AS captured_minor 
FROM reporting.payment_captured 
WHERE reporting.payment_captured.org_id = 'org_snapshot' AND reporting.payment_captured.day >= '2026-01-01' AND reporting.payment_captured.day <= '2026-03-31' AND reporting.payment_captured.currency = 'EUR' GROUP BY reporting.payment_captured.day, reporting.payment_captured.currency;

-- payments 2 currency=EUR
SELECT reporting.payment_failed.day, reporting.order_placed.currency AS currency, sum(CASE WHEN (reporting.payment_failed.status = 'declined') THEN 1 ELSE 0 END) AS declined, sum(CASE WHEN (reporting.payment_failed.status = 'declined') THEN reporting.order_placed.total_minor ELSE 0 END) AS declined_minor, sum(CASE WHEN (reporting.payment_failed.status = 'declined') THEN 0 ELSE 1 END) AS failed, sum(CASE WHEN (reporting.payment_failed.status = 'declined') THEN 0 ELSE reporting.order_placed.total_minor END) AS failed_minor 
FROM reporting.payment_failed JOIN reporting.order_placed ON reporting.order_placed.order_id = reporting.payment_failed.order_id 
WHERE reporting.payment_failed.org_id = 'org_snapshot' AND reporting.payment_failed.day >= '2026-01-01' AND reporting.payment_failed.day <= '2026-03-31' AND reporting.order_placed.currency = 'EUR' GROUP BY reporting.payment_failed.day, reporting.order_placed.currency;

-- payments 3 currency=EUR
SELECT reporting.payment_voided.day, reporting.payment_authorized.currency AS currency, count(*) AS voided, sum(reporting.payment_authorized.amount_minor) AS voided_minor 
FROM reporting.payment_voided JOIN reporting.payment_authorized ON reporting.payment_authorized.payment_id = reporting.payment_voided.payment_id 
WHERE reporting.payment_voided.org_id = 'org_snapshot' AND reporting.payment_voided.day >= '2026-01-01' AND reporting.payment_voided.day <= '2026-03-31' AND reporting.payment_authorized.currency = 'EUR' GROUP BY reporting.payment_voided.day, reporting.payment_authorized.currency;

-- payments 4 currency=EUR
SELECT reporting.payment_refund.day, reporting.payment_refund.currency AS currency, count(*) AS refunds, sum(reporting.payment_refund.amount_minor) AS refunded_minor 
FROM reporting.payment_refund 
WHERE reporting.payment_refund.org_id = 'org_snapshot' AND reporting.payment_refund.day >= '2026-01-01' AND reporting.payment_refund.day <= '2026-03-31' AND reporting.payment_refund.currency = 'EUR' GROUP BY reporting.payment_refund.day, reporting.payment_refund.currency;

-- products sort=revenue
SELECT TOP 50 reporting.order_line.currency, reporting.order_line.sku, max(reporting.order_line.name) AS name, sum(reporting.order_line.quantity) AS units, sum(reporting.order_line.revenue_minor) AS revenue_minor, count(distinct(reporting.order_line.order_id)) AS orders 
FROM reporting.order_line 
WHERE reporting.order_line.org_id = 'org_snapshot' AND reporting.order_line.day >= '2026-01-01' AND reporting.order_line.day <= '2026-03-31' GROUP BY reporting.order_line.currency, reporting.order_line.sku ORDER BY sum(reporting.order_line.revenue_minor) DESC, sum(reporting.order_line.quantity) DESC, reporting.order_line.currency, reporting.order_line.sku;

-- products sort=units
SELECT TOP 50 reporting.order_line.currency, reporting.order_line.sku, max(reporting.order_line.name) AS name, sum(reporting.order_line.quantity) AS units, sum(reporting.order_line.revenue_minor) AS revenue_minor, count(distinct(reporting.order_line.order_id)) AS orders 
FROM reporting.order_line 
WHERE reporting.order_line.org_id = 'org_snapshot' AND reporting.order_line.day >= '2026-01-01' AND reporting.order_line.day <= '2026-03-31' GROUP BY reporting.order_line.currency, reporting.order_line.sku ORDER BY sum(reporting.order_line.quantity) DESC, sum(reporting.order_line.revenue_minor) DESC, reporting.order_line.currency, reporting.order_line.sku;

-- inbox lookup
SELECT reporting.applied_event.consumer 
FROM reporting.applied_event 
WHERE reporting.applied_event.consumer = 'c' AND reporting.applied_event.event_id = 'e';

-- rebuild forget
DELETE FROM reporting.order_paid WHERE reporting.order_paid.org_id = 'org_snapshot';

-- upsert order_placed
MERGE INTO reporting.order_placed WITH (HOLDLOCK) AS target USING (VALUES (:order_id, :org_id, :currency, :total_minor, :day)) AS source (order_id, org_id, currency, total_minor, day) ON target.order_id = source.order_id WHEN NOT MATCHED THEN INSERT (order_id, org_id, currency, total_minor, day) VALUES (source.order_id, source.org_id, source.currency, source.total_minor, source.day);

-- upsert order_paid
MERGE INTO reporting.order_paid WITH (HOLDLOCK) AS target USING (VALUES (:order_id, :org_id, :currency, :total_minor, :units, :day)) AS source (order_id, org_id, currency, total_minor, units, day) ON target.order_id = source.order_id WHEN NOT MATCHED THEN INSERT (order_id, org_id, currency, total_minor, units, day) VALUES (source.order_id, source.org_id, source.currency, source.total_minor, source.units, source.day);

-- upsert order_line
MERGE INTO reporting.order_line WITH (HOLDLOCK) AS target USING (VALUES (:order_id, :line_no, :org_id, :sku, :name, :currency, :quantity, :revenue_minor, :day)) AS source (order_id, line_no, org_id, sku, name, currency, quantity, revenue_minor, day) ON target.order_id = source.order_id AND target.line_no = source.line_no WHEN NOT MATCHED THEN INSERT (order_id, line_no, org_id, sku, name, currency, quantity, revenue_minor, day) VALUES (source.order_id, source.line_no, source.org_id, source.sku, source.name, source.currency, source.quantity, source.revenue_minor, source.day);

-- upsert order_refund
MERGE INTO reporting.order_refund WITH (HOLDLOCK) AS target USING (VALUES (:event_id, :org_id, :order_id, :currency, :amount_minor, :day)) AS source (event_id, org_id, order_id, currency, amount_minor, day) ON target.event_id = source.event_id WHEN NOT MATCHED THEN INSERT (event_id, org_id, order_id, currency, amount_minor, day) VALUES (source.event_id, source.org_id, source.order_id, source.currency, source.amount_minor, source.day);

-- upsert order_cancelled
MERGE INTO reporting.order_cancelled WITH (HOLDLOCK) AS target USING (VALUES (:order_id, :org_id, :currency, :total_minor, :was_paid, :day)) AS source (order_id, org_id, currency, total_minor, was_paid, day) ON target.order_id = source.order_id WHEN NOT MATCHED THEN INSERT (order_id, org_id, currency, total_minor, was_paid, day) VALUES (source.order_id, source.org_id, source.currency, source.total_minor, source.was_paid, source.day);

-- upsert order_shipped
MERGE INTO reporting.order_shipped WITH (HOLDLOCK) AS target USING (VALUES (:order_id, :org_id, :day)) AS source (order_id, org_id, day) ON target.order_id = source.order_id WHEN NOT MATCHED THEN INSERT (order_id, org_id, day) VALUES (source.order_id, source.org_id, source.day);

-- upsert payment_authorized
MERGE INTO reporting.payment_authorized WITH (HOLDLOCK) AS target USING (VALUES (:payment_id, :org_id, :order_id, :currency, :amount_minor, :day)) AS source (payment_id, org_id, order_id, currency, amount_minor, day) ON target.payment_id = source.payment_id WHEN NOT MATCHED THEN INSERT (payment_id, org_id, order_id, currency, amount_minor, day) VALUES (source.payment_id, source.org_id, source.order_id, source.currency, source.amount_minor, source.day);

-- upsert payment_captured
MERGE INTO reporting.payment_captured WITH (HOLDLOCK) AS target USING (VALUES (:event_id, :org_id, :payment_id, :currency, :amount_minor, :day)) AS source (event_id, org_id, payment_id, currency, amount_minor, day) ON target.event_id = source.event_id WHEN NOT MATCHED THEN INSERT (event_id, org_id, payment_id, currency, amount_minor, day) VALUES (source.event_id, source.org_id, source.payment_id, source.currency, source.amount_minor, source.day);

-- upsert payment_failed
MERGE INTO reporting.payment_failed WITH (HOLDLOCK) AS target USING (VALUES (:payment_id, :org_id, :order_id, :status, :day)) AS source (payment_id, org_id, order_id, status, day) ON target.payment_id = source.payment_id WHEN NOT MATCHED THEN INSERT (payment_id, org_id, order_id, status, day) VALUES (source.payment_id, source.org_id, source.order_id, source.status, source.day);

-- upsert payment_voided
MERGE INTO reporting.payment_voided WITH (HOLDLOCK) AS target USING (VALUES (:payment_id, :org_id, :order_id, :day)) AS source (payment_id, org_id, order_id, day) ON target.payment_id = source.payment_id WHEN NOT MATCHED THEN INSERT (payment_id, org_id, order_id, day) VALUES (source.payment_id, source.org_id, source.order_id, source.day);

-- upsert payment_refund
MERGE INTO reporting.payment_refund WITH (HOLDLOCK) AS target USING (VALUES (:event_id, :org_id, :payment_id, :currency, :amount_minor, :day)) AS source (event_id, org_id, payment_id, currency, amount_minor, day) ON target.event_id = source.event_id WHEN NOT MATCHED THEN INSERT (event_id, org_id, payment_id, currency, amount_minor, day) VALUES (source.event_id, source.org_id, source.payment_id, source.currency, source.amount_minor, source.day);

-- upsert applied_event
MERGE INTO reporting.applied_event WITH (HOLDLOCK) AS target USING (VALUES (:consumer, :event_id, :org_id, :occurred_at, :applied_at)) AS source (consumer, event_id, org_id, occurred_at, applied_at) ON target.consumer = source.consumer AND target.event_id = source.event_id WHEN NOT MATCHED THEN INSERT (consumer, event_id, org_id, occurred_at, applied_at) VALUES (source.consumer, source.event_id, source.org_id, source.occurred_at, source.applied_at);
