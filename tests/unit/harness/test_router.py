"""The subscription router (harness/core/router.py): every message goes exactly where the subscriptions say,
however often the same source and topic come back (matches are remembered per (source, topic))."""

from hypothesis import given
from hypothesis import strategies as st

from raincheck.harness.core.router import Route, Router
from raincheck.harness.core.topics import topic_matches

SOURCES = ["thing:sensor", "function:republish", "GGShadowService"]
TARGETS = ["function:republish", "function:inference", "thing:sensor", "cloud", "GGShadowService"]
LEVELS = ["a", "b", "$aws"]

topics = st.lists(st.sampled_from(LEVELS), min_size=1, max_size=3).map("/".join)
filters = st.lists(st.sampled_from([*LEVELS, "+"]), min_size=1, max_size=3).map("/".join) | topics.map(
    lambda topic: topic + "/#"
)
routes = st.builds(Route, st.sampled_from(SOURCES), filters, st.sampled_from(TARGETS))


@given(
    subscriptions=st.lists(routes, max_size=8),
    messages=st.lists(st.tuples(st.sampled_from(SOURCES), topics), max_size=30),
)
def test_each_message_reaches_each_matching_target_once_in_subscription_order(subscriptions, messages):
    delivered: list[tuple[str, str, bytes, str]] = []
    router = Router(subscriptions, lambda *delivery: delivered.append(delivery))
    dropped = 0
    for number, (source, topic) in enumerate(messages):
        payload = str(number).encode()
        matching = [r for r in subscriptions if r.source == source and topic_matches(r.subject, topic)]
        delivered.clear()
        assert router.publish(source, topic, payload) == len(matching)
        expected_targets = list(dict.fromkeys(r.target for r in matching))
        assert delivered == [(target, topic, payload, source) for target in expected_targets]
        dropped += not matching
    assert router.dropped == dropped
