"""Sources landed into the warehouse's raw layer with dlt."""

import dlt

# Every raw row names the dlt load that landed it: runs log the patients they read by load, and
# database sources batch their journal lines by the day their rows landed.
dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] = True
