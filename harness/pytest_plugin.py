"""raincheck's pytest plugin: fixtures and options for the emulated core, the cloud and the sensor.

Kept light at import: pytest loads it in every run of every project that installs raincheck.
"""
