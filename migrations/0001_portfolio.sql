-- The portfolio: strategy, items, organisations, money.
-- Money is NUMERIC(18,2) in the original currency; USD figures are derived by the
-- views at the end of this file, never stored.

-- ISO 4217 currency codes (active codes as of 2026). A foreign key to this table is
-- the "currency is an ISO code" constraint, and gives admin forms their choices.
CREATE TABLE currencies (
    code CHAR(3) PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$')
);
INSERT INTO currencies (code) VALUES
('AED'),('AFN'),('ALL'),('AMD'),('AOA'),('ARS'),('AUD'),('AWG'),('AZN'),('BAM'),('BBD'),('BDT'),
('BGN'),('BHD'),('BIF'),('BMD'),('BND'),('BOB'),('BRL'),('BSD'),('BTN'),('BWP'),('BYN'),('BZD'),
('CAD'),('CDF'),('CHF'),('CLP'),('CNY'),('COP'),('CRC'),('CUP'),('CVE'),('CZK'),('DJF'),('DKK'),
('DOP'),('DZD'),('EGP'),('ERN'),('ETB'),('EUR'),('FJD'),('FKP'),('GBP'),('GEL'),('GHS'),('GIP'),
('GMD'),('GNF'),('GTQ'),('GYD'),('HKD'),('HNL'),('HTG'),('HUF'),('IDR'),('ILS'),('INR'),('IQD'),
('IRR'),('ISK'),('JMD'),('JOD'),('JPY'),('KES'),('KGS'),('KHR'),('KMF'),('KPW'),('KRW'),('KWD'),
('KYD'),('KZT'),('LAK'),('LBP'),('LKR'),('LRD'),('LSL'),('LYD'),('MAD'),('MDL'),('MGA'),('MKD'),
('MMK'),('MNT'),('MOP'),('MRU'),('MUR'),('MVR'),('MWK'),('MXN'),('MYR'),('MZN'),('NAD'),('NGN'),
('NIO'),('NOK'),('NPR'),('NZD'),('OMR'),('PAB'),('PEN'),('PGK'),('PHP'),('PKR'),('PLN'),('PYG'),
('QAR'),('RON'),('RSD'),('RUB'),('RWF'),('SAR'),('SBD'),('SCR'),('SDG'),('SEK'),('SGD'),('SHP'),
('SLE'),('SOS'),('SRD'),('SSP'),('STN'),('SVC'),('SYP'),('SZL'),('THB'),('TJS'),('TMT'),('TND'),
('TOP'),('TRY'),('TTD'),('TWD'),('TZS'),('UAH'),('UGX'),('USD'),('UYU'),('UZS'),('VES'),('VND'),
('VUV'),('WST'),('XAF'),('XCD'),('XCG'),('XOF'),('XPF'),('YER'),('ZAR'),('ZMW'),('ZWG');

CREATE TABLE themes (
    code        TEXT PRIMARY KEY CHECK (code ~ '^[0-9]+$'),
    title       TEXT CHECK (title IS NULL OR btrim(title) <> ''),  -- NULL: not given in the source
    source_para TEXT
);

CREATE TABLE result_areas (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        TEXT NOT NULL CHECK (code ~ '^[0-9]+\.[0-9]+$'),
    theme_code  TEXT NOT NULL REFERENCES themes (code) ON UPDATE CASCADE,
    title       TEXT CHECK (title IS NULL OR btrim(title) <> ''),  -- NULL: not given in the source
    source_para TEXT,
    CONSTRAINT result_areas_code_key UNIQUE (code)
);

CREATE TABLE organisations (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug         TEXT NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    name         TEXT NOT NULL CHECK (btrim(name) <> ''),
    acronym      TEXT,
    kind         TEXT NOT NULL CHECK (kind IN ('government', 'un_entity', 'bank', 'regional_body',
                                               'intergovernmental', 'ngo', 'donor_group', 'other')),
    source_paras TEXT,
    CONSTRAINT organisations_slug_key UNIQUE (slug)
);

CREATE TABLE items (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug           TEXT NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    title          TEXT NOT NULL CHECK (btrim(title) <> ''),
    kind           TEXT NOT NULL CHECK (kind IN ('programme', 'initiative', 'component')),
    parent_id      BIGINT REFERENCES items (id),
    report_section TEXT,
    status         TEXT NOT NULL CHECK (status IN ('planned', 'in_development', 'seeking_funding',
                                                   'ongoing', 'completed')),
    status_note    TEXT,
    summary        TEXT NOT NULL DEFAULT '',
    description    TEXT NOT NULL DEFAULT '',
    period         TEXT,          -- the period as the source states it, e.g. '2008-2010'
    start_date     DATE,
    end_date       DATE,
    source_paras   TEXT,
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT items_slug_key UNIQUE (slug),
    -- components hang under a parent; programmes and initiatives are top level
    CONSTRAINT items_parent_matches_kind CHECK ((kind = 'component') = (parent_id IS NOT NULL)),
    CONSTRAINT items_not_own_parent CHECK (parent_id <> id),
    CONSTRAINT items_dates_ordered CHECK (end_date IS NULL OR start_date IS NULL OR end_date >= start_date)
);
CREATE INDEX items_parent_idx ON items (parent_id);
CREATE INDEX items_kind_idx ON items (kind);
CREATE INDEX items_status_idx ON items (status);

