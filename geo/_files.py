"""Opening users' files: formats, zips, encodings.  Internal to :mod:`geo.read`."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path, PurePosixPath

import geopandas as gpd
import pandas as pd
import pyogrio

from geo.errors import Collector

logger = logging.getLogger(__name__)

TABLE_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls"}
VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb", ".kml", ".gml", ".osm", ".pbf"}
LEGACY_CHINESE = "GB18030"
"""Legacy Chinese text is read as GB18030, a superset of GBK and GB2312 (GB2312 loses rare names
such as 王堃 and 朱镕基)."""

_CPG_ALIASES = {"gb2312": LEGACY_CHINESE, "gbk": LEGACY_CHINESE, "cp936": LEGACY_CHINESE,
                "936": LEGACY_CHINESE, "gb18030": LEGACY_CHINESE, "ansi 936": LEGACY_CHINESE}


def check_exists(path: Path, col: Collector) -> None:
    """Fail clearly when the file is missing, a folder, or empty."""
    if not path.exists():
        col.fail("", "文件不存在", "检查文件路径和文件名是否正确")
    if path.is_dir():
        col.fail("", "这是一个文件夹, 不是文件", "指定文件夹里的 .shp/.geojson/.gpkg/.csv 文件")
    if path.stat().st_size == 0:
        col.fail("", "文件为空 (0 字节)", "重新导出或复制该文件, 确认内容完整")


def sniff_text_encoding(data: bytes) -> str:
    """Guess the encoding of bytes of text: UTF-8 if they decode as such, else GB18030 or Latin-1.

    GB18030 is chosen only when the non-ASCII text decodes to mostly CJK characters, so European
    Latin-1 data is not turned into Chinese gibberish.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode(LEGACY_CHINESE)
    except UnicodeDecodeError:
        return "latin-1"
    non_ascii = [c for c in text if ord(c) > 127]
    cjk = [c for c in non_ascii if "\u3000" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef"
           or "\u3400" <= c <= "\u4dbf"]
    return LEGACY_CHINESE if non_ascii and len(cjk) >= 0.6 * len(non_ascii) else "latin-1"


def _dbf_declares_encoding(dbf_header: bytes, cpg_text: str | None) -> str | None:
    """Return the encoding a shapefile declares (``.cpg`` or the .dbf language driver), if any."""
    if cpg_text is not None and cpg_text.strip():
        declared = cpg_text.strip()
        return _CPG_ALIASES.get(declared.lower(), declared)
    if len(dbf_header) > 29 and dbf_header[29] != 0:
        ldid = dbf_header[29]
        # 0x4D = GB2312/936 code page in the language driver id
        return LEGACY_CHINESE if ldid == 0x4D else "declared"
    return None


def _shapefile_encoding(dbf_bytes: bytes, cpg_text: str | None, user_encoding: str | None,
                        col: Collector) -> str | None:
    """Decide how to decode a shapefile's attributes.

    The file's own ``.cpg``/code page wins; then the user's ``--encoding``; then sniffing the
    records (UTF-8, else GB18030 if the text is Chinese, else Latin-1).  Returns None to let GDAL
    use what the file declares.
    """
    declared = _dbf_declares_encoding(dbf_bytes[:32], cpg_text)
    if declared == LEGACY_CHINESE:
        if cpg_text and cpg_text.strip().lower() in ("gb2312", "gbk", "936", "cp936"):
            col.warn(f".cpg 声明编码 {cpg_text.strip()}, 按其超集 GB18030 读取 (避免生僻字丢失)")
        return LEGACY_CHINESE
    if declared is not None:
        if user_encoding:
            col.warn(f"文件自身声明了编码, 忽略 --encoding {user_encoding}")
        return None if declared == "declared" else declared
    if user_encoding:
        return _normalise_encoding(user_encoding)
    guess = sniff_text_encoding(dbf_bytes[32:])
    if guess == LEGACY_CHINESE:
        col.warn("shapefile 没有 .cpg 编码声明, 属性按中文 GB18030 读取; 如不对请用 --encoding 指定")
    return "UTF-8" if guess.startswith("utf-8") else guess


def _normalise_encoding(enc: str) -> str:
    return LEGACY_CHINESE if enc.strip().lower() in ("gbk", "gb2312", "cp936", "936", "gb18030") else enc


def _zip_members(path: Path) -> list[str]:
    """Member names of a zip, decoding non-UTF-8 names as GBK (zips made on Chinese Windows)."""
    with zipfile.ZipFile(path) as zf:
        raw = zf.infolist()
        names = []
        for info in raw:
            name = info.filename
            if not info.flag_bits & 0x800:
                try:
                    name = name.encode("cp437").decode(LEGACY_CHINESE)
                except (UnicodeEncodeError, UnicodeDecodeError):
                    pass
            names.append(name)
    return names


def _read_zip_member(path: Path, member_index: int) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(zf.infolist()[member_index])


