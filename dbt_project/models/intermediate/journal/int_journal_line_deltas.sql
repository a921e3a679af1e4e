-- What each postable line still needs posted in its entry's batch, against what Fusion posted
-- for it in earlier batches:
--   NEW          a line of an entry Fusion never posted, as it is;
--   CORRECTION   an entry posted in open periods: per segment combination and date, the
--                current amount minus the posted amount (dated like what it corrects);
--   REVERSAL     an entry posted into a period no longer open (or now dated in one): what
--                posted, with its sign changed, dated on the restatement's day;
--   REPOST       that entry's current lines, dated on the restatement's day.
-- Each entry's rows balance per accounting date because the current entry and every earlier
-- posting of it balance. Amounts net to zero are dropped: an unchanged restatement posts nothing.

{%- set segments = ['segment1', 'segment2', 'segment3', 'segment4', 'segment5', 'segment6'] %}

with

lines as (

    select * from {{ ref('int_journal_lines_validated') }}
    where {{ in_this_domain() }} and not is_held

),

posted as (

    select * from {{ ref('stg_ops__fusion_posted_lines') }}
    where {{ in_this_domain() }}

),

desired as (

    select
        source_line_id,
        journal_id,
        batch_date,
        correction_path,
        accounting_date,
        currency_code,
        fusion_company as segment1,
        fusion_cost_center as segment2,
        fusion_account as segment3,
        fusion_sub_account as segment4,
        fusion_intercompany as segment5,
        fusion_future as segment6,
        coalesce(debit_amount, 0) as entered_dr,
        coalesce(credit_amount, 0) as entered_cr

    from lines
    where not is_voided

),

posted_before as (

    select
        lines.source_line_id,
        lines.journal_id,
        lines.batch_date,
        lines.correction_path,
        posted.accounting_date,
        posted.currency_code,
        {%- for segment in segments %}
            posted.{{ segment }},
        {%- endfor %}
        coalesce(posted.entered_dr, 0) as entered_dr,
        coalesce(posted.entered_cr, 0) as entered_cr

    from posted

    inner join lines
        on posted.source_line_id = lines.source_line_id

    where posted.batch_date < lines.batch_date

),

-- Current (+) and earlier postings (-) of every line that has been posted before (posted_before
-- has desired's columns in desired's order).
movements as (

    select * from desired
    where correction_path <> 'new'

    union all

    select
        source_line_id,
        journal_id,
        batch_date,
        correction_path,
        accounting_date,
        currency_code,
        {%- for segment in segments %}
            {{ segment }},
        {%- endfor %}
        -entered_dr as entered_dr,
        -entered_cr as entered_cr
    from posted_before

),

-- Entries on the reverse-and-re-post path are touched only when, per line and combination,
-- the current amounts differ from what posted, whatever the dates.
changed_lines as (

    select journal_id
    from movements
    where correction_path = 'reverse_and_repost'
    group by journal_id, source_line_id, currency_code, {{ segments | join(', ') }}
    having sum(entered_dr) <> 0 or sum(entered_cr) <> 0

),

changed_entries as (

    select distinct journal_id
    from changed_lines

),

new_lines as (

    select
        source_line_id,
        journal_id,
        batch_date,
        accounting_date,
        currency_code,
        {%- for segment in segments %}
            {{ segment }},
        {%- endfor %}
        entered_dr,
        entered_cr,
        'NEW' as line_kind
    from desired
    where correction_path = 'new'

),

corrections as (

    select
        source_line_id,
        journal_id,
        batch_date,
        accounting_date,
        currency_code,
        {%- for segment in segments %}
            {{ segment }},
        {%- endfor %}
        sum(entered_dr) as entered_dr,
        sum(entered_cr) as entered_cr,
        'CORRECTION' as line_kind
    from movements
    where correction_path = 'correct_in_place'
    group by
        source_line_id, journal_id, batch_date, accounting_date, currency_code,
        {{ segments | join(', ') }}

),

reversals as (

    select
        posted_before.source_line_id,
        posted_before.journal_id,
        posted_before.batch_date,
        posted_before.batch_date as accounting_date,
        posted_before.currency_code,
        {%- for segment in segments %}
            posted_before.{{ segment }},
        {%- endfor %}
        -sum(posted_before.entered_dr) as entered_dr,
        -sum(posted_before.entered_cr) as entered_cr,
        'REVERSAL' as line_kind
    from posted_before
    inner join changed_entries
        on posted_before.journal_id = changed_entries.journal_id
    where posted_before.correction_path = 'reverse_and_repost'
    group by
        posted_before.source_line_id,
        posted_before.journal_id,
        posted_before.batch_date,
        posted_before.currency_code,
        posted_before.{{ segments | join(', posted_before.') }}

),

reposts as (

    select
        desired.source_line_id,
        desired.journal_id,
        desired.batch_date,
        desired.batch_date as accounting_date,
        desired.currency_code,
        {%- for segment in segments %}
            desired.{{ segment }},
        {%- endfor %}
        desired.entered_dr,
        desired.entered_cr,
        'REPOST' as line_kind
    from desired
    inner join changed_entries
        on desired.journal_id = changed_entries.journal_id
    where desired.correction_path = 'reverse_and_repost'

),

all_rows as (

    select * from new_lines
    union all
    select * from corrections
    union all
    select * from reversals
    union all
    select * from reposts

)

select
    {{ setting_literal('EHRFUSION_STREAM') }} as stream_name,
    {{ setting_literal('EHRFUSION_DOMAIN') }} as domain_name,
    source_line_id,
    journal_id,
    batch_date,
    line_kind,
    accounting_date,
    currency_code,
    {%- for segment in segments %}
        {{ segment }},
    {%- endfor %}
    nullif(entered_dr, 0) as entered_dr,
    nullif(entered_cr, 0) as entered_cr

from all_rows
where entered_dr <> 0 or entered_cr <> 0
