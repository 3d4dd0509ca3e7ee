"""Bearer tokens, roles and scopes.

A token is 32 random bytes (``zd_`` + URL-safe base64), shown once when it is made; the store
keeps only ``HMAC-SHA256(secret, token)``.  Roles (:data:`api.store.models.TOKEN_ROLES`):

- ``city_admin``: reads and writes everything;
- ``town_admin``: reads and writes the villages of its town;
- ``group_member``: reads its village's outline data and its own group's zone households and
  routes; records visits of its zone's households;
- ``inspector``: reads everything, writes nothing; household heads and phones come masked.

Personal data (household head names, phones) is shown in full only inside the caller's own scope
(:meth:`Scope.personal`); elsewhere it is masked.  No web imports: the CLI uses this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select

from api.store import _write_session
from api.store.models import TOKEN_ROLES, ApiToken, Group, Town, Village, Zone, ZoneHousehold, ZonePlan
from api.service.errors import ApiError, forbidden, unauthorized

TOKEN_PREFIX = "zd_"
ROLE_NAMES = {"city_admin": "市级管理员", "town_admin": "镇级管理员", "group_member": "小组成员",
              "inspector": "督查人员"}


def new_token() -> str:
    """A fresh random token (43 characters after the prefix)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(secret: str, token: str) -> str:
    """The stored form of a token: hex HMAC-SHA256 keyed with the service secret."""
    return hmac.new(secret.encode("utf-8"), token.encode("utf-8"), hashlib.sha256).hexdigest()


def _town_pk(conn: Connection, town: str) -> tuple[int, str]:
    row = conn.execute(select(Town.id, Town.name).where(Town.name == town)).first()
    if row is None and town.isdigit():
        row = conn.execute(select(Town.id, Town.name).where(Town.id == int(town))).first()
    if row is None:
        known = conn.scalars(select(Town.name).order_by(Town.id)).all()
        raise ValueError(f"数据库中没有镇 {town!r}。处理办法: 先导入该镇的行政村 (villages 的 town 列); "
                         f"现有: {', '.join(known) or '无'}")
    return int(row[0]), str(row[1])


def create_token(engine: Engine, secret: str, *, role: str, name: str, town: str | None = None,
                 group: str | None = None) -> tuple[str, dict]:
    """Make a token and store its hash.

    Parameters
    ----------
    engine : Engine
    secret : str
        The service secret (``ZHUDIAN_SECRET``): tokens made with one secret work only with it.
    role : str
        One of :data:`api.store.models.TOKEN_ROLES`.
    name : str
        Who holds the token (for the audit log).
    town : str, optional
        Town name (or its number in ``GET /api/v1/towns``); required for ``town_admin``.
    group : str, optional
        Group id (``990101001009-G1``); required for ``group_member``, whose town follows.

    Returns
    -------
    (token, info)
        The token, to show once, and ``{"id", "name", "role", "town", "group"}``.

    Raises
    ------
    ValueError
        In Chinese: unknown role, town or group, or a scope missing for the role.
    """
    if role not in TOKEN_ROLES:
        raise ValueError(f"--role 应为 {' / '.join(TOKEN_ROLES)} (收到 {role!r})")
    if not name.strip():
        raise ValueError("--name 不能为空")
    if role == "town_admin" and not town:
        raise ValueError("镇级管理员 (town_admin) 需要 --town 镇名")
    if role == "group_member" and not group:
        raise ValueError("小组成员 (group_member) 需要 --group 小组编号, 如 990101001009-G1")
    if role in ("city_admin", "inspector") and (town or group):
        raise ValueError(f"{ROLE_NAMES[role]} ({role}) 的范围是全市, 不要加 --town / --group")
    token = new_token()
    with _write_session(engine) as session:
        conn = session.connection()
        town_fk = town_name = None
        if town:
            town_fk, town_name = _town_pk(conn, town)
        if group:
            row = conn.execute(select(Village.town_fk, Town.name).select_from(Group)
                               .join(Village, Group.village_fk == Village.id)
                               .outerjoin(Town, Village.town_fk == Town.id).where(Group.name == group)).first()
            if row is None:
                raise ValueError(f"数据库中没有小组 {group!r}。处理办法: 先分片 (zhudian zone) 再为小组成员发令牌")
            if town_fk is not None and row[0] != town_fk:
                raise ValueError(f"小组 {group} 不在镇 {town_name}")
            town_fk, town_name = row[0], row[1]
        record = ApiToken(name=name.strip(), role=role, town_fk=town_fk, group_id=group,
                          token_hash=hash_token(secret, token))
        session.add(record)
        session.flush()
        info = {"id": record.id, "name": record.name, "role": role, "town": town_name, "group": group}
    return token, info


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's holder, role and scope."""

    token_id: int
    name: str
    role: str
    town_fk: int | None = None
    town: str | None = None
    group_id: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.name} ({self.role})"