def read_vector(path: Path, col: Collector, *, encoding: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file (GeoJSON, GeoPackage, Shapefile, zipped Shapefile) as it is.

    The result keeps the file's own CRS (or none); all columns are read.  Problems are
    reported through ``col``.

    Raises
    ------
    geo.errors.InputError
        For a file that is not a readable geo file, a zip without a shapefile, and so on.
    """
    check_exists(path, col)
    suffix = path.suffix.lower()
    read_kwargs: dict = {}
    source = str(path)
    if suffix == ".zip":
        if not zipfile.is_zipfile(path):
            col.fail("", "扩展名是 .zip, 但不是有效的 zip 压缩包", "重新压缩, 或直接提供 .shp/.geojson 文件")
        names = _zip_members(path)
        with zipfile.ZipFile(path) as zf:
            raw_names = [i.filename for i in zf.infolist()]
        shp = [i for i, n in enumerate(names) if n.lower().endswith(".shp")]
        others = [i for i, n in enumerate(names) if n.lower().endswith((".geojson", ".gpkg", ".json"))]
        if not shp and not others:
            col.fail("", "zip 包里没有 .shp (或 .geojson/.gpkg) 文件", "把 .shp、.shx、.dbf、.prj 一起压缩")
        if len(shp) > 1:
            col.fail("", f"zip 包里有多个 shapefile: {', '.join(names[i] for i in shp)}",
                     "每个图层单独压缩成一个 zip")
        idx = shp[0] if shp else others[0]
        source = f"/vsizip/{path}/{raw_names[idx]}"
        if shp:
            stem = str(PurePosixPath(names[idx]).with_suffix(""))
            dbf = [i for i, n in enumerate(names) if n.lower() == (stem + ".dbf").lower()]
            cpg = [i for i, n in enumerate(names) if n.lower() == (stem + ".cpg").lower()]
            dbf_bytes = _read_zip_member(path, dbf[0]) if dbf else b""
            cpg_text = _read_zip_member(path, cpg[0]).decode("ascii", "replace") if cpg else None
            enc = _shapefile_encoding(dbf_bytes, cpg_text, encoding, col)
            if enc:
                read_kwargs["encoding"] = enc
    elif suffix == ".shp":
        dbf = path.with_suffix(".dbf")
        if not dbf.exists():
            dbf = path.with_suffix(".DBF")
        cpg = path.with_suffix(".cpg")
        dbf_bytes = dbf.read_bytes() if dbf.exists() else b""
        cpg_text = cpg.read_text("ascii", "replace") if cpg.exists() else None
        enc = _shapefile_encoding(dbf_bytes, cpg_text, encoding, col)
        if enc:
            read_kwargs["encoding"] = enc
    try:
        gdf = pyogrio.read_dataframe(source, **read_kwargs)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        logger.debug("pyogrio failed on %s: %s", path, exc)
        col.fail("", f"无法作为地理数据文件读取 ({type(exc).__name__}: {str(exc)[:200]})",
                 "提供 GeoJSON、GeoPackage、Shapefile (可压缩为 zip) 或带经纬度列的 CSV/XLSX 文件")
    if not isinstance(gdf, gpd.GeoDataFrame) or "geometry" not in gdf:
        col.fail("", "文件里没有几何图形 (geometry)", "提供带坐标的地理数据文件; 表格请用 CSV/XLSX 并包含经纬度列")
    if len(gdf) == 0:
        col.fail("", "文件里没有任何要素 (0 条记录)", "检查是否导出了正确的图层")
    return gdf


def read_table(path: Path, col: Collector, *, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV or Excel table with every cell as text.

    CSV encoding: a UTF-8 BOM says UTF-8; otherwise ``encoding`` if given, else sniffed (UTF-8,
    else GB18030 for Chinese text).

    Raises
    ------
    geo.errors.InputError
        For an empty or unreadable table.
    """
    check_exists(path, col)
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm", ".xls"):
            df = pd.read_excel(path, dtype=str, sheet_name=0)
        else:
            data = path.read_bytes()
            enc = sniff_text_encoding(data)
            if encoding and enc != "utf-8-sig":
                enc = _normalise_encoding(encoding)
            elif enc == LEGACY_CHINESE:
                col.warn("CSV 不是 UTF-8 编码, 按中文 GB18030 读取; 如不对请用 --encoding 指定")
            text = data.decode(enc)
            sep = "\t" if suffix == ".tsv" or ("\t" in text.split("\n", 1)[0] and "," not in text.split("\n", 1)[0]) else ","
            import io

            df = pd.read_csv(io.StringIO(text), dtype=str, sep=sep, keep_default_na=False,
                             na_values=[""], skipinitialspace=True)
    except UnicodeDecodeError as exc:
        col.fail("", f"按编码 {encoding} 无法解码 ({exc.reason})", "用 --encoding 指定正确编码 (如 GB18030 或 UTF-8)")
    except Exception as exc:
        col.fail("", f"无法作为表格读取 ({type(exc).__name__}: {str(exc)[:200]})",
                 "提供 UTF-8 或 GB18030 编码的 CSV, 或 Excel .xlsx 文件")
    if len(df) == 0:
        col.fail("", "表格没有数据行", "检查文件是否只有表头")
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    return df
