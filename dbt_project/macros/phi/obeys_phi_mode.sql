{#-
  A mart obeys its domain's PHI mode (EHRFUSION_PHI_MODE). Returns the violating rows with the
  row key, the offending column(s) and the rule, never the value, so stored failures copy no PHI.

  - no value of `columns` equals a raw identifier of `identifiers` (in direct mode the
    `reference_columns` are exempt);
  - direct: `reference_columns` carry raw identifiers (the authorised disclosure) or null;
  - limited_data_set, aggregate_only: `reference_columns` are null;
  - aggregate_only: `record_columns` (source record keys) are null too;
  - safe_harbor: `reference_columns` are surrogates from the restricted map;
  - pseudonymized: `reference_columns` are 64-hex keyed pseudonyms, `key_version_column` the
    current key version wherever one goes out (and null in every other mode).
-#}
{% test obeys_phi_mode(
    model, key_column, columns, reference_columns, identifiers, identifier_columns,
    record_columns=[], key_version_column=none
) %}
    {%- set mode = phi_mode() -%}
    {%- set checks = [] -%}

    {%- set raw_identifiers -%}
        {% for identifier in identifier_columns %}
            select cast({{ identifier }} as {{ dbt.type_string() }}) as identifier_value
            from {{ identifiers }}
            where {{ identifier }} is not null
            {% if not loop.last %}union{% endif %}
        {% endfor %}
    {%- endset -%}

    {%- if mode == 'direct' -%}
        {%- for column in reference_columns -%}
            {%- do checks.append(
                "select outbound." ~ key_column ~ " as row_key, '" ~ column ~ "' as column_name, "
                ~ "'not_the_raw_identifier' as violation from outbound "
                ~ "where outbound." ~ column ~ " is not null and outbound." ~ column
                ~ " not in (select identifier_value from raw_identifiers)"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
    {#- Outside the reference columns no mode lets a raw identifier through. -#}
    {%- for column in columns if mode != 'direct' or column not in reference_columns -%}
            {%- do checks.append(
                "select outbound." ~ key_column ~ " as row_key, '" ~ column ~ "' as column_name, "
                ~ "'raw_identifier' as violation from outbound "
                ~ "inner join raw_identifiers on cast(outbound." ~ column ~ " as "
                ~ dbt.type_string() ~ ") = raw_identifiers.identifier_value"
            ) -%}
    {%- endfor -%}

    {#- The per-column rules below share one scan of the model. -#}
    {%- set broken = [] -%}
    {%- for column in reference_columns -%}
        {%- if mode in ['limited_data_set', 'aggregate_only'] -%}
            {%- do broken.append((column, column ~ " is not null")) -%}
        {%- elif mode == 'safe_harbor' -%}
            {%- do broken.append((column, column ~ " is not null and " ~ column
                ~ " not in (select surrogate from " ~ ref('restricted__identifier_surrogates') ~ ")")) -%}
        {%- elif mode == 'pseudonymized' -%}
            {%- do broken.append((column, column ~ " is not null and (length(" ~ column ~ ") <> 64 or ltrim("
                ~ column ~ ", '0123456789abcdef') <> '')")) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if mode == 'aggregate_only' -%}
        {%- for column in record_columns -%}
            {%- do broken.append((column, column ~ " is not null")) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if key_version_column and mode == 'pseudonymized' -%}
        {%- do broken.append((key_version_column,
            "coalesce(" ~ key_version_column ~ ", '') <> '" ~ phi_key_version() ~ "'")) -%}
    {%- elif key_version_column -%}
        {%- do broken.append((key_version_column, key_version_column ~ " is not null")) -%}
    {%- endif -%}
    {%- if broken -%}
        {%- set violation -%}
            {%- for column, condition in broken -%}
                case when {{ condition }} then '{{ column }} ' else '' end
                {%- if not loop.last %} || {% endif -%}
            {%- endfor -%}
        {%- endset -%}
        {%- do checks.append(
            "select " ~ key_column ~ " as row_key, " ~ violation ~ " as column_name, 'not_allowed_in_"
            ~ mode ~ "' as violation from outbound where (" ~ broken | map(attribute=1) | join(") or (") ~ ")"
        ) -%}
    {%- endif -%}

    {#- The model through a CTE: with a `where` config dbt passes a filtered subquery. -#}
    with outbound as (
        select * from {{ model }}
    ),

    raw_identifiers as (
        {{ raw_identifiers }}
    )

    {{ checks | join('\nunion all\n') }}
{% endtest %}
