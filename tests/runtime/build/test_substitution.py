import pytest

from runtime.build.substitution import SubstitutionError, expand_word, expand_words, split_words

ENV = {"A": "hello", "EMPTY": "", "P": "/usr/local/bin/app.tar.gz", "SP": "a b"}


@pytest.mark.parametrize("text, expected", [
    ("$A", "hello"),
    ("${A}", "hello"),
    ("${A}x", "hellox"),
    ("$Ax", ""),  # the name is "Ax", unset
    ("$UNSET", ""),
    ("${EMPTY:-d}", "d"),
    ("${EMPTY-d}", ""),
    ("${UNSET-d}", "d"),
    ("${UNSET:-${A}}", "hello"),
    ("${A:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${EMPTY+set}", "set"),
    ("${UNSET+set}", ""),
    ("\\$A", "$A"),
    ("'$A'", "$A"),
    ('"$A b"', "hello b"),
    ('"\\"q\\""', '"q"'),
    ("${P##*/}", "app.tar.gz"),
    ("${P#*/}", "usr/local/bin/app.tar.gz"),
    ("${P%%.*}", "/usr/local/bin/app"),
    ("${P%.*}", "/usr/local/bin/app.tar"),
    ("${A/l/L}", "heLlo"),
    ("${A//l/L}", "heLLo"),
    ("$", "$"),
    ("a$", "a$"),
])
def test_expand_word(text, expected):
    assert expand_word(text, ENV) == expected


def test_backtick_escape():
    assert expand_word("`$A", ENV, escape="`") == "$A"
    assert expand_word("C:\\dir", ENV, escape="`") == "C:\\dir"


def test_required_variable():
    with pytest.raises(SubstitutionError, match="UNSET: must be set"):
        expand_word("${UNSET:?must be set}", ENV)
    assert expand_word("${A?x}", ENV) == "hello"


def test_unclosed():
    with pytest.raises(SubstitutionError):
        expand_word("${A", ENV)
    with pytest.raises(SubstitutionError):
        expand_word("'abc", ENV)


def test_words():
    assert expand_words('a "b c" $A  ${SP}', ENV) == ["a", "b c", "hello", "a b"]
    assert split_words('k="v 1" k2=$A') == ['k="v 1"', "k2=$A"]
    assert expand_words("", ENV) == []
