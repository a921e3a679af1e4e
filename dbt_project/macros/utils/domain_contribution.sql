{#-
  The model the building domain's source contributes to a Fusion object's shared models, in the
  object's canonical shape (contract: models/intermediate/_<chain>__contributions.yml).
  EHRFUSION_<CHAIN>_MODEL names it and EHRFUSION_<CHAIN>_MODELS every source's (both set by
  `ehrfusion` from the source catalog: runtime/catalog.py, contribution_environment); the calling
  model depends on each, so dbt's lineage runs from every source table to every Fusion column
  while a build compiles only its own source. `dbt compile` without a domain (how sqlfluff
  lints) gets a placeholder name; any other command refuses to run without a contribution.
-#}
{% macro domain_contribution(chain) %}
    {%- set setting = 'EHRFUSION_' ~ chain | upper ~ '_MODEL' -%}
    {%- set current = env_var(setting, '') -%}
    {#- lineage only: at execution a ref would pull an ephemeral contribution into the SQL -#}
    {%- if not execute -%}
        {%- for model in env_var(setting ~ 'S', '').split(',') if model and model != current -%}
            {%- do ref(model) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if current -%}
        {{ return(ref(current)) }}
    {%- elif execute and flags.WHICH != 'compile' -%}
        {{ exceptions.raise_compiler_error(
            setting ~ " is not set: the " ~ chain ~ " models build for a domain whose source "
            ~ "contributes to them (ehrfusion sets it from the source catalog)"
        ) }}
    {%- endif -%}
    {{ return(chain ~ '__contribution_not_set') }}
{% endmacro %}
