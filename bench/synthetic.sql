-- Synthetic load for the benchmark: 5,000 items (1,000 programmes/initiatives with 4
-- components each) and 50,000 contributions, on top of the seeded report. Kept apart
-- from the seed data; never loaded by the application.
BEGIN;
INSERT INTO exchange_rates (currency, month, usd_per_unit, source)
SELECT 'EUR', make_date(y, m, 1), 1.3 + (m % 5) * 0.02, 'synthetic benchmark rate'
  FROM generate_series(2008, 2011) y, generate_series(1, 12) m
ON CONFLICT DO NOTHING;

INSERT INTO items (slug, title, kind, status, report_section, summary, published, start_date, end_date)
SELECT 'bench-' || g, 'Benchmark programme ' || g,
       CASE WHEN g % 4 = 0 THEN 'initiative' ELSE 'programme' END,
       (ARRAY['planned','in_development','seeking_funding','ongoing','completed'])[1 + g % 5],
       'X.' || lpad(g::text, 4, '0'), 'Synthetic item for load testing.', g % 10 <> 0,
       CASE WHEN g % 3 = 0 THEN make_date(2008 + g % 4, 1, 1) END,
       CASE WHEN g % 3 = 0 THEN make_date(2009 + g % 4, 12, 31) END
  FROM generate_series(1, 1000) g;

INSERT INTO items (slug, title, kind, parent_id, status, report_section, published)
SELECT p.slug || '-c' || c, p.title || ', component ' || c, 'component', p.id, 'ongoing', p.report_section, true
  FROM items p, generate_series(1, 4) c
 WHERE p.slug LIKE 'bench-%' AND p.parent_id IS NULL;

-- budgets on three items in four; the rest stay unknown
INSERT INTO budgets (item_id, amount, currency, as_of)
SELECT id, 100000 + (id::bigint * 7919) % 5000000, CASE WHEN id % 3 = 0 THEN 'EUR' ELSE 'USD' END, '2009-06-15'
  FROM items WHERE slug LIKE 'bench-%' AND id % 4 <> 0;

INSERT INTO alignments (item_id, result_area_id)
SELECT i.id, ra.id FROM items i
  JOIN result_areas ra ON ra.id = 1 + (i.id % (SELECT count(*) FROM result_areas))
 WHERE i.slug LIKE 'bench-%'
ON CONFLICT DO NOTHING;

INSERT INTO item_places (item_id, place_id)
SELECT i.id, p.id FROM items i
  JOIN places p ON p.id = (SELECT array_agg(id ORDER BY id) FROM places)[1 + i.id % (SELECT count(*) FROM places)]
 WHERE i.slug LIKE 'bench-%'
ON CONFLICT DO NOTHING;

INSERT INTO contributions (item_id, org_id, amount, currency, status, as_of)
SELECT (SELECT array_agg(id) FROM items WHERE slug LIKE 'bench-%')[1 + (g % 5000)],
       (SELECT array_agg(id) FROM organisations)[1 + (g % (SELECT count(*) FROM organisations))],
       1000 + (g::bigint * 104729) % 200000,
       CASE WHEN g % 4 = 0 THEN 'EUR' ELSE 'USD' END,
       (ARRAY['pledged','committed','paid'])[1 + g % 3],
       make_date(2008 + g % 4, 1 + g % 12, 1 + g % 28)
  FROM generate_series(1, 50000) g;
COMMIT;
ANALYZE;
