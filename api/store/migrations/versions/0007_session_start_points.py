"""sessions: where each session starts

Revision 0007 (schema version 7), after 0006.

A session can start somewhere other than the village committee office: at the auxiliary member's
home (``zhudian plan --start auxiliary``) or, for households too far to walk to from there, at a
nearer point of the zone.  ``sessions`` gets ``start_kind``, ``start_label``, ``start_lon`` and
``start_lat`` (WGS84 degrees); all NULL for plans stored before (they started at the office), so
the printed sheets and maps draw each route from where the team really sets out.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('start_kind', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('start_label', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('start_lon', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('start_lat', sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('start_lat')
        batch_op.drop_column('start_lon')
        batch_op.drop_column('start_label')
        batch_op.drop_column('start_kind')