def authenticate(engine: Engine, secret: str, authorization: str | None) -> Principal:
    """The principal of an ``Authorization: Bearer <token>`` header.

    Raises
    ------
    ApiError
        401 for a missing, malformed, unknown or revoked token.
    """
    if not authorization:
        raise unauthorized("缺少访问令牌", "在请求头加 Authorization: Bearer <令牌>; 令牌由 zhudian token create 生成")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("访问令牌格式不对", "请求头应为 Authorization: Bearer <令牌>")
    digest = hash_token(secret, token)
    with engine.connect() as conn:
        row = conn.execute(select(ApiToken.id, ApiToken.name, ApiToken.role, ApiToken.town_fk, Town.name,
                                  ApiToken.group_id, ApiToken.revoked_at)
                           .outerjoin(Town, ApiToken.town_fk == Town.id)
                           .where(ApiToken.token_hash == digest)).first()
    if row is None or not hmac.compare_digest(digest, hash_token(secret, token)):
        raise unauthorized("访问令牌无效", "检查令牌是否完整; 令牌只在生成时显示一次, 丢失请重新生成")
    if row.revoked_at is not None:
        raise unauthorized("访问令牌已被吊销", "请管理员重新生成令牌")
    return Principal(token_id=row.id, name=row.name, role=row.role, town_fk=row.town_fk, town=row[4],
                     group_id=row.group_id)


@dataclass
class Scope:
    """What a principal may see, resolved against the store once per request.

    Attributes
    ----------
    villages : set of int or None
        Visible villages (row ids); None: all.
    zone_households : set of int or None
        A group member's own zone (household row ids, latest zone plan); None for other roles.
    group_village : int or None
        A group member's village.
    """

    principal: Principal
    villages: set[int] | None = None
    zone_households: set[int] | None = None
    group_village: int | None = None
    _town_villages: set[int] = field(default_factory=set)

    @classmethod
    def resolve(cls, conn: Connection, p: Principal) -> "Scope":
        if p.role in ("city_admin", "inspector"):
            return cls(p)
        if p.role == "town_admin":
            ids = set(conn.scalars(select(Village.id).where(Village.town_fk == p.town_fk)))
            return cls(p, villages=ids, _town_villages=ids)
        row = conn.execute(select(Group.id, Group.village_fk).where(Group.name == p.group_id)).first()
        if row is None:
            return cls(p, villages=set(), zone_households=set())
        gpk, vpk = row
        plan = conn.scalar(select(ZonePlan.id).where(ZonePlan.village_fk == vpk)
                           .order_by(ZonePlan.version.desc()).limit(1))
        members: set[int] = set()
        if plan is not None:
            members = set(conn.scalars(select(ZoneHousehold.household_fk).join(Zone, ZoneHousehold.zone_fk == Zone.id)
                                       .where(Zone.plan_fk == plan, Zone.group_fk == gpk)))
        return cls(p, villages={vpk}, zone_households=members, group_village=vpk)

    # -- reading

    def sees_village(self, village_pk: int) -> bool:
        return self.villages is None or village_pk in self.villages

    def sees_household(self, village_pk: int | None, household_pk: int) -> bool:
        if self.zone_households is not None:
            return household_pk in self.zone_households
        if self.villages is None:
            return True
        return village_pk is not None and village_pk in self.villages

    def sees_group(self, group_id: str, village_pk: int) -> bool:
        if self.principal.role == "group_member":
            return group_id == self.principal.group_id
        return self.sees_village(village_pk)

    def personal(self, village_pk: int | None, household_pk: int) -> bool:
        """True when head names and phones of this household may be shown in full."""
        role = self.principal.role
        if role == "city_admin":
            return True
        if role == "town_admin":
            return village_pk is not None and village_pk in self._town_villages
        if role == "group_member":
            return household_pk in (self.zone_households or ())
        return False

    # -- writing

    def require_write(self) -> None:
        """Raise 403 for a read-only role."""
        if self.principal.role == "inspector":
            raise forbidden("督查人员的令牌只能读取, 不能写入", "写入请使用管理员或小组成员的令牌")

    def require_admin(self, what: str) -> None:
        """Raise 403 unless the caller is a city or town admin."""
        self.require_write()
        if self.principal.role not in ("city_admin", "town_admin"):
            raise forbidden(f"{ROLE_NAMES[self.principal.role]}不能{what}", "请镇级或市级管理员操作")

    def require_village(self, village_pk: int, label: str) -> None:
        """Raise 403 when a village is outside the caller's scope."""
        if not self.sees_village(village_pk):
            raise forbidden(f"行政村 {label} 不在你的范围内 ({self._where()})",
                            "只能访问本人所属范围的数据; 如需其他镇的数据请用相应的令牌")

    def _where(self) -> str:
        p = self.principal
        if p.role == "town_admin":
            return f"{p.town}"
        if p.role == "group_member":
            return f"小组 {p.group_id}"
        return "全市"


def mask_name(name: str | None) -> str | None:
    """``王小明`` -> ``王**``."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    """``13812345678`` -> ``138****5678`` (short numbers keep only their last two digits)."""
    if not phone:
        return phone
    p = str(phone)
    if len(p) >= 11:
        return p[:3] + "****" + p[-4:]
    return "*" * max(0, len(p) - 2) + p[-2:]


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


__all__ = ["ApiError", "Principal", "Scope", "authenticate", "create_token", "hash_token", "mask_name",
           "mask_phone", "new_token"]
