"""WeasyPrint's C types read without cffi's parser where simple: the very types cffi makes."""

import pytest

from readout import render, weasy


@pytest.fixture(scope="module")
def ffi():
    weasy.load()
    from weasyprint.text.ffi import ffi

    return ffi


def _parsed(ffi, cdecl: str):
    """The ctype cffi's own parser makes of ``cdecl`` (a key it has not cached: a space more)."""
    with ffi._lock:
        return ffi._typeof_locked(f" {cdecl} ")[0]


def _parses(ffi, monkeypatch) -> list[str]:
    """The strings cffi's parser is asked to read from now on."""
    asked = []
    parse_type = ffi._parser.parse_type

    def counted(cdecl):
        asked.append(cdecl)
        return parse_type(cdecl)

    monkeypatch.setattr(ffi._parser, "parse_type", counted)
    return asked


#: Simple types beside those a page's print asks for: pointers to pointers, primitives of
#: two words, arrays of no length and of length 0, ``void *``, spacing.
EDGES = (
    "unsigned int *",
    "unsigned  int*",
    "char[]",
    "char [ 4 ]",
    "FcChar8 **",
    "FcChar8 * *",
    "void *",
    "hb_codepoint_t[0]",
    "hb_codepoint_t[12345]",
    "PangoRectangle *",
    "PangoLogAttr[]",
    "gboolean",
    "double",
    "uint32_t[3]",
)


def test_every_type_a_page_asks_for_is_the_type_cffi_parses(ffi, tmp_path):
    page = render.page("print-warmup.html.j2", chart="")
    render.print_document(page).write_pdf(tmp_path / "page.pdf")
    asked = [k for k in ffi._parsed_types if isinstance(k, str)]
    simple = [k for k in (*asked, *EDGES) if weasy.simple_type(ffi, k) is not None]
    # The page's print asked for simple types (pointers, arrays of glyphs) ...
    assert any("[" in k for k in simple) and any("*" in k for k in simple)
    assert set(EDGES) <= set(simple)
    for cdecl in simple:
        # ... each the very ctype (one object per type) cffi's parser makes of it.
        assert ffi.typeof(cdecl) is _parsed(ffi, cdecl), cdecl


def test_a_new_array_length_is_made_without_parsing(ffi, monkeypatch):
    asked = _parses(ffi, monkeypatch)
    glyphs = ffi.new("hb_codepoint_t[4321]", [7, 8, 9])
    rectangle = ffi.new("PangoRectangle *")
    # Neither parsed (the rectangle's type is cached, the array's length new) ...
    assert asked == []
    assert ffi.sizeof(glyphs) == 4321 * ffi.sizeof("hb_codepoint_t")
    assert list(glyphs[0:4]) == [7, 8, 9, 0]
    rectangle.width = 5
    assert rectangle.width == 5


@pytest.mark.parametrize(
    "cdecl",
    [
        "struct _PangoRectangle *",
        "const char *",
        "int(*)(int)",
        "long int",
        "void[2]",
        "signed",
        # A length with a leading zero is octal to cffi (int[010] is int[8]; int[08] an error).
        "int[010]",
        "int[08]",
        # What C does not allow: cffi's own error.
        "int[\u0663]",
        "\xa0int",
        "int\r*",
    ],
)
def test_what_is_not_simple_is_parsed_by_cffi(ffi, monkeypatch, cdecl):
    assert weasy.simple_type(ffi, cdecl) is None
    asked = _parses(ffi, monkeypatch)
    try:
        ffi.typeof(cdecl)
    except Exception:  # noqa: BLE001 - cffi's own error (void[2]): what matters is who read it
        pass
    assert asked == [cdecl]


def test_an_unknown_name_gets_cffis_own_error(ffi):
    assert weasy.simple_type(ffi, "no_such_type_t *") is None
    with pytest.raises(Exception, match="no_such_type_t"):
        ffi.typeof("no_such_type_t *")
