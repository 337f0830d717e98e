import pytest
from hypothesis import given
from hypothesis import strategies as st

from raincheck.harness.core.topics import topic_matches, validate_topic_filter

level = st.text(alphabet="abcxyz019_-", min_size=1, max_size=5)
topic = st.lists(level, min_size=1, max_size=6).map("/".join)


@given(topic)
def test_a_topic_matches_itself(name):
    assert topic_matches(name, name)


@given(topic)
def test_hash_matches_every_topic_not_starting_with_dollar(name):
    assert topic_matches("#", name)
    assert not topic_matches("#", "$aws/" + name)


@given(st.lists(level, min_size=2, max_size=6), st.data())
def test_plus_replaces_exactly_one_level(levels, data):
    index = data.draw(st.integers(0, len(levels) - 1))
    pattern = levels.copy()
    pattern[index] = "+"
    assert topic_matches("/".join(pattern), "/".join(levels))
    assert not topic_matches("/".join(pattern), "/".join(levels) + "/extra")


@given(st.lists(level, min_size=1, max_size=5), st.lists(level, min_size=0, max_size=3))
def test_trailing_hash_matches_the_parent_and_everything_below(prefix, rest):
    assert topic_matches("/".join(prefix) + "/#", "/".join(prefix + rest))


def test_shadow_topics():
    assert topic_matches("$aws/things/+/shadow/update/accepted", "$aws/things/t1/shadow/update/accepted")
    assert not topic_matches("$aws/things/+/shadow/update/accepted", "$aws/things/t1/shadow/update/rejected")
    assert topic_matches("$aws/things/t1/shadow/#", "$aws/things/t1/shadow/name/n/get")
    assert not topic_matches("bme680/readings", "bme680/readings/x")


@pytest.mark.parametrize("bad", ["", "a/#/b", "a#", "a/b+", "+a/b"])
def test_invalid_filters_are_refused(bad):
    with pytest.raises(ValueError):
        validate_topic_filter(bad)
