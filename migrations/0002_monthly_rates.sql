-- Faster USD conversion: instead of looking up a rate per amount (a lateral call per row,
-- slow at 50,000 contributions), expand each rate over the months it is the latest one
-- and join amounts on (currency, month). Same rule as before: an amount converts at the
-- rate of its month, or of the latest earlier month that has one.

CREATE VIEW monthly_rates AS
SELECT r.currency,
       m::date AS month,
       r.month AS rate_month,
       r.usd_per_unit
  FROM (SELECT currency, month, usd_per_unit,
               lead(month) OVER (PARTITION BY currency ORDER BY month) AS next_month
          FROM exchange_rates) r
 CROSS JOIN LATERAL generate_series(
        r.month,
        coalesce(r.next_month - interval '1 month',
                 -- the latest rate carries forward: twenty years past today or past itself
                 greatest(r.month, date_trunc('month', now())::date) + interval '20 years'),
        interval '1 month') AS m;

CREATE OR REPLACE VIEW budgets_usd AS
SELECT b.*,
       mr.rate_month,
       CASE WHEN b.currency = 'USD' THEN 1 ELSE mr.usd_per_unit END AS usd_per_unit,
       round(b.amount * CASE WHEN b.currency = 'USD' THEN 1 ELSE mr.usd_per_unit END, 2) AS amount_usd
  FROM budgets b
  LEFT JOIN monthly_rates mr
    ON mr.currency = b.currency AND mr.month = date_trunc('month', b.as_of)::date;

CREATE OR REPLACE VIEW contributions_usd AS
SELECT c.*,
       mr.rate_month,
       CASE WHEN c.currency = 'USD' THEN 1 ELSE mr.usd_per_unit END AS usd_per_unit,
       round(c.amount * CASE WHEN c.currency = 'USD' THEN 1 ELSE mr.usd_per_unit END, 2) AS amount_usd
  FROM contributions c
  LEFT JOIN monthly_rates mr
    ON mr.currency = c.currency AND mr.month = date_trunc('month', c.as_of)::date;

DROP FUNCTION usd_rate(CHAR(3), DATE);
