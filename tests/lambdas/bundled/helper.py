"""A module bundled beside the handler."""


def greeting(name):
    return f"hello {name}"
