-- A store made by Zhudian before migrations (schema version 2, create_all), dumped by sqlite3.
BEGIN TRANSACTION;
CREATE TABLE areas (
	id INTEGER NOT NULL, 
	area_id VARCHAR NOT NULL, 
	village_fk INTEGER NOT NULL, 
	name VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	attrs JSON NOT NULL, 
	geom BLOB, 
	minx DOUBLE, 
	miny DOUBLE, 
	maxx DOUBLE, 
	maxy DOUBLE, 
	CONSTRAINT pk_areas PRIMARY KEY (id), 
	CONSTRAINT ck_areas_kind CHECK (kind IN ('natural_village', 'compound', 'scattered')), 
	CONSTRAINT uq_areas_area_id UNIQUE (area_id), 
	CONSTRAINT fk_areas_village_fk_villages FOREIGN KEY(village_fk) REFERENCES villages (id)
);
INSERT INTO "areas" VALUES(1,'A1',1,'王家庄','natural_village','{"楼栋": 12}',X'010300000001000000050000003333333333135D403333333333F34340A4703D0AD7135D403333333333F34340A4703D0AD7135D4014AE47E17AF443403333333333135D4014AE47E17AF443403333333333135D403333333333F34340',116.3,39.9,116.31,39.91);
INSERT INTO "areas" VALUES(2,'A2',1,'幸福小区','compound','{}',X'01030000000100000005000000A4703D0AD7135D4014AE47E17AF4434015AE47E17A145D4014AE47E17AF4434015AE47E17A145D40F5285C8FC2F54340A4703D0AD7135D40F5285C8FC2F54340A4703D0AD7135D4014AE47E17AF44340',116.31,39.91,1.16320000000000007384e+02,3.9919999999999994599e+01);
INSERT INTO "areas" VALUES(3,'110108001001-散居户',1,'城关村散居户','scattered','{}',NULL,NULL,NULL,NULL,NULL);
INSERT INTO "areas" VALUES(4,'A3',2,'张家东区','compound','{"物业": "某公司"}',X'010600000002000000010300000001000000050000006666666666165D403333333333F343401E85EB51B8165D403333333333F343401E85EB51B8165D40A4703D0AD7F343406666666666165D40A4703D0AD7F343406666666666165D403333333333F343400103000000010000000500000048E17A14AE175D403333333333F343400000000000185D403333333333F343400000000000185D40A4703D0AD7F3434048E17A14AE175D40A4703D0AD7F3434048E17A14AE175D403333333333F34340',116.35,39.9,116.375,39.905);
CREATE TABLE group_members (
	group_fk INTEGER NOT NULL, 
	member_fk INTEGER NOT NULL, 
	role VARCHAR NOT NULL, 
	CONSTRAINT pk_group_members PRIMARY KEY (group_fk, member_fk), 
	CONSTRAINT ck_group_members_role CHECK (role IN ('member', 'auxiliary')), 
	CONSTRAINT fk_group_members_group_fk_groups FOREIGN KEY(group_fk) REFERENCES groups (id), 
	CONSTRAINT uq_group_members_member_fk UNIQUE (member_fk), 
	CONSTRAINT fk_group_members_member_fk_members FOREIGN KEY(member_fk) REFERENCES members (id)
);
CREATE TABLE groups (
	id INTEGER NOT NULL, 
	village_fk INTEGER NOT NULL, 
	name VARCHAR NOT NULL, 
	attrs JSON NOT NULL, 
	CONSTRAINT pk_groups PRIMARY KEY (id), 
	CONSTRAINT uq_groups_village_fk_name UNIQUE (village_fk, name), 
	CONSTRAINT fk_groups_village_fk_villages FOREIGN KEY(village_fk) REFERENCES villages (id)
);
CREATE TABLE households (
	id INTEGER NOT NULL, 
	household_id VARCHAR NOT NULL, 
	area_fk INTEGER, 
	village_fk INTEGER, 
	address VARCHAR, 
	head VARCHAR, 
	phone VARCHAR, 
	size INTEGER, 
	tags VARCHAR NOT NULL, 
	placement VARCHAR NOT NULL, 
	attrs JSON NOT NULL, 
	geom BLOB, 
	lon DOUBLE, 
	lat DOUBLE, 
	CONSTRAINT pk_households PRIMARY KEY (id), 
	CONSTRAINT ck_households_placement CHECK (placement IN ('in_area', 'attached', 'scattered', 'unplaced')), 
	CONSTRAINT ck_households_size CHECK (size IS NULL OR size >= 0), 
	CONSTRAINT uq_households_household_id UNIQUE (household_id), 
	CONSTRAINT fk_households_area_fk_areas FOREIGN KEY(area_fk) REFERENCES areas (id), 
	CONSTRAINT fk_households_village_fk_villages FOREIGN KEY(village_fk) REFERENCES villages (id)
);
INSERT INTO "households" VALUES(1,'H1',1,1,'王家庄1号','王堃','13800000001',3,'elderly_alone,low_income','in_area','{"楼层": 2, "备注": "独居"}',X'010100000017D9CEF753135D40FA7E6ABC74F34340',116.302,39.902);
INSERT INTO "households" VALUES(2,'H2',1,1,'王家庄2号','张䶮',NULL,NULL,'','in_area','{}',X'010100000008AC1C5A64135D40DD24068195F34340',116.303,39.903);
INSERT INTO "households" VALUES(3,'H3',2,1,'幸福小区3栋101','𠮷田','13800000003',1,'evening_only','attached','{}',X'01010000008716D9CEF7135D40DBF97E6ABCF44340',116.312,39.912);
INSERT INTO "households" VALUES(4,'H4',3,1,'村北','李四',NULL,5,'','scattered','{"nested": {"a": [1, 2]}}',X'01010000003108AC1C5A145D402FDD240681F54340',116.318,39.918);
INSERT INTO "households" VALUES(5,'H5',4,2,'张家东区5号','赵六',NULL,2,'disabled','in_area','{}',X'01010000005839B4C876165D4017D9CEF753F34340',116.351,39.901);
INSERT INTO "households" VALUES(6,'H6',NULL,3,NULL,'钱七','0755-1234',NULL,'自定义','scattered','{}',X'01010000008B6CE7FBA9195D4017D9CEF753F34340',116.401,39.901);
CREATE TABLE import_log (
	id INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	replaced JSON NOT NULL, 
	files JSON NOT NULL, 
	counts JSON NOT NULL, 
	warnings JSON NOT NULL, 
	CONSTRAINT pk_import_log PRIMARY KEY (id)
);
INSERT INTO "import_log" VALUES(1,'2026-11-28 02:05:35.286229','[]','{"households": "户.csv"}','{"villages": {"added": 3, "updated": 0, "deleted": 0, "unchanged": 0}, "areas": {"added": 4, "updated": 0, "deleted": 0, "unchanged": 0}, "households": {"added": 6, "updated": 0, "deleted": 0, "unchanged": 0}, "roads": {"added": 3, "updated": 0, "deleted": 0, "unchanged": 0}, "towns_added": 1}','[]');
CREATE TABLE members (
	id INTEGER NOT NULL, 
	member_id VARCHAR, 
	name VARCHAR NOT NULL, 
	role VARCHAR NOT NULL, 
	village_fk INTEGER, 
	phone VARCHAR, 
	title VARCHAR, 
	home_area VARCHAR, 
	leave_dates JSON NOT NULL, 
	attrs JSON NOT NULL, 
	CONSTRAINT pk_members PRIMARY KEY (id), 
	CONSTRAINT ck_members_role CHECK (role IN ('leader', 'member', 'auxiliary')), 
	CONSTRAINT uq_members_member_id UNIQUE (member_id), 
	CONSTRAINT fk_members_village_fk_villages FOREIGN KEY(village_fk) REFERENCES villages (id)
);
INSERT INTO "members" VALUES(1,'M1','王书记','leader',1,NULL,NULL,NULL,'[["2025-03-04", "2025-03-06"]]','{}');
CREATE TABLE meta (
	"key" VARCHAR NOT NULL, 
	value VARCHAR NOT NULL, 
	CONSTRAINT pk_meta PRIMARY KEY ("key")
);
INSERT INTO "meta" VALUES('schema_version','2');
CREATE TABLE month_plans (
	id INTEGER NOT NULL, 
	month DATE NOT NULL, 
	village_fk INTEGER, 
	town_fk INTEGER, 
	zone_plan_fk INTEGER, 
	params JSON NOT NULL, 
	seed INTEGER, 
	status VARCHAR NOT NULL, 
	solver_status VARCHAR, 
	scores JSON NOT NULL, 
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	CONSTRAINT pk_month_plans PRIMARY KEY (id), 
	CONSTRAINT ck_month_plans_status CHECK (status IN ('draft', 'published', 'archived')), 
	CONSTRAINT ck_month_plans_scope CHECK (village_fk IS NOT NULL OR town_fk IS NOT NULL), 
	CONSTRAINT fk_month_plans_village_fk_villages FOREIGN KEY(village_fk) REFERENCES villages (id), 
	CONSTRAINT fk_month_plans_town_fk_towns FOREIGN KEY(town_fk) REFERENCES towns (id), 
	CONSTRAINT fk_month_plans_zone_plan_fk_zone_plans FOREIGN KEY(zone_plan_fk) REFERENCES zone_plans (id)
);
CREATE TABLE problems (
	id INTEGER NOT NULL, 
	household_fk INTEGER NOT NULL, 
	visit_fk INTEGER, 
	category VARCHAR, 
	department VARCHAR, 
	text VARCHAR NOT NULL, 
	deadline DATE, 
	status VARCHAR NOT NULL, 
	resolution_note VARCHAR, 
	resolved_date DATE, 
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	CONSTRAINT pk_problems PRIMARY KEY (id), 
	CONSTRAINT ck_problems_status CHECK (status IN ('open', 'in_progress', 'resolved')), 
	CONSTRAINT fk_problems_household_fk_households FOREIGN KEY(household_fk) REFERENCES households (id), 
	CONSTRAINT fk_problems_visit_fk_visits FOREIGN KEY(visit_fk) REFERENCES visits (id)
);
CREATE TABLE roads (
	id INTEGER NOT NULL, 
	road_id VARCHAR NOT NULL, 
	name VARCHAR, 
	highway VARCHAR, 
	attrs JSON NOT NULL, 
	geom BLOB, 
	length_m DOUBLE, 
	minx DOUBLE, 
	miny DOUBLE, 
	maxx DOUBLE, 
	maxy DOUBLE, 
	CONSTRAINT pk_roads PRIMARY KEY (id), 
	CONSTRAINT uq_roads_road_id UNIQUE (road_id)
);
INSERT INTO "roads" VALUES(1,'R1','人民路','residential','{"u": 1, "v": 2}',X'0102000000030000003333333333135D403333333333F34340A4703D0AD7135D403333333333F34340A4703D0AD7135D4014AE47E17AF44340',1.96551100814296137286e+03,116.3,39.9,116.31,39.91);
INSERT INTO "roads" VALUES(2,'R2',NULL,NULL,'{}',X'0102000000020000000000000000205D400000000000004440713D0AD7A3205D400000000000004440',8.53938569138799493871e+02,116.5,40.0,116.51,40.0);
INSERT INTO "roads" VALUES(3,'R3','东环路','footway','{}',X'0105000000020000000102000000020000009A99999999195D403333333333F343409A99999999195D4014AE47E17AF443400102000000020000000AD7A3703D1A5D403333333333F343407B14AE47E11A5D403333333333F34340',1.96551100814296137286e+03,116.4,39.9,116.42,39.91);
CREATE TABLE sessions (
	id INTEGER NOT NULL, 
	month_plan_fk INTEGER, 
	group_fk INTEGER NOT NULL, 
	date DATE NOT NULL, 
	kind VARCHAR NOT NULL, 
	start_time TIME, 
	end_time TIME, 
	budget_min DOUBLE, 
	CONSTRAINT pk_sessions PRIMARY KEY (id), 
	CONSTRAINT ck_sessions_kind CHECK (kind IN ('stationing', 'evening')), 
	CONSTRAINT ck_sessions_budget_min CHECK (budget_min IS NULL OR budget_min >= 0), 
	CONSTRAINT fk_sessions_month_plan_fk_month_plans FOREIGN KEY(month_plan_fk) REFERENCES month_plans (id), 
	CONSTRAINT fk_sessions_group_fk_groups FOREIGN KEY(group_fk) REFERENCES groups (id)
);
CREATE TABLE stops (
	id INTEGER NOT NULL, 
	session_fk INTEGER NOT NULL, 
	seq INTEGER NOT NULL, 
	household_fk INTEGER NOT NULL, 
	arrive TIME, 
	depart TIME, 
	CONSTRAINT pk_stops PRIMARY KEY (id), 
	CONSTRAINT uq_stops_session_fk_seq UNIQUE (session_fk, seq), 
	CONSTRAINT ck_stops_seq CHECK (seq >= 0), 
	CONSTRAINT fk_stops_session_fk_sessions FOREIGN KEY(session_fk) REFERENCES sessions (id), 
	CONSTRAINT fk_stops_household_fk_households FOREIGN KEY(household_fk) REFERENCES households (id)
);
CREATE TABLE towns (
	id INTEGER NOT NULL, 
	name VARCHAR NOT NULL, 
	attrs JSON NOT NULL, 
	CONSTRAINT pk_towns PRIMARY KEY (id), 
	CONSTRAINT uq_towns_name UNIQUE (name)
);
INSERT INTO "towns" VALUES(1,'城关镇','{}');
CREATE TABLE villages (
	id INTEGER NOT NULL, 
	village_id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	town_fk INTEGER, 
	depot_lon DOUBLE, 
	depot_lat DOUBLE, 
	attrs JSON NOT NULL, 
	geom BLOB, 
	minx DOUBLE, 
	miny DOUBLE, 
	maxx DOUBLE, 
	maxy DOUBLE, 
	CONSTRAINT pk_villages PRIMARY KEY (id), 
	CONSTRAINT uq_villages_village_id UNIQUE (village_id), 
	CONSTRAINT fk_villages_town_fk_towns FOREIGN KEY(town_fk) REFERENCES towns (id)
);
INSERT INTO "villages" VALUES(1,'110108001001','城关村',1,116.305,39.905,'{"类别": "村", "人口": 1200}',X'010300000001000000050000003333333333135D403333333333F3434014AE47E17A145D403333333333F3434014AE47E17A145D40F6285C8FC2F543403333333333135D40F6285C8FC2F543403333333333135D403333333333F34340',116.3,39.9,116.32,39.92);
INSERT INTO "villages" VALUES(2,'110108001002','张家社区',NULL,NULL,NULL,'{}',X'010600000002000000010300000001000000050000006666666666165D403333333333F34340D7A3703D0A175D403333333333F34340D7A3703D0A175D4014AE47E17AF443406666666666165D4014AE47E17AF443406666666666165D403333333333F343400103000000010000000500000048E17A14AE175D403333333333F34340B91E85EB51185D403333333333F34340B91E85EB51185D4014AE47E17AF4434048E17A14AE175D4014AE47E17AF4434048E17A14AE175D403333333333F34340',116.35,39.9,1.16380000000000009667e+02,39.91);
INSERT INTO "villages" VALUES(3,'110108001003','无边界村',1,116.405,39.905,'{"备注": ["甲", "乙"], "x": null}',NULL,NULL,NULL,NULL,NULL);
CREATE TABLE visits (
	id INTEGER NOT NULL, 
	household_fk INTEGER NOT NULL, 
	group_fk INTEGER, 
	stop_fk INTEGER, 
	date DATE NOT NULL, 
	outcome VARCHAR NOT NULL, 
	note VARCHAR, 
	client_id VARCHAR, 
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	CONSTRAINT pk_visits PRIMARY KEY (id), 
	CONSTRAINT ck_visits_outcome CHECK (outcome IN ('met', 'not_home', 'refused', 'moved')), 
	CONSTRAINT fk_visits_household_fk_households FOREIGN KEY(household_fk) REFERENCES households (id), 
	CONSTRAINT fk_visits_group_fk_groups FOREIGN KEY(group_fk) REFERENCES groups (id), 
	CONSTRAINT fk_visits_stop_fk_stops FOREIGN KEY(stop_fk) REFERENCES stops (id), 
	CONSTRAINT uq_visits_client_id UNIQUE (client_id)
);
INSERT INTO "visits" VALUES(1,2,NULL,NULL,'2025-03-04','met','在家','c-1','2026-11-28 02:05:35');
CREATE TABLE zone_households (
	zone_fk INTEGER NOT NULL, 
	household_fk INTEGER NOT NULL, 
	CONSTRAINT pk_zone_households PRIMARY KEY (zone_fk, household_fk), 
	CONSTRAINT fk_zone_households_zone_fk_zones FOREIGN KEY(zone_fk) REFERENCES zones (id), 
	CONSTRAINT fk_zone_households_household_fk_households FOREIGN KEY(household_fk) REFERENCES households (id)
);
CREATE TABLE zone_plans (
	id INTEGER NOT NULL, 
	village_fk INTEGER NOT NULL, 
	version INTEGER NOT NULL, 
	params JSON NOT NULL, 
	seed INTEGER, 
	status VARCHAR NOT NULL, 
	solver_status VARCHAR, 
	scores JSON NOT NULL, 
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, 
	CONSTRAINT pk_zone_plans PRIMARY KEY (id), 
	CONSTRAINT uq_zone_plans_village_fk_version UNIQUE (village_fk, version), 
	CONSTRAINT ck_zone_plans_status CHECK (status IN ('draft', 'published', 'archived')), 
	CONSTRAINT fk_zone_plans_village_fk_villages FOREIGN KEY(village_fk) REFERENCES villages (id)
);
CREATE TABLE zones (
	id INTEGER NOT NULL, 
	plan_fk INTEGER NOT NULL, 
	group_fk INTEGER, 
	label VARCHAR, 
	workload_min DOUBLE, 
	geom BLOB, 
	CONSTRAINT pk_zones PRIMARY KEY (id), 
	CONSTRAINT fk_zones_plan_fk_zone_plans FOREIGN KEY(plan_fk) REFERENCES zone_plans (id), 
	CONSTRAINT fk_zones_group_fk_groups FOREIGN KEY(group_fk) REFERENCES groups (id)
);
CREATE INDEX ix_roads_bbox ON roads (minx, maxx, miny, maxy);
CREATE INDEX ix_villages_bbox ON villages (minx, maxx, miny, maxy);
CREATE INDEX ix_villages_town_fk ON villages (town_fk);
CREATE INDEX ix_areas_bbox ON areas (minx, maxx, miny, maxy);
CREATE INDEX ix_areas_village_fk ON areas (village_fk);
CREATE INDEX ix_members_village_fk ON members (village_fk);
CREATE INDEX ix_groups_village_fk ON groups (village_fk);
CREATE INDEX ix_zone_plans_village_fk ON zone_plans (village_fk);
CREATE INDEX ix_households_village_fk ON households (village_fk);
CREATE INDEX ix_households_lonlat ON households (lon, lat);
CREATE INDEX ix_households_area_fk ON households (area_fk);
CREATE INDEX ix_zones_plan_fk ON zones (plan_fk);
CREATE INDEX ix_zones_group_fk ON zones (group_fk);
CREATE INDEX ix_month_plans_town_fk ON month_plans (town_fk);
CREATE INDEX ix_month_plans_village_fk ON month_plans (village_fk);
CREATE INDEX ix_zone_households_household_fk ON zone_households (household_fk);
CREATE INDEX ix_sessions_group_fk ON sessions (group_fk);
CREATE INDEX ix_sessions_month_plan_fk ON sessions (month_plan_fk);
CREATE INDEX ix_stops_household_fk ON stops (household_fk);
CREATE INDEX ix_visits_group_fk ON visits (group_fk);
CREATE INDEX ix_visits_date ON visits (date);
CREATE INDEX ix_visits_household_fk ON visits (household_fk);
CREATE INDEX ix_problems_household_fk ON problems (household_fk);
CREATE INDEX ix_problems_visit_fk ON problems (visit_fk);
COMMIT;