CREATE TABLE places (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name     TEXT NOT NULL CHECK (btrim(name) <> ''),
    kind     TEXT NOT NULL CHECK (kind IN ('country', 'region')),
    iso_code CHAR(2) CHECK (iso_code ~ '^[A-Z]{2}$'),
    CONSTRAINT places_name_key UNIQUE (name)
);

CREATE TABLE item_places (
    item_id  BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    place_id BIGINT NOT NULL REFERENCES places (id),
    PRIMARY KEY (item_id, place_id)
);
CREATE INDEX item_places_place_idx ON item_places (place_id);

CREATE TABLE item_organisations (
    item_id     BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    org_id      BIGINT NOT NULL REFERENCES organisations (id),
    role        TEXT NOT NULL CHECK (role IN ('lead', 'executing_agency', 'partner', 'beneficiary',
                                              'requested_by')),
    source_para TEXT,
    PRIMARY KEY (item_id, org_id, role)
);
CREATE INDEX item_organisations_org_idx ON item_organisations (org_id);

CREATE TABLE alignments (
    item_id        BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    result_area_id BIGINT NOT NULL REFERENCES result_areas (id),
    source_para    TEXT,
    note           TEXT,
    PRIMARY KEY (item_id, result_area_id)
);
CREATE INDEX alignments_result_area_idx ON alignments (result_area_id);

CREATE TABLE budgets (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_id     BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    amount      NUMERIC(18, 2) NOT NULL CHECK (amount >= 0),
    currency    CHAR(3) NOT NULL REFERENCES currencies (code),
    approximate BOOLEAN NOT NULL DEFAULT false,
    period      TEXT,
    as_of       DATE NOT NULL,   -- the date the figure applies to; picks the exchange rate
    source_para TEXT,
    note        TEXT,
    seed_key    TEXT,            -- stable id of a seeded row, so seeding twice adds nothing
    version     INTEGER NOT NULL DEFAULT 1,
    CONSTRAINT budgets_seed_key_key UNIQUE (seed_key)
);
CREATE INDEX budgets_item_idx ON budgets (item_id);

CREATE TABLE contributions (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_id        BIGINT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    org_id         BIGINT NOT NULL REFERENCES organisations (id),
    amount         NUMERIC(18, 2) NOT NULL CHECK (amount >= 0),
    currency       CHAR(3) NOT NULL REFERENCES currencies (code),
    status         TEXT NOT NULL CHECK (status IN ('pledged', 'committed', 'paid')),
    pledged_on     DATE,
    as_of          DATE NOT NULL,   -- picks the exchange rate
    approximate    BOOLEAN NOT NULL DEFAULT false,
    self_financing BOOLEAN NOT NULL DEFAULT false,
    source_para    TEXT,
    note           TEXT,
    seed_key       TEXT,
    version        INTEGER NOT NULL DEFAULT 1,
    CONSTRAINT contributions_seed_key_key UNIQUE (seed_key)
);
CREATE INDEX contributions_item_idx ON contributions (item_id);
CREATE INDEX contributions_org_idx ON contributions (org_id);
CREATE INDEX contributions_status_idx ON contributions (status);

-- UN operational rates of exchange are set monthly: one rate per currency and month.
CREATE TABLE exchange_rates (
    currency     CHAR(3) NOT NULL REFERENCES currencies (code),
    month        DATE NOT NULL CHECK (month = date_trunc('month', month)::date),
    usd_per_unit NUMERIC(20, 10) NOT NULL CHECK (usd_per_unit > 0),
    source       TEXT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (currency, month),
    CONSTRAINT exchange_rates_not_usd CHECK (currency <> 'USD')
);

-- The one place where an amount becomes USD: the rate of its currency for the month of
-- its as_of date, or the latest earlier month when that month has none yet.
-- amount_usd is NULL when no rate exists; the caller reports such amounts as unconverted.
CREATE FUNCTION usd_rate(cur CHAR(3), on_date DATE, OUT rate_month DATE, OUT usd_per_unit NUMERIC)
    LANGUAGE sql STABLE AS $$
    SELECT NULL::date, 1::numeric WHERE cur = 'USD'
    UNION ALL
    (SELECT r.month, r.usd_per_unit FROM exchange_rates r
      WHERE cur <> 'USD' AND r.currency = cur AND r.month <= on_date
      ORDER BY r.month DESC LIMIT 1)
$$;

CREATE VIEW budgets_usd AS
SELECT b.*, r.rate_month, r.usd_per_unit, round(b.amount * r.usd_per_unit, 2) AS amount_usd
  FROM budgets b
  LEFT JOIN LATERAL usd_rate(b.currency, b.as_of) r ON true;

CREATE VIEW contributions_usd AS
SELECT c.*, r.rate_month, r.usd_per_unit, round(c.amount * r.usd_per_unit, 2) AS amount_usd
  FROM contributions c
  LEFT JOIN LATERAL usd_rate(c.currency, c.as_of) r ON true;
