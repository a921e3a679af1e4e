"""Epic sources: one package per source system (`resolute`: the Resolute HB/PB journal feed)."""
