"""A vendored dependency: a package inside the deployment package."""


def shout(text):
    return text.upper() + "!"
