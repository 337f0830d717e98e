"""Unit conversions, bundled beside the handler."""


def fahrenheit(celsius):
    return celsius * 9 / 5 + 32
