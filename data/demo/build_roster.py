"""Build the fictional demo roster ``data/demo/roster.csv`` for the 11 demo villages.

Usage (from the repository root, after ``build_demo.py``):

    .venv/bin/python data/demo/build_roster.py --demo data/demo --out data/demo/roster.csv

Reads ``villages.gpkg`` (village ids), ``areas.gpkg`` (area ids and kinds per village) and
``households.gpkg`` (households per village) from ``--demo`` and writes one CSV, UTF-8 with a
BOM (so Excel opens it as Unicode), with the Chinese headers
``编号,姓名,角色,职务,驻点村,电话,居住片区,请假日期``.

Rules (also in ``data/README.md``):

* Groups per village g = max(1, round(households / 800)): about one "2+1" group per 700-900
  households, at least one.
* Each village: 1 leader (驻点领导) + (2g - 1) team members (团队成员): the leader is one of the
  2g team members; g auxiliaries (辅助团队成员, village cadres).  Three villages deviate on
  purpose, to show the grouping rules: Balzers has one auxiliary too few (a "2+0" group), Eschen
  has one more team member (odd: a "3+1" group), Vaduz one more auxiliary (a stand-in).
* Leader titles: the village with most households gets the town party secretary (镇党委书记),
  the second the town head (镇长); the others get deputy and committee posts.
* Auxiliaries live in (居住片区 = area id) distinct areas of their village, natural villages
  first, drawn with the seed.
* Names: a common surname + a common given name, all distinct, drawn with the seed.  Phones:
  ``1000000`` + 4 digits in row order (no Chinese mobile number starts with 100).  Ids
  ``ZD-0001``... in row order.  A few leave dates in December 2026 and January 2027, in the
  formats the reader accepts.

Everything is fictional and reproducible (seed 20260301): running the script twice gives the same
bytes.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import numpy as np
import pyogrio

SEED = 20260301
HOUSEHOLDS_PER_GROUP = 800
HEADER = ["编号", "姓名", "角色", "职务", "驻点村", "电话", "居住片区", "请假日期"]

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢")
GIVEN = ["伟", "芳", "敏", "静", "强", "磊", "军", "勇", "艳", "杰", "建国", "建华", "志强", "秀英", "丽华",
         "海燕", "国庆", "红梅", "晓东", "玉兰", "春生", "桂芳", "文军", "小红"]
LEADER_TITLES = ["镇党委副书记", "镇人大主席", "副镇长", "镇纪委书记", "副镇长", "镇党委委员、组织委员",
                 "副镇长", "镇党委委员、宣传委员", "镇党委委员、武装部部长"]
MEMBER_TITLES = ["镇党政办干部", "镇农业农村办干部", "镇社会事务办干部", "镇综治办干部", "镇财政所干部",
                 "镇规划建设办干部"]
AUX_TITLES = ["村委会委员", "村民小组长", "村党支部委员"]
LEAVE_CELLS = ["2026-12-07~2026-12-11", "2026-12-24", "2027-01-04至2027-01-08；2027-01-20",
               "2026-12-28~2027-01-01", "2027-01-15, 2027-01-16"]

# deliberate deviations (village English name -> change), see the module docstring
FEWER_AUXILIARIES = "Balzers"
ODD_TEAM = "Eschen"
SPARE_AUXILIARY = "Vaduz"


def build(demo: Path) -> str:
    """Return the CSV text (without the BOM)."""
    villages = pyogrio.read_dataframe(demo / "villages.gpkg", read_geometry=False)
    areas = pyogrio.read_dataframe(demo / "areas.gpkg", read_geometry=False)
    households = pyogrio.read_dataframe(demo / "households.gpkg", columns=["village_id"], read_geometry=False)
    villages = villages.sort_values("village_id").reset_index(drop=True)
    counts = households["village_id"].value_counts()
    hh = {v: int(counts.get(v, 0)) for v in villages["village_id"]}
    ranked = sorted(hh, key=lambda v: (-hh[v], v))
    rng = np.random.default_rng(SEED)

    pool = [s + g for s in SURNAMES for g in GIVEN]
    names = [pool[i] for i in rng.permutation(len(pool))]
    rows: list[list[str]] = []
    other_titles = iter(LEADER_TITLES)
    for vid, en in zip(villages["village_id"], villages["name_en"]):
        g = max(1, round(hh[vid] / HOUSEHOLDS_PER_GROUP))
        n_team = 2 * g + (1 if en == ODD_TEAM else 0)
        n_aux = g - (1 if en == FEWER_AUXILIARIES else 0) + (1 if en == SPARE_AUXILIARY else 0)
        if vid == ranked[0]:
            leader_title = "镇党委书记"
        elif vid == ranked[1]:
            leader_title = "镇长"
        else:
            leader_title = next(other_titles)
        rows.append(["驻点领导", leader_title, vid, ""])
        for _ in range(n_team - 1):
            rows.append(["团队成员", MEMBER_TITLES[int(rng.integers(len(MEMBER_TITLES)))], vid, ""])
        mine = areas[areas["village_id"] == vid]
        natural = sorted(mine.loc[mine["kind"] == "自然村", "area_id"])
        compounds = sorted(mine.loc[mine["kind"] != "自然村", "area_id"])
        homes = ([natural[i] for i in rng.permutation(len(natural))]
                 + [compounds[i] for i in rng.permutation(len(compounds))])
        for k in range(n_aux):
            rows.append(["辅助团队成员", AUX_TITLES[int(rng.integers(len(AUX_TITLES)))], vid,
                         homes[k % len(homes)] if homes else ""])
    on_leave = sorted(rng.choice(len(rows), size=len(LEAVE_CELLS), replace=False).tolist())
    leave = dict(zip(on_leave, LEAVE_CELLS))

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    for i, (role, title, vid, home) in enumerate(rows):
        w.writerow([f"ZD-{i + 1:04d}", names[i], role, title, vid, f"1000000{i + 1:04d}", home, leave.get(i, "")])
    return buf.getvalue()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--demo", type=Path, default=Path("data/demo"), help="folder with the demo GeoPackages")
    ap.add_argument("--out", type=Path, default=Path("data/demo/roster.csv"))
    args = ap.parse_args(argv)
    text = build(args.demo)
    args.out.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    print(f"wrote {args.out}: {text.count(chr(10)) - 1} people")


if __name__ == "__main__":
    main()
