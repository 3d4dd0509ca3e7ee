"""Baseline: the schema of version 2, as Zhudian created it before migrations.

Revision 0002 (schema version 2), the first.  Stores made before migrations existed hold
exactly these tables (``meta.schema_version`` = 2, no ``alembic_version``): ``open_store``
stamps them with this revision instead of running it.  Do not edit: write a new revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('import_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replaced', sa.JSON(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_log'))
    )
    op.create_table('meta',
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('value', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_meta'))
    )
    op.create_table('roads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('road_id', sa.String(), nullable=False),
    sa.Column('name', sa.String(), nullable=True),
    sa.Column('highway', sa.String(), nullable=True),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.Column('geom', sa.LargeBinary(), nullable=True),
    sa.Column('length_m', sa.Double(), nullable=True),
    sa.Column('minx', sa.Double(), nullable=True),
    sa.Column('miny', sa.Double(), nullable=True),
    sa.Column('maxx', sa.Double(), nullable=True),
    sa.Column('maxy', sa.Double(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roads')),
    sa.UniqueConstraint('road_id', name=op.f('uq_roads_road_id'))
    )
    op.create_index('ix_roads_bbox', 'roads', ['minx', 'maxx', 'miny', 'maxy'], unique=False)
    op.create_table('towns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_towns')),
    sa.UniqueConstraint('name', name=op.f('uq_towns_name'))
    )
    op.create_table('villages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.String(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('town_fk', sa.Integer(), nullable=True),
    sa.Column('depot_lon', sa.Double(), nullable=True),
    sa.Column('depot_lat', sa.Double(), nullable=True),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.Column('geom', sa.LargeBinary(), nullable=True),
    sa.Column('minx', sa.Double(), nullable=True),
    sa.Column('miny', sa.Double(), nullable=True),
    sa.Column('maxx', sa.Double(), nullable=True),
    sa.Column('maxy', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['town_fk'], ['towns.id'], name=op.f('fk_villages_town_fk_towns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_villages')),
    sa.UniqueConstraint('village_id', name=op.f('uq_villages_village_id'))
    )
    op.create_index('ix_villages_bbox', 'villages', ['minx', 'maxx', 'miny', 'maxy'], unique=False)
    op.create_index(op.f('ix_villages_town_fk'), 'villages', ['town_fk'], unique=False)
    op.create_table('areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.String(), nullable=False),
    sa.Column('village_fk', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.Column('geom', sa.LargeBinary(), nullable=True),
    sa.Column('minx', sa.Double(), nullable=True),
    sa.Column('miny', sa.Double(), nullable=True),
    sa.Column('maxx', sa.Double(), nullable=True),
    sa.Column('maxy', sa.Double(), nullable=True),
    sa.CheckConstraint("kind IN ('natural_village', 'compound', 'scattered')", name=op.f('ck_areas_kind')),
    sa.ForeignKeyConstraint(['village_fk'], ['villages.id'], name=op.f('fk_areas_village_fk_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_areas')),
    sa.UniqueConstraint('area_id', name=op.f('uq_areas_area_id'))
    )
    op.create_index('ix_areas_bbox', 'areas', ['minx', 'maxx', 'miny', 'maxy'], unique=False)
    op.create_index(op.f('ix_areas_village_fk'), 'areas', ['village_fk'], unique=False)
    op.create_table('groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_fk', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['village_fk'], ['villages.id'], name=op.f('fk_groups_village_fk_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_groups')),
    sa.UniqueConstraint('village_fk', 'name', name=op.f('uq_groups_village_fk_name'))
    )
    op.create_index(op.f('ix_groups_village_fk'), 'groups', ['village_fk'], unique=False)
    op.create_table('members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.String(), nullable=True),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('role', sa.String(), nullable=False),
    sa.Column('village_fk', sa.Integer(), nullable=True),
    sa.Column('phone', sa.String(), nullable=True),
    sa.Column('title', sa.String(), nullable=True),
    sa.Column('home_area', sa.String(), nullable=True),
    sa.Column('leave_dates', sa.JSON(), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.CheckConstraint("role IN ('leader', 'member', 'auxiliary')", name=op.f('ck_members_role')),
    sa.ForeignKeyConstraint(['village_fk'], ['villages.id'], name=op.f('fk_members_village_fk_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members')),
    sa.UniqueConstraint('member_id', name=op.f('uq_members_member_id'))
    )
    op.create_index(op.f('ix_members_village_fk'), 'members', ['village_fk'], unique=False)
    op.create_table('zone_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('village_fk', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('solver_status', sa.String(), nullable=True),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'published', 'archived')", name=op.f('ck_zone_plans_status')),
    sa.ForeignKeyConstraint(['village_fk'], ['villages.id'], name=op.f('fk_zone_plans_village_fk_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_zone_plans')),
    sa.UniqueConstraint('village_fk', 'version', name=op.f('uq_zone_plans_village_fk_version'))
    )
    op.create_index(op.f('ix_zone_plans_village_fk'), 'zone_plans', ['village_fk'], unique=False)
    op.create_table('group_members',
    sa.Column('group_fk', sa.Integer(), nullable=False),
    sa.Column('member_fk', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(), nullable=False),
    sa.CheckConstraint("role IN ('member', 'auxiliary')", name=op.f('ck_group_members_role')),
    sa.ForeignKeyConstraint(['group_fk'], ['groups.id'], name=op.f('fk_group_members_group_fk_groups')),
    sa.ForeignKeyConstraint(['member_fk'], ['members.id'], name=op.f('fk_group_members_member_fk_members')),
    sa.PrimaryKeyConstraint('group_fk', 'member_fk', name=op.f('pk_group_members')),
    sa.UniqueConstraint('member_fk', name=op.f('uq_group_members_member_fk'))
    )
    op.create_table('households',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.String(), nullable=False),
    sa.Column('area_fk', sa.Integer(), nullable=True),
    sa.Column('village_fk', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(), nullable=True),
    sa.Column('head', sa.String(), nullable=True),
    sa.Column('phone', sa.String(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('tags', sa.String(), nullable=False),
    sa.Column('placement', sa.String(), nullable=False),
    sa.Column('attrs', sa.JSON(), nullable=False),
    sa.Column('geom', sa.LargeBinary(), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.CheckConstraint("placement IN ('in_area', 'attached', 'scattered', 'unplaced')", name=op.f('ck_households_placement')),
    sa.CheckConstraint('size IS NULL OR size >= 0', name=op.f('ck_households_size')),
    sa.ForeignKeyConstraint(['area_fk'], ['areas.id'], name=op.f('fk_households_area_fk_areas')),
    sa.ForeignKeyConstraint(['village_fk'], ['villages.id'], name=op.f('fk_households_village_fk_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_households')),
    sa.UniqueConstraint('household_id', name=op.f('uq_households_household_id'))
    )
    op.create_index(op.f('ix_households_area_fk'), 'households', ['area_fk'], unique=False)
    op.create_index('ix_households_lonlat', 'households', ['lon', 'lat'], unique=False)
    op.create_index(op.f('ix_households_village_fk'), 'households', ['village_fk'], unique=False)
    op.create_table('month_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('village_fk', sa.Integer(), nullable=True),
    sa.Column('town_fk', sa.Integer(), nullable=True),
    sa.Column('zone_plan_fk', sa.Integer(), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('solver_status', sa.String(), nullable=True),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'published', 'archived')", name=op.f('ck_month_plans_status')),
    sa.CheckConstraint('village_fk IS NOT NULL OR town_fk IS NOT NULL', name=op.f('ck_month_plans_scope')),
    sa.ForeignKeyConstraint(['town_fk'], ['towns.id'], name=op.f('fk_month_plans_town_fk_towns')),
    sa.ForeignKeyConstraint(['village_fk'], ['villages.id'], name=op.f('fk_month_plans_village_fk_villages')),
    sa.ForeignKeyConstraint(['zone_plan_fk'], ['zone_plans.id'], name=op.f('fk_month_plans_zone_plan_fk_zone_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_month_plans'))
    )
    op.create_index(op.f('ix_month_plans_town_fk'), 'month_plans', ['town_fk'], unique=False)
    op.create_index(op.f('ix_month_plans_village_fk'), 'month_plans', ['village_fk'], unique=False)
    op.create_table('zones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_fk', sa.Integer(), nullable=False),
    sa.Column('group_fk', sa.Integer(), nullable=True),
    sa.Column('label', sa.String(), nullable=True),
    sa.Column('workload_min', sa.Double(), nullable=True),
    sa.Column('geom', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['group_fk'], ['groups.id'], name=op.f('fk_zones_group_fk_groups')),
    sa.ForeignKeyConstraint(['plan_fk'], ['zone_plans.id'], name=op.f('fk_zones_plan_fk_zone_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_zones'))
    )
    op.create_index(op.f('ix_zones_group_fk'), 'zones', ['group_fk'], unique=False)
    op.create_index(op.f('ix_zones_plan_fk'), 'zones', ['plan_fk'], unique=False)
    op.create_table('sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month_plan_fk', sa.Integer(), nullable=True),
    sa.Column('group_fk', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=True),
    sa.Column('end_time', sa.Time(), nullable=True),
    sa.Column('budget_min', sa.Double(), nullable=True),
    sa.CheckConstraint("kind IN ('stationing', 'evening')", name=op.f('ck_sessions_kind')),
    sa.CheckConstraint('budget_min IS NULL OR budget_min >= 0', name=op.f('ck_sessions_budget_min')),
    sa.ForeignKeyConstraint(['group_fk'], ['groups.id'], name=op.f('fk_sessions_group_fk_groups')),
    sa.ForeignKeyConstraint(['month_plan_fk'], ['month_plans.id'], name=op.f('fk_sessions_month_plan_fk_month_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions'))
    )
    op.create_index(op.f('ix_sessions_group_fk'), 'sessions', ['group_fk'], unique=False)
    op.create_index(op.f('ix_sessions_month_plan_fk'), 'sessions', ['month_plan_fk'], unique=False)
    op.create_table('zone_households',
    sa.Column('zone_fk', sa.Integer(), nullable=False),
    sa.Column('household_fk', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['household_fk'], ['households.id'], name=op.f('fk_zone_households_household_fk_households')),
    sa.ForeignKeyConstraint(['zone_fk'], ['zones.id'], name=op.f('fk_zone_households_zone_fk_zones')),
    sa.PrimaryKeyConstraint('zone_fk', 'household_fk', name=op.f('pk_zone_households'))
    )
    op.create_index(op.f('ix_zone_households_household_fk'), 'zone_households', ['household_fk'], unique=False)
    op.create_table('stops',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_fk', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('household_fk', sa.Integer(), nullable=False),
    sa.Column('arrive', sa.Time(), nullable=True),
    sa.Column('depart', sa.Time(), nullable=True),
    sa.CheckConstraint('seq >= 0', name=op.f('ck_stops_seq')),
    sa.ForeignKeyConstraint(['household_fk'], ['households.id'], name=op.f('fk_stops_household_fk_households')),
    sa.ForeignKeyConstraint(['session_fk'], ['sessions.id'], name=op.f('fk_stops_session_fk_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stops')),
    sa.UniqueConstraint('session_fk', 'seq', name=op.f('uq_stops_session_fk_seq'))
    )
    op.create_index(op.f('ix_stops_household_fk'), 'stops', ['household_fk'], unique=False)
    op.create_table('visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_fk', sa.Integer(), nullable=False),
    sa.Column('group_fk', sa.Integer(), nullable=True),
    sa.Column('stop_fk', sa.Integer(), nullable=True),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('outcome', sa.String(), nullable=False),
    sa.Column('note', sa.String(), nullable=True),
    sa.Column('client_id', sa.String(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint("outcome IN ('met', 'not_home', 'refused', 'moved')", name=op.f('ck_visits_outcome')),
    sa.ForeignKeyConstraint(['group_fk'], ['groups.id'], name=op.f('fk_visits_group_fk_groups')),
    sa.ForeignKeyConstraint(['household_fk'], ['households.id'], name=op.f('fk_visits_household_fk_households')),
    sa.ForeignKeyConstraint(['stop_fk'], ['stops.id'], name=op.f('fk_visits_stop_fk_stops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visits')),
    sa.UniqueConstraint('client_id', name=op.f('uq_visits_client_id'))
    )
    op.create_index('ix_visits_date', 'visits', ['date'], unique=False)
    op.create_index(op.f('ix_visits_group_fk'), 'visits', ['group_fk'], unique=False)
    op.create_index(op.f('ix_visits_household_fk'), 'visits', ['household_fk'], unique=False)
    op.create_table('problems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_fk', sa.Integer(), nullable=False),
    sa.Column('visit_fk', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(), nullable=True),
    sa.Column('department', sa.String(), nullable=True),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('resolution_note', sa.String(), nullable=True),
    sa.Column('resolved_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint("status IN ('open', 'in_progress', 'resolved')", name=op.f('ck_problems_status')),
    sa.ForeignKeyConstraint(['household_fk'], ['households.id'], name=op.f('fk_problems_household_fk_households')),
    sa.ForeignKeyConstraint(['visit_fk'], ['visits.id'], name=op.f('fk_problems_visit_fk_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_problems'))
    )
    op.create_index(op.f('ix_problems_household_fk'), 'problems', ['household_fk'], unique=False)
    op.create_index(op.f('ix_problems_visit_fk'), 'problems', ['visit_fk'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_problems_visit_fk'), table_name='problems')
    op.drop_index(op.f('ix_problems_household_fk'), table_name='problems')
    op.drop_table('problems')
    op.drop_index(op.f('ix_visits_household_fk'), table_name='visits')
    op.drop_index(op.f('ix_visits_group_fk'), table_name='visits')
    op.drop_index('ix_visits_date', table_name='visits')
    op.drop_table('visits')
    op.drop_index(op.f('ix_stops_household_fk'), table_name='stops')
    op.drop_table('stops')
    op.drop_index(op.f('ix_zone_households_household_fk'), table_name='zone_households')
    op.drop_table('zone_households')
    op.drop_index(op.f('ix_sessions_month_plan_fk'), table_name='sessions')
    op.drop_index(op.f('ix_sessions_group_fk'), table_name='sessions')
    op.drop_table('sessions')
    op.drop_index(op.f('ix_zones_plan_fk'), table_name='zones')
    op.drop_index(op.f('ix_zones_group_fk'), table_name='zones')
    op.drop_table('zones')
    op.drop_index(op.f('ix_month_plans_village_fk'), table_name='month_plans')
    op.drop_index(op.f('ix_month_plans_town_fk'), table_name='month_plans')
    op.drop_table('month_plans')
    op.drop_index(op.f('ix_households_village_fk'), table_name='households')
    op.drop_index('ix_households_lonlat', table_name='households')
    op.drop_index(op.f('ix_households_area_fk'), table_name='households')
    op.drop_table('households')
    op.drop_table('group_members')
    op.drop_index(op.f('ix_zone_plans_village_fk'), table_name='zone_plans')
    op.drop_table('zone_plans')
    op.drop_index(op.f('ix_members_village_fk'), table_name='members')
    op.drop_table('members')
    op.drop_index(op.f('ix_groups_village_fk'), table_name='groups')
    op.drop_table('groups')
    op.drop_index(op.f('ix_areas_village_fk'), table_name='areas')
    op.drop_index('ix_areas_bbox', table_name='areas')
    op.drop_table('areas')
    op.drop_index(op.f('ix_villages_town_fk'), table_name='villages')
    op.drop_index('ix_villages_bbox', table_name='villages')
    op.drop_table('villages')
    op.drop_table('towns')
    op.drop_index('ix_roads_bbox', table_name='roads')
    op.drop_table('roads')
    op.drop_table('meta')
    op.drop_table('import_log')
