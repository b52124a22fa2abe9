import numpy as np
import pytest

from ui.latent_url import format_code, parse_code


def test_a_code_survives_the_url():
    z = np.array([0.5, -1.2, 3.0, 0.0], np.float32)
    assert format_code(z) == "0.50,-1.20,3.00,0.00"
    np.testing.assert_allclose(parse_code(format_code(z), 4, 4.0), z)
    np.testing.assert_allclose(parse_code(" 9, -9 ", 2, 4.0), [4.0, -4.0])


@pytest.mark.parametrize(("text", "words"), [
    ("1,2", "2 numbers"), ("1", "1 number,"), ("a,b,c", "not all"), ("nan,0,0", "finite"),
    ("1,inf,0", "finite"), ("0," * 3000, "longer")])
def test_a_bad_code_says_what_is_wrong(text, words):
    with pytest.raises(ValueError, match=words):
        parse_code(text, 3, 4.0)
