"""Persistence: SQLAlchemy 2 tables, small repositories and Alembic migrations.

Nothing in this package ever holds a plaintext plate, address or note: sealed details are
bytes produced by `checkins.sealing`.
"""
