"""layers/kinds.toml loads and validates; malformed kinds files are refused with the key named."""

from __future__ import annotations

import pytest

from ecogis.errors import DataFileError, KindError
from ecogis.kinds import load_kinds


def test_default_kinds_load():
    reg = load_kinds()
    assert reg["farmland"].coverage and reg["farmland"].code == "YJJBNTBHTB"
    assert reg["protected_area"].group_of("zone", "核心区") == "core"
    assert reg["protected_area"].group_of("zone", "实验区") == "general"
    for k in reg:
        assert k.color.startswith("#") and len(k.color) == 7
        assert set(k.public) <= set(k.fields) | {"id"}


@pytest.mark.parametrize(
    "text,needle",
    [
        ('[kinds.x]\nname_zh = "x"\ncolour = "#fff"\n', "unknown keys"),
        ('[kinds.x]\ngeometry = "polygon"\n', "name_zh"),
        ('[kinds.x]\nname_zh = "x"\ngeometry = "area"\n', "geometry"),
        ('[kinds.x\nname_zh = "x"\n', "invalid TOML"),
    ],
)
def test_bad_kinds_file(tmp_path, text, needle):
    p = tmp_path / "kinds.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match=needle) as exc:
        load_kinds(p)
    assert "kinds.toml" in str(exc.value)


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(KindError, match="redline"):
        load_kinds()["red_line"]
