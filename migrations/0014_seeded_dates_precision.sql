-- The report's dates with the precision it gives (issue 12), for databases seeded before
-- 0013, whose items still carry the days the old seed files invented ("in 2008" stored as
-- 1 January 2008). A row is corrected only while it still holds exactly the old seeded
-- values, so a date an admin has edited since is left alone. On a new database the items
-- do not exist yet when this runs (the seed files, already corrected, load after).
--
-- Each correction is recorded in the audit trail (actor "migration 0014"), so an item's
-- History says why its dates changed.
--
-- Milestones and targets are not added here: `portfolio-tracker seed` adds whatever of the
-- seed files is missing, those included.

WITH corrections (slug, old_start, old_end, new_start, start_precision, new_end, end_precision) AS (
    VALUES
    -- "In 2008, UNODC intends to launch" (para. 2)
    ('treatment-rehabilitation', '2008-01-01'::date, NULL::date, '2008-01-01'::date, 'year', NULL::date, 'day'),
    -- "for the period 2008-2010" (paras. 5, 8)
    ('guinea-bissau', '2008-01-01', '2010-12-31', '2008-01-01', 'year', '2010-01-01', 'year'),
    ('victim-empowerment-south-africa', '2008-01-01', '2010-12-31', '2008-01-01', 'year', '2010-01-01', 'year'),
    -- "Since 2005 ... have sought technical advice" dates the requests, not a start (para. 17)
    ('gulf-states', '2005-01-01', NULL, NULL, 'day', NULL, 'day'),
    -- "In the bienniums 2008-2009 and 2010-2011" (para. 19)
    ('rainbow-strategy', '2008-01-01', '2011-12-31', '2008-01-01', 'biennium', '2010-01-01', 'biennium'),
    -- "launched in November 2007" (para. 25)
    ('rainbow-tarcet', '2007-11-01', NULL, '2007-11-01', 'month', NULL, 'day'),
    -- "will be completed in 2008" (para. 35)
    ('post-conflict-icclr-southern-sudan-prisons', NULL, '2008-12-31', NULL, 'day', '2008-01-01', 'year'),
    -- "In 2008, UNODC will launch" (para. 36)
    ('smart', '2008-01-01', NULL, '2008-01-01', 'year', NULL, 'day'),
    -- "formally launched in March 2007" (para. 45)
    ('un-gift', '2007-03-01', NULL, '2007-03-01', 'month', NULL, 'day'),
    -- "spanning the period 2007-2009" (para. 53)
    ('paris-pact-technical-assistance-project', '2007-01-01', '2009-12-31', '2007-01-01', 'year', '2009-01-01', 'year'),
    -- "In 2008, three Paris Pact expert consultations will be held" (para. 54)
    ('paris-pact-expert-consultations-2008', '2008-01-01', '2008-12-31', '2008-01-01', 'year', '2008-01-01', 'year'),
    ('paris-pact-black-sea-consultation', NULL, NULL, '2008-01-01', 'year', '2008-01-01', 'year'),
    -- "in the third quarter of 2008", "the last quarter of 2008" (para. 54)
    ('paris-pact-east-africa-consultation', NULL, NULL, '2008-07-01', 'quarter', '2008-07-01', 'quarter'),
    ('paris-pact-financial-flows-round-table', NULL, NULL, '2008-10-01', 'quarter', '2008-10-01', 'quarter'),
    -- "established in early 2007" (para. 53)
    ('paris-pact-national-strategic-analysts', NULL, NULL, '2007-01-01', 'year', NULL, 'day'),
    -- "will be strengthened in 2008" (para. 56)
    ('paris-pact-turkmenistan-project-office', NULL, NULL, '2008-01-01', 'year', '2008-01-01', 'year'),
    -- "in early December 2008" (para. 57)
    ('paris-pact-policy-meeting-december-2008', NULL, NULL, '2008-12-01', 'month', '2008-12-01', 'month'),
    -- "Launched ... in 2007" (para. 59); "in the current biennium" (para. 60)
    ('star', '2007-01-01', NULL, '2007-01-01', 'year', NULL, 'day'),
    ('star-pilot-country-assistance', NULL, NULL, '2008-01-01', 'biennium', '2008-01-01', 'biennium')
), corrected AS (
    UPDATE items i
       SET start_date = c.new_start, start_precision = c.start_precision,
           end_date = c.new_end, end_precision = c.end_precision,
           version = i.version + 1, updated_at = now()
      FROM corrections c
     WHERE i.slug = c.slug
       AND i.start_date IS NOT DISTINCT FROM c.old_start
       AND i.end_date IS NOT DISTINCT FROM c.old_end
       AND i.start_precision = 'day' AND i.end_precision = 'day'
    RETURNING i.id, c.old_start, c.old_end, c.new_start, c.start_precision, c.new_end,
              c.end_precision
)
INSERT INTO audit_log (actor_email, action, entity, entity_id, item_id, summary, before, after)
SELECT 'migration 0014', 'update', 'item', id, id,
       'Gave the dates the precision the report states',
       jsonb_build_object('start_date', old_start, 'end_date', old_end),
       jsonb_build_object('start_date', new_start, 'start_precision', start_precision,
                          'end_date', new_end, 'end_precision', end_precision)
  FROM corrected;

-- "developed and reviewed ... in 2008" is a milestone (para. 26), not a running period.
UPDATE items SET period = NULL, version = version + 1, updated_at = now()
 WHERE slug IN ('rainbow-opium-financial-flows-plan', 'rainbow-opiate-addiction-hiv-plan')
   AND period = '2008';
