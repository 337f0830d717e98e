"""MQTT topic filters as Greengrass subscriptions use them: `+` one level, `#` the rest."""

from __future__ import annotations


def topic_matches(topic_filter: str, topic: str) -> bool:
    """True when `topic` is matched by the MQTT filter `topic_filter`.

    `#` matches the parent level too (`a/#` matches `a`). Filters starting with a wildcard do not
    match topics starting with `$` (MQTT 3.1.1, 4.7.2), so `#` does not catch `$aws/...`.
    """
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return index == len(filter_levels) - 1
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)


def validate_topic_filter(topic_filter: str) -> None:
    """Raise ValueError for a filter MQTT would refuse (`#` not last, wildcards inside a level)."""
    if not topic_filter:
        raise ValueError("empty topic filter")
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise ValueError(f"'#' must be a whole, last level in topic filter {topic_filter!r}")
        if "+" in level and level != "+":
            raise ValueError(f"'+' must be a whole level in topic filter {topic_filter!r}")
