"""Text screening: normalise → lexicon → PII → model → verdict. Pure: no I/O beyond reading
the package's own data files at construction time."""
