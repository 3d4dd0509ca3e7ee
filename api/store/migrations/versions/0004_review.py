"""Coverage review (issue 7): problem categories, spot checks, status cannot_resolve.

Revision 0004 (schema version 4), after 0003.
New tables, and ``ck_problems_status`` widened to allow ``cannot_resolve`` (autogenerate
does not compare CHECK constraints: written by hand).  SQLite rebuilds ``problems`` to change
the constraint (batch mode); PostgreSQL drops and adds it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUSES = ("open", "in_progress", "resolved")
_NEW_STATUSES = ("open", "in_progress", "resolved", "cannot_resolve")


def _statuses(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table('problem_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('department', sa.String(), nullable=True),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint('days > 0', name=op.f('ck_problem_categories_days')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_problem_categories')),
    sa.UniqueConstraint('name', name=op.f('uq_problem_categories_name'))
    )
    op.create_table('spot_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('seed', sa.String(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('town_fk', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['town_fk'], ['towns.id'], name=op.f('fk_spot_checks_town_fk_towns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spot_checks'))
    )
    op.create_table('spot_check_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('check_fk', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('household_fk', sa.Integer(), nullable=False),
    sa.Column('visit_fk', sa.Integer(), nullable=True),
    sa.Column('group_fk', sa.Integer(), nullable=True),
    sa.Column('zone_label', sa.String(), nullable=True),
    sa.Column('confirmed', sa.Boolean(), nullable=True),
    sa.Column('checked_date', sa.Date(), nullable=True),
    sa.Column('note', sa.String(), nullable=True),
    sa.ForeignKeyConstraint(['check_fk'], ['spot_checks.id'], name=op.f('fk_spot_check_items_check_fk_spot_checks')),
    sa.ForeignKeyConstraint(['group_fk'], ['groups.id'], name=op.f('fk_spot_check_items_group_fk_groups')),
    sa.ForeignKeyConstraint(['household_fk'], ['households.id'], name=op.f('fk_spot_check_items_household_fk_households')),
    sa.ForeignKeyConstraint(['visit_fk'], ['visits.id'], name=op.f('fk_spot_check_items_visit_fk_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spot_check_items')),
    sa.UniqueConstraint('check_fk', 'household_fk', name=op.f('uq_spot_check_items_check_fk_household_fk')),
    sa.UniqueConstraint('check_fk', 'seq', name=op.f('uq_spot_check_items_check_fk_seq'))
    )
    with op.batch_alter_table('spot_check_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spot_check_items_check_fk'), ['check_fk'], unique=False)
        batch_op.create_index(batch_op.f('ix_spot_check_items_group_fk'), ['group_fk'], unique=False)
        batch_op.create_index(batch_op.f('ix_spot_check_items_household_fk'), ['household_fk'], unique=False)
    with op.batch_alter_table("problems") as batch_op:
        batch_op.drop_constraint(op.f("ck_problems_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_problems_status"), _statuses(_NEW_STATUSES))


def downgrade() -> None:
    # Problems marked cannot_resolve make the old constraint fail: the downgrade then rolls back
    # whole rather than rewrite the ledger.
    with op.batch_alter_table("problems") as batch_op:
        batch_op.drop_constraint(op.f("ck_problems_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_problems_status"), _statuses(_OLD_STATUSES))
    with op.batch_alter_table('spot_check_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spot_check_items_household_fk'))
        batch_op.drop_index(batch_op.f('ix_spot_check_items_group_fk'))
        batch_op.drop_index(batch_op.f('ix_spot_check_items_check_fk'))
    op.drop_table('spot_check_items')
    op.drop_table('spot_checks')
    op.drop_table('problem_categories')
