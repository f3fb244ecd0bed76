"""An encrypted PDF (even one with only an owner password, which viewers open silently) is refused
with a way out, never indexed from strings the reader cannot decrypt."""

from pathlib import Path

import pikepdf
import pytest

from controller.errors import StreamError
from controller.streams.registry import index_stream

OUTLINE = Path(__file__).resolve().parents[3] / "fixtures" / "streams" / "pdf" / "outline.pdf"


@pytest.mark.parametrize("R", [4, 6])
def test_an_encrypted_pdf_is_refused_naming_the_way_out(tmp_path, R):
    enc = tmp_path / "enc.pdf"
    with pikepdf.open(OUTLINE) as pdf:
        pdf.save(enc, encryption=pikepdf.Encryption(user="", owner="owner", R=R))
    with pytest.raises(StreamError, match=r"encrypted.*qpdf --decrypt") as err:
        index_stream(enc)
    assert err.value.path == str(enc)
    plain = tmp_path / "plain.pdf"
    with pikepdf.open(enc) as pdf:  # what `qpdf --decrypt` does
        pdf.save(plain)
    assert len(index_stream(plain).pieces) == len(index_stream(OUTLINE).pieces) > 0
