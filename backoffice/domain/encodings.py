"""The text encodings a CSV import may be in: those operators' and billing systems' exports use.
Any other codec name is refused before a byte of the file is read: Python also knows codecs that
are no text encodings at all (base64_codec, zlib_codec, rot13) and ones our files never come in
(UTF-16 without its byte-order mark), which would read a file into nonsense or fail mid-way."""

from shared.checks import excerpt

# What a name (any case, `_` or space for `-`) reads as. UTF-8 is read as utf-8-sig, so that the
# byte-order mark Excel writes is skipped; GB2312 (and its EUC-CN name) as GBK, its superset, as
# browsers do; CP936 is Windows' name of GBK.
_READ_AS = {
    "utf-8": "utf-8-sig",
    "utf8": "utf-8-sig",
    "utf-8-sig": "utf-8-sig",
    "utf8-sig": "utf-8-sig",
    "gbk": "gbk",
    "x-gbk": "gbk",
    "cp936": "gbk",
    "ms936": "gbk",
    "windows-936": "gbk",
    "gb2312": "gbk",
    "euc-cn": "gbk",
    "gb18030": "gb18030",
}
ACCEPTED = "utf-8 (with or without a byte-order mark), utf-8-sig, gbk or gb18030"


def import_codec(name: str) -> str:
    """The Python codec a CSV file said to be in `name` is read with; ValueError saying which
    encodings are accepted when `name` is none of them."""
    codec = _READ_AS.get(name.strip().lower().replace("_", "-").replace(" ", "-"))
    if codec is None:
        raise ValueError(
            f"unsupported encoding {excerpt(name, 40)!r}: an import file is in {ACCEPTED}"
        )
    return codec


def check_import_encoding(name: str) -> str:
    """`name` itself, once it is known to be one `import_codec` reads (a validator)."""
    import_codec(name)
    return name
