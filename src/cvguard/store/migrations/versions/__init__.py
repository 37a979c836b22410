"""Alembic revisions, one file per change, named by date (``YYYY_MM_DD_NNNN_slug.py``)."""
