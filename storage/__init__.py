"""The database: SQLAlchemy models, SQL per concept, prepared statements and migrations."""
