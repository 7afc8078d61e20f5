"""ISO 3166-1 alpha-2 country codes, lowercase: the jurisdictions a region can be in (besides cn-mainland).

Vendored (pycountry is not a dependency): the 249 officially assigned codes of ISO 3166-1 as published by the
ISO 3166 Maintenance Agency (https://www.iso.org/obp/ui/#search/code/, "Officially assigned"), the same set
as pycountry's `pycountry.countries` (data from Debian's iso-codes). Reserved and user-assigned codes (uk, eu,
xk, aa, zz, ...) are not countries and are not listed.
"""

# One line per first letter.
_CODES = (
    "ad ae af ag ai al am ao aq ar as at au aw ax az",
    "ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw by bz",
    "ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz",
    "de dj dk dm do dz",
    "ec ee eg eh er es et",
    "fi fj fk fm fo fr",
    "ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy",
    "hk hm hn hr ht hu",
    "id ie il im in io iq ir is it",
    "je jm jo jp",
    "ke kg kh ki km kn kp kr kw ky kz",
    "la lb lc li lk lr ls lt lu lv ly",
    "ma mc md me mf mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz",
    "na nc ne nf ng ni nl no np nr nu nz",
    "om",
    "pa pe pf pg ph pk pl pm pn pr ps pt pw py",
    "qa",
    "re ro rs ru rw",
    "sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv sx sy sz",
    "tc td tf tg th tj tk tl tm tn to tr tt tv tw tz",
    "ua ug um us uy uz",
    "va vc ve vg vi vn vu",
    "wf ws",
    "ye yt",
    "za zm zw",
)
ISO_3166_ALPHA_2: frozenset[str] = frozenset(code for line in _CODES for code in line.split())
assert len(ISO_3166_ALPHA_2) == 249
