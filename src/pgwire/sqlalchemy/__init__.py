"""SQLAlchemy dialects."""
