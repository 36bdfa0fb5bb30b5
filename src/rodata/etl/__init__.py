"""The ETL: files (CSV, JSON Lines, Parquet) to a published version, on every core."""
